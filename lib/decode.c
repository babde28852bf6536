// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libept-pmap: what the ABI's numbers mean. Exit-reason names come from the
 * kernel's own uapi tables (<asm/vmx.h> VMX_EXIT_REASONS, <asm/svm.h>
 * SVM_EXIT_REASONS), errno names from the C library (strerrorname_np).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <asm/kvm.h>	/* the *_VECTOR numbers SVM_EXIT_REASONS uses */
#include <asm/svm.h>
#include <asm/vmx.h>

#include "ept-pmap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

const char *ept_pmap_lib_version(void)
{
	return EPT_PMAP_LIB_VERSION;
}

const char *ept_pmap_errno_name(int err)
{
	static __thread char buf[16];
	const char *name;

	if (err < 0)
		err = -err;
	name = strerrorname_np(err);
	if (name)
		return name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

static const char *const exit_names[EPM_EXIT_KINDS] = {
	[EPM_EXIT_NONE] = "none",
	[EPM_EXIT_HLT] = "hlt",
	[EPM_EXIT_VMCALL] = "vmcall",
	[EPM_EXIT_IO] = "io",
	[EPM_EXIT_EPT_VIOLATION] = "ept_violation",
	[EPM_EXIT_EPT_MISCONFIG] = "ept_misconfig",
	[EPM_EXIT_EXCEPTION] = "exception",
	[EPM_EXIT_TRIPLE_FAULT] = "triple_fault",
	[EPM_EXIT_TIMEOUT] = "timeout",
	[EPM_EXIT_ENTRY_FAIL] = "entry_fail",
	[EPM_EXIT_INTR] = "intr",
	[EPM_EXIT_OTHER] = "other",
};

const char *ept_pmap_exit_name(uint32_t kind)
{
	return kind < EPM_EXIT_KINDS ? exit_names[kind] : NULL;
}

int ept_pmap_exit_parse(const char *s, uint32_t *kind)
{
	char name[32];
	size_t i;

	if (strlen(s) >= sizeof(name))
		return -EINVAL;
	for (i = 0; s[i]; i++)
		name[i] = s[i] == '-' ? '_' : s[i];
	name[i] = '\0';
	for (i = EPM_EXIT_NONE + 1; i < EPM_EXIT_KINDS; i++) {
		if (exit_names[i] && !strcasecmp(name, exit_names[i])) {
			*kind = i;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct {
	uint32_t code;
	const char *name;
} vmx_reasons[] = { VMX_EXIT_REASONS };

const char *ept_pmap_vmx_reason_name(uint32_t basic)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vmx_reasons); i++) {
		if (vmx_reasons[i].code == basic)
			return vmx_reasons[i].name;
	}
	return NULL;
}

static const struct {
	uint64_t code;
	const char *name;
} svm_exits[] = { SVM_EXIT_REASONS };

const char *ept_pmap_svm_exit_name(uint64_t code)
{
	size_t i;

	/* SVM_EXIT_ERR is -1, which some CPUs (and QEMU) write as 32 bits */
	if (code == 0xffffffffULL)
		code = ~0ULL;
	for (i = 0; i < ARRAY_SIZE(svm_exits); i++) {
		if (svm_exits[i].code == code)
			return svm_exits[i].name;
	}
	return NULL;
}

const char *ept_pmap_vector_name(uint32_t vector)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "#09", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	};

	return vector < ARRAY_SIZE(names) ? names[vector] : "#?";
}

bool ept_pmap_vector_has_error_code(uint32_t vector)
{
	switch (vector) {
	case 8: case 10: case 11: case 12: case 13: case 14: case 17: case 21:
		return true;
	default:
		return false;
	}
}

const char *ept_pmap_mode_name(uint32_t mode)
{
	static const char *const names[] = {
		[EPM_MODE_PROT32] = "prot32",
		[EPM_MODE_REAL] = "real",
		[EPM_MODE_LONG64] = "long64",
	};

	return mode < ARRAY_SIZE(names) ? names[mode] : NULL;
}

static const struct ept_pmap_flag cap_flags[] = {
	{ EPM_CAP_VMX, "vmx", "CPUID says VMX" },
	{ EPM_CAP_VMX_ON, "vmx_on", "enabled by firmware" },
	{ EPM_CAP_EPT, "ept", "extended page tables" },
	{ EPM_CAP_EPT_X_ONLY, "ept_x_only", "execute-only EPT leaves" },
	{ EPM_CAP_EPT_2M, "ept_2m", "EPT 2M leaves" },
	{ EPM_CAP_EPT_1G, "ept_1g", "EPT 1G leaves" },
	{ EPM_CAP_EPT_AD, "ept_ad", "EPT accessed/dirty flags" },
	{ EPM_CAP_EPT_WB, "ept_wb", "WB paging structures" },
	{ EPM_CAP_EPT_WALK4, "ept_walk4", "4-level EPT walks" },
	{ EPM_CAP_INVEPT, "invept", "INVEPT" },
	{ EPM_CAP_INVEPT_SINGLE, "invept_single", "single-context INVEPT" },
	{ EPM_CAP_INVEPT_ALL, "invept_all", "all-context INVEPT" },
	{ EPM_CAP_VPID, "vpid", "VPID" },
	{ EPM_CAP_UNRESTRICTED, "unrestricted", "unrestricted guest" },
	{ EPM_CAP_PREEMPT_TIMER, "preempt_timer", "VMX preemption timer" },
	{ EPM_CAP_SVM, "svm", "AMD SVM" },
	{ EPM_CAP_NPT, "npt", "AMD nested paging" },
	{ EPM_CAP_HOST_1G, "host_1g", "1G pages in the host format (pdpe1gb)" },
	{ EPM_CAP_RUN, "run", "RUN can launch guests" },
};

const struct ept_pmap_flag *ept_pmap_cap_flags(size_t *count)
{
	*count = ARRAY_SIZE(cap_flags);
	return cap_flags;
}

const char *ept_pmap_perm_str(uint32_t perm, char buf[4])
{
	buf[0] = perm & EPM_PERM_R ? 'r' : '-';
	buf[1] = perm & EPM_PERM_W ? 'w' : '-';
	buf[2] = perm & EPM_PERM_X ? 'x' : '-';
	buf[3] = '\0';
	return buf;
}

const char *ept_pmap_memtype_name(uint32_t memtype)
{
	static const char *const names[] = {
		[EPM_MEMTYPE_WB] = "WB",
		[EPM_MEMTYPE_UC] = "UC",
		[EPM_MEMTYPE_WC] = "WC",
		[EPM_MEMTYPE_WT] = "WT",
		[EPM_MEMTYPE_WP] = "WP",
	};

	return memtype < ARRAY_SIZE(names) ? names[memtype] : "?";
}

const char *ept_pmap_ept_mt_name(uint32_t mt)
{
	static const char *const names[8] = {
		[EPM_MT_UC] = "UC", [EPM_MT_WC] = "WC", [2] = "MT2?",
		[3] = "MT3?", [EPM_MT_WT] = "WT", [EPM_MT_WP] = "WP",
		[EPM_MT_WB] = "WB", [7] = "MT7?",
	};

	return names[mt & 7];
}

const char *ept_pmap_level_name(uint32_t level)
{
	static const char *const names[] = { "?", "PTE", "PDE", "PDPTE", "PML4E" };

	return level < ARRAY_SIZE(names) ? names[level] : "?";
}

uint64_t ept_pmap_level_size(uint32_t level)
{
	return level >= 1 && level <= EPM_LEVELS ? EPM_LEVEL_SIZE(level) : 0;
}

const char *ept_pmap_mismatch_name(uint32_t why)
{
	static const char *const names[] = {
		[EPM_MISMATCH_NONE] = "none",
		[EPM_MISMATCH_PRESENT] = "present in one half only",
		[EPM_MISMATCH_KIND] = "leaf in one half, table in the other",
		[EPM_MISMATCH_TABLE] = "intermediate bits or table address differ",
		[EPM_MISMATCH_LEAF] = "leaf bits do not correspond",
		[EPM_MISMATCH_LEVEL] = "leaf at a level that cannot hold one",
		[EPM_MISMATCH_EMPTY] = "empty table other than the root",
		[EPM_MISMATCH_COUNT] = "counters disagree with the tables",
	};

	return why < ARRAY_SIZE(names) ? names[why] : "unknown reason";
}

bool ept_pmap_kpte_is_leaf(uint64_t e, uint32_t level)
{
	return level == 1 || (level > 1 && level < 4 && (e & KPTE_PS));
}

bool ept_pmap_epte_is_leaf(uint64_t e, uint32_t level)
{
	return level == 1 || (level > 1 && level < 4 && (e & EPTE_PS));
}

uint64_t ept_pmap_entry_addr(uint64_t e, uint32_t level, bool leaf)
{
	if (leaf && level > 1 && level < 4)
		return e & EPM_PTE_ADDR & ~(EPM_LEVEL_SIZE(level) - 1);
	return e & EPM_PTE_ADDR;
}

/* Appends " NAME" to a list of words that starts empty. */
struct words {
	char *buf;
	size_t len;
	size_t used;
};

static __attribute__((format(printf, 2, 3)))
void add(struct words *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->used + 1 >= w->len)
		return;
	if (w->used)
		w->buf[w->used++] = ' ';
	w->buf[w->used] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->used, w->len - w->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->used += n;
	if (w->used >= w->len)
		w->used = w->len - 1;
}

char *ept_pmap_kpte_str(uint64_t e, uint32_t level, bool leaf, char *buf,
			size_t len)
{
	struct words w = { buf, len, 0 };
	uint64_t known = KPTE_P | KPTE_W | KPTE_U | KPTE_PWT | KPTE_PCD |
			 KPTE_A | KPTE_D | KPTE_PS | KPTE_G | KPTE_SW_PINW |
			 KPTE_NX;
	bool large = leaf && level > 1;
	uint64_t rest;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (e & KPTE_P)
		add(&w, "P");
	if (e & KPTE_W)
		add(&w, "W");
	if (e & KPTE_U)
		add(&w, "U");
	if (e & KPTE_PWT)
		add(&w, "PWT");
	if (e & KPTE_PCD)
		add(&w, "PCD");
	if (e & KPTE_A)
		add(&w, "A");
	if (e & KPTE_D)
		add(&w, "D");
	if (level > 1 && (e & KPTE_PS))
		add(&w, "PS");
	if (e & KPTE_G)
		add(&w, "G");
	if (e & KPTE_NX)
		add(&w, "NX");
	if ((level == 1 && (e & KPTE_PAT_4K)) ||
	    (large && (e & KPTE_PAT_LARGE)))
		add(&w, "PAT");
	if (large)
		known |= KPTE_PAT_LARGE;
	if (e & KPTE_SW_PINW)
		add(&w, "pinw");
	rest = e & ~known & ~ept_pmap_entry_addr(e, level, leaf);
	if (rest)
		add(&w, "?0x%llx", (unsigned long long)rest);
	return buf;
}

char *ept_pmap_epte_str(uint64_t e, uint32_t level, bool leaf, char *buf,
			size_t len)
{
	struct words w = { buf, len, 0 };
	uint64_t known = EPTE_R | EPTE_W | EPTE_X | EPTE_A | EPTE_XU |
			 EPTE_SW_PINW | EPTE_SVE;
	uint64_t rest;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (e & EPTE_R)
		add(&w, "R");
	if (e & EPTE_W)
		add(&w, "W");
	if (e & EPTE_X)
		add(&w, "X");
	if (leaf) {
		known |= EPTE_MT_MASK | EPTE_IPAT | EPTE_D;
		add(&w, "%s", ept_pmap_ept_mt_name((e & EPTE_MT_MASK) >>
						   EPTE_MT_SHIFT));
		if (e & EPTE_IPAT)
			add(&w, "IPAT");
	}
	if (level > 1 && (e & EPTE_PS)) {
		known |= EPTE_PS;
		add(&w, "PS");
	}
	if (e & EPTE_A)
		add(&w, "A");
	if (leaf && (e & EPTE_D))
		add(&w, "D");
	if (e & EPTE_XU)
		add(&w, "XU");
	if (e & EPTE_SVE)
		add(&w, "SVE");
	if (e & EPTE_SW_PINW)
		add(&w, "pinw");
	rest = e & ~known & ~ept_pmap_entry_addr(e, level, leaf);
	if (rest)
		add(&w, "?0x%llx", (unsigned long long)rest);
	return buf;
}
