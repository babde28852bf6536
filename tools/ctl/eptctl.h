/* SPDX-License-Identifier: GPL-2.0 */
/*
 * eptctl: drive one ept-pmap address space (/dev/ept-pmap) from the
 * command line or a batch file. Shared declarations of its parts:
 *
 *   eptctl.c  sequences, batch files, option parsing, errors, help
 *   cmds.c    one function per subcommand (one ioctl each, mostly)
 *   mem.c     the backing memory eptctl allocates for MAP
 *   run.c     load and run: guest code in, exit records out
 *   decode.c  numbers in: parsing; names libept-pmap does not have
 *   json.c    the JSON writer behind -j
 *
 * The ioctls, the entry bits and most decoding come from libept-pmap
 * (lib/ept-pmap.h).
 */
#ifndef _EPTCTL_H
#define _EPTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "ept-pmap.h"	/* lib/: the uapi headers and libept-pmap */

typedef __u64 u64;
typedef __u32 u32;
typedef __u8 u8;

#define __printf(a, b)	__attribute__((__format__(printf, a, b)))

/* Exit statuses */
#define EX_OK		0
#define EX_FAIL		1	/* a command failed */
#define EX_USAGE	2	/* the command line or batch file is wrong */

/* The version of the documents -j writes (tools/ctl/eptctl.schema.json). */
#define EPTCTL_JSON_SCHEMA	1

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

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
	OPT_RESET,
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
	bool json;		/* -j: one JSON document per command */
	unsigned long docs;	/* json_documents() when the command began */
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
void print_help_json(const struct cmd *c);
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
const char *size_str(u64 bytes, char *buf, size_t len);
const char *exit_name(unsigned int kind);
int parse_mode(const char *s, u32 *out);
int parse_reg(const char *s, unsigned int *idx, u64 *val);
const char *reg_name(unsigned int idx);
const char *vmx_reason_name(unsigned int basic);
const char *vmx_insn_error_name(unsigned int err);
void rflags_bits(u64 rflags, char *buf, size_t len);

/* json.c */
void json_set_pretty(bool pretty);
void json_begin(const char *cmd);
void json_end(void);
void json_obj(const char *key);
void json_obj_end(void);
void json_arr(const char *key);
void json_arr_end(void);
void json_u64(const char *key, u64 v);
void json_int(const char *key, long long v);
void json_bool(const char *key, bool v);
void json_str(const char *key, const char *s);
void json_null(const char *key);
void json_str_or_null(const char *key, const char *s);
unsigned long json_documents(void);
bool json_open_document(void);
void json_unwind(void);

#endif /* _EPTCTL_H */
