/* SPDX-License-Identifier: GPL-2.0 */
/*
 * eptctl: drive one ept-pmap address space (/dev/ept-pmap) from the
 * command line or a batch file. Shared declarations of its parts:
 *
 *   eptctl.c  sequences, batch files, option parsing, errors, help
 *   cmds.c    one function per subcommand (one ioctl each, mostly)
 *   mem.c     the backing memory eptctl allocates for MAP
 *   run.c     load and run: guest code in, exit records out
 *   decode.c  numbers in, entries out: parsing and bit decoding
 */
#ifndef _EPTCTL_H
#define _EPTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/ept_pmap.h>

typedef __u64 u64;
typedef __u32 u32;
typedef __u8 u8;

#define BIT_ULL(n)	(1ULL << (n))
#define __printf(a, b)	__attribute__((__format__(printf, a, b)))

/* Exit statuses */
#define EX_OK		0
#define EX_FAIL		1	/* a command failed */
#define EX_USAGE	2	/* the command line or batch file is wrong */

#define PAGE_4K		0x1000ULL
#define SIZE_2M		0x200000ULL
#define SIZE_1G		0x40000000ULL
#define GPA_LIMIT	BIT_ULL(48)

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Bytes one entry at @level (1..4) covers: 4K, 2M, 1G, 512G. */
static inline u64 level_size(unsigned int level)
{
	return 1ULL << (12 + 9 * (level - 1));
}

/*
 * Entry bits, as src/pte.h lays them out (the tool does not include the
 * module's private headers; these are the architectural bits plus the two
 * software bits the module uses).
 */
#define KPTE_P		BIT_ULL(0)
#define KPTE_W		BIT_ULL(1)
#define KPTE_U		BIT_ULL(2)
#define KPTE_PWT	BIT_ULL(3)
#define KPTE_PCD	BIT_ULL(4)
#define KPTE_A		BIT_ULL(5)
#define KPTE_D		BIT_ULL(6)
#define KPTE_PS		BIT_ULL(7)	/* levels 2, 3 */
#define KPTE_PAT_4K	BIT_ULL(7)	/* level 1 */
#define KPTE_G		BIT_ULL(8)
#define KPTE_SW_PINW	BIT_ULL(9)
#define KPTE_PAT_LARGE	BIT_ULL(12)	/* 2M/1G leaves */
#define KPTE_NX		BIT_ULL(63)

#define EPTE_R		BIT_ULL(0)
#define EPTE_W		BIT_ULL(1)
#define EPTE_X		BIT_ULL(2)
#define EPTE_MT_SHIFT	3
#define EPTE_MT_MASK	(7ULL << EPTE_MT_SHIFT)
#define EPTE_IPAT	BIT_ULL(6)
#define EPTE_PS		BIT_ULL(7)
#define EPTE_A		BIT_ULL(8)
#define EPTE_D		BIT_ULL(9)
#define EPTE_XU		BIT_ULL(10)	/* user execute (MBEC) */
#define EPTE_SW_PINW	BIT_ULL(11)
#define EPTE_SVE	BIT_ULL(63)	/* suppress #VE */

#define PTE_ADDR	0x000ffffffffff000ULL

enum backing { BACK_ANON, BACK_THP, BACK_HUGETLB, BACK_FILE };
enum dump_format { FMT_TREE, FMT_JSON, FMT_DOT };

/* Option ids: bit numbers in struct args.seen and struct cmd.opts. */
enum opt_id {
	OPT_GPA,
	OPT_SIZE,
	OPT_PERM,
	OPT_MEMTYPE,
	OPT_MAX_PAGE,
	OPT_IPAT,
	OPT_AD,
	OPT_ANON,
	OPT_THP,
	OPT_HUGETLB,
	OPT_FILE,
	OPT_UADDR_OFFSET,
	OPT_FORMAT,
	OPT_LEAVES,
	OPT_ENTRY,
	OPT_MODE,
	OPT_TIMEOUT,
	OPT_CR3,
	OPT_GUEST_EXC,
	OPT_REG,
	OPT_UNTIL,
	OPT_NO_CONSOLE,
	OPT_COUNT
};

#define O(id)		(1u << (id))
#define MAX_POS		2

/* One parsed command: what its options and operands said. */
struct args {
	const struct cmd *cmd;
	u32 seen;		/* O(OPT_*) given */
	bool help;		/* --help / -h */
	u64 gpa;
	u64 size;
	u32 perm;		/* EPM_PERM_*, or a raw value */
	u8 memtype;
	u8 max_page;
	enum backing backing;
	const char *file;
	u64 uaddr_offset;
	enum dump_format format;
	u64 ms;			/* sleep */
	/* run */
	u32 mode;		/* EPM_MODE_* */
	u64 timeout_ms;
	u64 cr3;
	struct epm_regs regs;	/* --entry and --reg values */
	u32 regs_set;		/* bit per u64 of struct epm_regs given */
	u32 until;		/* EPM_EXIT_*, with O(OPT_UNTIL) */
	int npos;
	const char *pos[MAX_POS];
	char **words;		/* the command as given, for -x */
	int nwords;
};

/* Backing memory of one MAP (see mem.c). */
struct region {
	struct region *next;
	enum backing kind;
	u64 gpa;		/* the guest range it backs */
	u64 size;
	uintptr_t uaddr;	/* user address of gpa */
	uintptr_t mbase;	/* what was mmap()ed */
	size_t mlen;
	size_t gran;		/* unit of munmap(): 4K or the huge page size */
	bool writable;		/* eptctl may write it (load) */
	u64 *mapped;		/* bit per 4 KiB page of [gpa, gpa + size) */
	u64 nmapped;
	u64 *freed;		/* bit per gran unit of [mbase, mbase + mlen) */
};

/* The process's state across a sequence of commands. */
struct ctx {
	const char *dev_path;
	int fd;			/* -1 until a command needs the device */
	bool verbose;
	bool echo;		/* -x: print each command before it runs */
	const char *where;	/* "FILE:LINE: " or "" for error lines */
	bool eptp_noted;
	struct region *regions;
};

struct cmd {
	const char *name;
	const char *summary;	/* one line, for the list */
	const char *synopsis;
	const char *help;
	u32 opts;		/* O(OPT_*) accepted */
	u32 required;		/* O(OPT_*) needed */
	int pos_min;
	int pos_max;
	bool device;		/* opens the device first */
	int (*run)(struct ctx *ctx, const struct args *a);
};

/* eptctl.c */
extern const struct cmd commands[];
extern const size_t ncommands;
const struct cmd *find_cmd(const char *name);
__printf(4, 5)
int fail(struct ctx *ctx, const char *cmd, int err, const char *fmt, ...);
__printf(3, 4)
int usage_error(struct ctx *ctx, const char *cmd, const char *fmt, ...);
__printf(1, 2) void print_note(const char *fmt, ...);
void print_help(FILE *f, const struct cmd *c);
void print_overview(FILE *f);

/* cmds.c */
int cmd_version(struct ctx *ctx, const struct args *a);
int cmd_caps(struct ctx *ctx, const struct args *a);
int cmd_map(struct ctx *ctx, const struct args *a);
int cmd_unmap(struct ctx *ctx, const struct args *a);
int cmd_protect(struct ctx *ctx, const struct args *a);
int cmd_query(struct ctx *ctx, const struct args *a);
int cmd_dump(struct ctx *ctx, const struct args *a);
int cmd_check(struct ctx *ctx, const struct args *a);
int cmd_eptp(struct ctx *ctx, const struct args *a);
int cmd_stats(struct ctx *ctx, const struct args *a);
int cmd_sleep(struct ctx *ctx, const struct args *a);
int cmd_help(struct ctx *ctx, const struct args *a);

/* run.c */
int cmd_load(struct ctx *ctx, const struct args *a);
int cmd_run(struct ctx *ctx, const struct args *a);
int run_set_reg(struct args *a, const char *s, char *why, size_t wlen);

/* mem.c */
int mem_alloc(const struct args *a, struct region **out, char *why,
	      size_t len);
void mem_add(struct ctx *ctx, struct region *r);
void mem_free(struct region *r);
void mem_release(struct ctx *ctx, u64 gpa, u64 size);
int mem_write(struct ctx *ctx, u64 gpa, const void *buf, size_t len,
	      char *why, size_t wlen);

/* decode.c */
int parse_u64(const char *s, u64 *out);
int parse_size(const char *s, u64 *out);
int parse_perm(const char *s, u32 *out);
int parse_memtype(const char *s, u8 *out);
int parse_max_page(const char *s, u8 *out);
const char *errno_name(int err);
const char *perm_str(u32 perm, char buf[4]);
const char *size_str(u64 bytes, char *buf, size_t len);
const char *memtype_name(unsigned int ept_mt);
const char *epm_memtype_name(unsigned int memtype);
const char *level_name(unsigned int level);
const char *why_name(u32 why);
u64 entry_addr(u64 e, unsigned int level, bool leaf);
void kpte_bits(u64 e, unsigned int level, bool leaf, char *buf, size_t len);
void epte_bits(u64 e, unsigned int level, bool leaf, char *buf, size_t len);
void json_entry(FILE *f, const struct epm_dump_entry *e);
const char *exit_name(unsigned int kind);
int parse_exit_kind(const char *s, u32 *out);
int parse_mode(const char *s, u32 *out);
const char *mode_name(unsigned int mode);
int parse_reg(const char *s, unsigned int *idx, u64 *val);
const char *reg_name(unsigned int idx);
const char *vmx_reason_name(unsigned int basic);
const char *vmx_insn_error_name(unsigned int err);
const char *vector_name(unsigned int vector);
bool vector_has_error_code(unsigned int vector);
void rflags_bits(u64 rflags, char *buf, size_t len);

#endif /* _EPTCTL_H */
