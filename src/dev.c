// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ept-pmap: one address space per open file, driven by ioctls (the
 * ABI and its rules are documented in include/uapi/linux/ept_pmap.h).
 *
 * Every handler copies its argument in, rejects anything malformed
 * (unknown flags, non-zero padding or reserved fields, bad ranges) before
 * taking the space's lock, and changes nothing when it fails.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "main.h"
#include "trace.h"

/* uapi memory type -> EPT memory type */
static const u8 epm_memtypes[] = {
	[EPM_MEMTYPE_WB] = EPM_MT_WB,
	[EPM_MEMTYPE_UC] = EPM_MT_UC,
	[EPM_MEMTYPE_WC] = EPM_MT_WC,
	[EPM_MEMTYPE_WT] = EPM_MT_WT,
	[EPM_MEMTYPE_WP] = EPM_MT_WP,
};

/* uapi max_page -> bytes; 0 lets the CPU decide */
static const u64 epm_max_pages[] = {
	[0] = EPM_SIZE_1G,
	[EPM_PAGE_4K] = EPM_SIZE_4K,
	[EPM_PAGE_2M] = EPM_SIZE_2M,
	[EPM_PAGE_1G] = EPM_SIZE_1G,
};

/* CHECK reports the core's reasons as they are. */
static_assert(EPM_MISMATCH_PRESENT == (int)EPM_BAD_PRESENT);
static_assert(EPM_MISMATCH_KIND == (int)EPM_BAD_KIND);
static_assert(EPM_MISMATCH_TABLE == (int)EPM_BAD_TABLE);
static_assert(EPM_MISMATCH_LEAF == (int)EPM_BAD_LEAF);
static_assert(EPM_MISMATCH_LEVEL == (int)EPM_BAD_LEVEL);
static_assert(EPM_MISMATCH_EMPTY == (int)EPM_BAD_EMPTY);
static_assert(EPM_MISMATCH_COUNT == (int)EPM_BAD_COUNT);

static bool epm_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

/* Host-physical addresses are for files opened with CAP_SYS_ADMIN only. */
static u64 epm_hide_pa(u64 pte, bool admin)
{
	return admin ? pte : pte & ~EPM_PTE_ADDR;
}

static int epm_open(struct inode *inode, struct file *file)
{
	struct epm_space *sp;
	int ret;

	sp = kzalloc(sizeof(*sp), GFP_KERNEL_ACCOUNT);
	if (!sp)
		return -ENOMEM;
	ret = epm_pmap_init(&sp->pm, &epm_hw);
	if (ret) {
		kfree(sp);
		return ret;
	}
	mutex_init(&sp->lock);
	sp->mm = current->mm;
	mmgrab(sp->mm);
	sp->user = get_uid(current_user());
	/*
	 * Decided once, from the opener's credentials, as /proc/PID/pagemap
	 * does: a file handed on (fork, SCM_RIGHTS) shows what it showed its
	 * opener, whoever calls, and an unprivileged caller costs no audit
	 * record per call.
	 */
	sp->admin = file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);
	file->private_data = sp;
	return 0;
}

static int epm_release(struct inode *inode, struct file *file)
{
	struct epm_space *sp = file->private_data;

	epm_mem_destroy(sp);
	epm_vmx_free(sp);
	free_uid(sp->user);
	mmdrop(sp->mm);
	mutex_destroy(&sp->lock);
	kfree(sp);
	return 0;
}

static long epm_ioc_caps(void __user *argp)
{
	return copy_to_user(argp, &epm_caps, sizeof(epm_caps)) ? -EFAULT : 0;
}

static long epm_ioc_map(struct epm_space *sp, void __user *argp)
{
	struct epm_map m;
	u32 attr;
	long ret;

	if (copy_from_user(&m, argp, sizeof(m)))
		return -EFAULT;
	if (m.flags & ~EPM_MAP_ALL || m.pad || !epm_zero(m.reserved, sizeof(m.reserved)))
		return -EINVAL;
	if (m.memtype >= ARRAY_SIZE(epm_memtypes) ||
	    m.max_page >= ARRAY_SIZE(epm_max_pages))
		return -EINVAL;
	if (m.uaddr & ~PAGE_MASK)
		return -EINVAL;
	ret = epm_check_range(m.gpa, m.size);
	if (ret)
		return ret;
	attr = (m.flags & EPM_PERM_ALL) | EPM_ATTR_MT(epm_memtypes[m.memtype]);
	if (m.flags & EPM_MAP_IPAT)
		attr |= EPM_ATTR_IPAT;
	if (m.flags & EPM_MAP_AD)
		attr |= EPM_ATTR_AD;
	ret = epm_check_attr(&epm_hw, attr);
	if (ret)
		return ret;
	if (m.uaddr + m.size < m.uaddr ||
	    !access_ok(u64_to_user_ptr(m.uaddr), m.size))
		return -EFAULT;

	mutex_lock(&sp->lock);
	ret = epm_mem_map(sp, m.gpa, m.size, m.uaddr, attr,
			  epm_max_pages[m.max_page]);
	trace_ept_pmap_map(m.gpa, m.size, m.flags, m.memtype,
			   epm_max_pages[m.max_page], ret);
	mutex_unlock(&sp->lock);
	return ret;
}

static int epm_copy_range(struct epm_range *r, void __user *argp)
{
	if (copy_from_user(r, argp, sizeof(*r)))
		return -EFAULT;
	if (r->pad || r->reserved)
		return -EINVAL;
	return epm_check_range(r->gpa, r->size);
}

/*
 * A change removed or narrowed translations: every CPU must INVEPT before
 * it enters this space's guest again (the launcher compares generations).
 */
static void epm_translations_stale(struct epm_space *sp)
{
	lockdep_assert_held(&sp->lock);
	sp->flushes++;
	trace_ept_pmap_flush(sp->flushes);
}

static long epm_ioc_unmap(struct epm_space *sp, void __user *argp)
{
	struct epm_range r;
	long ret;

	ret = epm_copy_range(&r, argp);
	if (ret)
		return ret;
	if (r.perm)
		return -EINVAL;
	mutex_lock(&sp->lock);
	ret = epm_mem_unmap(sp, r.gpa, r.size);
	trace_ept_pmap_unmap(r.gpa, r.size, ret);
	if (!ret)
		epm_translations_stale(sp);
	mutex_unlock(&sp->lock);
	return ret;
}

/* Adding W needs pages pinned for write: every leaf must carry PINW. */
static int epm_leaf_pinned_w(void *arg, const struct epm_entry *e)
{
	return e->leaf && !(e->epte & EPTE_SW_PINW) ? -EACCES : 0;
}

static long epm_ioc_protect(struct epm_space *sp, void __user *argp)
{
	struct epm_range r;
	long ret;

	ret = epm_copy_range(&r, argp);
	if (ret)
		return ret;
	if (r.perm & ~EPM_PERM_ALL)
		return -EINVAL;
	ret = epm_check_attr(&epm_hw, r.perm | EPM_ATTR_MT(EPM_MT_WB));
	if (ret)
		return ret;

	mutex_lock(&sp->lock);
	ret = epm_range_mapped(&sp->pm, r.gpa, r.size);
	if (!ret && (r.perm & EPM_PERM_W)) {
		ret = epm_for_each(&sp->pm, r.gpa, r.size, EPM_WALK_PRE,
				   epm_leaf_pinned_w, NULL);
		if (ret)
			pr_info_ratelimited("PROTECT: [0x%llx, 0x%llx) was mapped without W; unmap and map it writable\n",
					    r.gpa, r.gpa + r.size);
	}
	if (!ret)
		ret = epm_protect(&sp->pm, r.gpa, r.size, r.perm);
	trace_ept_pmap_protect(r.gpa, r.size, r.perm, ret);
	if (!ret)
		epm_translations_stale(sp);
	mutex_unlock(&sp->lock);
	return ret;
}

static u8 epm_uapi_memtype(u32 attr)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(epm_memtypes); i++) {
		if (epm_memtypes[i] == EPM_ATTR_GET_MT(attr))
			return i;
	}
	return EPM_MEMTYPE_WB;
}

static long epm_ioc_query(struct epm_space *sp, void __user *argp)
{
	bool admin = sp->admin;
	struct epm_query q;
	struct epm_xlate x;
	unsigned int l;
	long ret;

	if (copy_from_user(&q, argp, sizeof(q)))
		return -EFAULT;
	if (q.flags || q.level || q.hpa || q.page_size || q.perm ||
	    q.kpt_perm || q.memtype || q.map_flags ||
	    !epm_zero(q.kpte, sizeof(q.kpte)) ||
	    !epm_zero(q.epte, sizeof(q.epte)) ||
	    !epm_zero(q.pad, sizeof(q.pad)) ||
	    !epm_zero(q.reserved, sizeof(q.reserved)))
		return -EINVAL;
	if (q.gpa >= EPM_GPA_LIMIT)
		return -EINVAL;

	mutex_lock(&sp->lock);
	ret = epm_translate(&sp->pm, q.gpa, &x);
	mutex_unlock(&sp->lock);
	if (ret && ret != -ENOENT)
		return ret;

	for (l = 1; l <= EPM_LEVELS; l++) {
		q.kpte[l - 1] = epm_hide_pa(x.kpte[l], admin);
		q.epte[l - 1] = epm_hide_pa(x.epte[l], admin);
	}
	if (!ret) {
		q.level = x.level;
		q.hpa = admin ? x.hpa : 0;
		q.page_size = x.page_size;
		q.perm = x.attr & EPM_ATTR_PERM;
		q.kpt_perm = x.kpt_attr & EPM_ATTR_PERM;
		q.memtype = epm_uapi_memtype(x.attr);
		q.map_flags = (x.attr & EPM_ATTR_IPAT) ? EPM_MAP_IPAT : 0;
	}
	return copy_to_user(argp, &q, sizeof(q)) ? -EFAULT : 0;
}

/*
 * DUMP gathers at most a batch of entries with the space locked, then
 * copies them out with the lock dropped: a user buffer that faults slowly
 * (or never, under userfaultfd) must not hold up RUN, UNMAP, STATS or
 * close() of the space. Each batch resumes at the cursor of the last.
 */
#define EPM_DUMP_BATCH	64

struct epm_dump_state {
	struct epm_dump_entry batch[EPM_DUMP_BATCH];
	unsigned int nr;		/* in batch */
	unsigned int want;		/* entries this batch may take */
	u64 resume_gpa;			/* skip entries before this key */
	unsigned int resume_level;
	u64 cursor;			/* key of the first entry not taken */
	bool leaves;
	bool admin;
};

/*
 * Entries come parents first in gpa order, so (gpa, 4 - level) orders them
 * and a cursor names the first entry still to write: gpa | level.
 */
static int epm_dump_visit(void *arg, const struct epm_entry *e)
{
	struct epm_dump_state *ds = arg;
	struct epm_dump_entry *d;

	if (e->gpa < ds->resume_gpa ||
	    (e->gpa == ds->resume_gpa && e->level > ds->resume_level))
		return 0;
	if (ds->leaves && !e->leaf)
		return 0;
	if (ds->nr == ds->want) {
		ds->cursor = e->gpa | e->level;
		return 1;
	}
	d = &ds->batch[ds->nr++];
	d->gpa = e->gpa;
	d->kpte = epm_hide_pa(e->kpte, ds->admin);
	d->epte = epm_hide_pa(e->epte, ds->admin);
	d->level = e->level;
	d->leaf = e->leaf;
	return 0;
}

static void epm_dump_resume_at(struct epm_dump_state *ds, u64 cursor)
{
	ds->resume_gpa = cursor & PAGE_MASK;
	ds->resume_level = (cursor & ~PAGE_MASK) ?: EPM_LEVELS;
}

static long epm_ioc_dump(struct epm_space *sp, void __user *argp)
{
	struct epm_dump_entry __user *ubuf;
	struct epm_dump_state *ds;
	struct epm_dump d;
	u32 written = 0;
	long ret = 0;

	if (copy_from_user(&d, argp, sizeof(d)))
		return -EFAULT;
	if (d.flags & ~EPM_DUMP_ALL || !epm_zero(d.reserved, sizeof(d.reserved)))
		return -EINVAL;
	if (!d.count)
		return -EINVAL;
	if (d.cursor == EPM_DUMP_DONE) {
		d.count = 0;
		return copy_to_user(argp, &d, sizeof(d)) ? -EFAULT : 0;
	}
	if ((d.cursor & ~PAGE_MASK) > EPM_LEVELS ||
	    (d.cursor & PAGE_MASK) >= EPM_GPA_LIMIT)
		return -EINVAL;
	ubuf = u64_to_user_ptr(d.buf);
	if (!access_ok(ubuf, (u64)d.count * sizeof(*ubuf)))
		return -EFAULT;

	ds = kzalloc(sizeof(*ds), GFP_KERNEL_ACCOUNT);
	if (!ds)
		return -ENOMEM;
	ds->leaves = d.flags & EPM_DUMP_LEAVES;
	ds->admin = sp->admin;
	ds->cursor = d.cursor;
	do {
		epm_dump_resume_at(ds, ds->cursor);
		ds->nr = 0;
		ds->want = min_t(u32, EPM_DUMP_BATCH, d.count - written);
		ds->cursor = EPM_DUMP_DONE;
		mutex_lock(&sp->lock);
		epm_for_each(&sp->pm, ds->resume_gpa,
			     EPM_GPA_LIMIT - ds->resume_gpa, EPM_WALK_PRE,
			     epm_dump_visit, ds);
		mutex_unlock(&sp->lock);
		if (copy_to_user(ubuf + written, ds->batch,
				 ds->nr * sizeof(ds->batch[0]))) {
			ret = -EFAULT;
			break;
		}
		written += ds->nr;
		cond_resched();
	} while (ds->cursor != EPM_DUMP_DONE && written < d.count);
	if (!ret) {
		d.count = written;
		d.cursor = ds->cursor;
		ret = copy_to_user(argp, &d, sizeof(d)) ? -EFAULT : 0;
	}
	kfree(ds);
	return ret;
}

static long epm_ioc_check(struct epm_space *sp, void __user *argp)
{
	bool admin = sp->admin;
	struct epm_mismatch first = { 0 };
	struct epm_check c;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.why || c.mismatches || c.gpa || c.kpte || c.epte ||
	    c.level || c.pad || !epm_zero(c.reserved, sizeof(c.reserved)))
		return -EINVAL;
	mutex_lock(&sp->lock);
	c.mismatches = epm_check(&sp->pm, &first);
	mutex_unlock(&sp->lock);
	if (c.mismatches) {
		c.why = first.why;
		c.level = first.level;
		c.gpa = first.gpa;
		c.kpte = first.why == EPM_BAD_COUNT ? first.kpte :
			 epm_hide_pa(first.kpte, admin);
		c.epte = first.why == EPM_BAD_COUNT ? first.epte :
			 epm_hide_pa(first.epte, admin);
		pr_warn_ratelimited("CHECK: %llu mismatches, first why %u level %u gpa 0x%llx\n",
				    c.mismatches, c.why, c.level, c.gpa);
	}
	return copy_to_user(argp, &c, sizeof(c)) ? -EFAULT : 0;
}

static long epm_ioc_eptp(struct epm_space *sp, void __user *argp)
{
	struct epm_eptp e;

	if (!sp->admin) {
		pr_info_ratelimited("EPTP: the file was opened without CAP_SYS_ADMIN\n");
		return -EPERM;
	}
	if (copy_from_user(&e, argp, sizeof(e)))
		return -EFAULT;
	if (e.flags & ~EPM_EPTP_ALL || e.pad || e.eptp || e.kpt_root ||
	    !epm_zero(e.reserved, sizeof(e.reserved)))
		return -EINVAL;
	if ((e.flags & EPM_EPTP_AD) && !(epm_caps.flags & EPM_CAP_EPT_AD))
		return -EOPNOTSUPP;
	mutex_lock(&sp->lock);
	e.eptp = epm_eptp(&sp->pm, e.flags & EPM_EPTP_AD);
	e.kpt_root = epm_kpt_root(&sp->pm);
	mutex_unlock(&sp->lock);
	return copy_to_user(argp, &e, sizeof(e)) ? -EFAULT : 0;
}

static long epm_ioc_stats(struct epm_space *sp, void __user *argp)
{
	struct epm_stats s = { 0 };

	mutex_lock(&sp->lock);
	s.table_pairs = sp->pm.nr_pairs;
	s.table_bytes = sp->pm.nr_pairs * EPM_PAIR_SIZE;
	s.mapped_4k = sp->pm.mapped[0];
	s.mapped_2m = sp->pm.mapped[1];
	s.mapped_1g = sp->pm.mapped[2];
	s.pinned_pages = sp->pinned;
	s.flushes = sp->flushes;
	s.runs = sp->runs;
	s.invepts = epm_vmx_invepts(sp);
	memcpy(s.exits, sp->exits, sizeof(s.exits));
	mutex_unlock(&sp->lock);
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static long epm_ioc_run(struct epm_space *sp, void __user *argp)
{
	struct epm_run r;
	long ret;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	ret = epm_vmx_run(sp, &r);
	if (ret && ret != -EINTR)
		return ret;
	if (copy_to_user(argp, &r, sizeof(r)))
		return -EFAULT;
	return ret;
}

static long epm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct epm_space *sp = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case EPM_IOC_VERSION:
		return EPM_API_VERSION;
	case EPM_IOC_CAPS:
		return epm_ioc_caps(argp);
	case EPM_IOC_MAP:
		return epm_ioc_map(sp, argp);
	case EPM_IOC_UNMAP:
		return epm_ioc_unmap(sp, argp);
	case EPM_IOC_PROTECT:
		return epm_ioc_protect(sp, argp);
	case EPM_IOC_QUERY:
		return epm_ioc_query(sp, argp);
	case EPM_IOC_DUMP:
		return epm_ioc_dump(sp, argp);
	case EPM_IOC_CHECK:
		return epm_ioc_check(sp, argp);
	case EPM_IOC_EPTP:
		return epm_ioc_eptp(sp, argp);
	case EPM_IOC_STATS:
		return epm_ioc_stats(sp, argp);
	case EPM_IOC_RUN:
		return epm_ioc_run(sp, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations epm_fops = {
	.owner = THIS_MODULE,
	.open = epm_open,
	.release = epm_release,
	.unlocked_ioctl = epm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice epm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = EPM_DEVICE_NAME,
	.fops = &epm_fops,
	.mode = 0600,
};

int epm_dev_init(void)
{
	return misc_register(&epm_misc);
}

void epm_dev_exit(void)
{
	misc_deregister(&epm_misc);
}
