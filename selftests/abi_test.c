// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev/ept-pmap ABI as include/uapi/linux/ept_pmap.h documents it:
 * every command's round trip with exact values, and every class of bad
 * input with its exact errno. A call that fails must change nothing, so
 * each failure is followed by a full DUMP, STATS and the system-wide pin
 * count compared with what they were before it.
 *
 * Every fixture starts from the same address space (space_setup()):
 *
 *   BASE_GPA  16 pages RW   from mem pages 0..15
 *   RO_GPA     4 pages R    from mem pages 16..19
 *   TOP_GPA    1 page  RX   from mem page 20 (the last page below 2^48)
 *
 * with mem anonymous memory that THP leaves alone (4K leaves only). Run as
 * root: the device is 0600, and host-physical addresses (checked against
 * /proc/self/pagemap) show to CAP_SYS_ADMIN only.
 */
#include <cpuid.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "epm_test.h"
#include "kselftest_harness.h"

#define GPA_LIMIT	(1ULL << 48)
#define PTE_ADDR	0x000ffffffffff000ULL
#define LEVELS		4

/* KPT bits (x86-64 format) */
#define KPT_P		(1ULL << 0)
#define KPT_W		(1ULL << 1)
#define KPT_U		(1ULL << 2)
#define KPT_PWT		(1ULL << 3)
#define KPT_PCD		(1ULL << 4)
#define KPT_A		(1ULL << 5)
#define KPT_D		(1ULL << 6)
#define KPT_PS		(1ULL << 7)	/* 2M/1G leaves */
#define KPT_PAT_4K	(1ULL << 7)	/* 4K leaves */
#define KPT_PINW	(1ULL << 9)	/* software: pinned writable */
#define KPT_PAT_LARGE	(1ULL << 12)
#define KPT_NX		(1ULL << 63)
#define KPT_TABLE	(KPT_P | KPT_W | KPT_U)

/* EPT bits */
#define EPT_R		(1ULL << 0)
#define EPT_W		(1ULL << 1)
#define EPT_X		(1ULL << 2)
#define EPT_MT(mt)	((uint64_t)(mt) << 3)
#define EPT_IPAT	(1ULL << 6)
#define EPT_PS		(1ULL << 7)
#define EPT_A		(1ULL << 8)
#define EPT_D		(1ULL << 9)
#define EPT_PINW	(1ULL << 11)
#define EPT_TABLE	(EPT_R | EPT_W | EPT_X)
#define EPT_UC		EPT_MT(0)
#define EPT_WC		EPT_MT(1)
#define EPT_WT		EPT_MT(4)
#define EPT_WP		EPT_MT(5)
#define EPT_WB		EPT_MT(6)

/* EPTP: WB paging structures, 4-level walk, A/D enable */
#define EPTP_WB_WALK4	(6ULL | (3ULL << 3))
#define EPTP_AD		(1ULL << 6)

#define R		EPM_PERM_R
#define RW		(EPM_PERM_R | EPM_PERM_W)
#define RX		(EPM_PERM_R | EPM_PERM_X)
#define RWX		(EPM_PERM_R | EPM_PERM_W | EPM_PERM_X)

#define MEM_PAGES	64
#define BASE_GPA	0x100000ULL
#define BASE_PAGES	16
#define RO_GPA		0x180000ULL
#define RO_PAGE		16		/* first mem page behind RO_GPA */
#define RO_PAGES	4
#define TOP_GPA		(GPA_LIMIT - SZ_4K)
#define TOP_PAGE	20
#define SPARE_PAGE	24		/* mem pages from here are unmapped */
#define FREE_GPA	0x40000000ULL	/* nothing in this GiB is mapped */
#define SETUP_PAGES	(BASE_PAGES + RO_PAGES + 1)
/* root; PDPT, PD, PT for gpa 0; PDPT, PD, PT for TOP_GPA */
#define SETUP_PAIRS	7
/* PML4E, PDPTE, PDE and 20 leaves at gpa 0; the same with 1 leaf at the top */
#define SETUP_ENTRIES	27

#define KERNEL_PTR	0xffffffff81000000ULL

struct space {
	int fd;
	struct epm_caps caps;
	uint8_t *mem;		/* MEM_PAGES pages, 4K leaves only */
	/* what a failing call must leave unchanged */
	struct epm_snap snap;
	struct epm_stats stats;
	long long pins;
};

static void *pg(struct space *sp, unsigned int i)
{
	return sp->mem + i * SZ_4K;
}

/* Host-physical address of the user page at @p, from pagemap. */
static uint64_t hpa_of(struct __test_metadata *_metadata, const void *p)
{
	uint64_t pfn = epm_pfn_of(p);

	ASSERT_NE(0ULL, pfn) TH_LOG("no frame behind %p (not root?)", p);
	return pfn << 12;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--) {
		if (*b++)
			return false;
	}
	return true;
}

static void space_baseline(struct __test_metadata *_metadata,
			   struct space *sp)
{
	epm_snap_free(&sp->snap);
	ASSERT_EQ(0, epm_snap_take(sp->fd, &sp->snap));
	ASSERT_EQ(0, epm_stats_of(sp->fd, &sp->stats));
	sp->pins = epm_pins_exact();
	ASSERT_LE(0, sp->pins);
}

static void space_setup(struct __test_metadata *_metadata, struct space *sp)
{
	sp->fd = epm_open_dev();
	ASSERT_LE(0, sp->fd)
		TH_LOG("open %s: %s (is ept_pmap.ko loaded?)", EPM_DEV,
		       strerror(errno));
	ASSERT_EQ(0, ioctl(sp->fd, EPM_IOC_CAPS, &sp->caps));
	sp->mem = epm_alloc(MEM_PAGES * SZ_4K, SZ_4K, MADV_NOHUGEPAGE);
	ASSERT_NE(NULL, sp->mem);
	ASSERT_EQ(0, epm_map_at(sp->fd, BASE_GPA, BASE_PAGES * SZ_4K,
				pg(sp, 0), RW));
	/*
	 * Read-only memory: MAP pins writable whatever the caller may write
	 * to, so only memory the caller cannot write stays R for good.
	 */
	ASSERT_EQ(0, mprotect(pg(sp, RO_PAGE), RO_PAGES * SZ_4K, PROT_READ));
	ASSERT_EQ(0, epm_map_at(sp->fd, RO_GPA, RO_PAGES * SZ_4K,
				pg(sp, RO_PAGE), R));
	ASSERT_EQ(0, epm_map_at(sp->fd, TOP_GPA, SZ_4K, pg(sp, TOP_PAGE), RX));
	space_baseline(_metadata, sp);
}

static void space_teardown(struct space *sp)
{
	epm_snap_free(&sp->snap);
	if (sp->fd >= 0)
		close(sp->fd);
}

/* DUMP, STATS and the pins held are what space_baseline() saw. */
static void space_assert_unchanged(struct __test_metadata *_metadata,
				   struct space *sp)
{
	struct epm_stats st;
	struct epm_snap now;
	bool same;

	ASSERT_EQ(0, epm_snap_take(sp->fd, &now));
	same = epm_snap_equal(&sp->snap, &now);
	epm_snap_free(&now);
	ASSERT_TRUE(same) TH_LOG("DUMP changed");
	ASSERT_EQ(0, epm_stats_of(sp->fd, &st));
	ASSERT_EQ(sp->stats.table_pairs, st.table_pairs);
	ASSERT_EQ(sp->stats.mapped_4k, st.mapped_4k);
	ASSERT_EQ(sp->stats.mapped_2m, st.mapped_2m);
	ASSERT_EQ(sp->stats.mapped_1g, st.mapped_1g);
	ASSERT_EQ(sp->stats.pinned_pages, st.pinned_pages);
	ASSERT_EQ(sp->stats.flushes, st.flushes);
	ASSERT_EQ(0, memcmp(&sp->stats, &st, sizeof(st))) TH_LOG("STATS changed");
	ASSERT_EQ(sp->pins, epm_pins_exact()) TH_LOG("pins changed");
}

/*
 * @call fails with errno @err and changes nothing (needs a local
 * struct space *sp).
 */
#define ASSERT_FAILS_MSG(err, call, fmt, ...) do {			\
	int ret_ = (call);						\
	int errno_ = errno;						\
									\
	ASSERT_EQ(-1, ret_) TH_LOG(fmt, ##__VA_ARGS__);			\
	ASSERT_EQ(err, errno_)						\
		TH_LOG(fmt ": got %s", ##__VA_ARGS__, strerror(errno_));\
	space_assert_unchanged(_metadata, sp);				\
} while (0)

#define ASSERT_FAILS(err, call)	ASSERT_FAILS_MSG(err, call, "%s", #call)

static void query_ok(struct __test_metadata *_metadata, int fd, uint64_t gpa,
		     struct epm_query *q)
{
	ASSERT_EQ(0, epm_query_at(fd, gpa, q)) TH_LOG("QUERY 0x%llx: %s",
						   (unsigned long long)gpa,
						   strerror(errno));
	ASSERT_EQ(gpa, q->gpa);
	ASSERT_EQ(0, q->flags);
	ASSERT_EQ(0, q->pad[0] | q->pad[1] | q->pad[2]);
	ASSERT_EQ(0ULL, q->reserved[0] | q->reserved[1]);
}

/* An intermediate entry: KPT = pair|P|W|U, EPT = (pair + 4 KiB)|R|W|X. */
static void assert_table_entry(struct __test_metadata *_metadata,
			       uint64_t kpte, uint64_t epte)
{
	uint64_t pair = kpte & PTE_ADDR;

	ASSERT_EQ(KPT_TABLE, kpte & ~PTE_ADDR);
	ASSERT_NE(0ULL, pair);
	/* a table pair is one order-1 allocation: KPT half first */
	ASSERT_EQ(0ULL, pair & 0x1fff);
	ASSERT_EQ((pair + 0x1000) | EPT_TABLE, epte);
}

/* @q walked tables down to a leaf at @level holding @kleaf and @eleaf. */
static void assert_walk(struct __test_metadata *_metadata,
			const struct epm_query *q, unsigned int level,
			uint64_t kleaf, uint64_t eleaf)
{
	unsigned int l;

	ASSERT_EQ(level, q->level);
	ASSERT_EQ(SZ_4K << (9 * (level - 1)), q->page_size);
	for (l = LEVELS; l > level; l--)
		assert_table_entry(_metadata, q->kpte[l - 1], q->epte[l - 1]);
	ASSERT_EQ(kleaf, q->kpte[level - 1])
		TH_LOG("KPT leaf 0x%llx", (unsigned long long)q->kpte[level - 1]);
	ASSERT_EQ(eleaf, q->epte[level - 1])
		TH_LOG("EPT leaf 0x%llx", (unsigned long long)q->epte[level - 1]);
	for (l = level - 1; l >= 1; l--) {
		ASSERT_EQ(0ULL, q->kpte[l - 1]);
		ASSERT_EQ(0ULL, q->epte[l - 1]);
	}
}

/* @q found nothing: every output zero but the tables walked to @gpa. */
static void assert_unmapped(struct __test_metadata *_metadata,
			    const struct epm_query *q, unsigned int tables)
{
	unsigned int l;

	ASSERT_EQ(0, q->level);
	ASSERT_EQ(0ULL, q->hpa);
	ASSERT_EQ(0ULL, q->page_size);
	ASSERT_EQ(0, q->perm);
	ASSERT_EQ(0, q->kpt_perm);
	ASSERT_EQ(0, q->memtype);
	ASSERT_EQ(0, q->map_flags);
	for (l = LEVELS; l >= 1; l--) {
		if (l > LEVELS - tables) {
			assert_table_entry(_metadata, q->kpte[l - 1],
					   q->epte[l - 1]);
		} else {
			ASSERT_EQ(0ULL, q->kpte[l - 1]);
			ASSERT_EQ(0ULL, q->epte[l - 1]);
		}
	}
}

static void assert_stats(struct __test_metadata *_metadata, int fd,
			 uint64_t pairs, uint64_t m4k, uint64_t m2m,
			 uint64_t m1g, uint64_t pinned, uint64_t flushes)
{
	struct epm_stats s;

	ASSERT_EQ(0, epm_stats_of(fd, &s));
	ASSERT_EQ(pairs, s.table_pairs);
	ASSERT_EQ(pairs * 8192, s.table_bytes);
	ASSERT_EQ(m4k, s.mapped_4k);
	ASSERT_EQ(m2m, s.mapped_2m);
	ASSERT_EQ(m1g, s.mapped_1g);
	ASSERT_EQ(pinned, s.pinned_pages);
	ASSERT_EQ(flushes, s.flushes);
	ASSERT_EQ(0ULL, s.runs);
	ASSERT_TRUE(all_zero(s.exits, sizeof(s.exits)));
	ASSERT_TRUE(all_zero(s.reserved, sizeof(s.reserved)));
}

static void assert_check_clean(struct __test_metadata *_metadata, int fd)
{
	struct epm_check c;

	memset(&c, 0, sizeof(c));
	ASSERT_EQ(0, ioctl(fd, EPM_IOC_CHECK, &c));
	ASSERT_EQ(0, c.flags);
	ASSERT_EQ(EPM_MISMATCH_NONE, c.why);
	ASSERT_EQ(0ULL, c.mismatches);
	ASSERT_EQ(0ULL, c.gpa);
	ASSERT_EQ(0ULL, c.kpte);
	ASSERT_EQ(0ULL, c.epte);
	ASSERT_EQ(0, c.level);
	ASSERT_EQ(0, c.pad);
	ASSERT_EQ(0ULL, c.reserved[0] | c.reserved[1]);
}

static int dump_call(int fd, struct epm_dump *d, void *buf, uint32_t count,
		     uint32_t flags, uint64_t cursor)
{
	memset(d, 0, sizeof(*d));
	d->buf = (uintptr_t)buf;
	d->count = count;
	d->flags = flags;
	d->cursor = cursor;
	return ioctl(fd, EPM_IOC_DUMP, d);
}

static int range_call(int fd, unsigned long cmd, uint64_t gpa, uint64_t size,
		      uint32_t perm)
{
	struct epm_range r = { .gpa = gpa, .size = size, .perm = perm };

	return ioctl(fd, cmd, &r);
}

static int map_call(int fd, uint64_t gpa, uint64_t size, const void *mem,
		    uint32_t flags, uint8_t memtype, uint8_t max_page)
{
	struct epm_map m = {
		.gpa = gpa, .size = size, .uaddr = (uintptr_t)mem,
		.flags = flags, .memtype = memtype, .max_page = max_page,
	};

	return ioctl(fd, EPM_IOC_MAP, &m);
}

/* @len bytes of address space, anonymous, nothing touched yet. */
static void *va_reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* An address with nothing mapped behind it. */
static void *unmapped_addr(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, len);
	return p;
}

/* VmPin of this process, in KiB (the MAP pins show there). */
static long vmpin_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* ---------------------------------------------------------------------- */

FIXTURE(abi) {
	struct space sp;
};

FIXTURE_SETUP(abi)
{
	self->sp.fd = -1;
	space_setup(_metadata, &self->sp);
}

FIXTURE_TEARDOWN(abi)
{
	space_teardown(&self->sp);
}

/* --- VERSION -------------------------------------------------------------- */

TEST_F(abi, version_returns_api_version)
{
	ASSERT_EQ(1, EPM_API_VERSION);
	ASSERT_EQ(EPM_API_VERSION, ioctl(self->sp.fd, EPM_IOC_VERSION));
}

TEST_F(abi, version_ignores_its_argument)
{
	struct space *sp = &self->sp;

	ASSERT_EQ(EPM_API_VERSION, ioctl(sp->fd, EPM_IOC_VERSION, NULL));
	ASSERT_EQ(EPM_API_VERSION,
		  ioctl(sp->fd, EPM_IOC_VERSION, unmapped_addr(SZ_4K)));
	ASSERT_EQ(EPM_API_VERSION,
		  ioctl(sp->fd, EPM_IOC_VERSION, (void *)KERNEL_PTR));
	space_assert_unchanged(_metadata, sp);
}

TEST_F(abi, version_matches_caps_api_version)
{
	ASSERT_EQ((int)self->sp.caps.api_version,
		  ioctl(self->sp.fd, EPM_IOC_VERSION));
}

/* --- CAPS ----------------------------------------------------------------- */

TEST_F(abi, caps_fields_are_sane)
{
	struct epm_caps *c = &self->sp.caps;

	ASSERT_EQ(EPM_API_VERSION, c->api_version);
	ASSERT_LE(32, c->maxphyaddr);
	ASSERT_GE(52, c->maxphyaddr);
	/* 4K leaves always; only bits 1..3 name sizes */
	ASSERT_EQ(1u << EPM_PAGE_4K, c->map_sizes & (1u << EPM_PAGE_4K));
	ASSERT_EQ(0u, c->map_sizes & ~0xeu);
	/* no flag beyond EPM_CAP_RUN exists in this version */
	ASSERT_EQ(0ULL, c->flags & ~((EPM_CAP_RUN << 1) - 1));
	ASSERT_TRUE(all_zero(c->reserved, sizeof(c->reserved)));
}

TEST_F(abi, caps_maxphyaddr_is_cpuid_80000008)
{
	unsigned int a, b, c, d;

	ASSERT_TRUE(__get_cpuid(0x80000008, &a, &b, &c, &d));
	ASSERT_EQ(a & 0xff, self->sp.caps.maxphyaddr);
}

TEST_F(abi, caps_vmx_flag_is_cpuid_1_ecx_bit_5)
{
	unsigned int a, b, c, d;

	ASSERT_TRUE(__get_cpuid(1, &a, &b, &c, &d));
	ASSERT_EQ(!!(c & (1u << 5)), !!(self->sp.caps.flags & EPM_CAP_VMX));
}

/* The flag of /proc/cpuinfo called @name is set. */
static bool cpuinfo_has(const char *name)
{
	char line[4096], *tok, *save;
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		for (tok = strtok_r(line, " \t\n", &save); tok && !found;
		     tok = strtok_r(NULL, " \t\n", &save))
			found = !strcmp(tok, name);
		break;
	}
	fclose(f);
	return found;
}

TEST_F(abi, caps_host_1g_matches_cpuinfo_pdpe1gb)
{
	ASSERT_EQ(cpuinfo_has("pdpe1gb"),
		  !!(self->sp.caps.flags & EPM_CAP_HOST_1G));
}

TEST_F(abi, caps_svm_matches_cpuinfo)
{
	ASSERT_EQ(cpuinfo_has("svm"), !!(self->sp.caps.flags & EPM_CAP_SVM));
}

TEST_F(abi, caps_flags_are_consistent)
{
	const struct epm_caps *c = &self->sp.caps;
	const uint64_t ept_only = EPM_CAP_EPT_X_ONLY | EPM_CAP_EPT_2M |
		EPM_CAP_EPT_1G | EPM_CAP_EPT_AD | EPM_CAP_EPT_WB |
		EPM_CAP_EPT_WALK4 | EPM_CAP_INVEPT;
	const uint64_t vmx_only = EPM_CAP_VMX_ON | EPM_CAP_EPT |
		EPM_CAP_VPID | EPM_CAP_UNRESTRICTED | EPM_CAP_PREEMPT_TIMER;

	/* a flag implies the one it depends on */
	ASSERT_TRUE(!(c->flags & ept_only) || (c->flags & EPM_CAP_EPT));
	ASSERT_TRUE(!(c->flags & (EPM_CAP_INVEPT_SINGLE | EPM_CAP_INVEPT_ALL)) ||
		    (c->flags & EPM_CAP_INVEPT));
	ASSERT_TRUE(!(c->flags & vmx_only) || (c->flags & EPM_CAP_VMX));
	ASSERT_TRUE(!(c->flags & EPM_CAP_NPT) || (c->flags & EPM_CAP_SVM));
	ASSERT_TRUE(!(c->flags & EPM_CAP_RUN) ||
		    (c->flags & (EPM_CAP_VMX | EPM_CAP_SVM)));
	if (!(c->flags & EPM_CAP_VMX)) {
		ASSERT_EQ(0ULL, c->vmx_basic);
		ASSERT_EQ(0ULL, c->vmx_procbased2);
		ASSERT_EQ(0ULL, c->vmx_ept_vpid_cap);
		ASSERT_EQ(0ULL, c->vmx_misc);
		ASSERT_EQ(0ULL, c->feature_control);
	}
	/* NPT is CPUID 0x8000000a EDX bit 0 */
	ASSERT_EQ(!!(c->svm_features & 1), !!(c->flags & EPM_CAP_NPT));
	ASSERT_TRUE((c->flags & EPM_CAP_SVM) || !c->svm_features);
}

TEST_F(abi, caps_map_sizes_follow_flags)
{
	const struct epm_caps *c = &self->sp.caps;
	bool ept = c->flags & EPM_CAP_EPT;
	uint32_t want = 1u << EPM_PAGE_4K;

	/* without EPT nothing walks the EPT half: the KPT decides */
	if (!ept || (c->flags & EPM_CAP_EPT_2M))
		want |= 1u << EPM_PAGE_2M;
	if ((!ept || (c->flags & EPM_CAP_EPT_1G)) &&
	    (c->flags & EPM_CAP_HOST_1G))
		want |= 1u << EPM_PAGE_1G;
	ASSERT_EQ(want, c->map_sizes);
}

TEST_F(abi, caps_are_the_same_on_every_call_and_file)
{
	struct epm_caps a, b;
	int fd2 = epm_open_dev();

	ASSERT_LE(0, fd2);
	memset(&a, 0xa5, sizeof(a));
	memset(&b, 0x5a, sizeof(b));
	ASSERT_EQ(0, ioctl(self->sp.fd, EPM_IOC_CAPS, &a));
	ASSERT_EQ(0, ioctl(fd2, EPM_IOC_CAPS, &b));
	ASSERT_EQ(0, memcmp(&a, &b, sizeof(a)));
	ASSERT_EQ(0, memcmp(&a, &self->sp.caps, sizeof(a)));
	close(fd2);
}

TEST_F(abi, caps_changes_nothing)
{
	struct space *sp = &self->sp;
	struct epm_caps c;

	ASSERT_EQ(0, ioctl(sp->fd, EPM_IOC_CAPS, &c));
	space_assert_unchanged(_metadata, sp);
}

/* --- MAP: round trips ----------------------------------------------------- */

TEST_F(abi, map_4k_rw_query_exact)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query q;
	uint64_t hpa;

	ASSERT_EQ(0, map_call(sp->fd, FREE_GPA, SZ_4K, p, RW, EPM_MEMTYPE_WB,
			      EPM_PAGE_4K));
	hpa = hpa_of(_metadata, p);
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	ASSERT_EQ(1, q.level);
	ASSERT_EQ(0x1000ULL, q.page_size);
	ASSERT_EQ(hpa, q.hpa);
	ASSERT_EQ(RW, q.perm);
	ASSERT_EQ(RW, q.kpt_perm);
	ASSERT_EQ(EPM_MEMTYPE_WB, q.memtype);
	ASSERT_EQ(0, q.map_flags);
	assert_walk(_metadata, &q, 1,
		    hpa | KPT_P | KPT_W | KPT_U | KPT_PINW | KPT_NX,
		    hpa | EPT_R | EPT_W | EPT_WB | EPT_PINW);
	ASSERT_EQ(hpa | 0x8000000000000207ULL, q.kpte[0]);
	ASSERT_EQ(hpa | 0x833ULL, q.epte[0]);
}

TEST_F(abi, map_4k_r_query_exact)
{
	struct space *sp = &self->sp;
	struct epm_query q;
	uint64_t hpa = hpa_of(_metadata, pg(sp, RO_PAGE + 1));

	query_ok(_metadata, sp->fd, RO_GPA + SZ_4K, &q);
	ASSERT_EQ(hpa, q.hpa);
	ASSERT_EQ(R, q.perm);
	ASSERT_EQ(R, q.kpt_perm);
	ASSERT_EQ(EPM_MEMTYPE_WB, q.memtype);
	ASSERT_EQ(0, q.map_flags);
	/* read-only memory, not pinned writable: no software bit */
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_U | KPT_NX,
		    hpa | EPT_R | EPT_WB);
}

TEST_F(abi, map_4k_rx_query_exact)
{
	struct space *sp = &self->sp;
	struct epm_query q;
	uint64_t hpa = hpa_of(_metadata, pg(sp, TOP_PAGE));

	query_ok(_metadata, sp->fd, TOP_GPA, &q);
	ASSERT_EQ(hpa, q.hpa);
	ASSERT_EQ(RX, q.perm);
	ASSERT_EQ(RX, q.kpt_perm);
	/* the caller can write this memory: pinned writable all the same */
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_U | KPT_PINW,
		    hpa | EPT_R | EPT_X | EPT_WB | EPT_PINW);
}

TEST_F(abi, map_4k_rwx_query_exact)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query q;
	uint64_t hpa;

	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, SZ_4K, p, RWX));
	hpa = hpa_of(_metadata, p);
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	ASSERT_EQ(hpa, q.hpa);
	ASSERT_EQ(RWX, q.perm);
	ASSERT_EQ(RWX, q.kpt_perm);
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_W | KPT_U | KPT_PINW,
		    hpa | EPT_R | EPT_W | EPT_X | EPT_WB | EPT_PINW);
}

/* Map one RW page with @memtype: the KPT says it through PAT, EPT directly. */
static void check_memtype(struct __test_metadata *_metadata,
			  struct space *sp, uint8_t memtype, uint64_t kbits,
			  uint64_t ebits)
{
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query q;
	uint64_t hpa;

	ASSERT_EQ(0, map_call(sp->fd, FREE_GPA, SZ_4K, p, RW, memtype, 0));
	hpa = hpa_of(_metadata, p);
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	ASSERT_EQ(memtype, q.memtype);
	ASSERT_EQ(RW, q.perm);
	assert_walk(_metadata, &q, 1,
		    hpa | KPT_P | KPT_W | KPT_U | KPT_PINW | KPT_NX | kbits,
		    hpa | EPT_R | EPT_W | EPT_PINW | ebits);
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, map_memtype_uc_exact)
{
	check_memtype(_metadata, &self->sp, EPM_MEMTYPE_UC,
		      KPT_PCD | KPT_PWT, EPT_UC);
}

TEST_F(abi, map_memtype_wc_exact)
{
	check_memtype(_metadata, &self->sp, EPM_MEMTYPE_WC, KPT_PWT, EPT_WC);
}

TEST_F(abi, map_memtype_wt_exact)
{
	check_memtype(_metadata, &self->sp, EPM_MEMTYPE_WT,
		      KPT_PAT_4K | KPT_PCD | KPT_PWT, EPT_WT);
}

TEST_F(abi, map_memtype_wp_exact)
{
	check_memtype(_metadata, &self->sp, EPM_MEMTYPE_WP,
		      KPT_PAT_4K | KPT_PWT, EPT_WP);
}

TEST_F(abi, map_ipat_sets_ept_bit_6_only)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query q;
	uint64_t hpa;

	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, SZ_4K, p,
				RW | EPM_MAP_IPAT));
	hpa = hpa_of(_metadata, p);
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	ASSERT_EQ(EPM_MAP_IPAT, q.map_flags);
	ASSERT_EQ(RW, q.perm);
	assert_walk(_metadata, &q, 1,
		    hpa | KPT_P | KPT_W | KPT_U | KPT_PINW | KPT_NX,
		    hpa | EPT_R | EPT_W | EPT_WB | EPT_IPAT | EPT_PINW);
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, map_ad_writable_born_accessed_and_dirty)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query q;
	uint64_t hpa;

	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, SZ_4K, p, RW | EPM_MAP_AD));
	hpa = hpa_of(_metadata, p);
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	ASSERT_EQ(0, q.map_flags);
	assert_walk(_metadata, &q, 1,
		    hpa | KPT_P | KPT_W | KPT_U | KPT_A | KPT_D | KPT_PINW |
		    KPT_NX,
		    hpa | EPT_R | EPT_W | EPT_WB | EPT_A | EPT_D | EPT_PINW);
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, map_ad_readonly_born_accessed_only)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query q;
	uint64_t hpa;

	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, SZ_4K, p, R | EPM_MAP_AD));
	hpa = hpa_of(_metadata, p);
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	assert_walk(_metadata, &q, 1,
		    hpa | KPT_P | KPT_U | KPT_A | KPT_NX | KPT_PINW,
		    hpa | EPT_R | EPT_WB | EPT_A | EPT_PINW);
}

TEST_F(abi, map_every_page_is_its_user_frame)
{
	struct space *sp = &self->sp;
	struct epm_query q;
	unsigned int i;

	for (i = 0; i < BASE_PAGES; i++) {
		query_ok(_metadata, sp->fd, BASE_GPA + i * SZ_4K, &q);
		ASSERT_EQ(1, q.level);
		ASSERT_EQ(hpa_of(_metadata, pg(sp, i)), q.hpa);
		ASSERT_EQ(q.hpa, q.kpte[0] & PTE_ADDR);
		ASSERT_EQ(q.hpa, q.epte[0] & PTE_ADDR);
	}
}

TEST_F(abi, map_same_user_page_twice_shares_the_frame)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query a, b;

	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, SZ_4K, p, RW));
	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA + SZ_2M, SZ_4K, p, R));
	query_ok(_metadata, sp->fd, FREE_GPA, &a);
	query_ok(_metadata, sp->fd, FREE_GPA + SZ_2M, &b);
	ASSERT_EQ(hpa_of(_metadata, p), a.hpa);
	ASSERT_EQ(a.hpa, b.hpa);
	ASSERT_EQ(RW, a.perm);
	ASSERT_EQ(R, b.perm);
	/* each gpa holds its own pin */
	assert_stats(_metadata, sp->fd, SETUP_PAIRS + 3, (SETUP_PAGES + 2) * SZ_4K,
		     0, 0, SETUP_PAGES + 2, 0);
}

TEST_F(abi, map_query_adds_the_offset_in_the_page)
{
	struct space *sp = &self->sp;
	uint64_t hpa = hpa_of(_metadata, pg(sp, 3));
	struct epm_query q;

	query_ok(_metadata, sp->fd, BASE_GPA + 3 * SZ_4K + 0xabc, &q);
	ASSERT_EQ(hpa + 0xabc, q.hpa);
	ASSERT_EQ(1, q.level);
	query_ok(_metadata, sp->fd, TOP_GPA + 0xfff, &q);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, TOP_PAGE)) + 0xfff, q.hpa);
}

TEST_F(abi, map_first_page_builds_four_tables)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	assert_stats(_metadata, fd, 1, 0, 0, 0, 0, 0);
	ASSERT_EQ(0, epm_map_at(fd, 0, SZ_4K, p, RW));
	assert_stats(_metadata, fd, 4, SZ_4K, 0, 0, 1, 0);
	ASSERT_EQ(0, epm_check_count(fd));
	close(fd);
}

TEST_F(abi, map_across_1g_boundary_builds_two_pds)
{
	struct space *sp = &self->sp;
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, SZ_1G - SZ_4K, 2 * SZ_4K,
				pg(sp, SPARE_PAGE), RW));
	/* root, PDPT, two PDs, two PTs */
	assert_stats(_metadata, fd, 6, 2 * SZ_4K, 0, 0, 2, 0);
	ASSERT_EQ(0, epm_check_count(fd));
	close(fd);
}

TEST_F(abi, map_across_512g_boundary_builds_two_pdpts)
{
	struct space *sp = &self->sp;
	uint64_t g512 = 512 * SZ_1G;
	struct epm_query q;
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, g512 - SZ_4K, 2 * SZ_4K,
				pg(sp, SPARE_PAGE), RW));
	assert_stats(_metadata, fd, 7, 2 * SZ_4K, 0, 0, 2, 0);
	query_ok(_metadata, fd, g512, &q);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, SPARE_PAGE + 1)), q.hpa);
	close(fd);
}

TEST_F(abi, map_last_page_below_2_48)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	query_ok(_metadata, sp->fd, GPA_LIMIT - 1, &q);
	ASSERT_EQ(1, q.level);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, TOP_PAGE)) + 0xfff, q.hpa);
}

TEST_F(abi, map_next_to_a_mapping_succeeds)
{
	struct space *sp = &self->sp;

	ASSERT_EQ(0, epm_map_at(sp->fd, BASE_GPA - SZ_4K, SZ_4K,
				pg(sp, SPARE_PAGE), RW));
	ASSERT_EQ(0, epm_map_at(sp->fd, BASE_GPA + BASE_PAGES * SZ_4K, SZ_4K,
				pg(sp, SPARE_PAGE + 1), RW));
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, (SETUP_PAGES + 2) * SZ_4K,
		     0, 0, SETUP_PAGES + 2, 0);
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, map_pins_each_page_once)
{
	struct space *sp = &self->sp;

	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, 8 * SZ_4K,
				pg(sp, SPARE_PAGE), RW));
	ASSERT_EQ(sp->pins + 8, epm_pins_exact());
	ASSERT_EQ(0, epm_unmap_at(sp->fd, FREE_GPA, 8 * SZ_4K));
	ASSERT_EQ(sp->pins, epm_pins_exact());
}

TEST_F(abi, map_charges_memlock)
{
	struct space *sp = &self->sp;
	long before = vmpin_kb();

	ASSERT_LE(0, before);
	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, 8 * SZ_4K,
				pg(sp, SPARE_PAGE), RW));
	ASSERT_EQ(before + 32, vmpin_kb());
	ASSERT_EQ(0, epm_unmap_at(sp->fd, FREE_GPA, 8 * SZ_4K));
	ASSERT_EQ(before, vmpin_kb());
}

TEST_F(abi, map_readonly_user_memory_readonly)
{
	struct space *sp = &self->sp;
	uint8_t *p = pg(sp, SPARE_PAGE);
	struct epm_query q;

	ASSERT_EQ(0, mprotect(p, 2 * SZ_4K, PROT_READ));
	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p, RX));
	query_ok(_metadata, sp->fd, FREE_GPA + SZ_4K, &q);
	ASSERT_EQ(hpa_of(_metadata, p + SZ_4K), q.hpa);
	ASSERT_EQ(RX, q.perm);
}

TEST_F(abi, map_exec_only_follows_caps)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query q;
	uint64_t hpa;

	if (!(sp->caps.flags & EPM_CAP_EPT_X_ONLY)) {
		ASSERT_FAILS(EOPNOTSUPP, epm_map_at(sp->fd, FREE_GPA, SZ_4K, p,
						    EPM_PERM_X));
		return;
	}
	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, SZ_4K, p, EPM_PERM_X));
	hpa = hpa_of(_metadata, p);
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	ASSERT_EQ(EPM_PERM_X, q.perm);
	/* the KPT cannot say "not readable" */
	ASSERT_EQ(RX, q.kpt_perm);
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_U,
		    hpa | EPT_X | EPT_WB);
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, map_succeeds_after_a_failed_map)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);

	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, BASE_GPA + 15 * SZ_4K,
					2 * SZ_4K, p, RW));
	ASSERT_EQ(0, epm_map_at(sp->fd, BASE_GPA + 16 * SZ_4K, SZ_4K, p, RW));
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

/*
 * The guest must see the caller's memory, also where the caller had not
 * touched it yet. Fails on 6.1: without FOLL_WRITE, GUP pins the shared
 * zero page there (reliable R/O long-term pins of COW mappings came in
 * 6.2), and the caller's first write moves to a page the guest never sees.
 */
TEST_F(abi, map_readonly_of_untouched_memory_is_the_users_page)
{
	struct space *sp = &self->sp;
	struct epm_query q[4];
	unsigned int i;
	uint8_t *p;

	/* anonymous, writable, never touched: no page behind it yet */
	p = mmap(NULL, 4 * SZ_4K, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* a kernel without THP (6.12 PREEMPT_RT) refuses the advice: EINVAL */
	if (madvise(p, 4 * SZ_4K, MADV_NOHUGEPAGE)) {
		ASSERT_EQ(EINVAL, errno);
		ASSERT_NE(0, access("/sys/kernel/mm/transparent_hugepage", F_OK));
	}
	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, 4 * SZ_4K, p, R));
	for (i = 0; i < 4; i++) {
		query_ok(_metadata, sp->fd, FREE_GPA + i * SZ_4K, &q[i]);
		ASSERT_EQ(1, q[i].level);
	}
	if (q[0].hpa == q[1].hpa && q[1].hpa == q[2].hpa)
		TH_LOG("four gpas share the frame at 0x%llx: the zero page",
		       (unsigned long long)q[0].hpa);
	for (i = 0; i < 4; i++) {
		/* what the guest reads is what the user writes */
		p[i * SZ_4K] = 0x42;
		ASSERT_EQ(hpa_of(_metadata, p + i * SZ_4K), q[i].hpa)
			TH_LOG("page %u: the guest keeps a frame the user no longer has",
			       i);
	}
}

TEST_F(abi, map_failing_in_a_later_chunk_rolls_back)
{
	struct space *sp = &self->sp;
	uint8_t *p = pg(sp, SPARE_PAGE);
	long lck = vmpin_kb();

	/*
	 * MAP pins and maps a GiB of gpa at a time: [1G - 4K, 1G) goes in,
	 * then the page for [1G, 1G + 4K) cannot be pinned writable.
	 */
	ASSERT_EQ(0, mprotect(p + SZ_4K, SZ_4K, PROT_READ));
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, SZ_1G - SZ_4K, 2 * SZ_4K, p,
					RW));
	ASSERT_EQ(lck, vmpin_kb());
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, map_pages_outlive_the_users_munmap)
{
	struct space *sp = &self->sp;
	uint8_t *p = pg(sp, SPARE_PAGE);
	uint64_t hpa = hpa_of(_metadata, p + SZ_4K);
	struct epm_query q;

	ASSERT_EQ(0, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p, RW));
	ASSERT_EQ(0, munmap(p, 2 * SZ_4K));
	/* still pinned, still mapped, same frame */
	query_ok(_metadata, sp->fd, FREE_GPA + SZ_4K, &q);
	ASSERT_EQ(hpa, q.hpa);
	ASSERT_EQ(sp->pins + 2, epm_pins_exact());
	assert_check_clean(_metadata, sp->fd);
	ASSERT_EQ(0, epm_unmap_at(sp->fd, FREE_GPA, 2 * SZ_4K));
	ASSERT_EQ(sp->pins, epm_pins_exact());
}

/* --- MAP: overlap --------------------------------------------------------- */

TEST_F(abi, map_same_range_again_fails_eexist)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, BASE_GPA, BASE_PAGES * SZ_4K,
					pg(sp, SPARE_PAGE), RW));
}

TEST_F(abi, map_one_mapped_4k_page_fails_eexist)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, BASE_GPA + 5 * SZ_4K, SZ_4K,
					pg(sp, SPARE_PAGE), RW));
}

TEST_F(abi, map_overlapping_the_head_fails_eexist)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, BASE_GPA - 2 * SZ_4K,
					3 * SZ_4K, pg(sp, SPARE_PAGE), RW));
}

TEST_F(abi, map_overlapping_the_tail_fails_eexist)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, RO_GPA + 3 * SZ_4K, 4 * SZ_4K,
					pg(sp, SPARE_PAGE), R));
}

TEST_F(abi, map_enclosing_a_mapping_fails_eexist)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, RO_GPA - SZ_4K,
					(RO_PAGES + 2) * SZ_4K,
					pg(sp, SPARE_PAGE), RW));
}

TEST_F(abi, map_spanning_two_mappings_fails_eexist)
{
	struct space *sp = &self->sp;

	/* from BASE's last page over the hole to RO's first */
	ASSERT_FAILS(EEXIST, map_call(sp->fd, BASE_GPA + 15 * SZ_4K,
				      RO_GPA - BASE_GPA - 14 * SZ_4K,
				      pg(sp, 0), R, 0, 0));
}

TEST_F(abi, map_whole_first_gib_fails_eexist)
{
	struct space *sp = &self->sp;

	void *va = va_reserve(SZ_1G);

	ASSERT_NE(NULL, va);
	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, 0, SZ_1G, va, R));
}

TEST_F(abi, map_over_the_top_page_fails_eexist)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, TOP_GPA - SZ_4K, 2 * SZ_4K,
					pg(sp, SPARE_PAGE), RW));
}

/* --- MAP: memory that cannot be mapped ------------------------------------ */

TEST_F(abi, map_w_of_read_only_memory_fails_efault)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);

	ASSERT_EQ(0, mprotect(p, 2 * SZ_4K, PROT_READ));
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p, RW));
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p, RWX));
}

TEST_F(abi, map_w_of_partly_read_only_memory_fails_efault)
{
	struct space *sp = &self->sp;
	uint8_t *p = pg(sp, SPARE_PAGE);
	long lck = vmpin_kb();

	/* the first pages pin fine, the last one cannot */
	ASSERT_EQ(0, mprotect(p + 3 * SZ_4K, SZ_4K, PROT_READ));
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, FREE_GPA, 4 * SZ_4K, p, RW));
	ASSERT_EQ(lck, vmpin_kb());
}

TEST_F(abi, map_prot_none_memory_fails_efault)
{
	struct space *sp = &self->sp;
	uint8_t *p = pg(sp, SPARE_PAGE);

	ASSERT_EQ(0, mprotect(p + SZ_4K, SZ_4K, PROT_NONE));
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p, R));
}

TEST_F(abi, map_unmapped_uaddr_fails_efault)
{
	struct space *sp = &self->sp;
	void *p = unmapped_addr(4 * SZ_4K);

	ASSERT_NE(NULL, p);
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, FREE_GPA, 4 * SZ_4K, p, R));
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, FREE_GPA, 4 * SZ_4K, p, RW));
}

TEST_F(abi, map_partly_unmapped_uaddr_fails_efault)
{
	struct space *sp = &self->sp;
	uint8_t *p = pg(sp, SPARE_PAGE);

	ASSERT_EQ(0, munmap(p + 2 * SZ_4K, SZ_4K));
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, FREE_GPA, 4 * SZ_4K, p, RW));
}

TEST_F(abi, map_uaddr_past_the_end_of_memory_fails_efault)
{
	struct space *sp = &self->sp;
	uint8_t *p = mmap(NULL, 2 * SZ_4K, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 2 * SZ_4K);
	ASSERT_EQ(0, munmap(p + SZ_4K, SZ_4K));
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EFAULT, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p, R));
}

/* A file of @pages pages in /tmp, mapped with @flags; NULL on failure. */
static void *file_mem(size_t pages, int flags)
{
	char path[] = "/tmp/epm-abi-XXXXXX";
	size_t len = pages * SZ_4K;
	int fd = mkstemp(path);
	void *p;

	if (fd < 0)
		return NULL;
	unlink(path);
	if (ftruncate(fd, len)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x11, len);
	return p;
}

TEST_F(abi, map_shared_file_memory_fails_eopnotsupp)
{
	struct space *sp = &self->sp;
	void *p = file_mem(2, MAP_SHARED);

	ASSERT_NE(NULL, p);
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EOPNOTSUPP, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p,
					    RW));
	ASSERT_FAILS(EOPNOTSUPP, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p, R));
}

TEST_F(abi, map_private_file_memory_fails_eopnotsupp)
{
	struct space *sp = &self->sp;
	void *p = file_mem(2, MAP_PRIVATE);

	ASSERT_NE(NULL, p);
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EOPNOTSUPP, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p,
					    RW));
}

TEST_F(abi, map_memfd_memory_fails_eopnotsupp)
{
	struct space *sp = &self->sp;
	int mfd = memfd_create("epm-abi", MFD_CLOEXEC);
	void *p;

	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 2 * SZ_4K));
	p = mmap(NULL, 2 * SZ_4K, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x22, 2 * SZ_4K);
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EOPNOTSUPP, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p,
					    RW));
	close(mfd);
}

TEST_F(abi, map_anonymous_then_file_memory_fails_eopnotsupp)
{
	struct space *sp = &self->sp;
	uint8_t *p = pg(sp, SPARE_PAGE);
	char path[] = "/tmp/epm-abi-XXXXXX";
	int fd = mkstemp(path);

	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, SZ_4K));
	/* the second page of the range becomes a file page */
	ASSERT_NE(MAP_FAILED, mmap(p + SZ_4K, SZ_4K, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_FIXED, fd, 0));
	close(fd);
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EOPNOTSUPP, epm_map_at(sp->fd, FREE_GPA, 2 * SZ_4K, p,
					    RW));
}

TEST_F(abi, map_from_another_process_fails_eperm)
{
	struct space *sp = &self->sp;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int ret = epm_map_at(sp->fd, FREE_GPA, SZ_4K,
				     pg(sp, SPARE_PAGE), RW);

		_exit(ret == -1 ? errno : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(EPERM, WEXITSTATUS(status));
	space_assert_unchanged(_metadata, sp);
}

/*
 * Pins are charged to the opening user: in a child whose real uid nobody
 * else has, that charge starts at zero, so the limit is exact.
 */
static void memlock_four_pages(struct __test_metadata *_metadata,
			       struct space *sp)
{
	struct rlimit rl = { .rlim_cur = 4 * SZ_4K, .rlim_max = 4 * SZ_4K };
	long pin = vmpin_kb();
	int fd;

	ASSERT_EQ(0, epm_become_user(EPM_TEST_UID_ABI));
	ASSERT_EQ(0, epm_cap_drop(CAP_IPC_LOCK));
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &rl));
	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	/* not ASSERT_FAILS: this is not the fixture's space */
	ASSERT_EQ(-1, epm_map_at(fd, FREE_GPA, 5 * SZ_4K, pg(sp, SPARE_PAGE),
				 RW));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(pin, vmpin_kb());
	ASSERT_EQ(0, epm_map_at(fd, FREE_GPA, 4 * SZ_4K, pg(sp, SPARE_PAGE),
				RW));
	ASSERT_EQ(pin + 16, vmpin_kb());
	ASSERT_EQ(-1, epm_map_at(fd, FREE_GPA + 4 * SZ_4K, SZ_4K,
				 pg(sp, SPARE_PAGE + 4), RW));
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, epm_unmap_at(fd, FREE_GPA, 4 * SZ_4K));
	ASSERT_EQ(pin, vmpin_kb());
	ASSERT_EQ(0, epm_map_at(fd, FREE_GPA, 4 * SZ_4K, pg(sp, SPARE_PAGE),
				RW));
	ASSERT_EQ(0, close(fd));
}

TEST_F(abi, map_beyond_memlock_limit_fails_enomem)
{
	struct space *sp = &self->sp;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		memlock_four_pages(_metadata, sp);
		_exit(_metadata->passed ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(sp->pins, epm_pins_exact());
	space_assert_unchanged(_metadata, sp);
}

/* --- MAP: invalid flags, memory types and sizes, each value --------------- */

TEST_F(abi, map_every_unknown_flag_bit_fails_einval)
{
	struct space *sp = &self->sp;
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		if (EPM_MAP_ALL & (1u << bit))
			continue;
		ASSERT_FAILS_MSG(EINVAL, epm_map_at(sp->fd, FREE_GPA, SZ_4K,
						    pg(sp, SPARE_PAGE),
						    RW | (1u << bit)),
				 "flag bit %u", bit);
	}
}

TEST_F(abi, map_every_memtype_from_5_fails_einval)
{
	struct space *sp = &self->sp;
	unsigned int mt;

	for (mt = 5; mt <= 255; mt++)
		ASSERT_FAILS_MSG(EINVAL, map_call(sp->fd, FREE_GPA, SZ_4K,
						  pg(sp, SPARE_PAGE), RW, mt,
						  0),
				 "memtype %u", mt);
}

TEST_F(abi, map_every_max_page_from_4_fails_einval)
{
	struct space *sp = &self->sp;
	unsigned int mp;

	for (mp = 4; mp <= 255; mp++)
		ASSERT_FAILS_MSG(EINVAL, map_call(sp->fd, FREE_GPA, SZ_4K,
						  pg(sp, SPARE_PAGE), RW, 0,
						  mp),
				 "max_page %u", mp);
}

TEST_F(abi, map_every_valid_memtype_and_max_page_succeeds)
{
	struct space *sp = &self->sp;
	unsigned int mt, mp, n = 0;
	struct epm_query q;

	for (mt = 0; mt <= 4; mt++) {
		for (mp = 0; mp <= 3; mp++, n++) {
			uint64_t gpa = FREE_GPA + n * SZ_4K;

			ASSERT_EQ(0, map_call(sp->fd, gpa, SZ_4K,
					      pg(sp, SPARE_PAGE + n), RW, mt,
					      mp))
				TH_LOG("memtype %u max_page %u", mt, mp);
			query_ok(_metadata, sp->fd, gpa, &q);
			ASSERT_EQ(mt, q.memtype);
		}
	}
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

/* --- UNMAP ---------------------------------------------------------------- */

TEST_F(abi, unmap_one_page_exact)
{
	struct space *sp = &self->sp;
	uint64_t gpa = BASE_GPA + 4 * SZ_4K;
	struct epm_query q;

	ASSERT_EQ(0, epm_unmap_at(sp->fd, gpa, SZ_4K));
	query_ok(_metadata, sp->fd, gpa, &q);
	assert_unmapped(_metadata, &q, 3);
	query_ok(_metadata, sp->fd, gpa - SZ_4K, &q);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, 3)), q.hpa);
	query_ok(_metadata, sp->fd, gpa + SZ_4K, &q);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, 5)), q.hpa);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, (SETUP_PAGES - 1) * SZ_4K,
		     0, 0, SETUP_PAGES - 1, 1);
	ASSERT_EQ(sp->pins - 1, epm_pins_exact());
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, unmap_hole_succeeds_and_only_counts_a_flush)
{
	struct space *sp = &self->sp;
	struct epm_snap now;
	bool same;

	ASSERT_EQ(0, epm_unmap_at(sp->fd, FREE_GPA, 16 * SZ_1G));
	ASSERT_EQ(0, epm_snap_take(sp->fd, &now));
	same = epm_snap_equal(&sp->snap, &now);
	epm_snap_free(&now);
	ASSERT_TRUE(same);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0, 0,
		     SETUP_PAGES, 1);
	ASSERT_EQ(sp->pins, epm_pins_exact());
}

TEST_F(abi, unmap_range_with_holes_frees_emptied_tables)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	/* both low mappings and the hole between them */
	ASSERT_EQ(0, epm_unmap_at(sp->fd, 0, SZ_1G));
	/* the PT, PD and PDPT under gpa 0 went: root + the TOP chain */
	assert_stats(_metadata, sp->fd, 4, SZ_4K, 0, 0, 1, 1);
	query_ok(_metadata, sp->fd, BASE_GPA, &q);
	assert_unmapped(_metadata, &q, 0);
	ASSERT_EQ(sp->pins - BASE_PAGES - RO_PAGES, epm_pins_exact());
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, unmap_whole_space_leaves_only_the_root)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[4];
	struct epm_dump d;

	ASSERT_EQ(0, epm_unmap_at(sp->fd, 0, GPA_LIMIT));
	assert_stats(_metadata, sp->fd, 1, 0, 0, 0, 0, 1);
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 4, 0, 0));
	ASSERT_EQ(0, d.count);
	ASSERT_EQ(EPM_DUMP_DONE, d.cursor);
	ASSERT_EQ(sp->pins - SETUP_PAGES, epm_pins_exact());
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, unmap_then_map_again_reuses_the_range)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	ASSERT_EQ(0, epm_unmap_at(sp->fd, RO_GPA, RO_PAGES * SZ_4K));
	ASSERT_EQ(0, epm_map_at(sp->fd, RO_GPA, RO_PAGES * SZ_4K,
				pg(sp, SPARE_PAGE), RW));
	query_ok(_metadata, sp->fd, RO_GPA, &q);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, SPARE_PAGE)), q.hpa);
	ASSERT_EQ(RW, q.perm);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0, 0,
		     SETUP_PAGES, 1);
}

TEST_F(abi, unmap_the_top_page)
{
	struct space *sp = &self->sp;

	ASSERT_EQ(0, epm_unmap_at(sp->fd, TOP_GPA, SZ_4K));
	assert_stats(_metadata, sp->fd, SETUP_PAIRS - 3,
		     (SETUP_PAGES - 1) * SZ_4K, 0, 0, SETUP_PAGES - 1, 1);
}

TEST_F(abi, unmap_uncharges_memlock)
{
	struct space *sp = &self->sp;
	long lck = vmpin_kb();

	ASSERT_LE(SETUP_PAGES * 4, lck);
	ASSERT_EQ(0, epm_unmap_at(sp->fd, 0, GPA_LIMIT));
	ASSERT_EQ(lck - SETUP_PAGES * 4, vmpin_kb());
}

TEST_F(abi, unmap_with_a_perm_fails_einval)
{
	struct space *sp = &self->sp;
	uint32_t perm;

	for (perm = 1; perm <= 7; perm++)
		ASSERT_FAILS_MSG(EINVAL, range_call(sp->fd, EPM_IOC_UNMAP,
						    BASE_GPA, SZ_4K, perm),
				 "perm %u", perm);
}

/* --- PROTECT -------------------------------------------------------------- */

TEST_F(abi, protect_rw_to_r_exact_keeps_the_pin_bit)
{
	struct space *sp = &self->sp;
	uint64_t hpa = hpa_of(_metadata, pg(sp, 2));
	struct epm_query q;

	ASSERT_EQ(0, epm_protect_at(sp->fd, BASE_GPA + 2 * SZ_4K, SZ_4K, R));
	query_ok(_metadata, sp->fd, BASE_GPA + 2 * SZ_4K, &q);
	ASSERT_EQ(R, q.perm);
	ASSERT_EQ(R, q.kpt_perm);
	ASSERT_EQ(hpa, q.hpa);
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_U | KPT_PINW | KPT_NX,
		    hpa | EPT_R | EPT_WB | EPT_PINW);
	/* the neighbours keep RW */
	query_ok(_metadata, sp->fd, BASE_GPA + 3 * SZ_4K, &q);
	ASSERT_EQ(RW, q.perm);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0, 0,
		     SETUP_PAGES, 1);
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, protect_rw_to_rx_exact)
{
	struct space *sp = &self->sp;
	uint64_t hpa = hpa_of(_metadata, pg(sp, 0));
	struct epm_query q;

	ASSERT_EQ(0, epm_protect_at(sp->fd, BASE_GPA, BASE_PAGES * SZ_4K, RX));
	query_ok(_metadata, sp->fd, BASE_GPA, &q);
	ASSERT_EQ(RX, q.perm);
	ASSERT_EQ(RX, q.kpt_perm);
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_U | KPT_PINW,
		    hpa | EPT_R | EPT_X | EPT_WB | EPT_PINW);
}

TEST_F(abi, protect_rw_to_rwx_exact)
{
	struct space *sp = &self->sp;
	uint64_t hpa = hpa_of(_metadata, pg(sp, 15));
	struct epm_query q;

	ASSERT_EQ(0, epm_protect_at(sp->fd, BASE_GPA + 15 * SZ_4K, SZ_4K, RWX));
	query_ok(_metadata, sp->fd, BASE_GPA + 15 * SZ_4K, &q);
	ASSERT_EQ(RWX, q.perm);
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_W | KPT_U | KPT_PINW,
		    hpa | EPT_R | EPT_W | EPT_X | EPT_WB | EPT_PINW);
}

TEST_F(abi, protect_r_back_to_rw_when_mapped_writable)
{
	struct space *sp = &self->sp;
	uint64_t hpa = hpa_of(_metadata, pg(sp, 7));
	struct epm_query q;

	ASSERT_EQ(0, epm_protect_at(sp->fd, BASE_GPA, BASE_PAGES * SZ_4K, R));
	ASSERT_EQ(0, epm_protect_at(sp->fd, BASE_GPA, BASE_PAGES * SZ_4K, RW));
	query_ok(_metadata, sp->fd, BASE_GPA + 7 * SZ_4K, &q);
	ASSERT_EQ(RW, q.perm);
	assert_walk(_metadata, &q, 1,
		    hpa | KPT_P | KPT_W | KPT_U | KPT_PINW | KPT_NX,
		    hpa | EPT_R | EPT_W | EPT_WB | EPT_PINW);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0, 0,
		     SETUP_PAGES, 2);
}

TEST_F(abi, protect_readonly_mapping_to_rx_exact)
{
	struct space *sp = &self->sp;
	uint64_t hpa = hpa_of(_metadata, pg(sp, RO_PAGE));
	struct epm_query q;

	ASSERT_EQ(0, epm_protect_at(sp->fd, RO_GPA, RO_PAGES * SZ_4K, RX));
	query_ok(_metadata, sp->fd, RO_GPA, &q);
	ASSERT_EQ(RX, q.perm);
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_U,
		    hpa | EPT_R | EPT_X | EPT_WB);
}

TEST_F(abi, protect_keeps_memtype_ipat_and_ad)
{
	struct space *sp = &self->sp;
	void *p = pg(sp, SPARE_PAGE);
	struct epm_query q;
	uint64_t hpa;

	ASSERT_EQ(0, map_call(sp->fd, FREE_GPA, SZ_4K, p,
			      RW | EPM_MAP_IPAT | EPM_MAP_AD, EPM_MEMTYPE_UC,
			      0));
	hpa = hpa_of(_metadata, p);
	ASSERT_EQ(0, epm_protect_at(sp->fd, FREE_GPA, SZ_4K, R));
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	ASSERT_EQ(R, q.perm);
	ASSERT_EQ(EPM_MEMTYPE_UC, q.memtype);
	ASSERT_EQ(EPM_MAP_IPAT, q.map_flags);
	assert_walk(_metadata, &q, 1,
		    hpa | KPT_P | KPT_U | KPT_PCD | KPT_PWT | KPT_A | KPT_D |
		    KPT_PINW | KPT_NX,
		    hpa | EPT_R | EPT_UC | EPT_IPAT | EPT_A | EPT_D | EPT_PINW);
	ASSERT_EQ(0, epm_check_count(sp->fd));
}

TEST_F(abi, protect_to_the_same_perm_succeeds)
{
	struct space *sp = &self->sp;
	struct epm_snap now;
	bool same;

	ASSERT_EQ(0, epm_protect_at(sp->fd, RO_GPA, RO_PAGES * SZ_4K, R));
	ASSERT_EQ(0, epm_snap_take(sp->fd, &now));
	same = epm_snap_equal(&sp->snap, &now);
	epm_snap_free(&now);
	ASSERT_TRUE(same);
}

TEST_F(abi, protect_adding_w_to_readonly_mapping_fails_eacces)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EACCES, epm_protect_at(sp->fd, RO_GPA, RO_PAGES * SZ_4K,
					    RW));
	ASSERT_FAILS(EACCES, epm_protect_at(sp->fd, RO_GPA + SZ_4K, SZ_4K,
					    RWX));
}

TEST_F(abi, protect_adding_w_partly_readonly_fails_eacces)
{
	struct space *sp = &self->sp;
	uint64_t end = BASE_GPA + BASE_PAGES * SZ_4K;

	/* a read-only page right after the writable ones */
	ASSERT_EQ(0, mprotect(pg(sp, SPARE_PAGE), SZ_4K, PROT_READ));
	ASSERT_EQ(0, epm_map_at(sp->fd, end, SZ_4K, pg(sp, SPARE_PAGE), R));
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EACCES, epm_protect_at(sp->fd, BASE_GPA,
					    (BASE_PAGES + 1) * SZ_4K, RW));
}

TEST_F(abi, protect_hole_fails_enoent)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(ENOENT, epm_protect_at(sp->fd, FREE_GPA, SZ_4K, R));
	ASSERT_FAILS(ENOENT, epm_protect_at(sp->fd, 0, SZ_4K, RW));
}

TEST_F(abi, protect_partly_unmapped_fails_enoent)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(ENOENT, epm_protect_at(sp->fd, BASE_GPA - SZ_4K,
					    2 * SZ_4K, R));
	ASSERT_FAILS(ENOENT, epm_protect_at(sp->fd, BASE_GPA + 15 * SZ_4K,
					    2 * SZ_4K, R));
	ASSERT_FAILS(ENOENT, epm_protect_at(sp->fd, BASE_GPA,
					    RO_GPA + RO_PAGES * SZ_4K - BASE_GPA,
					    R));
}

TEST_F(abi, protect_perm_0_fails_einval)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EINVAL, epm_protect_at(sp->fd, BASE_GPA, SZ_4K, 0));
}

TEST_F(abi, protect_w_without_r_fails_einval)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EINVAL, epm_protect_at(sp->fd, BASE_GPA, SZ_4K,
					    EPM_PERM_W));
}

TEST_F(abi, protect_wx_without_r_fails_einval)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EINVAL, epm_protect_at(sp->fd, BASE_GPA, SZ_4K,
					    EPM_PERM_W | EPM_PERM_X));
}

TEST_F(abi, protect_every_unknown_perm_bit_fails_einval)
{
	struct space *sp = &self->sp;
	unsigned int bit;

	for (bit = 3; bit < 32; bit++)
		ASSERT_FAILS_MSG(EINVAL, epm_protect_at(sp->fd, BASE_GPA, SZ_4K,
							R | (1u << bit)),
				 "perm bit %u", bit);
}

TEST_F(abi, protect_map_flags_are_not_perms_einval)
{
	struct space *sp = &self->sp;

	ASSERT_FAILS(EINVAL, epm_protect_at(sp->fd, BASE_GPA, SZ_4K,
					    R | EPM_MAP_IPAT));
	ASSERT_FAILS(EINVAL, epm_protect_at(sp->fd, BASE_GPA, SZ_4K,
					    R | EPM_MAP_AD));
}

TEST_F(abi, protect_exec_only_follows_caps)
{
	struct space *sp = &self->sp;
	uint64_t hpa = hpa_of(_metadata, pg(sp, 0));
	struct epm_query q;

	if (!(sp->caps.flags & EPM_CAP_EPT_X_ONLY)) {
		ASSERT_FAILS(EOPNOTSUPP, epm_protect_at(sp->fd, BASE_GPA, SZ_4K,
							EPM_PERM_X));
		return;
	}
	ASSERT_EQ(0, epm_protect_at(sp->fd, BASE_GPA, SZ_4K, EPM_PERM_X));
	query_ok(_metadata, sp->fd, BASE_GPA, &q);
	ASSERT_EQ(EPM_PERM_X, q.perm);
	ASSERT_EQ(RX, q.kpt_perm);
	assert_walk(_metadata, &q, 1, hpa | KPT_P | KPT_U | KPT_PINW,
		    hpa | EPT_X | EPT_WB | EPT_PINW);
}

TEST_F(abi, protect_counts_one_flush_per_call)
{
	struct space *sp = &self->sp;

	ASSERT_EQ(0, epm_protect_at(sp->fd, BASE_GPA, SZ_4K, R));
	ASSERT_EQ(0, epm_protect_at(sp->fd, RO_GPA, SZ_4K, RX));
	ASSERT_EQ(-1, epm_protect_at(sp->fd, FREE_GPA, SZ_4K, R));
	ASSERT_EQ(ENOENT, errno);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0, 0,
		     SETUP_PAGES, 2);
}

/* --- QUERY ---------------------------------------------------------------- */

TEST_F(abi, query_unmapped_page_under_tables)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	/* same PT as BASE: three tables walked, no leaf */
	query_ok(_metadata, sp->fd, BASE_GPA + BASE_PAGES * SZ_4K, &q);
	assert_unmapped(_metadata, &q, 3);
	/* same PD, another PT slot: two tables */
	query_ok(_metadata, sp->fd, 5 * SZ_2M, &q);
	assert_unmapped(_metadata, &q, 2);
	/* same PDPT, another GiB: one table */
	query_ok(_metadata, sp->fd, FREE_GPA, &q);
	assert_unmapped(_metadata, &q, 1);
}

TEST_F(abi, query_far_from_any_mapping_is_all_zero)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	query_ok(_metadata, sp->fd, 0x100000000000ULL, &q);
	assert_unmapped(_metadata, &q, 0);
}

TEST_F(abi, query_on_an_empty_space_is_all_zero)
{
	struct epm_query q;
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	query_ok(_metadata, fd, 0, &q);
	assert_unmapped(_metadata, &q, 0);
	query_ok(_metadata, fd, GPA_LIMIT - 1, &q);
	assert_unmapped(_metadata, &q, 0);
	close(fd);
}

TEST_F(abi, query_walks_match_between_neighbours)
{
	struct space *sp = &self->sp;
	struct epm_query a, b;
	unsigned int l;

	query_ok(_metadata, sp->fd, BASE_GPA, &a);
	query_ok(_metadata, sp->fd, RO_GPA, &b);
	/* one PT holds both: the same tables all the way down */
	for (l = 2; l <= LEVELS; l++) {
		ASSERT_EQ(a.kpte[l - 1], b.kpte[l - 1]);
		ASSERT_EQ(a.epte[l - 1], b.epte[l - 1]);
	}
	query_ok(_metadata, sp->fd, TOP_GPA, &b);
	for (l = 2; l <= LEVELS; l++)
		ASSERT_NE(a.kpte[l - 1], b.kpte[l - 1]);
}

TEST_F(abi, query_gpa_2_48_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	ASSERT_FAILS(EINVAL, epm_query_at(sp->fd, GPA_LIMIT, &q));
}

TEST_F(abi, query_gpa_beyond_48_bits_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_query q;
	unsigned int bit;

	for (bit = 48; bit < 64; bit++)
		ASSERT_FAILS_MSG(EINVAL, epm_query_at(sp->fd, 1ULL << bit, &q),
				 "gpa bit %u", bit);
	ASSERT_FAILS(EINVAL, epm_query_at(sp->fd, ~0ULL, &q));
	ASSERT_FAILS(EINVAL, epm_query_at(sp->fd, BASE_GPA | (1ULL << 63), &q));
}

TEST_F(abi, query_every_flag_bit_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_query q;
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		memset(&q, 0, sizeof(q));
		q.gpa = BASE_GPA;
		q.flags = 1u << bit;
		ASSERT_FAILS_MSG(EINVAL, ioctl(sp->fd, EPM_IOC_QUERY, &q),
				 "flag bit %u", bit);
	}
}

TEST_F(abi, query_changes_nothing)
{
	struct space *sp = &self->sp;
	struct epm_query q;
	unsigned int i;

	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, epm_query_at(sp->fd, BASE_GPA + i * 0x3ff1, &q));
	space_assert_unchanged(_metadata, sp);
}

/* --- DUMP ----------------------------------------------------------------- */

struct want_entry {
	uint64_t gpa;
	unsigned int level;
	bool leaf;
};

/* What the setup mappings dump as, parents first in gpa order. */
static unsigned int setup_entries(struct want_entry *w)
{
	unsigned int n = 0, i, l;

	for (l = LEVELS; l > 1; l--)
		w[n++] = (struct want_entry){ 0, l, false };
	for (i = 0; i < BASE_PAGES; i++)
		w[n++] = (struct want_entry){ BASE_GPA + i * SZ_4K, 1, true };
	for (i = 0; i < RO_PAGES; i++)
		w[n++] = (struct want_entry){ RO_GPA + i * SZ_4K, 1, true };
	w[n++] = (struct want_entry){ 0xff8000000000ULL, 4, false };
	w[n++] = (struct want_entry){ 0xffffc0000000ULL, 3, false };
	w[n++] = (struct want_entry){ 0xffffffe00000ULL, 2, false };
	w[n++] = (struct want_entry){ TOP_GPA, 1, true };
	return n;
}

TEST_F(abi, dump_lists_every_entry_parents_first)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[64], *last[LEVELS + 1];
	struct want_entry w[SETUP_ENTRIES];
	struct epm_query q;
	struct epm_dump d;
	unsigned int i;

	ASSERT_EQ(SETUP_ENTRIES, setup_entries(w));
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 64, 0, 0));
	ASSERT_EQ(SETUP_ENTRIES, d.count);
	ASSERT_EQ(EPM_DUMP_DONE, d.cursor);
	ASSERT_EQ(0ULL, d.reserved[0] | d.reserved[1]);
	for (i = 0; i < SETUP_ENTRIES; i++) {
		unsigned int l = buf[i].level;

		ASSERT_EQ(w[i].gpa, buf[i].gpa) TH_LOG("entry %u", i);
		ASSERT_EQ(l, w[i].level) TH_LOG("entry %u", i);
		ASSERT_EQ(w[i].leaf, buf[i].leaf) TH_LOG("entry %u", i);
		last[l] = &buf[i];
		if (!buf[i].leaf) {
			assert_table_entry(_metadata, buf[i].kpte, buf[i].epte);
			continue;
		}
		/* the entries QUERY walks are the ones DUMP showed */
		query_ok(_metadata, sp->fd, buf[i].gpa, &q);
		for (; l <= LEVELS; l++) {
			ASSERT_EQ(q.kpte[l - 1], last[l]->kpte);
			ASSERT_EQ(q.epte[l - 1], last[l]->epte);
		}
	}
	/* leaves exact: RW, R and RX as set up */
	ASSERT_EQ(hpa_of(_metadata, pg(sp, 0)) | KPT_P | KPT_W | KPT_U |
		  KPT_PINW | KPT_NX, buf[3].kpte);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, 0)) | EPT_R | EPT_W | EPT_WB |
		  EPT_PINW, buf[3].epte);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, RO_PAGE)) | KPT_P | KPT_U | KPT_NX,
		  buf[19].kpte);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, RO_PAGE)) | EPT_R | EPT_WB,
		  buf[19].epte);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, TOP_PAGE)) | KPT_P | KPT_U |
		  KPT_PINW, buf[26].kpte);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, TOP_PAGE)) | EPT_R | EPT_X | EPT_WB |
		  EPT_PINW, buf[26].epte);
	/* nothing written past count */
	ASSERT_EQ(0xa5a5a5a5a5a5a5a5ULL, buf[SETUP_ENTRIES].gpa);
}

TEST_F(abi, dump_one_page_shows_four_levels)
{
	struct space *sp = &self->sp;
	/* index 1 at every level */
	uint64_t gpa = 0x8040201000ULL;
	struct epm_dump_entry buf[8];
	struct epm_query q;
	struct epm_dump d;
	unsigned int i;
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, gpa, SZ_4K, pg(sp, SPARE_PAGE), RW));
	query_ok(_metadata, fd, gpa, &q);
	ASSERT_EQ(0, dump_call(fd, &d, buf, 8, 0, 0));
	ASSERT_EQ(4, d.count);
	ASSERT_EQ(EPM_DUMP_DONE, d.cursor);
	ASSERT_EQ(0x8000000000ULL, buf[0].gpa);
	ASSERT_EQ(0x8040000000ULL, buf[1].gpa);
	ASSERT_EQ(0x8040200000ULL, buf[2].gpa);
	ASSERT_EQ(gpa, buf[3].gpa);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(LEVELS - i, buf[i].level);
		ASSERT_EQ(i == 3, buf[i].leaf);
		ASSERT_EQ(q.kpte[LEVELS - 1 - i], buf[i].kpte);
		ASSERT_EQ(q.epte[LEVELS - 1 - i], buf[i].epte);
	}
	close(fd);
}

TEST_F(abi, dump_of_an_empty_space_is_empty)
{
	struct epm_dump_entry buf[4];
	struct epm_dump d;
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(0, dump_call(fd, &d, buf, 4, 0, 0));
	ASSERT_EQ(0, d.count);
	ASSERT_EQ(EPM_DUMP_DONE, d.cursor);
	ASSERT_EQ(0x5a5a5a5a5a5a5a5aULL, buf[0].gpa);
	close(fd);
}

TEST_F(abi, dump_leaves_only)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[64];
	struct epm_dump d;
	unsigned int i;

	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 64, EPM_DUMP_LEAVES, 0));
	ASSERT_EQ(SETUP_PAGES, d.count);
	ASSERT_EQ(EPM_DUMP_DONE, d.cursor);
	ASSERT_EQ(EPM_DUMP_LEAVES, d.flags);
	for (i = 0; i < SETUP_PAGES; i++) {
		uint64_t want = i < BASE_PAGES ? BASE_GPA + i * SZ_4K :
				i < BASE_PAGES + RO_PAGES ?
				RO_GPA + (i - BASE_PAGES) * SZ_4K : TOP_GPA;

		ASSERT_EQ(want, buf[i].gpa);
		ASSERT_EQ(1, buf[i].level);
		ASSERT_EQ(1, buf[i].leaf);
	}
}

TEST_F(abi, dump_one_entry_at_a_time_through_the_cursor)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry e;
	struct epm_dump d;
	uint64_t cursor = 0;
	unsigned int n = 0;

	do {
		ASSERT_EQ(0, dump_call(sp->fd, &d, &e, 1, 0, cursor));
		ASSERT_EQ(1, d.count);
		ASSERT_LT(n, sp->snap.n);
		ASSERT_EQ(0, memcmp(&e, &sp->snap.e[n], sizeof(e)))
			TH_LOG("entry %u", n);
		n++;
		cursor = d.cursor;
	} while (cursor != EPM_DUMP_DONE);
	ASSERT_EQ(SETUP_ENTRIES, n);
}

TEST_F(abi, dump_leaves_one_at_a_time_through_the_cursor)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry e;
	struct epm_dump d;
	uint64_t cursor = 0;
	unsigned int n = 0;

	do {
		ASSERT_EQ(0, dump_call(sp->fd, &d, &e, 1, EPM_DUMP_LEAVES,
				       cursor));
		ASSERT_EQ(1, d.count);
		ASSERT_EQ(1, e.leaf);
		n++;
		cursor = d.cursor;
	} while (cursor != EPM_DUMP_DONE);
	ASSERT_EQ(SETUP_PAGES, n);
}

TEST_F(abi, dump_cursor_names_the_next_entry)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[8];
	struct epm_dump d;

	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 5, 0, 0));
	ASSERT_EQ(5, d.count);
	/* three tables, BASE's pages 0 and 1; next is its page 2 */
	ASSERT_EQ((BASE_GPA + 2 * SZ_4K) | 1, d.cursor);
	ASSERT_EQ(sp->snap.e[5].gpa | sp->snap.e[5].level, d.cursor);
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 2, 0, 0));
	/* entry 2 is the PD entry for gpa 0 */
	ASSERT_EQ(0ULL | 2, d.cursor);
}

TEST_F(abi, dump_with_exact_room_ends_done)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[SETUP_ENTRIES];
	struct epm_dump d;

	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, SETUP_ENTRIES, 0, 0));
	ASSERT_EQ(SETUP_ENTRIES, d.count);
	ASSERT_EQ(EPM_DUMP_DONE, d.cursor);
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, SETUP_ENTRIES - 1, 0, 0));
	ASSERT_EQ(SETUP_ENTRIES - 1, d.count);
	ASSERT_EQ(TOP_GPA | 1, d.cursor);
}

TEST_F(abi, dump_with_more_room_than_entries)
{
	struct space *sp = &self->sp;
	static struct epm_dump_entry buf[4096];
	struct epm_dump d;

	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 4096, 0, 0));
	ASSERT_EQ(SETUP_ENTRIES, d.count);
	ASSERT_EQ(EPM_DUMP_DONE, d.cursor);
	ASSERT_EQ(0, memcmp(buf, sp->snap.e, SETUP_ENTRIES * sizeof(buf[0])));
}

TEST_F(abi, dump_cursor_done_writes_nothing)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[4];
	struct epm_dump d;

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 4, 0, EPM_DUMP_DONE));
	ASSERT_EQ(0, d.count);
	ASSERT_EQ(EPM_DUMP_DONE, d.cursor);
	ASSERT_EQ(0xa5a5a5a5a5a5a5a5ULL, buf[0].gpa);
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 4, EPM_DUMP_LEAVES,
			       EPM_DUMP_DONE));
	ASSERT_EQ(0, d.count);
	/* done means done even with a buffer that cannot be written */
	ASSERT_EQ(0, dump_call(sp->fd, &d, NULL, 4, 0, EPM_DUMP_DONE));
	ASSERT_EQ(0, d.count);
	space_assert_unchanged(_metadata, sp);
}

TEST_F(abi, dump_cursor_level_0_means_level_4)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry a[32], b[32];
	struct epm_dump da, db;

	ASSERT_EQ(0, dump_call(sp->fd, &da, a, 32, 0, RO_GPA));
	ASSERT_EQ(0, dump_call(sp->fd, &db, b, 32, 0, RO_GPA | 4));
	ASSERT_EQ(da.count, db.count);
	ASSERT_EQ(0, memcmp(a, b, da.count * sizeof(a[0])));
	/* RO's four leaves, then the three tables and leaf at the top */
	ASSERT_EQ(RO_PAGES + 4, da.count);
	ASSERT_EQ(RO_GPA, a[0].gpa);
	ASSERT_EQ(1, a[0].level);
}

TEST_F(abi, dump_cursor_inside_a_walk_skips_the_parents)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[32];
	struct epm_dump d;

	/* from the PD entry of gpa 0: the PML4E and PDPTE are behind */
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 32, 0, 0 | 2));
	ASSERT_EQ(SETUP_ENTRIES - 2, d.count);
	ASSERT_EQ(0, memcmp(buf, &sp->snap.e[2], d.count * sizeof(buf[0])));
	/* from a gpa in a hole: the next entry after it */
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 32, 0, FREE_GPA | 1));
	ASSERT_EQ(4, d.count);
	ASSERT_EQ(0xff8000000000ULL, buf[0].gpa);
}

TEST_F(abi, dump_count_0_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[4];
	struct epm_dump d;

	ASSERT_FAILS(EINVAL, dump_call(sp->fd, &d, buf, 0, 0, 0));
	ASSERT_FAILS(EINVAL, dump_call(sp->fd, &d, buf, 0, 0, EPM_DUMP_DONE));
}

TEST_F(abi, dump_cursor_level_above_4_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[4];
	static const uint64_t low[] = { 5, 6, 7, 8, 0x10, 0x100, 0x800, 0xfff };
	struct epm_dump d;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(low); i++) {
		ASSERT_FAILS_MSG(EINVAL, dump_call(sp->fd, &d, buf, 4, 0, low[i]),
				 "cursor 0x%llx", (unsigned long long)low[i]);
		ASSERT_FAILS_MSG(EINVAL, dump_call(sp->fd, &d, buf, 4, 0,
						   BASE_GPA | low[i]),
				 "cursor BASE|0x%llx",
				 (unsigned long long)low[i]);
	}
}

TEST_F(abi, dump_cursor_beyond_48_bits_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[4];
	struct epm_dump d;

	ASSERT_FAILS(EINVAL, dump_call(sp->fd, &d, buf, 4, 0, GPA_LIMIT));
	ASSERT_FAILS(EINVAL, dump_call(sp->fd, &d, buf, 4, 0, GPA_LIMIT | 1));
	ASSERT_FAILS(EINVAL, dump_call(sp->fd, &d, buf, 4, 0, 1ULL << 63));
	ASSERT_FAILS(EINVAL, dump_call(sp->fd, &d, buf, 4, 0,
				       EPM_DUMP_DONE - 1));
	ASSERT_FAILS(EINVAL, dump_call(sp->fd, &d, buf, 4, 0,
				       EPM_DUMP_DONE & ~0xfffULL));
}

TEST_F(abi, dump_every_unknown_flag_bit_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[4];
	struct epm_dump d;
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		if (EPM_DUMP_ALL & (1u << bit))
			continue;
		ASSERT_FAILS_MSG(EINVAL, dump_call(sp->fd, &d, buf, 4,
						   1u << bit, 0),
				 "flag bit %u", bit);
	}
}

TEST_F(abi, dump_null_buf_fails_efault)
{
	struct space *sp = &self->sp;
	struct epm_dump d;

	ASSERT_FAILS(EFAULT, dump_call(sp->fd, &d, NULL, 4, 0, 0));
}

TEST_F(abi, dump_unmapped_buf_fails_efault)
{
	struct space *sp = &self->sp;
	struct epm_dump d;
	void *p = unmapped_addr(SZ_4K);

	ASSERT_NE(NULL, p);
	ASSERT_FAILS(EFAULT, dump_call(sp->fd, &d, p, 4, 0, 0));
}

TEST_F(abi, dump_kernel_buf_fails_efault)
{
	struct space *sp = &self->sp;
	struct epm_dump d;

	ASSERT_FAILS(EFAULT, dump_call(sp->fd, &d, (void *)KERNEL_PTR, 4, 0,
				       0));
}

TEST_F(abi, dump_read_only_buf_fails_efault)
{
	struct space *sp = &self->sp;
	struct epm_dump d;
	void *p = mmap(NULL, SZ_4K, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_FAILS(EFAULT, dump_call(sp->fd, &d, p, 4, 0, 0));
}

TEST_F(abi, dump_buf_shorter_than_count_fails_efault)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry *buf;
	struct epm_dump d;
	uint8_t *p = mmap(NULL, 2 * SZ_4K, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + SZ_4K, SZ_4K));
	/* room for two entries before the hole, and count says 32 */
	buf = (struct epm_dump_entry *)(p + SZ_4K) - 2;
	space_baseline(_metadata, sp);
	ASSERT_FAILS(EFAULT, dump_call(sp->fd, &d, buf, 32, 0, 0));
}

/* --- CHECK ---------------------------------------------------------------- */

TEST_F(abi, check_of_the_setup_is_clean)
{
	assert_check_clean(_metadata, self->sp.fd);
	space_assert_unchanged(_metadata, &self->sp);
}

TEST_F(abi, check_of_an_empty_space_is_clean)
{
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	assert_check_clean(_metadata, fd);
	close(fd);
}

TEST_F(abi, check_after_unmap_and_protect_is_clean)
{
	struct space *sp = &self->sp;

	ASSERT_EQ(0, epm_protect_at(sp->fd, BASE_GPA, 3 * SZ_4K, RX));
	ASSERT_EQ(0, epm_unmap_at(sp->fd, BASE_GPA + SZ_4K, 8 * SZ_4K));
	ASSERT_EQ(0, epm_unmap_at(sp->fd, TOP_GPA, SZ_4K));
	assert_check_clean(_metadata, sp->fd);
}

TEST_F(abi, check_every_flag_bit_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_check c;
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		memset(&c, 0, sizeof(c));
		c.flags = 1u << bit;
		ASSERT_FAILS_MSG(EINVAL, ioctl(sp->fd, EPM_IOC_CHECK, &c),
				 "flag bit %u", bit);
	}
}

/* --- EPTP ----------------------------------------------------------------- */

static int eptp_call(int fd, struct epm_eptp *e, uint32_t flags)
{
	memset(e, 0, sizeof(*e));
	e->flags = flags;
	return ioctl(fd, EPM_IOC_EPTP, e);
}

TEST_F(abi, eptp_points_at_the_ept_half_of_the_root)
{
	struct space *sp = &self->sp;
	struct epm_eptp e;

	ASSERT_EQ(0, eptp_call(sp->fd, &e, 0));
	ASSERT_EQ(0, e.flags);
	ASSERT_EQ(0, e.pad);
	ASSERT_EQ(0ULL, e.reserved[0] | e.reserved[1]);
	ASSERT_NE(0ULL, e.kpt_root);
	ASSERT_EQ(0ULL, e.kpt_root & 0x1fff);
	ASSERT_EQ(0ULL, e.kpt_root & ~PTE_ADDR);
	/* WB, 4-level walk, no A/D */
	ASSERT_EQ((e.kpt_root + 0x1000) | EPTP_WB_WALK4, e.eptp);
	ASSERT_EQ((e.kpt_root + 0x1000) | 0x1eULL, e.eptp);
	space_assert_unchanged(_metadata, sp);
}

TEST_F(abi, eptp_root_outlives_every_change)
{
	struct space *sp = &self->sp;
	struct epm_eptp a, b;

	ASSERT_EQ(0, eptp_call(sp->fd, &a, 0));
	ASSERT_EQ(0, epm_unmap_at(sp->fd, 0, GPA_LIMIT));
	ASSERT_EQ(0, eptp_call(sp->fd, &b, 0));
	ASSERT_EQ(a.eptp, b.eptp);
	ASSERT_EQ(a.kpt_root, b.kpt_root);
	ASSERT_EQ(0, epm_map_at(sp->fd, BASE_GPA, SZ_4K, pg(sp, 0), RW));
	ASSERT_EQ(0, eptp_call(sp->fd, &b, 0));
	ASSERT_EQ(a.kpt_root, b.kpt_root);
}

TEST_F(abi, eptp_differs_between_files)
{
	struct epm_eptp a, b;
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, eptp_call(self->sp.fd, &a, 0));
	ASSERT_EQ(0, eptp_call(fd, &b, 0));
	ASSERT_NE(a.kpt_root, b.kpt_root);
	ASSERT_NE(a.eptp, b.eptp);
	close(fd);
}

TEST_F(abi, eptp_ad_follows_caps)
{
	struct space *sp = &self->sp;
	struct epm_eptp e;

	if (!(sp->caps.flags & EPM_CAP_EPT_AD)) {
		ASSERT_FAILS(EOPNOTSUPP, eptp_call(sp->fd, &e, EPM_EPTP_AD));
		return;
	}
	ASSERT_EQ(0, eptp_call(sp->fd, &e, EPM_EPTP_AD));
	ASSERT_EQ(EPM_EPTP_AD, e.flags);
	ASSERT_EQ((e.kpt_root + 0x1000) | EPTP_WB_WALK4 | EPTP_AD, e.eptp);
}

TEST_F(abi, eptp_every_unknown_flag_bit_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_eptp e;
	unsigned int bit;

	for (bit = 0; bit < 32; bit++) {
		if (EPM_EPTP_ALL & (1u << bit))
			continue;
		ASSERT_FAILS_MSG(EINVAL, eptp_call(sp->fd, &e, 1u << bit),
				 "flag bit %u", bit);
	}
}

/* --- STATS ---------------------------------------------------------------- */

TEST_F(abi, stats_of_an_empty_space)
{
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	assert_stats(_metadata, fd, 1, 0, 0, 0, 0, 0);
	close(fd);
}

TEST_F(abi, stats_of_the_setup)
{
	assert_stats(_metadata, self->sp.fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K,
		     0, 0, SETUP_PAGES, 0);
}

TEST_F(abi, stats_count_a_flush_per_unmap_and_protect)
{
	struct space *sp = &self->sp;

	ASSERT_EQ(0, epm_unmap_at(sp->fd, FREE_GPA, SZ_4K));
	ASSERT_EQ(0, epm_unmap_at(sp->fd, BASE_GPA, SZ_4K));
	ASSERT_EQ(0, epm_protect_at(sp->fd, RO_GPA, SZ_4K, RX));
	ASSERT_EQ(0, epm_map_at(sp->fd, BASE_GPA, SZ_4K, pg(sp, 0), RW));
	/* failures count nothing */
	ASSERT_EQ(-1, epm_unmap_at(sp->fd, 1, SZ_4K));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, epm_protect_at(sp->fd, RO_GPA, SZ_4K, RW));
	ASSERT_EQ(EACCES, errno);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0, 0,
		     SETUP_PAGES, 3);
}

TEST_F(abi, stats_changes_nothing)
{
	struct space *sp = &self->sp;
	struct epm_stats s;

	memset(&s, 0xff, sizeof(s));
	ASSERT_EQ(0, ioctl(sp->fd, EPM_IOC_STATS, &s));
	space_assert_unchanged(_metadata, sp);
}

/* --- privilege: decided at open() ------------------------------------------ */

/*
 * The fixture's file was opened with CAP_SYS_ADMIN: dropping it later
 * changes nothing that file shows (mem_test covers files opened without).
 */
TEST_F(abi, query_shows_addresses_after_dropping_sys_admin)
{
	struct space *sp = &self->sp;
	struct epm_query before, after;

	query_ok(_metadata, sp->fd, BASE_GPA + 0x123, &before);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, 0)) + 0x123, before.hpa);
	ASSERT_EQ(0, epm_cap_drop(CAP_SYS_ADMIN));
	query_ok(_metadata, sp->fd, BASE_GPA + 0x123, &after);
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
}

TEST_F(abi, dump_shows_addresses_after_dropping_sys_admin)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[64];
	struct epm_dump d;

	ASSERT_EQ(0, epm_cap_drop(CAP_SYS_ADMIN));
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 64, 0, 0));
	ASSERT_EQ(SETUP_ENTRIES, d.count);
	ASSERT_EQ(sp->snap.n, d.count);
	ASSERT_EQ(0, memcmp(sp->snap.e, buf, d.count * sizeof(buf[0])));
}

TEST_F(abi, eptp_works_after_dropping_sys_admin)
{
	struct space *sp = &self->sp;
	struct epm_eptp before, after;

	ASSERT_EQ(0, eptp_call(sp->fd, &before, 0));
	ASSERT_NE(0ULL, before.eptp);
	ASSERT_EQ(0, epm_cap_drop(CAP_SYS_ADMIN));
	ASSERT_EQ(0, eptp_call(sp->fd, &after, 0));
	ASSERT_EQ(before.eptp, after.eptp);
	ASSERT_EQ(before.kpt_root, after.kpt_root);
	space_assert_unchanged(_metadata, sp);
}

TEST_F(abi, check_and_stats_work_without_sys_admin)
{
	struct space *sp = &self->sp;

	ASSERT_EQ(0, epm_cap_drop(CAP_SYS_ADMIN));
	assert_check_clean(_metadata, sp->fd);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0, 0,
		     SETUP_PAGES, 0);
}

/* --- lifetimes ------------------------------------------------------------ */

TEST_F(abi, close_unpins_every_page)
{
	struct space *sp = &self->sp;
	long long before = epm_pins_exact();
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, 0, 8 * SZ_4K, pg(sp, SPARE_PAGE), RW));
	ASSERT_EQ(0, epm_map_at(fd, SZ_1G, 8 * SZ_4K, pg(sp, SPARE_PAGE), R));
	ASSERT_EQ(before + 16, epm_pins_exact());
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(before, epm_pins_exact());
}

TEST_F(abi, close_uncharges_memlock)
{
	struct space *sp = &self->sp;
	long lck = vmpin_kb();

	ASSERT_EQ(0, close(sp->fd));
	sp->fd = -1;
	ASSERT_EQ(lck - SETUP_PAGES * 4, vmpin_kb());
}

TEST_F(abi, files_are_independent_spaces)
{
	struct space *sp = &self->sp;
	struct epm_query q;
	int fd = epm_open_dev();

	ASSERT_LE(0, fd);
	/* the same gpa is free in the other file */
	ASSERT_EQ(0, epm_map_at(fd, BASE_GPA, SZ_4K, pg(sp, SPARE_PAGE), R));
	query_ok(_metadata, fd, BASE_GPA, &q);
	ASSERT_EQ(hpa_of(_metadata, pg(sp, SPARE_PAGE)), q.hpa);
	ASSERT_EQ(0, epm_unmap_at(fd, 0, GPA_LIMIT));
	close(fd);
	space_assert_unchanged(_metadata, sp);
}

TEST_F(abi, child_exit_leaves_the_parents_space_alone)
{
	struct space *sp = &self->sp;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sp->fd);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	space_assert_unchanged(_metadata, sp);
}

TEST_F(abi, last_close_in_a_child_releases_the_parents_pins)
{
	struct space *sp = &self->sp;
	long lck = vmpin_kb();
	int status, fd, go[2];
	char c = 0;
	pid_t pid;

	fd = epm_open_dev();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, epm_map_at(fd, 0, 4 * SZ_4K, pg(sp, SPARE_PAGE), RW));
	ASSERT_EQ(lck + 16, vmpin_kb());
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* after the parent's close, drop the last reference */
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		close(fd);
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(sp->pins + 4, epm_pins_exact());
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(sp->pins, epm_pins_exact());
	ASSERT_EQ(lck, vmpin_kb());
}

TEST_F(abi, device_node_is_root_only)
{
	int status;
	struct stat st;
	pid_t pid;

	ASSERT_EQ(0, stat(EPM_DEV, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0u, st.st_uid);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(100);
		_exit(epm_open_dev() < 0 ? errno : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(EACCES, WEXITSTATUS(status));
}

/* --- 2M leaves from THP --------------------------------------------------- */

#define JUMBO_GPA	0x800000ULL

FIXTURE(jumbo) {
	struct space sp;
	uint8_t *thp;		/* 4 MiB, 2 MiB aligned, THP */
	uint64_t hpa;		/* of thp's first 2 MiB */
	bool no_thp;
};

FIXTURE_SETUP(jumbo)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	sp->fd = -1;
	space_setup(_metadata, sp);
	self->thp = epm_alloc(2 * SZ_2M, SZ_2M, MADV_HUGEPAGE);
	ASSERT_NE(NULL, self->thp);
	ASSERT_EQ(0, epm_map_at(sp->fd, JUMBO_GPA, SZ_2M, self->thp, RW));
	query_ok(_metadata, sp->fd, JUMBO_GPA, &q);
	self->no_thp = q.level != 2;
	self->hpa = hpa_of(_metadata, self->thp);
	space_baseline(_metadata, sp);
}

FIXTURE_TEARDOWN(jumbo)
{
	space_teardown(&self->sp);
}

#define NEED_THP() do {							\
	if (self->no_thp)						\
		SKIP(return, "no transparent huge page behind the map");\
} while (0)

#define KPT_2M_RW	(KPT_P | KPT_W | KPT_U | KPT_PS | KPT_PINW | KPT_NX)
#define EPT_2M_RW	(EPT_R | EPT_W | EPT_WB | EPT_PS | EPT_PINW)

TEST_F(jumbo, thp_maps_as_one_2m_leaf_exact)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0ULL, self->hpa & (SZ_2M - 1));
	query_ok(_metadata, sp->fd, JUMBO_GPA, &q);
	ASSERT_EQ(2, q.level);
	ASSERT_EQ(SZ_2M, q.page_size);
	ASSERT_EQ(self->hpa, q.hpa);
	ASSERT_EQ(RW, q.perm);
	ASSERT_EQ(RW, q.kpt_perm);
	assert_walk(_metadata, &q, 2, self->hpa | KPT_2M_RW,
		    self->hpa | EPT_2M_RW);
	ASSERT_EQ(self->hpa | 0x8000000000000287ULL, q.kpte[1]);
	ASSERT_EQ(self->hpa | 0x8b3ULL, q.epte[1]);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, SZ_2M,
		     0, SETUP_PAGES + 512, 0);
}

TEST_F(jumbo, query_inside_the_2m_leaf_adds_the_offset)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	NEED_THP();
	query_ok(_metadata, sp->fd, JUMBO_GPA + 0x1ff123, &q);
	ASSERT_EQ(2, q.level);
	ASSERT_EQ(self->hpa + 0x1ff123, q.hpa);
	/* the frame is the user page's */
	ASSERT_EQ(hpa_of(_metadata, self->thp + 0x1ff000) + 0x123, q.hpa);
}

TEST_F(jumbo, dump_shows_one_leaf_at_level_2)
{
	struct space *sp = &self->sp;
	struct epm_dump_entry buf[64];
	struct epm_dump d;
	unsigned int i, found = 0;

	NEED_THP();
	ASSERT_EQ(0, dump_call(sp->fd, &d, buf, 64, EPM_DUMP_LEAVES, 0));
	ASSERT_EQ(SETUP_PAGES + 1, d.count);
	for (i = 0; i < d.count; i++) {
		if (buf[i].level != 2)
			continue;
		found++;
		ASSERT_EQ(JUMBO_GPA, buf[i].gpa);
		ASSERT_EQ(1, buf[i].leaf);
		ASSERT_EQ(self->hpa | KPT_2M_RW, buf[i].kpte);
		ASSERT_EQ(self->hpa | EPT_2M_RW, buf[i].epte);
	}
	ASSERT_EQ(1, found);
}

TEST_F(jumbo, map_inside_the_2m_leaf_fails_eexist)
{
	struct space *sp = &self->sp;

	NEED_THP();
	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, JUMBO_GPA + 0x5000, SZ_4K,
					pg(sp, SPARE_PAGE), RW));
	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, JUMBO_GPA + SZ_2M - SZ_4K,
					SZ_4K, pg(sp, SPARE_PAGE), RW));
}

TEST_F(jumbo, map_over_the_2m_leaf_edges_fails_eexist)
{
	struct space *sp = &self->sp;
	void *va = va_reserve(3 * SZ_2M);

	NEED_THP();
	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, JUMBO_GPA - SZ_4K, 2 * SZ_4K,
					pg(sp, SPARE_PAGE), RW));
	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, JUMBO_GPA + SZ_2M - SZ_4K,
					2 * SZ_4K, pg(sp, SPARE_PAGE), RW));
	ASSERT_NE(NULL, va);
	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, JUMBO_GPA - SZ_2M, 3 * SZ_2M,
					va, RW));
}

TEST_F(jumbo, map_the_same_2m_again_fails_eexist)
{
	struct space *sp = &self->sp;

	NEED_THP();
	ASSERT_FAILS(EEXIST, epm_map_at(sp->fd, JUMBO_GPA, SZ_2M,
					self->thp + SZ_2M, RW));
}

TEST_F(jumbo, unmap_4k_inside_splits_the_leaf)
{
	struct space *sp = &self->sp;
	uint64_t gpa = JUMBO_GPA + 0x5000;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0, epm_unmap_at(sp->fd, gpa, SZ_4K));
	query_ok(_metadata, sp->fd, gpa, &q);
	assert_unmapped(_metadata, &q, 3);
	query_ok(_metadata, sp->fd, gpa + SZ_4K, &q);
	assert_walk(_metadata, &q, 1,
		    (self->hpa + 0x6000) | KPT_P | KPT_W | KPT_U | KPT_PINW |
		    KPT_NX,
		    (self->hpa + 0x6000) | EPT_R | EPT_W | EPT_WB | EPT_PINW);
	query_ok(_metadata, sp->fd, JUMBO_GPA, &q);
	ASSERT_EQ(1, q.level);
	ASSERT_EQ(self->hpa, q.hpa);
	/* one more table pair, the 2M became 511 4K leaves, one pin less */
	assert_stats(_metadata, sp->fd, SETUP_PAIRS + 1,
		     SETUP_PAGES * SZ_4K + SZ_2M - SZ_4K, 0, 0,
		     SETUP_PAGES + 511, 1);
	ASSERT_EQ(sp->pins - 1, epm_pins_exact());
	assert_check_clean(_metadata, sp->fd);
}

TEST_F(jumbo, protect_4k_inside_splits_the_leaf)
{
	struct space *sp = &self->sp;
	uint64_t gpa = JUMBO_GPA + 0x7000;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0, epm_protect_at(sp->fd, gpa, SZ_4K, R));
	query_ok(_metadata, sp->fd, gpa, &q);
	ASSERT_EQ(R, q.perm);
	assert_walk(_metadata, &q, 1,
		    (self->hpa + 0x7000) | KPT_P | KPT_U | KPT_PINW | KPT_NX,
		    (self->hpa + 0x7000) | EPT_R | EPT_WB | EPT_PINW);
	query_ok(_metadata, sp->fd, gpa - SZ_4K, &q);
	ASSERT_EQ(RW, q.perm);
	ASSERT_EQ(1, q.level);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS + 1,
		     SETUP_PAGES * SZ_4K + SZ_2M, 0, 0, SETUP_PAGES + 512, 1);
	ASSERT_EQ(sp->pins, epm_pins_exact());
	assert_check_clean(_metadata, sp->fd);
}

TEST_F(jumbo, protect_the_whole_leaf_keeps_it_2m)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0, epm_protect_at(sp->fd, JUMBO_GPA, SZ_2M, RX));
	query_ok(_metadata, sp->fd, JUMBO_GPA + SZ_4K, &q);
	ASSERT_EQ(RX, q.perm);
	assert_walk(_metadata, &q, 2,
		    self->hpa | KPT_P | KPT_U | KPT_PS | KPT_PINW,
		    self->hpa | EPT_R | EPT_X | EPT_WB | EPT_PS | EPT_PINW);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, SZ_2M,
		     0, SETUP_PAGES + 512, 1);
}

TEST_F(jumbo, unmap_the_whole_leaf)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0, epm_unmap_at(sp->fd, JUMBO_GPA, SZ_2M));
	query_ok(_metadata, sp->fd, JUMBO_GPA, &q);
	assert_unmapped(_metadata, &q, 2);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0, 0,
		     SETUP_PAGES, 1);
	ASSERT_EQ(sp->pins - 512, epm_pins_exact());
}

TEST_F(jumbo, max_page_4k_maps_thp_as_4k_leaves)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0, epm_unmap_at(sp->fd, JUMBO_GPA, SZ_2M));
	ASSERT_EQ(0, map_call(sp->fd, JUMBO_GPA, SZ_2M, self->thp, RW, 0,
			      EPM_PAGE_4K));
	query_ok(_metadata, sp->fd, JUMBO_GPA + 0x10000, &q);
	ASSERT_EQ(1, q.level);
	ASSERT_EQ(self->hpa + 0x10000, q.hpa);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS + 1,
		     SETUP_PAGES * SZ_4K + SZ_2M, 0, 0, SETUP_PAGES + 512, 1);
}

TEST_F(jumbo, max_page_2m_allows_the_2m_leaf)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0, epm_unmap_at(sp->fd, JUMBO_GPA, SZ_2M));
	ASSERT_EQ(0, map_call(sp->fd, JUMBO_GPA, SZ_2M, self->thp, RW, 0,
			      EPM_PAGE_2M));
	query_ok(_metadata, sp->fd, JUMBO_GPA, &q);
	ASSERT_EQ(2, q.level);
	ASSERT_EQ(self->hpa, q.hpa);
}

TEST_F(jumbo, unaligned_frame_gives_4k_leaves)
{
	struct space *sp = &self->sp;
	struct epm_stats s;

	NEED_THP();
	ASSERT_EQ(0, epm_unmap_at(sp->fd, JUMBO_GPA, SZ_2M));
	/* gpa 2M aligned, frame 4K past a 2M boundary */
	ASSERT_EQ(0, epm_map_at(sp->fd, JUMBO_GPA, SZ_2M, self->thp + SZ_4K,
				RW));
	ASSERT_EQ(0, epm_stats_of(sp->fd, &s));
	ASSERT_EQ(0ULL, s.mapped_2m);
	ASSERT_EQ(SETUP_PAGES * SZ_4K + SZ_2M, s.mapped_4k);
	assert_check_clean(_metadata, sp->fd);
}

TEST_F(jumbo, unaligned_gpa_gives_4k_leaves)
{
	struct space *sp = &self->sp;
	struct epm_stats s;

	NEED_THP();
	ASSERT_EQ(0, epm_unmap_at(sp->fd, JUMBO_GPA, SZ_2M));
	ASSERT_EQ(0, epm_map_at(sp->fd, JUMBO_GPA + SZ_4K, SZ_2M, self->thp,
				RW));
	ASSERT_EQ(0, epm_stats_of(sp->fd, &s));
	ASSERT_EQ(0ULL, s.mapped_2m);
	ASSERT_EQ(SETUP_PAGES * SZ_4K + SZ_2M, s.mapped_4k);
	assert_check_clean(_metadata, sp->fd);
}

TEST_F(jumbo, memtype_wt_uses_pat_bit_12)
{
	struct space *sp = &self->sp;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0, epm_unmap_at(sp->fd, JUMBO_GPA, SZ_2M));
	ASSERT_EQ(0, map_call(sp->fd, JUMBO_GPA, SZ_2M, self->thp, RW,
			      EPM_MEMTYPE_WT, 0));
	query_ok(_metadata, sp->fd, JUMBO_GPA, &q);
	ASSERT_EQ(EPM_MEMTYPE_WT, q.memtype);
	assert_walk(_metadata, &q, 2,
		    self->hpa | KPT_P | KPT_W | KPT_U | KPT_PS | KPT_PAT_LARGE |
		    KPT_PCD | KPT_PWT | KPT_PINW | KPT_NX,
		    self->hpa | EPT_R | EPT_W | EPT_WT | EPT_PS | EPT_PINW);
	assert_check_clean(_metadata, sp->fd);
}

TEST_F(jumbo, split_keeps_memtype_and_ad)
{
	struct space *sp = &self->sp;
	uint64_t hpa = self->hpa + 0x3000;
	struct epm_query q;

	NEED_THP();
	ASSERT_EQ(0, epm_unmap_at(sp->fd, JUMBO_GPA, SZ_2M));
	ASSERT_EQ(0, map_call(sp->fd, JUMBO_GPA, SZ_2M, self->thp,
			      RW | EPM_MAP_AD, EPM_MEMTYPE_WP, 0));
	ASSERT_EQ(0, epm_unmap_at(sp->fd, JUMBO_GPA, SZ_4K));
	query_ok(_metadata, sp->fd, JUMBO_GPA + 0x3000, &q);
	ASSERT_EQ(EPM_MEMTYPE_WP, q.memtype);
	/* 4K leaves: the PAT bit moves from 12 to 7 */
	assert_walk(_metadata, &q, 1,
		    hpa | KPT_P | KPT_W | KPT_U | KPT_PAT_4K | KPT_PWT | KPT_A |
		    KPT_D | KPT_PINW | KPT_NX,
		    hpa | EPT_R | EPT_W | EPT_WP | EPT_A | EPT_D | EPT_PINW);
	assert_check_clean(_metadata, sp->fd);
}

TEST_F(jumbo, close_unpins_the_2m_leaf)
{
	struct space *sp = &self->sp;

	NEED_THP();
	ASSERT_EQ(0, close(sp->fd));
	sp->fd = -1;
	ASSERT_EQ(sp->pins - 512 - SETUP_PAGES, epm_pins_exact());
}

/* --- 1G leaves from hugetlbfs (boot with hugepagesz=1G hugepages=1) ------- */

#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << 26)
#endif

TEST_F(abi, hugetlb_1g_maps_as_one_1g_leaf_and_splits)
{
	struct space *sp = &self->sp;
	uint64_t hpa, gpa = 2 * SZ_1G;
	struct epm_query q;
	uint8_t *p;

	if (!(sp->caps.map_sizes & (1u << EPM_PAGE_1G)))
		SKIP(return, "no 1G leaves on this CPU");
	p = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB,
		 -1, 0);
	if (p == MAP_FAILED)
		SKIP(return, "no 1 GiB huge page reserved");
	p[0] = 1;
	hpa = hpa_of(_metadata, p);
	ASSERT_EQ(0ULL, hpa & (SZ_1G - 1));
	ASSERT_EQ(0, epm_map_at(sp->fd, gpa, SZ_1G, p, RW));
	query_ok(_metadata, sp->fd, gpa + 0x12345678, &q);
	ASSERT_EQ(hpa + 0x12345678, q.hpa);
	assert_walk(_metadata, &q, 3,
		    hpa | KPT_P | KPT_W | KPT_U | KPT_PS | KPT_PINW | KPT_NX,
		    hpa | EPT_R | EPT_W | EPT_WB | EPT_PS | EPT_PINW);
	assert_stats(_metadata, sp->fd, SETUP_PAIRS, SETUP_PAGES * SZ_4K, 0,
		     SZ_1G, SETUP_PAGES + SZ_1G / SZ_4K, 0);
	/* one 4K out of the middle: 1G -> 2M leaves -> 4K leaves */
	ASSERT_EQ(0, epm_unmap_at(sp->fd, gpa + SZ_2M + SZ_4K, SZ_4K));
	assert_stats(_metadata, sp->fd, SETUP_PAIRS + 2,
		     SETUP_PAGES * SZ_4K + SZ_2M - SZ_4K, SZ_1G - SZ_2M, 0,
		     SETUP_PAGES + SZ_1G / SZ_4K - 1, 1);
	query_ok(_metadata, sp->fd, gpa + SZ_1G - 1, &q);
	ASSERT_EQ(2, q.level);
	ASSERT_EQ(hpa + SZ_1G - 1, q.hpa);
	assert_check_clean(_metadata, sp->fd);
	ASSERT_EQ(0, epm_unmap_at(sp->fd, gpa, SZ_1G));
	munmap(p, SZ_1G);
}

/* --- MAP: one bad argument each ------------------------------------------- */

FIXTURE(map_bad) {
	struct space sp;
};

FIXTURE_VARIANT(map_bad) {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;		/* offset into spare memory ... */
	bool uaddr_abs;		/* ... or this address itself */
	uint32_t flags;
	uint8_t memtype;
	uint8_t max_page;
	uint16_t pad;
	uint64_t reserved[2];
	int err;
};

FIXTURE_SETUP(map_bad)
{
	self->sp.fd = -1;
	space_setup(_metadata, &self->sp);
}

FIXTURE_TEARDOWN(map_bad)
{
	space_teardown(&self->sp);
}

#define MAP_BAD(name, _gpa, _size, _flags, _err, ...)			\
	FIXTURE_VARIANT_ADD(map_bad, name) {				\
		.gpa = _gpa, .size = _size, .flags = _flags,		\
		.err = _err, __VA_ARGS__				\
	}

MAP_BAD(gpa_half_page, FREE_GPA + 0x800, SZ_4K, RW, EINVAL);
MAP_BAD(gpa_one_byte_in, FREE_GPA + 1, SZ_4K, RW, EINVAL);
MAP_BAD(gpa_last_byte_of_page, FREE_GPA + 0xfff, SZ_4K, RW, EINVAL);
MAP_BAD(size_zero, FREE_GPA, 0, RW, EINVAL);
MAP_BAD(size_one_byte, FREE_GPA, 1, RW, EINVAL);
MAP_BAD(size_below_a_page, FREE_GPA, 0xfff, RW, EINVAL);
MAP_BAD(size_page_and_a_half, FREE_GPA, 0x1800, RW, EINVAL);
MAP_BAD(size_page_plus_one, FREE_GPA, SZ_4K + 1, RW, EINVAL);
MAP_BAD(uaddr_16_bytes_in, FREE_GPA, SZ_4K, RW, EINVAL, .uaddr = 0x10);
MAP_BAD(uaddr_half_page_in, FREE_GPA, SZ_4K, RW, EINVAL, .uaddr = 0x800);
MAP_BAD(gpa_2_48, GPA_LIMIT, SZ_4K, RW, EINVAL);
MAP_BAD(gpa_2_52, 1ULL << 52, SZ_4K, RW, EINVAL);
MAP_BAD(gpa_bit_63, 1ULL << 63, SZ_4K, RW, EINVAL);
MAP_BAD(gpa_last_page_of_u64, 0xfffffffffffff000ULL, SZ_4K, RW, EINVAL);
MAP_BAD(end_one_page_past_2_48, TOP_GPA, 2 * SZ_4K, RW, EINVAL);
MAP_BAD(end_far_past_2_48, FREE_GPA, GPA_LIMIT, RW, EINVAL);
MAP_BAD(size_2_48_plus_page, 0, GPA_LIMIT + SZ_4K, RW, EINVAL);
MAP_BAD(size_wraps_to_zero, FREE_GPA, 0 - FREE_GPA, RW, EINVAL);
MAP_BAD(size_wraps_past_zero, FREE_GPA, 0 - FREE_GPA + SZ_4K, RW, EINVAL);
MAP_BAD(size_all_ones_pages, FREE_GPA, ~0xfffULL, RW, EINVAL);
MAP_BAD(perm_none, FREE_GPA, SZ_4K, 0, EINVAL);
MAP_BAD(perm_w_without_r, FREE_GPA, SZ_4K, EPM_PERM_W, EINVAL);
MAP_BAD(perm_wx_without_r, FREE_GPA, SZ_4K, EPM_PERM_W | EPM_PERM_X,
	EINVAL);
MAP_BAD(ipat_without_perm, FREE_GPA, SZ_4K, EPM_MAP_IPAT, EINVAL);
MAP_BAD(ad_without_perm, FREE_GPA, SZ_4K, EPM_MAP_AD, EINVAL);
MAP_BAD(ipat_ad_without_perm, FREE_GPA, SZ_4K, EPM_MAP_IPAT | EPM_MAP_AD,
	EINVAL);
MAP_BAD(w_ipat_ad_without_r, FREE_GPA, SZ_4K,
	EPM_PERM_W | EPM_MAP_IPAT | EPM_MAP_AD, EINVAL);
MAP_BAD(flag_bit_3, FREE_GPA, SZ_4K, RW | 0x8, EINVAL);
MAP_BAD(flag_bit_7, FREE_GPA, SZ_4K, RW | 0x80, EINVAL);
MAP_BAD(flag_bit_10, FREE_GPA, SZ_4K, RW | 0x400, EINVAL);
MAP_BAD(flag_bit_31, FREE_GPA, SZ_4K, RW | 0x80000000u, EINVAL);
MAP_BAD(memtype_5, FREE_GPA, SZ_4K, RW, EINVAL, .memtype = 5);
/* the EPT encoding of WB is not a uapi memory type */
MAP_BAD(memtype_6_ept_wb, FREE_GPA, SZ_4K, RW, EINVAL, .memtype = 6);
MAP_BAD(memtype_7, FREE_GPA, SZ_4K, RW, EINVAL, .memtype = 7);
MAP_BAD(memtype_255, FREE_GPA, SZ_4K, RW, EINVAL, .memtype = 255);
MAP_BAD(max_page_4, FREE_GPA, SZ_4K, RW, EINVAL, .max_page = 4);
MAP_BAD(max_page_255, FREE_GPA, SZ_4K, RW, EINVAL, .max_page = 255);
MAP_BAD(pad_bit_0, FREE_GPA, SZ_4K, RW, EINVAL, .pad = 1);
MAP_BAD(pad_bit_15, FREE_GPA, SZ_4K, RW, EINVAL, .pad = 0x8000);
MAP_BAD(reserved_0_bit_0, FREE_GPA, SZ_4K, RW, EINVAL, .reserved = { 1, 0 });
MAP_BAD(reserved_0_bit_63, FREE_GPA, SZ_4K, RW, EINVAL,
	.reserved = { 1ULL << 63, 0 });
MAP_BAD(reserved_1_bit_0, FREE_GPA, SZ_4K, RW, EINVAL, .reserved = { 0, 1 });
MAP_BAD(reserved_1_bit_63, FREE_GPA, SZ_4K, RW, EINVAL,
	.reserved = { 0, 1ULL << 63 });
MAP_BAD(uaddr_null, FREE_GPA, SZ_4K, RW, EFAULT, .uaddr_abs = true);
MAP_BAD(uaddr_null_readonly, FREE_GPA, SZ_4K, R, EFAULT, .uaddr_abs = true);
MAP_BAD(uaddr_kernel, FREE_GPA, SZ_4K, RW, EFAULT, .uaddr_abs = true,
	.uaddr = KERNEL_PTR);
MAP_BAD(uaddr_non_canonical, FREE_GPA, SZ_4K, RW, EFAULT, .uaddr_abs = true,
	.uaddr = 0x0000800000000000ULL);
MAP_BAD(uaddr_range_wraps, FREE_GPA, 2 * SZ_4K, RW, EFAULT,
	.uaddr_abs = true, .uaddr = 0xfffffffffffff000ULL);
MAP_BAD(uaddr_end_of_user_space, FREE_GPA, 2 * SZ_4K, RW, EFAULT,
	.uaddr_abs = true, .uaddr = 0x00007ffffffff000ULL);

TEST_F(map_bad, rejected_and_nothing_changes)
{
	struct space *sp = &self->sp;
	struct epm_map m = {
		.gpa = variant->gpa,
		.size = variant->size,
		.flags = variant->flags,
		.memtype = variant->memtype,
		.max_page = variant->max_page,
		.pad = variant->pad,
		.reserved = { variant->reserved[0], variant->reserved[1] },
	};

	m.uaddr = variant->uaddr_abs ? variant->uaddr :
		  (uintptr_t)pg(sp, SPARE_PAGE) + variant->uaddr;
	ASSERT_FAILS(variant->err, ioctl(sp->fd, EPM_IOC_MAP, &m));
}

/* --- UNMAP and PROTECT: one bad range or field each ----------------------- */

FIXTURE(range_bad) {
	struct space sp;
};

FIXTURE_VARIANT(range_bad) {
	uint64_t gpa;
	uint64_t size;
	uint32_t pad;
	uint64_t reserved;
};

FIXTURE_SETUP(range_bad)
{
	self->sp.fd = -1;
	space_setup(_metadata, &self->sp);
}

FIXTURE_TEARDOWN(range_bad)
{
	space_teardown(&self->sp);
}

#define RANGE_BAD(name, _gpa, _size, ...)				\
	FIXTURE_VARIANT_ADD(range_bad, name) {				\
		.gpa = _gpa, .size = _size, __VA_ARGS__			\
	}

/* Each would be fine on BASE_GPA but for the one bad field. */
RANGE_BAD(gpa_half_page, BASE_GPA + 0x800, SZ_4K);
RANGE_BAD(gpa_one_byte_in, BASE_GPA + 1, SZ_4K);
RANGE_BAD(size_zero, BASE_GPA, 0);
RANGE_BAD(size_one_byte, BASE_GPA, 1);
RANGE_BAD(size_page_and_a_half, BASE_GPA, 0x1800);
RANGE_BAD(gpa_2_48, GPA_LIMIT, SZ_4K);
RANGE_BAD(gpa_bit_63, 1ULL << 63, SZ_4K);
RANGE_BAD(end_one_page_past_2_48, TOP_GPA, 2 * SZ_4K);
RANGE_BAD(size_2_48_plus_page, 0, GPA_LIMIT + SZ_4K);
RANGE_BAD(size_wraps_to_zero, BASE_GPA, 0 - BASE_GPA);
RANGE_BAD(size_wraps_past_zero, BASE_GPA, 0 - BASE_GPA + SZ_4K);
RANGE_BAD(size_all_ones_pages, BASE_GPA, ~0xfffULL);
RANGE_BAD(pad_bit_0, BASE_GPA, SZ_4K, .pad = 1);
RANGE_BAD(pad_bit_31, BASE_GPA, SZ_4K, .pad = 0x80000000u);
RANGE_BAD(reserved_bit_0, BASE_GPA, SZ_4K, .reserved = 1);
RANGE_BAD(reserved_bit_63, BASE_GPA, SZ_4K, .reserved = 1ULL << 63);

TEST_F(range_bad, unmap_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_range r = {
		.gpa = variant->gpa, .size = variant->size,
		.pad = variant->pad, .reserved = variant->reserved,
	};

	ASSERT_FAILS(EINVAL, ioctl(sp->fd, EPM_IOC_UNMAP, &r));
}

TEST_F(range_bad, protect_fails_einval)
{
	struct space *sp = &self->sp;
	struct epm_range r = {
		.gpa = variant->gpa, .size = variant->size, .perm = R,
		.pad = variant->pad, .reserved = variant->reserved,
	};

	ASSERT_FAILS(EINVAL, ioctl(sp->fd, EPM_IOC_PROTECT, &r));
}

/* --- fields that must be zero on input, one each -------------------------- */

enum arg_kind { K_CAPS, K_MAP, K_UNMAP, K_PROTECT, K_QUERY, K_DUMP, K_CHECK,
		K_EPTP, K_STATS };

static const struct {
	unsigned long cmd;
	size_t size;
} kinds[] = {
	[K_CAPS] = { EPM_IOC_CAPS, sizeof(struct epm_caps) },
	[K_MAP] = { EPM_IOC_MAP, sizeof(struct epm_map) },
	[K_UNMAP] = { EPM_IOC_UNMAP, sizeof(struct epm_range) },
	[K_PROTECT] = { EPM_IOC_PROTECT, sizeof(struct epm_range) },
	[K_QUERY] = { EPM_IOC_QUERY, sizeof(struct epm_query) },
	[K_DUMP] = { EPM_IOC_DUMP, sizeof(struct epm_dump) },
	[K_CHECK] = { EPM_IOC_CHECK, sizeof(struct epm_check) },
	[K_EPTP] = { EPM_IOC_EPTP, sizeof(struct epm_eptp) },
	[K_STATS] = { EPM_IOC_STATS, sizeof(struct epm_stats) },
};

union arg {
	struct epm_caps caps;
	struct epm_map map;
	struct epm_range range;
	struct epm_query query;
	struct epm_dump dump;
	struct epm_check check;
	struct epm_eptp eptp;
	struct epm_stats stats;
};

static struct epm_dump_entry arg_dump_buf[64];

/* An argument of @kind that succeeds (and would change the space). */
static void valid_arg(struct space *sp, enum arg_kind kind, union arg *a)
{
	memset(a, 0, sizeof(*a));
	switch (kind) {
	case K_MAP:
		a->map.gpa = FREE_GPA;
		a->map.size = SZ_4K;
		a->map.uaddr = (uintptr_t)pg(sp, SPARE_PAGE);
		a->map.flags = RW;
		break;
	case K_UNMAP:
		a->range.gpa = BASE_GPA;
		a->range.size = SZ_4K;
		break;
	case K_PROTECT:
		a->range.gpa = BASE_GPA;
		a->range.size = SZ_4K;
		a->range.perm = R;
		break;
	case K_QUERY:
		a->query.gpa = BASE_GPA;
		break;
	case K_DUMP:
		a->dump.buf = (uintptr_t)arg_dump_buf;
		a->dump.count = 64;
		break;
	default:
		break;
	}
}

FIXTURE(zero_field) {
	struct space sp;
};

FIXTURE_VARIANT(zero_field) {
	enum arg_kind kind;
	size_t offset;
	size_t width;
	uint64_t value;
};

FIXTURE_SETUP(zero_field)
{
	self->sp.fd = -1;
	space_setup(_metadata, &self->sp);
}

FIXTURE_TEARDOWN(zero_field)
{
	space_teardown(&self->sp);
}

#define ZERO_FIELD(name, _kind, type, field, _value)			\
	FIXTURE_VARIANT_ADD(zero_field, name) {				\
		.kind = _kind,						\
		.offset = offsetof(type, field),			\
		.width = sizeof(((type *)0)->field),			\
		.value = _value,					\
	}

ZERO_FIELD(unmap_perm_r, K_UNMAP, struct epm_range, perm, R);
ZERO_FIELD(unmap_perm_bit_31, K_UNMAP, struct epm_range, perm, 1u << 31);
ZERO_FIELD(protect_pad, K_PROTECT, struct epm_range, pad, 1);
ZERO_FIELD(protect_reserved, K_PROTECT, struct epm_range, reserved, 1);
ZERO_FIELD(query_flags, K_QUERY, struct epm_query, flags, 1);
ZERO_FIELD(query_level, K_QUERY, struct epm_query, level, 1);
ZERO_FIELD(query_kpte_0, K_QUERY, struct epm_query, kpte[0], 1);
ZERO_FIELD(query_kpte_1, K_QUERY, struct epm_query, kpte[1], 1);
ZERO_FIELD(query_kpte_2, K_QUERY, struct epm_query, kpte[2], 1);
ZERO_FIELD(query_kpte_3, K_QUERY, struct epm_query, kpte[3], 1ULL << 63);
ZERO_FIELD(query_epte_0, K_QUERY, struct epm_query, epte[0], 1);
ZERO_FIELD(query_epte_1, K_QUERY, struct epm_query, epte[1], 1);
ZERO_FIELD(query_epte_2, K_QUERY, struct epm_query, epte[2], 1);
ZERO_FIELD(query_epte_3, K_QUERY, struct epm_query, epte[3], 1ULL << 63);
ZERO_FIELD(query_hpa, K_QUERY, struct epm_query, hpa, 0x1000);
ZERO_FIELD(query_page_size, K_QUERY, struct epm_query, page_size, 0x1000);
ZERO_FIELD(query_perm, K_QUERY, struct epm_query, perm, R);
ZERO_FIELD(query_kpt_perm, K_QUERY, struct epm_query, kpt_perm, R);
ZERO_FIELD(query_memtype, K_QUERY, struct epm_query, memtype, 1);
ZERO_FIELD(query_pad_0, K_QUERY, struct epm_query, pad[0], 1);
ZERO_FIELD(query_pad_1, K_QUERY, struct epm_query, pad[1], 1);
ZERO_FIELD(query_pad_2, K_QUERY, struct epm_query, pad[2], 0x80);
ZERO_FIELD(query_map_flags, K_QUERY, struct epm_query, map_flags,
	   EPM_MAP_IPAT);
ZERO_FIELD(query_reserved_0, K_QUERY, struct epm_query, reserved[0], 1);
ZERO_FIELD(query_reserved_1, K_QUERY, struct epm_query, reserved[1], 1);
ZERO_FIELD(dump_flags_bit_1, K_DUMP, struct epm_dump, flags, 2);
ZERO_FIELD(dump_reserved_0, K_DUMP, struct epm_dump, reserved[0], 1);
ZERO_FIELD(dump_reserved_1, K_DUMP, struct epm_dump, reserved[1], 1);
ZERO_FIELD(check_flags, K_CHECK, struct epm_check, flags, 1);
ZERO_FIELD(check_why, K_CHECK, struct epm_check, why, 1);
ZERO_FIELD(check_mismatches, K_CHECK, struct epm_check, mismatches, 1);
ZERO_FIELD(check_gpa, K_CHECK, struct epm_check, gpa, 0x1000);
ZERO_FIELD(check_kpte, K_CHECK, struct epm_check, kpte, 1);
ZERO_FIELD(check_epte, K_CHECK, struct epm_check, epte, 1);
ZERO_FIELD(check_level, K_CHECK, struct epm_check, level, 1);
ZERO_FIELD(check_pad, K_CHECK, struct epm_check, pad, 1);
ZERO_FIELD(check_reserved_0, K_CHECK, struct epm_check, reserved[0], 1);
ZERO_FIELD(check_reserved_1, K_CHECK, struct epm_check, reserved[1], 1);
ZERO_FIELD(eptp_flags_bit_1, K_EPTP, struct epm_eptp, flags, 2);
ZERO_FIELD(eptp_flags_bit_31, K_EPTP, struct epm_eptp, flags, 1u << 31);
ZERO_FIELD(eptp_pad, K_EPTP, struct epm_eptp, pad, 1);
ZERO_FIELD(eptp_eptp, K_EPTP, struct epm_eptp, eptp, 0x1e);
ZERO_FIELD(eptp_kpt_root, K_EPTP, struct epm_eptp, kpt_root, 0x1000);
ZERO_FIELD(eptp_reserved_0, K_EPTP, struct epm_eptp, reserved[0], 1);
ZERO_FIELD(eptp_reserved_1, K_EPTP, struct epm_eptp, reserved[1], 1);

TEST_F(zero_field, non_zero_fails_einval_then_zero_succeeds)
{
	struct space *sp = &self->sp;
	unsigned long cmd = kinds[variant->kind].cmd;
	uint8_t *field;
	union arg a;

	valid_arg(sp, variant->kind, &a);
	field = (uint8_t *)&a + variant->offset;
	ASSERT_GE(sizeof(variant->value), variant->width);
	/* little endian: the low bytes of value */
	memcpy(field, &variant->value, variant->width);
	ASSERT_FAILS(EINVAL, ioctl(sp->fd, cmd, &a));
	/* the same argument with the field zero goes through */
	valid_arg(sp, variant->kind, &a);
	ASSERT_EQ(0, ioctl(sp->fd, cmd, &a)) TH_LOG("%s", strerror(errno));
}

/* --- bad argument pointers, for every command ----------------------------- */

enum ptr_kind {
	P_NULL,		/* NULL */
	P_UNMAPPED,	/* nothing mapped there */
	P_KERNEL,	/* a kernel address */
	P_STRADDLE,	/* starts readable, runs into an unmapped page */
	P_READONLY,	/* valid input in a page that cannot be written */
};

FIXTURE(bad_ptr) {
	struct space sp;
};

FIXTURE_VARIANT(bad_ptr) {
	enum arg_kind kind;
	enum ptr_kind where;
};

FIXTURE_SETUP(bad_ptr)
{
	self->sp.fd = -1;
	space_setup(_metadata, &self->sp);
}

FIXTURE_TEARDOWN(bad_ptr)
{
	space_teardown(&self->sp);
}

#define BAD_PTR(name, _kind, _where)					\
	FIXTURE_VARIANT_ADD(bad_ptr, name) {				\
		.kind = _kind, .where = _where,				\
	}

BAD_PTR(caps_null, K_CAPS, P_NULL);
BAD_PTR(caps_unmapped, K_CAPS, P_UNMAPPED);
BAD_PTR(caps_kernel, K_CAPS, P_KERNEL);
BAD_PTR(caps_straddling, K_CAPS, P_STRADDLE);
BAD_PTR(caps_read_only, K_CAPS, P_READONLY);
BAD_PTR(map_null, K_MAP, P_NULL);
BAD_PTR(map_unmapped, K_MAP, P_UNMAPPED);
BAD_PTR(map_kernel, K_MAP, P_KERNEL);
BAD_PTR(map_straddling, K_MAP, P_STRADDLE);
BAD_PTR(unmap_null, K_UNMAP, P_NULL);
BAD_PTR(unmap_unmapped, K_UNMAP, P_UNMAPPED);
BAD_PTR(unmap_kernel, K_UNMAP, P_KERNEL);
BAD_PTR(unmap_straddling, K_UNMAP, P_STRADDLE);
BAD_PTR(protect_null, K_PROTECT, P_NULL);
BAD_PTR(protect_unmapped, K_PROTECT, P_UNMAPPED);
BAD_PTR(protect_kernel, K_PROTECT, P_KERNEL);
BAD_PTR(protect_straddling, K_PROTECT, P_STRADDLE);
BAD_PTR(query_null, K_QUERY, P_NULL);
BAD_PTR(query_unmapped, K_QUERY, P_UNMAPPED);
BAD_PTR(query_kernel, K_QUERY, P_KERNEL);
BAD_PTR(query_straddling, K_QUERY, P_STRADDLE);
BAD_PTR(query_read_only, K_QUERY, P_READONLY);
BAD_PTR(dump_null, K_DUMP, P_NULL);
BAD_PTR(dump_unmapped, K_DUMP, P_UNMAPPED);
BAD_PTR(dump_kernel, K_DUMP, P_KERNEL);
BAD_PTR(dump_straddling, K_DUMP, P_STRADDLE);
BAD_PTR(dump_read_only, K_DUMP, P_READONLY);
BAD_PTR(check_null, K_CHECK, P_NULL);
BAD_PTR(check_unmapped, K_CHECK, P_UNMAPPED);
BAD_PTR(check_kernel, K_CHECK, P_KERNEL);
BAD_PTR(check_straddling, K_CHECK, P_STRADDLE);
BAD_PTR(check_read_only, K_CHECK, P_READONLY);
BAD_PTR(eptp_null, K_EPTP, P_NULL);
BAD_PTR(eptp_unmapped, K_EPTP, P_UNMAPPED);
BAD_PTR(eptp_kernel, K_EPTP, P_KERNEL);
BAD_PTR(eptp_straddling, K_EPTP, P_STRADDLE);
BAD_PTR(eptp_read_only, K_EPTP, P_READONLY);
BAD_PTR(stats_null, K_STATS, P_NULL);
BAD_PTR(stats_unmapped, K_STATS, P_UNMAPPED);
BAD_PTR(stats_kernel, K_STATS, P_KERNEL);
BAD_PTR(stats_straddling, K_STATS, P_STRADDLE);
BAD_PTR(stats_read_only, K_STATS, P_READONLY);

TEST_F(bad_ptr, fails_efault)
{
	struct space *sp = &self->sp;
	size_t size = kinds[variant->kind].size;
	uint8_t *page = NULL;
	void *ptr = NULL;
	union arg a;

	valid_arg(sp, variant->kind, &a);
	switch (variant->where) {
	case P_NULL:
		break;
	case P_UNMAPPED:
		ptr = unmapped_addr(SZ_4K);
		ASSERT_NE(NULL, ptr);
		break;
	case P_KERNEL:
		ptr = (void *)KERNEL_PTR;
		break;
	case P_STRADDLE:
		page = mmap(NULL, 2 * SZ_4K, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, page);
		ASSERT_EQ(0, munmap(page + SZ_4K, SZ_4K));
		/* the first half is there and valid, the rest is not */
		ptr = page + SZ_4K - size / 2;
		memcpy(ptr, &a, size / 2);
		break;
	case P_READONLY:
		page = mmap(NULL, SZ_4K, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, page);
		memcpy(page, &a, size);
		ASSERT_EQ(0, mprotect(page, SZ_4K, PROT_READ));
		ptr = page;
		break;
	}
	ASSERT_FAILS(EFAULT, ioctl(sp->fd, kinds[variant->kind].cmd, ptr));
}

/* --- unknown commands ----------------------------------------------------- */

FIXTURE(bad_cmd) {
	struct space sp;
};

FIXTURE_VARIANT(bad_cmd) {
	unsigned long cmd;
};

FIXTURE_SETUP(bad_cmd)
{
	self->sp.fd = -1;
	space_setup(_metadata, &self->sp);
}

FIXTURE_TEARDOWN(bad_cmd)
{
	space_teardown(&self->sp);
}

#define BAD_CMD(name, _cmd)						\
	FIXTURE_VARIANT_ADD(bad_cmd, name) { .cmd = _cmd }

BAD_CMD(wrong_magic_version, _IO(EPM_IOC_MAGIC + 1, 0x00));
BAD_CMD(wrong_magic_map, _IOW(EPM_IOC_MAGIC + 1, 0x02, struct epm_map));
BAD_CMD(wrong_magic_stats, _IOR(EPM_IOC_MAGIC - 1, 0x09, struct epm_stats));
/* 0x0a is RUN's number; these encodings are not RUN's */
BAD_CMD(nr_0a_no_argument, _IO(EPM_IOC_MAGIC, 0x0a));
BAD_CMD(nr_0a_range_argument, _IOW(EPM_IOC_MAGIC, 0x0a, struct epm_range));
BAD_CMD(nr_0b, _IOWR(EPM_IOC_MAGIC, 0x0b, struct epm_map));
BAD_CMD(nr_ff, _IO(EPM_IOC_MAGIC, 0xff));
BAD_CMD(nr_ff_with_argument, _IOWR(EPM_IOC_MAGIC, 0xff, struct epm_query));
BAD_CMD(version_with_size, _IOR(EPM_IOC_MAGIC, 0x00, __u32));
BAD_CMD(caps_written_not_read, _IOW(EPM_IOC_MAGIC, 0x01, struct epm_caps));
BAD_CMD(caps_short, _IOR(EPM_IOC_MAGIC, 0x01, struct epm_map));
BAD_CMD(map_with_range_size, _IOW(EPM_IOC_MAGIC, 0x02, struct epm_range));
BAD_CMD(map_read_not_written, _IOR(EPM_IOC_MAGIC, 0x02, struct epm_map));
BAD_CMD(map_size_plus_8, _IOC(_IOC_WRITE, EPM_IOC_MAGIC, 0x02,
			      sizeof(struct epm_map) + 8));
BAD_CMD(unmap_no_argument, _IO(EPM_IOC_MAGIC, 0x03));
BAD_CMD(protect_with_map_size, _IOW(EPM_IOC_MAGIC, 0x04, struct epm_map));
BAD_CMD(query_write_only, _IOW(EPM_IOC_MAGIC, 0x05, struct epm_query));
BAD_CMD(dump_no_direction, _IOC(_IOC_NONE, EPM_IOC_MAGIC, 0x06,
				sizeof(struct epm_dump)));
BAD_CMD(check_size_minus_8, _IOC(_IOC_READ | _IOC_WRITE, EPM_IOC_MAGIC, 0x07,
				 sizeof(struct epm_check) - 8));
BAD_CMD(eptp_read_only, _IOR(EPM_IOC_MAGIC, 0x08, struct epm_eptp));
BAD_CMD(stats_size_minus_8, _IOC(_IOC_READ, EPM_IOC_MAGIC, 0x09,
				 sizeof(struct epm_stats) - 8));

TEST_F(bad_cmd, fails_enotty)
{
	struct space *sp = &self->sp;
	static uint8_t buf[4096];

	ASSERT_FAILS(ENOTTY, ioctl(sp->fd, variant->cmd, buf));
}

/* Without the device, one line says so instead of every test failing. */
int main(int argc, char **argv)
{
	if (access(EPM_DEV, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("no %s: load ept_pmap first\n", EPM_DEV);
	}
	return test_harness_run(argc, argv);
}
