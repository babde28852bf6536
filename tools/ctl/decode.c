// SPDX-License-Identifier: GPL-2.0
/*
 * eptctl: numbers in (addresses, sizes, permissions, memory types, exit
 * kinds, registers) and the few names libept-pmap does not give: sizes,
 * VM-instruction errors (no uapi header lists them), rflags bits.
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
	if (v == EPM_SIZE_4K)
		*out = EPM_PAGE_4K;
	else if (v == EPM_SIZE_2M)
		*out = EPM_PAGE_2M;
	else if (v == EPM_SIZE_1G)
		*out = EPM_PAGE_1G;
	else
		return -EINVAL;
	return 0;
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

/* An exit kind's name, or its number for one libept-pmap does not know. */
const char *exit_name(unsigned int kind)
{
	static char buf[16];
	const char *name = ept_pmap_exit_name(kind);

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "%u", kind);
	return buf;
}

int parse_mode(const char *s, u32 *out)
{
	const char *name;
	u32 i;

	for (i = 0; (name = ept_pmap_mode_name(i)); i++) {
		if (!strcasecmp(s, name)) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
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

/* Basic VMX exit reason as <asm/vmx.h> names it, "unknown" if it does not. */
const char *vmx_reason_name(unsigned int basic)
{
	const char *name = ept_pmap_vmx_reason_name(basic);

	return name ? name : "unknown";
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
		if (rflags & _BITULL(flags[i].bit))
			add(&l, "%s", flags[i].name);
	}
	if ((rflags >> 12) & 3)
		add(&l, "IOPL=%llu", (unsigned long long)((rflags >> 12) & 3));
}
