// SPDX-License-Identifier: GPL-2.0
/*
 * eptctl: numbers in (addresses, sizes, permissions, memory types) and
 * entries out (the bits of KPT and EPT entries, by name).
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "eptctl.h"

static int digit_value(char c, unsigned int base)
{
	unsigned int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return v < base ? (int)v : -1;
}

/*
 * A number with an optional binary suffix: decimal or 0x-prefixed hex,
 * then k, m, g or t (either case) for KiB, MiB, GiB, TiB. No sign, no
 * octal, nothing after the suffix; overflow is an error.
 */
static int parse_num(const char *s, u64 *out, bool suffix)
{
	unsigned int base = 10;
	unsigned int shift = 0;
	u64 v = 0;
	int n = 0;
	int d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; (d = digit_value(*s, base)) >= 0; s++, n++) {
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (!n)
		return -EINVAL;
	if (*s && suffix) {
		switch (*s) {
		case 'k': case 'K':
			shift = 10;
			break;
		case 'm': case 'M':
			shift = 20;
			break;
		case 'g': case 'G':
			shift = 30;
			break;
		case 't': case 'T':
			shift = 40;
			break;
		default:
			return -EINVAL;
		}
		s++;
	}
	if (*s)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int parse_u64(const char *s, u64 *out)
{
	return parse_num(s, out, false);
}

int parse_size(const char *s, u64 *out)
{
	return parse_num(s, out, true);
}

/* "rwx", "r-x", "rw", "-" or "none"; or a raw number (for testing). */
int parse_perm(const char *s, u32 *out)
{
	u32 perm = 0;
	u64 raw;

	if (!parse_u64(s, &raw)) {
		if (raw > UINT32_MAX)
			return -ERANGE;
		*out = raw;
		return 0;
	}
	if (!strcmp(s, "none")) {
		*out = 0;
		return 0;
	}
	for (; *s; s++) {
		u32 bit;

		switch (*s) {
		case 'r': case 'R':
			bit = EPM_PERM_R;
			break;
		case 'w': case 'W':
			bit = EPM_PERM_W;
			break;
		case 'x': case 'X':
			bit = EPM_PERM_X;
			break;
		case '-':
			continue;
		default:
			return -EINVAL;
		}
		if (perm & bit)
			return -EINVAL;
		perm |= bit;
	}
	*out = perm;
	return 0;
}

static const char *const epm_memtypes[] = {
	[EPM_MEMTYPE_WB] = "wb",
	[EPM_MEMTYPE_UC] = "uc",
	[EPM_MEMTYPE_WC] = "wc",
	[EPM_MEMTYPE_WT] = "wt",
	[EPM_MEMTYPE_WP] = "wp",
};

/* A name, or a raw number below 256 (for testing). */
int parse_memtype(const char *s, u8 *out)
{
	size_t i;
	u64 raw;

	for (i = 0; i < ARRAY_SIZE(epm_memtypes); i++) {
		if (!strcasecmp(s, epm_memtypes[i])) {
			*out = i;
			return 0;
		}
	}
	if (parse_u64(s, &raw) || raw > 255)
		return -EINVAL;
	*out = raw;
	return 0;
}

/* 4k, 2m, 1g (any size spelling), auto; or a raw number below 256. */
int parse_max_page(const char *s, u8 *out)
{
	u64 v;

	if (!strcmp(s, "auto")) {
		*out = 0;
		return 0;
	}
	if (!parse_u64(s, &v) && v < 256) {
		*out = v;
		return 0;
	}
	if (parse_size(s, &v))
		return -EINVAL;
	if (v == PAGE_4K)
		*out = EPM_PAGE_4K;
	else if (v == SIZE_2M)
		*out = EPM_PAGE_2M;
	else if (v == SIZE_1G)
		*out = EPM_PAGE_1G;
	else
		return -EINVAL;
	return 0;
}

const char *epm_memtype_name(unsigned int memtype)
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

/* EPT bits 5:3, numbered as the MTRRs number them. */
const char *memtype_name(unsigned int ept_mt)
{
	static const char *const names[8] = {
		"UC", "WC", "MT2?", "MT3?", "WT", "WP", "WB", "MT7?",
	};

	return names[ept_mt & 7];
}

const char *level_name(unsigned int level)
{
	static const char *const names[] = { "?", "PTE", "PDE", "PDPTE", "PML4E" };

	return level < ARRAY_SIZE(names) ? names[level] : "?";
}

const char *why_name(u32 why)
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

const char *perm_str(u32 perm, char buf[4])
{
	buf[0] = perm & EPM_PERM_R ? 'r' : '-';
	buf[1] = perm & EPM_PERM_W ? 'w' : '-';
	buf[2] = perm & EPM_PERM_X ? 'x' : '-';
	buf[3] = '\0';
	return buf;
}

/* 4K, 2M, 1G, 3G, 12K...; bytes when no binary unit divides them. */
const char *size_str(u64 bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (bytes && !(bytes & 1023) && u < 3) {
		bytes >>= 10;
		u++;
	}
	if (!bytes)
		snprintf(buf, len, "0");
	else if (u < 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)bytes, units[u]);
	return buf;
}

static const char *const errno_names[] = {
	[EPERM] = "EPERM",
	[ENOENT] = "ENOENT",
	[ESRCH] = "ESRCH",
	[EINTR] = "EINTR",
	[EIO] = "EIO",
	[ENXIO] = "ENXIO",
	[E2BIG] = "E2BIG",
	[ENOEXEC] = "ENOEXEC",
	[EBADF] = "EBADF",
	[ECHILD] = "ECHILD",
	[EAGAIN] = "EAGAIN",
	[ENOMEM] = "ENOMEM",
	[EACCES] = "EACCES",
	[EFAULT] = "EFAULT",
	[ENOTBLK] = "ENOTBLK",
	[EBUSY] = "EBUSY",
	[EEXIST] = "EEXIST",
	[EXDEV] = "EXDEV",
	[ENODEV] = "ENODEV",
	[ENOTDIR] = "ENOTDIR",
	[EISDIR] = "EISDIR",
	[EINVAL] = "EINVAL",
	[ENFILE] = "ENFILE",
	[EMFILE] = "EMFILE",
	[ENOTTY] = "ENOTTY",
	[ETXTBSY] = "ETXTBSY",
	[EFBIG] = "EFBIG",
	[ENOSPC] = "ENOSPC",
	[ESPIPE] = "ESPIPE",
	[EROFS] = "EROFS",
	[EMLINK] = "EMLINK",
	[EPIPE] = "EPIPE",
	[EDOM] = "EDOM",
	[ERANGE] = "ERANGE",
	[EDEADLK] = "EDEADLK",
	[ENAMETOOLONG] = "ENAMETOOLONG",
	[ENOLCK] = "ENOLCK",
	[ENOTEMPTY] = "ENOTEMPTY",
	[ELOOP] = "ELOOP",
	[EOVERFLOW] = "EOVERFLOW",
	[EOPNOTSUPP] = "EOPNOTSUPP",
	[ETIMEDOUT] = "ETIMEDOUT",
	[EHWPOISON] = "EHWPOISON",
};

const char *errno_name(int err)
{
	static char buf[16];

	if (err > 0 && (size_t)err < ARRAY_SIZE(errno_names) &&
	    errno_names[err])
		return errno_names[err];
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

/* Appends " NAME" to a bit list; the list starts empty. */
struct bitlist {
	char *buf;
	size_t len;
	size_t used;
};

static __printf(2, 3) void add(struct bitlist *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->used >= l->len)
		return;
	if (l->used)
		l->buf[l->used++] = ' ';
	l->buf[l->used] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->used, l->len - l->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->used += n;
	if (l->used >= l->len)
		l->used = l->len - 1;
}

/* Address bits of an entry: 51:12 for tables and 4K, 51:21 or 51:30. */
u64 entry_addr(u64 e, unsigned int level, bool leaf)
{
	if (leaf && level > 1)
		return e & PTE_ADDR & ~(level_size(level) - 1);
	return e & PTE_ADDR;
}

void kpte_bits(u64 e, unsigned int level, bool leaf, char *buf, size_t len)
{
	struct bitlist l = { buf, len, 0 };
	u64 known = KPTE_P | KPTE_W | KPTE_U | KPTE_PWT | KPTE_PCD | KPTE_A |
		    KPTE_D | KPTE_PS | KPTE_G | KPTE_SW_PINW | KPTE_NX;
	bool large = leaf && level > 1;

	buf[0] = '\0';
	if (e & KPTE_P)
		add(&l, "P");
	if (e & KPTE_W)
		add(&l, "W");
	if (e & KPTE_U)
		add(&l, "U");
	if (e & KPTE_PWT)
		add(&l, "PWT");
	if (e & KPTE_PCD)
		add(&l, "PCD");
	if (e & KPTE_A)
		add(&l, "A");
	if (e & KPTE_D)
		add(&l, "D");
	if (level > 1 && (e & KPTE_PS))
		add(&l, "PS");
	if (e & KPTE_G)
		add(&l, "G");
	if (e & KPTE_NX)
		add(&l, "NX");
	if ((level == 1 && (e & KPTE_PAT_4K)) ||
	    (large && (e & KPTE_PAT_LARGE)))
		add(&l, "PAT");
	if (large)
		known |= KPTE_PAT_LARGE;
	if (e & KPTE_SW_PINW)
		add(&l, "pinw");
	if (e & ~known & ~entry_addr(e, level, leaf))
		add(&l, "?0x%llx", (unsigned long long)
		    (e & ~known & ~entry_addr(e, level, leaf)));
}

void epte_bits(u64 e, unsigned int level, bool leaf, char *buf, size_t len)
{
	struct bitlist l = { buf, len, 0 };
	u64 known = EPTE_R | EPTE_W | EPTE_X | EPTE_A | EPTE_XU |
		    EPTE_SW_PINW | EPTE_SVE;

	buf[0] = '\0';
	if (e & EPTE_R)
		add(&l, "R");
	if (e & EPTE_W)
		add(&l, "W");
	if (e & EPTE_X)
		add(&l, "X");
	if (leaf) {
		known |= EPTE_MT_MASK | EPTE_IPAT | EPTE_D;
		add(&l, "%s", memtype_name((e & EPTE_MT_MASK) >> EPTE_MT_SHIFT));
		if (e & EPTE_IPAT)
			add(&l, "IPAT");
	}
	if (level > 1 && (e & EPTE_PS)) {
		known |= EPTE_PS;
		add(&l, "PS");
	}
	if (e & EPTE_A)
		add(&l, "A");
	if (leaf && (e & EPTE_D))
		add(&l, "D");
	if (e & EPTE_XU)
		add(&l, "XU");
	if (e & EPTE_SVE)
		add(&l, "SVE");
	if (e & EPTE_SW_PINW)
		add(&l, "pinw");
	if (e & ~known & ~entry_addr(e, level, leaf))
		add(&l, "?0x%llx", (unsigned long long)
		    (e & ~known & ~entry_addr(e, level, leaf)));
}

static void jbool(FILE *f, const char *key, bool v)
{
	fprintf(f, ",\"%s\":%s", key, v ? "true" : "false");
}

static void jhex(FILE *f, const char *key, u64 v)
{
	fprintf(f, ",\"%s\":\"0x%llx\"", key, (unsigned long long)v);
}

/* One dump entry as one line of JSON. */
void json_entry(FILE *f, const struct epm_dump_entry *e)
{
	unsigned int lvl = e->level;
	bool leaf = e->leaf;
	bool large = leaf && lvl > 1;
	u64 k = e->kpte, x = e->epte;
	u64 size = lvl >= 1 && lvl <= 4 ? level_size(lvl) : 0;
	char sz[24];

	fprintf(f, "{\"gpa\":\"0x%llx\"", (unsigned long long)e->gpa);
	jhex(f, "end", e->gpa + size);
	fprintf(f, ",\"level\":%u", lvl);
	jbool(f, "leaf", leaf);
	fprintf(f, ",\"size\":\"%s\"", size_str(size, sz, sizeof(sz)));
	jhex(f, "kpte", k);
	jhex(f, "epte", x);

	fprintf(f, ",\"kpt\":{\"P\":%s", k & KPTE_P ? "true" : "false");
	jbool(f, "W", k & KPTE_W);
	jbool(f, "U", k & KPTE_U);
	jbool(f, "PWT", k & KPTE_PWT);
	jbool(f, "PCD", k & KPTE_PCD);
	jbool(f, "A", k & KPTE_A);
	jbool(f, "D", k & KPTE_D);
	jbool(f, "PS", lvl > 1 && (k & KPTE_PS));
	jbool(f, "G", k & KPTE_G);
	jbool(f, "NX", k & KPTE_NX);
	jbool(f, "PAT", (lvl == 1 && leaf && (k & KPTE_PAT_4K)) ||
	      (large && (k & KPTE_PAT_LARGE)));
	jhex(f, "addr", entry_addr(k, lvl, leaf));

	fprintf(f, "},\"ept\":{\"R\":%s", x & EPTE_R ? "true" : "false");
	jbool(f, "W", x & EPTE_W);
	jbool(f, "X", x & EPTE_X);
	if (leaf)
		fprintf(f, ",\"memtype\":\"%s\"",
			memtype_name((x & EPTE_MT_MASK) >> EPTE_MT_SHIFT));
	else
		fprintf(f, ",\"memtype\":null");
	jbool(f, "IPAT", leaf && (x & EPTE_IPAT));
	jbool(f, "PS", lvl > 1 && (x & EPTE_PS));
	jbool(f, "A", x & EPTE_A);
	jbool(f, "D", leaf && (x & EPTE_D));
	jhex(f, "addr", entry_addr(x, lvl, leaf));
	fprintf(f, "}}\n");
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

const char *exit_name(unsigned int kind)
{
	static char buf[16];

	if (kind < EPM_EXIT_KINDS && exit_names[kind])
		return exit_names[kind];
	snprintf(buf, sizeof(buf), "%u", kind);
	return buf;
}

/* An exit kind by name ("ept-violation" spells it too), not "none". */
int parse_exit_kind(const char *s, u32 *out)
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
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const mode_names[] = {
	[EPM_MODE_PROT32] = "prot32",
	[EPM_MODE_REAL] = "real",
	[EPM_MODE_LONG64] = "long64",
};

int parse_mode(const char *s, u32 *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if (!strcasecmp(s, mode_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *mode_name(unsigned int mode)
{
	return mode < ARRAY_SIZE(mode_names) ? mode_names[mode] : "?";
}

/* struct epm_regs, field by field: index i is the i-th __u64. */
static const char *const reg_names[] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
	"rip", "rflags",
};

static_assert(sizeof(struct epm_regs) == ARRAY_SIZE(reg_names) * sizeof(__u64),
	      "reg_names[] does not match struct epm_regs");

const char *reg_name(unsigned int idx)
{
	return idx < ARRAY_SIZE(reg_names) ? reg_names[idx] : "?";
}

/* "NAME=VALUE", NAME one of reg_names[] in any case. */
int parse_reg(const char *s, unsigned int *idx, u64 *val)
{
	size_t len = strcspn(s, "=");
	unsigned int i;

	if (!s[len])
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(reg_names); i++) {
		if (strlen(reg_names[i]) == len &&
		    !strncasecmp(s, reg_names[i], len))
			break;
	}
	if (i == ARRAY_SIZE(reg_names))
		return -ENOENT;
	*idx = i;
	return parse_u64(s + len + 1, val);
}

/* Basic VMX exit reasons (Intel SDM vol. 3, appendix C). */
const char *vmx_reason_name(unsigned int basic)
{
	static const char *const names[] = {
		[0] = "exception or NMI",
		[1] = "external interrupt",
		[2] = "triple fault",
		[3] = "INIT",
		[4] = "SIPI",
		[5] = "I/O SMI",
		[6] = "other SMI",
		[7] = "interrupt window",
		[8] = "NMI window",
		[9] = "task switch",
		[10] = "CPUID",
		[11] = "GETSEC",
		[12] = "HLT",
		[13] = "INVD",
		[14] = "INVLPG",
		[15] = "RDPMC",
		[16] = "RDTSC",
		[17] = "RSM",
		[18] = "VMCALL",
		[19] = "VMCLEAR",
		[20] = "VMLAUNCH",
		[21] = "VMPTRLD",
		[22] = "VMPTRST",
		[23] = "VMREAD",
		[24] = "VMRESUME",
		[25] = "VMWRITE",
		[26] = "VMXOFF",
		[27] = "VMXON",
		[28] = "control-register access",
		[29] = "MOV DR",
		[30] = "I/O instruction",
		[31] = "RDMSR",
		[32] = "WRMSR",
		[33] = "entry failure: invalid guest state",
		[34] = "entry failure: MSR loading",
		[36] = "MWAIT",
		[37] = "monitor trap flag",
		[39] = "MONITOR",
		[40] = "PAUSE",
		[41] = "entry failure: machine check",
		[43] = "TPR below threshold",
		[44] = "APIC access",
		[45] = "virtualized EOI",
		[46] = "GDTR/IDTR access",
		[47] = "LDTR/TR access",
		[48] = "EPT violation",
		[49] = "EPT misconfiguration",
		[50] = "INVEPT",
		[51] = "RDTSCP",
		[52] = "preemption timer",
		[53] = "INVVPID",
		[54] = "WBINVD",
		[55] = "XSETBV",
		[56] = "APIC write",
		[57] = "RDRAND",
		[58] = "INVPCID",
		[59] = "VMFUNC",
		[60] = "ENCLS",
		[61] = "RDSEED",
		[62] = "page-modification log full",
		[63] = "XSAVES",
		[64] = "XRSTORS",
	};

	if (basic < ARRAY_SIZE(names) && names[basic])
		return names[basic];
	return "unknown";
}

/* VM-instruction error numbers (Intel SDM vol. 3, "VM-instruction errors"). */
const char *vmx_insn_error_name(unsigned int err)
{
	static const char *const names[] = {
		[1] = "VMCALL executed in VMX root operation",
		[2] = "VMCLEAR with invalid physical address",
		[3] = "VMCLEAR with VMXON pointer",
		[4] = "VMLAUNCH with non-clear VMCS",
		[5] = "VMRESUME with non-launched VMCS",
		[6] = "VMRESUME after VMXOFF",
		[7] = "VM entry with invalid control field(s)",
		[8] = "VM entry with invalid host-state field(s)",
		[9] = "VMPTRLD with invalid physical address",
		[10] = "VMPTRLD with VMXON pointer",
		[11] = "VMPTRLD with incorrect VMCS revision identifier",
		[12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
		[13] = "VMWRITE to read-only VMCS component",
		[15] = "VMXON executed in VMX root operation",
		[26] = "VM entry with events blocked by MOV SS",
		[28] = "invalid operand to INVEPT/INVVPID",
	};

	if (err < ARRAY_SIZE(names) && names[err])
		return names[err];
	return "unknown VM-instruction error";
}

const char *vector_name(unsigned int vector)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "#09", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	};

	return vector < ARRAY_SIZE(names) ? names[vector] : "#?";
}

/* Does the CPU push an error code for this exception vector? */
bool vector_has_error_code(unsigned int vector)
{
	switch (vector) {
	case 8: case 10: case 11: case 12: case 13: case 14: case 17: case 21:
		return true;
	default:
		return false;
	}
}

/* The arithmetic and system flags set in @rflags, by name. */
void rflags_bits(u64 rflags, char *buf, size_t len)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} flags[] = {
		{ 0, "CF" }, { 2, "PF" }, { 4, "AF" }, { 6, "ZF" }, { 7, "SF" },
		{ 8, "TF" }, { 9, "IF" }, { 10, "DF" }, { 11, "OF" },
		{ 14, "NT" }, { 16, "RF" }, { 17, "VM" }, { 18, "AC" },
		{ 19, "VIF" }, { 20, "VIP" }, { 21, "ID" },
	};
	struct bitlist l = { buf, len, 0 };
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		if (rflags & BIT_ULL(flags[i].bit))
			add(&l, "%s", flags[i].name);
	}
	if ((rflags >> 12) & 3)
		add(&l, "IOPL=%llu", (unsigned long long)((rflags >> 12) & 3));
}
