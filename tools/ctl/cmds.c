// SPDX-License-Identifier: GPL-2.0
/*
 * eptctl: the subcommands. Each runs its ioctl and either prints what it
 * got or reports one error line naming the errno and, from the arguments,
 * the likely cause.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "eptctl.h"

/* Why a gpa range is invalid, or NULL when it looks fine. */
static const char *range_cause(u64 gpa, u64 size, char *buf, size_t len)
{
	if (gpa & (EPM_SIZE_4K - 1))
		snprintf(buf, len, "gpa 0x%llx is not 4 KiB aligned",
			 (unsigned long long)gpa);
	else if (!size)
		snprintf(buf, len, "size is zero");
	else if (size & (EPM_SIZE_4K - 1))
		snprintf(buf, len, "size 0x%llx is not a multiple of 4 KiB",
			 (unsigned long long)size);
	else if (gpa >= EPM_GPA_LIMIT || size > EPM_GPA_LIMIT - gpa)
		snprintf(buf, len, "[0x%llx, 0x%llx) goes beyond the 48-bit guest-physical space",
			 (unsigned long long)gpa,
			 (unsigned long long)(gpa + size));
	else
		return NULL;
	return buf;
}

static const char *perm_cause(u32 perm, char *buf, size_t len)
{
	if (perm & ~EPM_PERM_ALL)
		snprintf(buf, len, "unknown permission bits %#x",
			 perm & ~EPM_PERM_ALL);
	else if (!perm)
		snprintf(buf, len, "no permission given");
	else if ((perm & EPM_PERM_W) && !(perm & EPM_PERM_R))
		snprintf(buf, len, "write without read is an EPT misconfiguration");
	else
		return NULL;
	return buf;
}

static const char *range_str(u64 gpa, u64 size, char *buf, size_t len)
{
	snprintf(buf, len, "[0x%llx, 0x%llx)", (unsigned long long)gpa,
		 (unsigned long long)(gpa + size));
	return buf;
}

/* Causes common to every command. */
static const char *common_cause(int err)
{
	switch (err) {
	case EPERM:
		return "the address space belongs to another process";
	case ENOTTY:
		return "the module does not know this command (old module?)";
	case EFAULT:
		return "the module could not access the argument";
	case EINVAL:
		return "invalid argument";
	default:
		return strerror(err);
	}
}

/* The bits of an entry by name, as a JSON object under @key. */
static void json_kpte(const char *key, u64 k, unsigned int lvl, bool leaf)
{
	bool large = leaf && lvl > 1;

	json_obj(key);
	json_bool("P", k & KPTE_P);
	json_bool("W", k & KPTE_W);
	json_bool("U", k & KPTE_U);
	json_bool("PWT", k & KPTE_PWT);
	json_bool("PCD", k & KPTE_PCD);
	json_bool("A", k & KPTE_A);
	json_bool("D", k & KPTE_D);
	json_bool("PS", lvl > 1 && (k & KPTE_PS));
	json_bool("G", k & KPTE_G);
	json_bool("NX", k & KPTE_NX);
	json_bool("PAT", (lvl == 1 && leaf && (k & KPTE_PAT_4K)) ||
		  (large && (k & KPTE_PAT_LARGE)));
	json_bool("pinw", k & KPTE_SW_PINW);
	json_u64("addr", ept_pmap_entry_addr(k, lvl, leaf));
	json_obj_end();
}

static void json_epte(const char *key, u64 x, unsigned int lvl, bool leaf)
{
	json_obj(key);
	json_bool("R", x & EPTE_R);
	json_bool("W", x & EPTE_W);
	json_bool("X", x & EPTE_X);
	if (leaf)
		json_str("memtype", ept_pmap_ept_mt_name((x & EPTE_MT_MASK) >>
							 EPTE_MT_SHIFT));
	else
		json_null("memtype");
	json_bool("IPAT", leaf && (x & EPTE_IPAT));
	json_bool("PS", lvl > 1 && (x & EPTE_PS));
	json_bool("A", x & EPTE_A);
	json_bool("D", leaf && (x & EPTE_D));
	json_bool("pinw", x & EPTE_SW_PINW);
	json_u64("addr", ept_pmap_entry_addr(x, lvl, leaf));
	json_obj_end();
}

static void json_perm(const char *key, u32 perm)
{
	char p[4];

	json_str(key, ept_pmap_perm_str(perm, p));
}

int cmd_version(struct ctx *ctx, const struct args *a)
{
	int v = ept_pmap_version(ctx->fd);
	char mver[64];

	if (v < 0)
		return fail(ctx, a->cmd->name, -v, "%s", common_cause(-v));
	if (ept_pmap_module_version(mver, sizeof(mver)))
		mver[0] = '\0';
	if (ctx->json) {
		json_begin("version");
		json_int("module_api", v);
		json_u64("eptctl_api", EPM_API_VERSION);
		json_str_or_null("module", *mver ? mver : NULL);
		json_str("eptctl", EPTCTL_VERSION);
		json_str("libept_pmap", ept_pmap_lib_version());
		json_end();
	} else {
		printf("module API %d\n", v);
		printf("eptctl API %d\n", EPM_API_VERSION);
		printf("module %s\n", *mver ? mver : "(no version in sysfs)");
		printf("eptctl %s, libept-pmap %s\n", EPTCTL_VERSION,
		       ept_pmap_lib_version());
	}
	if (v != EPM_API_VERSION)
		print_note("eptctl was built for API %d, the module speaks %d",
			   EPM_API_VERSION, v);
	return 0;
}


static const u32 map_size_bits[] = { EPM_PAGE_4K, EPM_PAGE_2M, EPM_PAGE_1G };

/*
 * Who can hold VMX on this host besides RUN, read from the running
 * kernel: README.md, "Running it on a real host". VMX has one owner per
 * CPU; kvm_intel takes it while a KVM VM exists, and on kernels whose
 * kvm.ko has enable_virt_at_load=Y (6.12 and later by default) as soon as
 * it is loaded.
 */
static const char *vmx_owner(const struct epm_caps *c)
{
	char v[8] = "";
	FILE *f;

	if (!(c->flags & EPM_CAP_VMX))
		return "no VMX on this CPU";
	if (access("/sys/module/kvm_intel", F_OK))
		return "kvm_intel not loaded: RUN has VMX to itself";
	f = fopen("/sys/module/kvm/parameters/enable_virt_at_load", "r");
	if (f) {
		if (!fgets(v, sizeof(v), f))
			v[0] = 0;
		fclose(f);
	}
	if (v[0] == 'Y')
		return "kvm_intel holds VMX on every CPU (kvm.enable_virt_at_load=Y): RUN fails EBUSY; rmmod kvm_intel, or boot with kvm.enable_virt_at_load=0";
	return "kvm_intel takes VMX while a KVM VM exists: RUN fails EBUSY meanwhile";
}

int cmd_caps(struct ctx *ctx, const struct args *a)
{
	const struct ept_pmap_flag *f;
	struct epm_caps c;
	u64 known = 0;
	size_t i, nf;
	int err;

	err = -ept_pmap_caps(ctx->fd, &c);
	if (err)
		return fail(ctx, a->cmd->name, err, "%s", common_cause(err));
	f = ept_pmap_cap_flags(&nf);
	for (i = 0; i < nf; i++)
		known |= f[i].flag;

	if (ctx->json) {
		json_begin("caps");
		json_u64("api_version", c.api_version);
		json_u64("maxphyaddr", c.maxphyaddr);
		json_u64("flags", c.flags);
		json_obj("caps");
		for (i = 0; i < nf; i++)
			json_bool(f[i].name, c.flags & f[i].flag);
		json_obj_end();
		json_u64("unknown_flags", c.flags & ~known);
		json_arr("map_sizes");
		for (i = 0; i < ARRAY_SIZE(map_size_bits); i++) {
			if (c.map_sizes & (1u << map_size_bits[i]))
				json_u64(NULL, ept_pmap_level_size(map_size_bits[i]));
		}
		json_arr_end();
		json_u64("svm_features", c.svm_features);
		json_u64("vmx_basic", c.vmx_basic);
		json_u64("vmx_procbased2", c.vmx_procbased2);
		json_u64("vmx_ept_vpid_cap", c.vmx_ept_vpid_cap);
		json_u64("vmx_misc", c.vmx_misc);
		json_u64("feature_control", c.feature_control);
		json_str("vmx_owner", vmx_owner(&c));
		json_end();
		return 0;
	}
	printf("api_version      %u\n", c.api_version);
	printf("maxphyaddr       %u\n", c.maxphyaddr);
	printf("flags            0x%llx\n", (unsigned long long)c.flags);
	for (i = 0; i < nf; i++)
		printf("  %-14s %-3s  %s\n", f[i].name,
		       c.flags & f[i].flag ? "yes" : "no", f[i].what);
	if (c.flags & ~known)
		printf("  %-14s 0x%llx\n", "unknown",
		       (unsigned long long)(c.flags & ~known));
	printf("map_sizes       ");
	if (c.map_sizes & (1u << EPM_PAGE_4K))
		printf(" 4K");
	if (c.map_sizes & (1u << EPM_PAGE_2M))
		printf(" 2M");
	if (c.map_sizes & (1u << EPM_PAGE_1G))
		printf(" 1G");
	if (c.map_sizes & ~((1u << EPM_PAGE_4K) | (1u << EPM_PAGE_2M) |
			    (1u << EPM_PAGE_1G)))
		printf(" ?%#x", c.map_sizes);
	printf("\n");
	printf("svm_features     0x%08x\n", c.svm_features);
	printf("vmx_basic        0x%016llx\n", (unsigned long long)c.vmx_basic);
	printf("vmx_procbased2   0x%016llx\n",
	       (unsigned long long)c.vmx_procbased2);
	printf("vmx_ept_vpid_cap 0x%016llx\n",
	       (unsigned long long)c.vmx_ept_vpid_cap);
	printf("vmx_misc         0x%016llx\n", (unsigned long long)c.vmx_misc);
	printf("feature_control  0x%016llx\n",
	       (unsigned long long)c.feature_control);
	printf("vmx_owner        %s\n", vmx_owner(&c));
	return 0;
}

static const char *backing_name(enum backing b)
{
	switch (b) {
	case BACK_THP:
		return "thp";
	case BACK_HUGETLB:
		return "hugetlb";
	case BACK_FILE:
		return "file";
	default:
		return "anon";
	}
}

static const char *map_cause(const struct args *a, int err, u64 uaddr,
			     char *buf, size_t len)
{
	char rng[64], lim[24];
	struct rlimit rl;

	switch (err) {
	case EEXIST:
		snprintf(buf, len, "%s overlaps an existing mapping",
			 range_str(a->gpa, a->size, rng, sizeof(rng)));
		return buf;
	case ENOMEM:
		if (!getrlimit(RLIMIT_MEMLOCK, &rl) &&
		    rl.rlim_cur != RLIM_INFINITY) {
			snprintf(buf, len,
				 "out of memory, or %s is over RLIMIT_MEMLOCK (%s locked at most)",
				 range_str(a->gpa, a->size, rng, sizeof(rng)),
				 size_str(rl.rlim_cur, lim, sizeof(lim)));
			return buf;
		}
		return "out of memory";
	case EFAULT:
		snprintf(buf, len, "user memory at 0x%llx is not mapped%s",
			 (unsigned long long)uaddr,
			 a->perm & EPM_PERM_W ? " or not writable" : "");
		return buf;
	case EOPNOTSUPP:
		if (a->backing == BACK_FILE)
			snprintf(buf, len, "file-backed memory (%s) cannot be mapped",
				 a->file);
		else if ((a->perm & EPM_PERM_ALL) == EPM_PERM_X)
			snprintf(buf, len,
				 "execute-only needs EPT execute-only support (see caps: ept_x_only)");
		else
			snprintf(buf, len, "this memory or mapping is not supported");
		return buf;
	case EINVAL:
		if (range_cause(a->gpa, a->size, buf, len) ||
		    perm_cause(a->perm, buf, len))
			return buf;
		if (a->memtype > EPM_MEMTYPE_WP)
			snprintf(buf, len, "unknown memory type %u",
				 a->memtype);
		else if (a->max_page > EPM_PAGE_1G)
			snprintf(buf, len, "unknown max page %u", a->max_page);
		else if (uaddr & (EPM_SIZE_4K - 1))
			snprintf(buf, len,
				 "uaddr 0x%llx is not page aligned (--uaddr-offset 0x%llx)",
				 (unsigned long long)uaddr,
				 (unsigned long long)a->uaddr_offset);
		else
			return "invalid argument";
		return buf;
	default:
		return common_cause(err);
	}
}

int cmd_map(struct ctx *ctx, const struct args *a)
{
	struct epm_map m;
	struct region *r;
	char why[256], rng[64], p[4];
	int err;

	err = -mem_alloc(a, &r, why, sizeof(why));
	if (err)
		return fail(ctx, "map", err, "cannot allocate %s memory: %s",
			    backing_name(a->backing), why);

	memset(&m, 0, sizeof(m));
	m.gpa = a->gpa;
	m.size = a->size;
	m.uaddr = r->uaddr;
	m.flags = a->perm;
	if (a->seen & O(OPT_IPAT))
		m.flags |= EPM_MAP_IPAT;
	if (a->seen & O(OPT_AD))
		m.flags |= EPM_MAP_AD;
	m.memtype = a->memtype;
	m.max_page = a->max_page;
	err = -ept_pmap_map(ctx->fd, &m);
	if (err) {
		mem_free(r);
		return fail(ctx, "map", err, "%s",
			    map_cause(a, err, m.uaddr, why, sizeof(why)));
	}
	mem_add(ctx, r);
	if (ctx->json) {
		json_begin("map");
		json_u64("gpa", a->gpa);
		json_u64("size", a->size);
		json_perm("perm", a->perm);
		json_str("memtype", ept_pmap_memtype_name(a->memtype));
		json_u64("max_page", a->max_page ?
			 ept_pmap_level_size(a->max_page) : 0);
		json_bool("ipat", m.flags & EPM_MAP_IPAT);
		json_bool("ad", m.flags & EPM_MAP_AD);
		json_str("backing", backing_name(a->backing));
		json_u64("uaddr", m.uaddr);
		json_end();
	} else if (ctx->verbose) {
		printf("map: %s %s %s %s memory at 0x%llx\n",
		       range_str(a->gpa, a->size, rng, sizeof(rng)),
		       ept_pmap_perm_str(a->perm, p), ept_pmap_memtype_name(a->memtype),
		       backing_name(a->backing), (unsigned long long)m.uaddr);
	}
	return 0;
}

static const char *split_cause(const struct args *a, char *buf, size_t len)
{
	char rng[64];

	snprintf(buf, len, "out of memory to split a jumbo leaf at an edge of %s",
		 range_str(a->gpa, a->size, rng, sizeof(rng)));
	return buf;
}

int cmd_unmap(struct ctx *ctx, const struct args *a)
{
	char why[160];
	int err;

	err = -ept_pmap_unmap(ctx->fd, a->gpa, a->size);
	if (err) {
		const char *cause = common_cause(err);

		if (err == EINVAL && range_cause(a->gpa, a->size, why,
						 sizeof(why)))
			cause = why;
		else if (err == ENOMEM)
			cause = split_cause(a, why, sizeof(why));
		return fail(ctx, "unmap", err, "%s", cause);
	}
	mem_release(ctx, a->gpa, a->size);
	if (ctx->json) {
		json_begin("unmap");
		json_u64("gpa", a->gpa);
		json_u64("size", a->size);
		json_end();
	} else if (ctx->verbose) {
		printf("unmap: %s\n", range_str(a->gpa, a->size, why,
						sizeof(why)));
	}
	return 0;
}

int cmd_protect(struct ctx *ctx, const struct args *a)
{
	char why[160], rng[64], p[4];
	const char *cause;
	int err;

	err = -ept_pmap_protect(ctx->fd, a->gpa, a->size, a->perm);
	if (!err) {
		if (ctx->json) {
			json_begin("protect");
			json_u64("gpa", a->gpa);
			json_u64("size", a->size);
			json_perm("perm", a->perm);
			json_end();
		} else if (ctx->verbose) {
			printf("protect: %s %s\n",
			       range_str(a->gpa, a->size, rng, sizeof(rng)),
			       ept_pmap_perm_str(a->perm, p));
		}
		return 0;
	}
	cause = common_cause(err);
	switch (err) {
	case ENOENT:
		snprintf(why, sizeof(why), "part of %s is not mapped",
			 range_str(a->gpa, a->size, rng, sizeof(rng)));
		cause = why;
		break;
	case EACCES:
		snprintf(why, sizeof(why),
			 "%s was mapped without w: its pages are not pinned writable",
			 range_str(a->gpa, a->size, rng, sizeof(rng)));
		cause = why;
		break;
	case EINVAL:
		if (range_cause(a->gpa, a->size, why, sizeof(why)) ||
		    perm_cause(a->perm, why, sizeof(why)))
			cause = why;
		break;
	case ENOMEM:
		cause = split_cause(a, why, sizeof(why));
		break;
	case EOPNOTSUPP:
		cause = "execute-only needs EPT execute-only support (see caps: ept_x_only)";
		break;
	}
	return fail(ctx, "protect", err, "%s", cause);
}

static void print_pair(const char *indent, unsigned int level, u64 k, u64 e,
		       bool kleaf, bool eleaf)
{
	char kb[96], eb[96];

	ept_pmap_kpte_str(k, level, kleaf, kb, sizeof(kb));
	ept_pmap_epte_str(e, level, eleaf, eb, sizeof(eb));
	printf("%s%-6s kpt 0x%016llx %-24s ept 0x%016llx %s\n", indent,
	       ept_pmap_level_name(level), (unsigned long long)k, kb,
	       (unsigned long long)e, eb);
}

/* The levels query shows: down to the leaf, or to the first not present. */
static unsigned int query_last_level(const struct epm_query *q)
{
	unsigned int l;

	if (q->level)
		return q->level;
	for (l = 4; l > 1; l--) {
		if (!q->kpte[l - 1] && !q->epte[l - 1])
			break;
	}
	return l;
}

static void query_json(const struct epm_query *q)
{
	unsigned int l, last = query_last_level(q);

	json_begin("query");
	json_u64("gpa", q->gpa);
	json_bool("mapped", q->level);
	json_u64("level", q->level);
	json_arr("walk");
	for (l = 4; l >= last; l--) {
		u64 k = q->kpte[l - 1], e = q->epte[l - 1];
		bool present = k || e;

		json_obj(NULL);
		json_u64("level", l);
		json_str("name", ept_pmap_level_name(l));
		json_bool("present", present);
		json_u64("kpte", k);
		json_u64("epte", e);
		if (present) {
			json_kpte("kpt", k, l, l == q->level ||
				  ept_pmap_kpte_is_leaf(k, l));
			json_epte("ept", e, l, l == q->level ||
				  ept_pmap_epte_is_leaf(e, l));
		}
		json_obj_end();
	}
	json_arr_end();
	if (q->level) {
		json_u64("hpa", q->hpa);
		json_u64("page_size", q->page_size);
		json_perm("perm", q->perm);
		json_perm("kpt_perm", q->kpt_perm);
		json_str("memtype", ept_pmap_memtype_name(q->memtype));
		json_bool("ipat", q->map_flags & EPM_MAP_IPAT);
	}
	json_end();
}

int cmd_query(struct ctx *ctx, const struct args *a)
{
	struct epm_query q;
	char why[96], sz[24], p[4], kp[4];
	unsigned int l;
	int err;

	err = -ept_pmap_query(ctx->fd, a->gpa, &q);
	if (err) {
		const char *cause = common_cause(err);

		if (err == EINVAL && a->gpa >= EPM_GPA_LIMIT) {
			snprintf(why, sizeof(why),
				 "gpa 0x%llx is beyond the 48-bit guest-physical space",
				 (unsigned long long)a->gpa);
			cause = why;
		}
		return fail(ctx, "query", err, "%s", cause);
	}
	if (q.level > 4)
		return fail(ctx, "query", 0, "the module answered leaf level %u",
			    q.level);
	if (q.level && q.page_size != ept_pmap_level_size(q.level))
		print_note("query: page size 0x%llx does not match level %u",
			   (unsigned long long)q.page_size, q.level);
	if (ctx->json) {
		query_json(&q);
		return 0;
	}
	if (q.level)
		printf("gpa 0x%llx: %s leaf at level %u (%s)\n",
		       (unsigned long long)q.gpa,
		       size_str(ept_pmap_level_size(q.level), sz, sizeof(sz)), q.level,
		       ept_pmap_level_name(q.level));
	else
		printf("gpa 0x%llx: not mapped\n", (unsigned long long)q.gpa);

	for (l = 4; l >= 1; l--) {
		u64 k = q.kpte[l - 1], e = q.epte[l - 1];

		if (q.level && l < q.level)
			break;
		if (!q.level && !k && !e) {
			printf("  %-6s not present\n", ept_pmap_level_name(l));
			break;
		}
		print_pair("  ", l, k, e, l == q.level || ept_pmap_kpte_is_leaf(k, l),
			   l == q.level || ept_pmap_epte_is_leaf(e, l));
	}
	if (!q.level)
		return 0;
	printf("  hpa 0x%llx  page %s  perm %s  kpt_perm %s  memtype %s%s\n",
	       (unsigned long long)q.hpa,
	       size_str(q.page_size, sz, sizeof(sz)), ept_pmap_perm_str(q.perm, p),
	       ept_pmap_perm_str(q.kpt_perm, kp), ept_pmap_memtype_name(q.memtype),
	       q.map_flags & EPM_MAP_IPAT ? "  ipat" : "");
	return 0;
}

/* State of one dump as it streams through. */
struct dumper {
	enum dump_format fmt;
	u64 entries;
	u64 tables;
	u64 leaves[5];		/* by level */
	u64 last_gpa;
	unsigned int last_level;
	/* dot: the open table per level and the open leaf run per level */
	bool have[5];
	u64 cur[5];
	struct {
		bool open;
		u64 table;	/* base of the table holding the run */
		u64 start;
		u64 end;
		u64 count;
		u64 kattr;
		u64 eattr;
	} run[5];
	unsigned int nruns;
};

static const char *table_name(unsigned int level)
{
	static const char *const names[] = { "?", "PT", "PD", "PDPT", "PML4" };

	return level < ARRAY_SIZE(names) ? names[level] : "?";
}

/* Base gpa of the table at @level that holds the entry for @gpa. */
static u64 table_base(unsigned int level, u64 gpa)
{
	return gpa & ~(ept_pmap_level_size(level + 1) - 1);
}

static void dot_table(struct dumper *d, unsigned int level, u64 base,
		      const struct epm_dump_entry *parent);

/* Make sure the table at @level covering @base is in the graph. */
static void dot_ensure(struct dumper *d, unsigned int level, u64 base)
{
	if (level >= 4 || (d->have[level] && d->cur[level] == base))
		return;
	dot_ensure(d, level + 1, table_base(level + 1, base));
	dot_table(d, level, base, NULL);
}

static void dot_table(struct dumper *d, unsigned int level, u64 base,
		      const struct epm_dump_entry *parent)
{
	printf("  t%u_%llx [label=\"%s\\n[0x%llx, 0x%llx)", level,
	       (unsigned long long)base, table_name(level),
	       (unsigned long long)base,
	       (unsigned long long)(base + ept_pmap_level_size(level + 1)));
	if (parent)
		printf("\\nkpt 0x%llx\\nept 0x%llx",
		       (unsigned long long)(parent->kpte & EPM_PTE_ADDR),
		       (unsigned long long)(parent->epte & EPM_PTE_ADDR));
	printf("\"];\n");
	printf("  t%u_%llx -> t%u_%llx [label=\"%llu\"];\n", level + 1,
	       (unsigned long long)table_base(level + 1, base), level,
	       (unsigned long long)base,
	       (unsigned long long)((base >> (12 + 9 * level)) & 511));
	d->have[level] = true;
	d->cur[level] = base;
}

static void dot_flush(struct dumper *d, unsigned int level)
{
	unsigned int shift = 12 + 9 * (level - 1);
	char sz[24], kb[96], eb[96];

	if (!d->run[level].open)
		return;
	ept_pmap_kpte_str(d->run[level].kattr, level, true, kb, sizeof(kb));
	ept_pmap_epte_str(d->run[level].eattr, level, true, eb, sizeof(eb));
	printf("  r%u [shape=note, label=\"%llu x %s\\n[0x%llx, 0x%llx)\\n"
	       "kpt %s\\nept %s\"];\n", d->nruns,
	       (unsigned long long)d->run[level].count,
	       size_str(ept_pmap_level_size(level), sz, sizeof(sz)),
	       (unsigned long long)d->run[level].start,
	       (unsigned long long)d->run[level].end, kb, eb);
	printf("  t%u_%llx -> r%u [label=\"%llu-%llu\"];\n", level,
	       (unsigned long long)d->run[level].table, d->nruns,
	       (unsigned long long)((d->run[level].start >> shift) & 511),
	       (unsigned long long)(((d->run[level].end - 1) >> shift) & 511));
	d->nruns++;
	d->run[level].open = false;
}

static void dot_entry(struct dumper *d, const struct epm_dump_entry *e)
{
	unsigned int l = e->level;
	u64 base = table_base(l, e->gpa);
	u64 kattr, eattr;

	dot_ensure(d, l, base);
	if (!e->leaf) {
		if (l > 1)
			dot_table(d, l - 1, e->gpa, e);
		return;
	}
	kattr = e->kpte & ~ept_pmap_entry_addr(e->kpte, l, true);
	eattr = e->epte & ~ept_pmap_entry_addr(e->epte, l, true);
	if (d->run[l].open && d->run[l].table == base &&
	    d->run[l].end == e->gpa && d->run[l].kattr == kattr &&
	    d->run[l].eattr == eattr) {
		d->run[l].end += ept_pmap_level_size(l);
		d->run[l].count++;
		return;
	}
	dot_flush(d, l);
	d->run[l].open = true;
	d->run[l].table = base;
	d->run[l].start = e->gpa;
	d->run[l].end = e->gpa + ept_pmap_level_size(l);
	d->run[l].count = 1;
	d->run[l].kattr = kattr;
	d->run[l].eattr = eattr;
}

static void tree_entry(const struct epm_dump_entry *e)
{
	static const char spaces[] = "      ";
	char name[16], sz[8], kb[96], eb[96];
	unsigned int l = e->level;

	snprintf(name, sizeof(name), "%.*s%s", (int)(2 * (4 - l)), spaces,
		 ept_pmap_level_name(l));
	if (e->leaf)
		size_str(ept_pmap_level_size(l), sz, sizeof(sz));
	else
		strcpy(sz, "tbl");
	ept_pmap_kpte_str(e->kpte, l, e->leaf, kb, sizeof(kb));
	ept_pmap_epte_str(e->epte, l, e->leaf, eb, sizeof(eb));
	printf("%-11s [0x%012llx, 0x%012llx) %-3s  kpt 0x%016llx %-22s  ept 0x%016llx %s\n",
	       name, (unsigned long long)e->gpa,
	       (unsigned long long)(e->gpa + ept_pmap_level_size(l)), sz,
	       (unsigned long long)e->kpte, kb, (unsigned long long)e->epte,
	       eb);
}

static void json_dump_entry(const struct epm_dump_entry *e)
{
	unsigned int l = e->level;

	json_obj(NULL);
	json_u64("gpa", e->gpa);
	json_u64("end", e->gpa + ept_pmap_level_size(l));
	json_u64("level", l);
	json_bool("leaf", e->leaf);
	json_u64("size", ept_pmap_level_size(l));
	json_u64("kpte", e->kpte);
	json_u64("epte", e->epte);
	json_kpte("kpt", e->kpte, l, e->leaf);
	json_epte("ept", e->epte, l, e->leaf);
	json_obj_end();
}

/* Checks what the module returned, then prints it. 0 or a failure. */
static int dump_entry(struct ctx *ctx, struct dumper *d,
		      const struct epm_dump_entry *e)
{
	unsigned int l = e->level;

	if (l < 1 || l > 4 || e->leaf > 1 || (e->leaf && l == 4))
		return fail(ctx, "dump", 0,
			    "the module returned a bad entry: level %u leaf %u at gpa 0x%llx",
			    l, e->leaf, (unsigned long long)e->gpa);
	if (e->gpa & (ept_pmap_level_size(l) - 1) || e->gpa >= EPM_GPA_LIMIT)
		return fail(ctx, "dump", 0,
			    "the module returned gpa 0x%llx, not aligned for level %u",
			    (unsigned long long)e->gpa, l);
	/* Parents before children, in gpa order: (gpa, -level) increases. */
	if (d->entries && (e->gpa < d->last_gpa ||
			   (e->gpa == d->last_gpa && l >= d->last_level)))
		return fail(ctx, "dump", 0,
			    "the module returned level %u gpa 0x%llx after level %u gpa 0x%llx: out of order",
			    l, (unsigned long long)e->gpa, d->last_level,
			    (unsigned long long)d->last_gpa);
	d->last_gpa = e->gpa;
	d->last_level = l;
	d->entries++;
	if (e->leaf)
		d->leaves[l]++;
	else
		d->tables++;

	switch (d->fmt) {
	case FMT_TREE:
		tree_entry(e);
		break;
	case FMT_JSON:
		json_dump_entry(e);
		break;
	case FMT_DOT:
		dot_entry(d, e);
		break;
	}
	return 0;
}

int cmd_dump(struct ctx *ctx, const struct args *a)
{
	struct ept_pmap_dump_iter *it = malloc(sizeof(*it));
	const struct epm_dump_entry *e;
	bool json_was = ctx->json;
	struct dumper d;
	unsigned int i;
	int err, ret = 0;

	if (!it)
		return fail(ctx, "dump", ENOMEM, "out of memory");
	memset(&d, 0, sizeof(d));
	d.fmt = a->format;
	if (d.fmt == FMT_JSON)
		ctx->json = true;	/* --format json is -j for this command */
	if (ctx->json) {
		d.fmt = FMT_JSON;
		json_begin("dump");
		json_bool("leaves_only", a->seen & O(OPT_LEAVES));
		json_arr("entries");
	} else if (d.fmt == FMT_DOT) {
		printf("digraph ept_pmap {\n"
		       "  node [shape=box, fontname=monospace];\n"
		       "  t4_0 [label=\"PML4 (root)\\n[0x0, 0x1000000000000)\"];\n");
	}

	ept_pmap_dump_init(it, ctx->fd,
			   a->seen & O(OPT_LEAVES) ? EPM_DUMP_LEAVES : 0);
	while (!ret && (err = ept_pmap_dump_next(it, &e)) > 0)
		ret = dump_entry(ctx, &d, e);
	free(it);
	if (!ret && err == -EPROTO)
		ret = fail(ctx, "dump", 0,
			   "the module answered DUMP with more entries than room, or made no progress");
	else if (!ret && err < 0)
		ret = fail(ctx, "dump", -err, "%s", common_cause(-err));

	if (ret) {
		ctx->json = json_was;
		return ret;
	}
	if (d.fmt == FMT_JSON) {
		json_arr_end();
		json_obj("summary");
		json_u64("entries", d.entries);
		json_u64("tables", d.tables);
		json_u64("leaves", d.leaves[1] + d.leaves[2] + d.leaves[3]);
		json_u64("bytes_4k", d.leaves[1] * ept_pmap_level_size(1));
		json_u64("bytes_2m", d.leaves[2] * ept_pmap_level_size(2));
		json_u64("bytes_1g", d.leaves[3] * ept_pmap_level_size(3));
		json_obj_end();
		json_end();
	} else if (d.fmt == FMT_DOT) {
		for (i = 1; i <= 4; i++)
			dot_flush(&d, i);
		printf("}\n");
	} else {
		char s1[24], s2[24], s3[24];

		printf("# %llu entries: %llu tables, %llu leaves (%s in 4K, %s in 2M, %s in 1G)\n",
		       (unsigned long long)d.entries,
		       (unsigned long long)d.tables,
		       (unsigned long long)(d.leaves[1] + d.leaves[2] +
					    d.leaves[3]),
		       size_str(d.leaves[1] * ept_pmap_level_size(1), s1, sizeof(s1)),
		       size_str(d.leaves[2] * ept_pmap_level_size(2), s2, sizeof(s2)),
		       size_str(d.leaves[3] * ept_pmap_level_size(3), s3, sizeof(s3)));
	}
	ctx->json = json_was;
	return 0;
}

int cmd_check(struct ctx *ctx, const struct args *a)
{
	struct epm_check c;
	unsigned int l;
	int err;

	err = -ept_pmap_check(ctx->fd, &c);
	if (err)
		return fail(ctx, a->cmd->name, err, "%s", common_cause(err));
	l = c.level;
	if (ctx->json) {
		json_begin("check");
		json_u64("mismatches", c.mismatches);
		if (c.mismatches) {
			json_obj("first");
			json_u64("why", c.why);
			json_str("reason", ept_pmap_mismatch_name(c.why));
			json_u64("level", l);
			json_u64("gpa", c.gpa);
			json_u64("kpte", c.kpte);
			json_u64("epte", c.epte);
			json_obj_end();
		} else {
			json_null("first");
		}
		json_end();
	} else if (!c.mismatches) {
		printf("ok: 0 mismatches\n");
	} else {
		printf("%llu mismatch%s; first: %s (why %u)\n",
		       (unsigned long long)c.mismatches,
		       c.mismatches == 1 ? "" : "es",
		       ept_pmap_mismatch_name(c.why), c.why);
		printf("  level %u gpa 0x%llx\n", l, (unsigned long long)c.gpa);
		if (l >= 1 && l <= 4)
			print_pair("  ", l, c.kpte, c.epte,
				   ept_pmap_kpte_is_leaf(c.kpte, l),
				   ept_pmap_epte_is_leaf(c.epte, l));
	}
	if (!c.mismatches)
		return 0;
	return fail(ctx, a->cmd->name, 0, "%llu lockstep mismatch%s",
		    (unsigned long long)c.mismatches,
		    c.mismatches == 1 ? "" : "es");
}

static void eptp_json(const struct epm_eptp *e, bool visible)
{
	json_begin("eptp");
	json_bool("visible", visible);
	json_u64("eptp", e->eptp);
	json_u64("kpt_root", e->kpt_root);
	json_u64("ept_root", e->eptp & EPM_PTE_ADDR);
	json_str("memtype", ept_pmap_ept_mt_name(e->eptp & EPTP_MT_MASK));
	json_u64("walk", ((e->eptp & EPTP_WALK_MASK) >> EPTP_WALK_SHIFT) + 1);
	json_bool("ad", e->eptp & EPTP_AD);
	json_end();
}

int cmd_eptp(struct ctx *ctx, const struct args *a)
{
	bool ad = a->seen & O(OPT_AD);
	u64 want = EPTP_MT_WB | EPTP_WALK_4 | (ad ? EPTP_AD : 0);
	struct epm_eptp e;
	u64 root;
	int err;

	err = -ept_pmap_eptp(ctx->fd, ad ? EPM_EPTP_AD : 0, &e);
	if (err == EPERM) {
		if (!ctx->eptp_noted)
			print_note("physical addresses need CAP_SYS_ADMIN: %s",
				   "EPTP, KPT root and the addresses in query and dump read as 0");
		ctx->eptp_noted = true;
		memset(&e, 0, sizeof(e));
		if (ctx->json)
			eptp_json(&e, false);
		else
			printf("eptp     0x%016llx\nkpt_root 0x%016llx\n", 0ULL, 0ULL);
		return 0;
	}
	if (err) {
		const char *cause = common_cause(err);

		if (ad && (err == EINVAL || err == EOPNOTSUPP))
			cause = "A/D flags need EPT A/D support (see caps: ept_ad)";
		return fail(ctx, "eptp", err, "%s", cause);
	}
	root = e.eptp & EPM_PTE_ADDR;
	if (ctx->json) {
		eptp_json(&e, true);
	} else {
		printf("eptp     0x%016llx  root 0x%llx, memtype %s, walk %llu, A/D %s\n",
		       (unsigned long long)e.eptp, (unsigned long long)root,
		       ept_pmap_ept_mt_name(e.eptp & EPTP_MT_MASK),
		       (unsigned long long)((e.eptp & EPTP_WALK_MASK) >>
					     EPTP_WALK_SHIFT) + 1,
		       e.eptp & EPTP_AD ? "on" : "off");
		printf("kpt_root 0x%016llx\n", (unsigned long long)e.kpt_root);
	}
	if ((e.eptp & ~EPM_PTE_ADDR) != want)
		return fail(ctx, "eptp", 0,
			    "EPTP 0x%llx is not WB, 4-level, A/D %s",
			    (unsigned long long)e.eptp, ad ? "on" : "off");
	if (root != e.kpt_root + EPM_PAGE_SIZE)
		return fail(ctx, "eptp", 0,
			    "EPT root 0x%llx is not KPT root 0x%llx + 4 KiB",
			    (unsigned long long)root,
			    (unsigned long long)e.kpt_root);
	return 0;
}

static void stats_json(const struct epm_stats *s)
{
	unsigned int i;

	json_begin("stats");
	json_u64("table_pairs", s->table_pairs);
	json_u64("table_bytes", s->table_bytes);
	json_u64("mapped_4k", s->mapped_4k);
	json_u64("mapped_2m", s->mapped_2m);
	json_u64("mapped_1g", s->mapped_1g);
	json_u64("pinned_pages", s->pinned_pages);
	json_u64("pinned_bytes", s->pinned_pages * EPM_PAGE_SIZE);
	json_u64("flushes", s->flushes);
	json_u64("runs", s->runs);
	json_u64("invepts", s->invepts);
	json_obj("exits");
	for (i = 0; i < EPM_EXIT_KINDS; i++) {
		if (ept_pmap_exit_name(i))
			json_u64(ept_pmap_exit_name(i), s->exits[i]);
		else if (s->exits[i])
			json_u64(exit_name(i), s->exits[i]);
	}
	json_obj_end();
	json_end();
}

int cmd_stats(struct ctx *ctx, const struct args *a)
{
	struct epm_stats s;
	char sz[24];
	bool exits = false;
	unsigned int i;
	int err;

	err = -ept_pmap_stats(ctx->fd, &s);
	if (err)
		return fail(ctx, a->cmd->name, err, "%s", common_cause(err));
	if (ctx->json) {
		stats_json(&s);
		return 0;
	}
	printf("table_pairs  %llu\n", (unsigned long long)s.table_pairs);
	printf("table_bytes  %llu (%s)\n", (unsigned long long)s.table_bytes,
	       size_str(s.table_bytes, sz, sizeof(sz)));
	printf("mapped_4k    %llu (%s)\n", (unsigned long long)s.mapped_4k,
	       size_str(s.mapped_4k, sz, sizeof(sz)));
	printf("mapped_2m    %llu (%s)\n", (unsigned long long)s.mapped_2m,
	       size_str(s.mapped_2m, sz, sizeof(sz)));
	printf("mapped_1g    %llu (%s)\n", (unsigned long long)s.mapped_1g,
	       size_str(s.mapped_1g, sz, sizeof(sz)));
	printf("pinned_pages %llu (%s)\n", (unsigned long long)s.pinned_pages,
	       size_str(s.pinned_pages * EPM_PAGE_SIZE, sz, sizeof(sz)));
	printf("flushes      %llu\n", (unsigned long long)s.flushes);
	printf("runs         %llu\n", (unsigned long long)s.runs);
	printf("invepts      %llu\n", (unsigned long long)s.invepts);
	for (i = 0; i < EPM_EXIT_KINDS; i++) {
		if (!s.exits[i])
			continue;
		printf("exits.%-6s %llu\n", exit_name(i),
		       (unsigned long long)s.exits[i]);
		exits = true;
	}
	if (!exits)
		printf("exits        0\n");
	return 0;
}

int cmd_sleep(struct ctx *ctx, const struct args *a)
{
	struct timespec ts = {
		.tv_sec = a->ms / 1000,
		.tv_nsec = (a->ms % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	if (ctx->json) {
		json_begin("sleep");
		json_u64("ms", a->ms);
		json_end();
	}
	return 0;
}

int cmd_help(struct ctx *ctx, const struct args *a)
{
	if (ctx->json)
		print_help_json(a->npos ? find_cmd(a->pos[0]) : NULL);
	else if (a->npos)
		print_help(stdout, find_cmd(a->pos[0]));
	else
		print_overview(stdout);
	return 0;
}
