// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory: the caller's pages, pinned for as long as a leaf maps them.
 *
 * The tables are the only record of what is pinned: MAP pins, hands the
 * frames to the core, and keeps nothing else; UNMAP and close unpin what
 * the core releases (each frame exactly once).
 *
 * Pins are charged to the user that opened the file (its user_struct's
 * locked_vm, as io_uring does), not to an mm: the opener's mm can die
 * (exec, exit) while the file, and so the pins, live on in a fork child
 * or an SCM_RIGHTS receiver, and a charge held by the mm would die with
 * it. MAP checks the sum against the caller's RLIMIT_MEMLOCK unless it
 * has CAP_IPC_LOCK (the caller of MAP is always the opener's process).
 * The same pages show in the opener's VmPin (mm->pinned_vm) while that
 * mm lives.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>

#include "main.h"

/* struct user_struct has locked_vm only when one of these is built in */
#if !IS_ENABLED(CONFIG_NET) && !IS_ENABLED(CONFIG_IO_URING)
#error "ept-pmap charges pins to user_struct.locked_vm: needs CONFIG_NET or CONFIG_IO_URING"
#endif

/*
 * Pages are pinned a chunk at a time, each chunk ending on a 1 GiB gpa
 * boundary so that a 1G leaf never straddles two chunks. The page array
 * is scratch space for one chunk only.
 */
#define EPM_CHUNK_PAGES	(EPM_SIZE_1G >> PAGE_SHIFT)

/*
 * pin_user_pages_fast() walks present pages with interrupts off and looks
 * at no signal: pin this many at a time, then yield and look.
 */
#define EPM_PIN_BATCH	1024UL

struct epm_pin_chunk {
	struct page **pages;
	unsigned long nr;
	u64 gpa;			/* gpa of pages[0] */
};

/* Frame source for epm_map(): contiguity is read off the pfns. */
static int epm_chunk_frame(void *arg, u64 gpa, u64 *hpa, u64 *contig)
{
	struct epm_pin_chunk *c = arg;
	unsigned long i = (gpa - c->gpa) >> PAGE_SHIFT, j;
	unsigned long pfn = page_to_pfn(c->pages[i]);

	for (j = i + 1; j < c->nr; j++) {
		if (page_to_pfn(c->pages[j]) != pfn + (j - i))
			break;
	}
	*hpa = PFN_PHYS(pfn);
	*contig = (u64)(j - i) << PAGE_SHIFT;
	return 0;
}

static void epm_mem_release(void *arg, u64 hpa, u64 size, u32 attr)
{
	struct epm_space *sp = arg;
	unsigned long nr = size >> PAGE_SHIFT;

	unpin_user_page_range_dirty_lock(pfn_to_page(PHYS_PFN(hpa)), nr,
					 attr & EPM_ATTR_PINW);
	sp->pinned -= nr;
}

/*
 * Charge @nr pages to the opener's user; ENOMEM beyond the caller's
 * RLIMIT_MEMLOCK without CAP_IPC_LOCK (asked only then: no audit record
 * for a MAP within the limit).
 */
static int epm_mem_charge(struct epm_space *sp, unsigned long nr)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	long cur = atomic_long_read(&sp->user->locked_vm);
	bool checked = false;

	do {
		if ((unsigned long)cur + nr > limit && !checked) {
			if (!capable(CAP_IPC_LOCK)) {
				pr_info_ratelimited("MAP: %lu pages would exceed RLIMIT_MEMLOCK (%lu pages, %ld charged to the user)\n",
						    nr, limit, cur);
				return -ENOMEM;
			}
			checked = true;
		}
	} while (!atomic_long_try_cmpxchg(&sp->user->locked_vm, &cur,
					  cur + nr));
	atomic64_add(nr, &sp->mm->pinned_vm);
	return 0;
}

/* The opener's mm may be gone: mm_struct itself lives until mmdrop(). */
static void epm_mem_uncharge(struct epm_space *sp, unsigned long nr)
{
	atomic_long_sub(nr, &sp->user->locked_vm);
	atomic64_sub(nr, &sp->mm->pinned_vm);
}

/*
 * Only memory whose pages can be pinned for a long time and stay the
 * guest's: anonymous and hugetlbfs. (shmem would do too, but 6.1 gives
 * modules no way to tell it from other files.) Returns 0 or an errno, and
 * in *@writable whether the caller may write to all of it.
 */
static int epm_mem_check_vmas(struct mm_struct *mm, u64 uaddr, u64 size,
			      bool *writable)
{
	u64 addr = uaddr, end = uaddr + size;
	struct vm_area_struct *vma;
	int ret = 0;

	*writable = true;
	mmap_read_lock(mm);
	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			pr_info_ratelimited("MAP: uaddr 0x%llx is not mapped\n",
					    addr);
			ret = -EFAULT;
			break;
		}
		if (vma->vm_flags & (VM_IO | VM_PFNMAP)) {
			pr_info_ratelimited("MAP: uaddr 0x%llx is I/O or PFN-mapped memory\n",
					    addr);
			ret = -EOPNOTSUPP;
			break;
		}
		if (vma->vm_file && !is_vm_hugetlb_page(vma)) {
			pr_info_ratelimited("MAP: uaddr 0x%llx is file-backed (anonymous or hugetlbfs memory only)\n",
					    addr);
			ret = -EOPNOTSUPP;
			break;
		}
		if (!(vma->vm_flags & VM_WRITE))
			*writable = false;
		addr = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Pin the chunk's pages. Returns 0, or an errno with nothing pinned:
 * EINTR when the caller is killed meanwhile.
 */
static int epm_pin_chunk(struct epm_pin_chunk *c, u64 uaddr,
			 unsigned int gup_flags)
{
	unsigned long done = 0;
	long ret;

	while (done < c->nr) {
		ret = pin_user_pages_fast(uaddr + (done << PAGE_SHIFT),
					  min(c->nr - done, EPM_PIN_BATCH),
					  gup_flags, c->pages + done);
		if (ret <= 0) {
			ret = ret ? ret : -EFAULT;
			goto err_unpin;
		}
		done += ret;
		cond_resched();
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_unpin;
		}
	}
	/*
	 * The VMA check ran under a lock since dropped: another thread may
	 * have put a file there meanwhile. What was pinned is what counts.
	 */
	for (done = 0; done < c->nr; done++) {
		struct page *page = c->pages[done];

		if (!PageAnon(page) && !PageHuge(page) &&
		    !is_zero_pfn(page_to_pfn(page))) {
			unpin_user_pages(c->pages, c->nr);
			pr_info_ratelimited("MAP: uaddr 0x%llx became file-backed while being pinned\n",
					    uaddr + (done << PAGE_SHIFT));
			return -EOPNOTSUPP;
		}
	}
	return 0;

err_unpin:
	if (done)
		unpin_user_pages(c->pages, done);
	return ret;
}

/*
 * Pin [uaddr, uaddr + size) and map it at [gpa, gpa + size). Arguments are
 * validated by the caller. All or nothing: on failure every page pinned so
 * far is unpinned, every leaf built is gone and nothing stays charged.
 * A fatal signal stops it within EPM_PIN_BATCH pages or one page table
 * (EINTR, undone like any other failure).
 */
int epm_mem_map(struct epm_space *sp, u64 gpa, u64 size, u64 uaddr, u32 attr,
		u64 max_page)
{
	unsigned int gup_flags = FOLL_LONGTERM;
	unsigned long total = size >> PAGE_SHIFT;
	struct epm_pin_chunk c;
	struct epm_map_req req = {
		.attr = attr,
		.max_page = max_page,
		.frame = epm_chunk_frame,
		.arg = &c,
	};
	u64 end = gpa + size, next;
	bool writable;
	int ret;

	if (current->mm != sp->mm)
		return -EPERM;
	ret = epm_range_unmapped(&sp->pm, gpa, size);
	if (ret)
		return ret;
	ret = epm_mem_check_vmas(sp->mm, uaddr, size, &writable);
	if (ret)
		return ret;
	/*
	 * Pin for write whenever the caller could write, even for a guest
	 * that may only read: the guest must see the caller's own pages, and
	 * a read-only pin may take the shared zero page or a page that a
	 * later write of the caller copies away (6.1 does not unshare them).
	 * Such pages may take W later (PROTECT), as the PINW mark says.
	 */
	if ((attr & EPM_ATTR_W) || writable) {
		gup_flags |= FOLL_WRITE;
		req.attr |= EPM_ATTR_PINW;
	}
	ret = epm_mem_charge(sp, total);
	if (ret)
		return ret;
	c.pages = kvmalloc_array(min_t(unsigned long, total, EPM_CHUNK_PAGES),
				 sizeof(*c.pages), GFP_KERNEL_ACCOUNT);
	if (!c.pages) {
		ret = -ENOMEM;
		goto err_uncharge;
	}

	for (c.gpa = gpa; c.gpa < end; c.gpa = next) {
		next = min(round_down(c.gpa, EPM_SIZE_1G) + EPM_SIZE_1G, end);
		c.nr = (next - c.gpa) >> PAGE_SHIFT;
		ret = epm_pin_chunk(&c, uaddr + (c.gpa - gpa), gup_flags);
		if (ret)
			goto err_unmap;
		req.gpa = c.gpa;
		req.size = next - c.gpa;
		ret = epm_map(&sp->pm, &req);
		if (ret) {
			unpin_user_pages(c.pages, c.nr);
			goto err_unmap;
		}
		sp->pinned += c.nr;
		cond_resched();
	}
	kvfree(c.pages);
	return 0;

err_unmap:
	/* the chunks before c.gpa are fully ours: no split, cannot fail */
	if (c.gpa > gpa)
		epm_unmap(&sp->pm, gpa, c.gpa - gpa, epm_mem_release, sp);
	kvfree(c.pages);
err_uncharge:
	epm_mem_uncharge(sp, total);
	return ret;
}

int epm_mem_unmap(struct epm_space *sp, u64 gpa, u64 size)
{
	u64 before = sp->pinned;
	int ret;

	ret = epm_unmap(&sp->pm, gpa, size, epm_mem_release, sp);
	epm_mem_uncharge(sp, before - sp->pinned);
	return ret;
}

void epm_mem_destroy(struct epm_space *sp)
{
	u64 before = sp->pinned;

	epm_pmap_destroy(&sp->pm, epm_mem_release, sp);
	epm_mem_uncharge(sp, before - sp->pinned);
}
