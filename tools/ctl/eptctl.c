// SPDX-License-Identifier: GPL-2.0
/*
 * eptctl: drive one ept-pmap address space from the command line.
 *
 * One process holds one open file of /dev/ept-pmap, that is one address
 * space, so eptctl runs a sequence of commands on it: from the command
 * line, separated by "--" or ";" arguments, or from a batch file ("-b FILE",
 * "-b -" for stdin) with one command per line. The first command that
 * fails stops the sequence: exit status 1, or 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eptctl.h"

#define DEFAULT_DEVICE	"/dev/" EPM_DEVICE_NAME

#define RANGE_OPTS	(O(OPT_GPA) | O(OPT_SIZE))
#define MAP_OPTS	(RANGE_OPTS | O(OPT_PERM) | O(OPT_MEMTYPE) | \
			 O(OPT_MAX_PAGE) | O(OPT_IPAT) | O(OPT_AD) | \
			 O(OPT_ANON) | O(OPT_THP) | O(OPT_HUGETLB) | \
			 O(OPT_FILE) | O(OPT_UADDR_OFFSET))
#define BACKING_OPTS	(O(OPT_ANON) | O(OPT_THP) | O(OPT_HUGETLB) | O(OPT_FILE))

const struct cmd commands[] = {
	{
		.name = "version",
		.summary = "API version of the module and of eptctl",
		.synopsis = "",
		.help = "Print the module's API version and the one eptctl was built for.\n",
		.device = true,
		.run = cmd_version,
	}, {
		.name = "caps",
		.summary = "CPU capabilities, decoded and raw",
		.synopsis = "",
		.help = "Print what the CPU offers: each capability flag on its own line,\n"
			"the raw VMX MSRs and CPUID words in hex, and the leaf sizes MAP\n"
			"can build.\n",
		.device = true,
		.run = cmd_caps,
	}, {
		.name = "map",
		.summary = "map a guest range to memory eptctl allocates",
		.synopsis = "--gpa GPA --size SIZE --perm PERM [--memtype wb|uc|wc|wt|wp]\n"
			    "       [--max-page 4k|2m|1g] [--ipat] [--ad]\n"
			    "       [--anon|--thp|--hugetlb|--file PATH] [--uaddr-offset N]",
		.help = "Map [GPA, GPA + SIZE) to memory eptctl allocates for it, which stays\n"
			"allocated until an unmap removes it (or eptctl exits).\n"
			"\n"
			"  --perm PERM       r, w, x in any order (\"-\" ignored), e.g. rw, r-x;\n"
			"                    \"none\" or a raw number are passed on as they are\n"
			"  --memtype TYPE    EPT memory type of the leaves (default wb)\n"
			"  --max-page SIZE   largest leaf to build (default: what the CPU allows)\n"
			"  --ipat            EPT leaves ignore the guest's PAT\n"
			"  --ad              leaves born accessed (and dirty when writable)\n"
			"  --anon            anonymous memory, no huge pages (the default)\n"
			"  --thp             2 MiB-aligned anonymous memory, MADV_HUGEPAGE, touched\n"
			"  --hugetlb         MAP_HUGETLB: 1G pages when SIZE is a multiple of 1G\n"
			"                    and enough are free, else 2M pages\n"
			"  --file PATH       MAP_SHARED mapping of PATH (created, and extended to\n"
			"                    SIZE if shorter); the module refuses regular files\n"
			"  --uaddr-offset N  hand the module base + N instead of the aligned base\n",
		.opts = MAP_OPTS,
		.required = RANGE_OPTS | O(OPT_PERM),
		.device = true,
		.run = cmd_map,
	}, {
		.name = "unmap",
		.summary = "unmap a guest range (holes are fine)",
		.synopsis = "--gpa GPA --size SIZE",
		.help = "Unmap whatever is mapped in [GPA, GPA + SIZE); holes are fine. The\n"
			"memory behind it is given back.\n",
		.opts = RANGE_OPTS,
		.required = RANGE_OPTS,
		.device = true,
		.run = cmd_unmap,
	}, {
		.name = "protect",
		.summary = "change the permissions of a mapped range",
		.synopsis = "--gpa GPA --size SIZE --perm PERM",
		.help = "Change the permissions of the fully mapped range [GPA, GPA + SIZE).\n",
		.opts = RANGE_OPTS | O(OPT_PERM),
		.required = RANGE_OPTS | O(OPT_PERM),
		.device = true,
		.run = cmd_protect,
	}, {
		.name = "query",
		.summary = "translate one gpa: both entries at every level",
		.synopsis = "--gpa GPA",
		.help = "Walk GPA through both halves: the KPT and EPT entry at every level,\n"
			"decoded, then the host-physical address, page size and permissions.\n",
		.opts = O(OPT_GPA),
		.required = O(OPT_GPA),
		.device = true,
		.run = cmd_query,
	}, {
		.name = "dump",
		.summary = "every present entry: tree, json or dot",
		.synopsis = "[--format tree|json|dot] [--leaves]",
		.help = "Print every present entry, parents before children in gpa order.\n"
			"\n"
			"  --format tree   indented by level, KPT and EPT side by side (default)\n"
			"  --format json   one JSON document with every entry (as -j)\n"
			"  --format dot    a Graphviz digraph of the table pairs, leaves\n"
			"                  summarised in runs of equal attributes\n"
			"  --leaves        leaves only\n"
			"\n"
			"With -j the output is the JSON document, whatever --format says.\n",
		.opts = O(OPT_FORMAT) | O(OPT_LEAVES),
		.device = true,
		.run = cmd_dump,
	}, {
		.name = "check",
		.summary = "verify the KPT/EPT lockstep invariant",
		.synopsis = "",
		.help = "Verify the lockstep invariant between the two halves. Prints\n"
			"\"ok: 0 mismatches\", or the count and the first mismatch decoded and\n"
			"fails.\n",
		.device = true,
		.run = cmd_check,
	}, {
		.name = "eptp",
		.summary = "the EPT pointer and the KPT root",
		.synopsis = "[--ad]",
		.help = "Print the EPT pointer (with A/D enabled for --ad) and the KPT root.\n"
			"Both are physical addresses: without CAP_SYS_ADMIN they show as 0.\n",
		.opts = O(OPT_AD),
		.device = true,
		.run = cmd_eptp,
	}, {
		.name = "stats",
		.summary = "tables, bytes per leaf size, pins, flushes",
		.synopsis = "",
		.help = "Print the address space's counters: tables, bytes mapped per leaf\n"
			"size, pinned pages, flushes, runs and exits.\n",
		.device = true,
		.run = cmd_stats,
	}, {
		.name = "load",
		.summary = "copy a flat guest binary to a mapped gpa",
		.synopsis = "--gpa GPA FILE",
		.help = "Copy FILE (a flat binary, e.g. tools/ctl/guests/hello.bin) into the\n"
			"memory behind [GPA, GPA + size of FILE). Every page of that range must\n"
			"have been mapped by an earlier map of this same eptctl sequence:\n"
			"eptctl writes through the memory it allocated for the mapping, so\n"
			"the guest sees the bytes whatever permissions it has.\n",
		.opts = O(OPT_GPA),
		.required = O(OPT_GPA),
		.pos_min = 1,
		.pos_max = 1,
		.run = cmd_load,
	}, {
		.name = "run",
		.summary = "run a guest (VMX) and print its exit",
		.synopsis = "--entry GPA [--mode real|prot32|long64] [--timeout MS]\n"
			    "       [--cr3 GPA] [--guest-exc] [--reg NAME=VALUE]...\n"
			    "       [--until EXIT] [--no-console] [--reset]",
		.help = "Run a guest on this address space (RUN: VMX with the EPT half) from\n"
			"rip = GPA, and print the exit record decoded (kind; raw exit reason\n"
			"and qualification; gpa and access for EPT violations; port, size,\n"
			"direction and data for port I/O; vector and error code for\n"
			"exceptions; the VM-instruction error of a failed entry) and the\n"
			"registers.\n"
			"\n"
			"The guest's COM1: one-byte OUTs to port 0x3f8 are printed to stdout\n"
			"as console output and the guest resumed; the other UART ports\n"
			"(0x3f9..0x3ff) read as an idle 16550 and ignore writes. The first\n"
			"other exit ends the run.\n"
			"\n"
			"  --entry GPA       first instruction (rip; segments are flat, base 0)\n"
			"  --mode MODE       prot32: 32-bit protected mode, paging off (default);\n"
			"                    real: 16-bit real mode; long64: 64-bit, paging on\n"
			"  --timeout MS      wall-clock limit of the whole command, resumptions\n"
			"                    included: 1 .. 60000 ms (default 1000)\n"
			"  --cr3 GPA         long64: gpa of the PML4 built in guest memory\n"
			"  --guest-exc       exceptions go through the guest's (empty) IDT, which\n"
			"                    ends in a triple fault, instead of exiting\n"
			"  --reg NAME=VALUE  initial register: rax..rdx, rsi, rdi, rsp, rbp,\n"
			"                    r8..r15, rflags (repeat for more); others are 0\n"
			"  --until EXIT      resume HLT, VMCALL and port I/O exits (printed in\n"
			"                    one line; IN reads all ones) until an EXIT exit:\n"
			"                    hlt, vmcall, io, ept_violation, ept_misconfig,\n"
			"                    exception, triple_fault, timeout, entry_fail,\n"
			"                    other; fails if the run ends otherwise\n"
			"  --no-console      no COM1: port I/O to 0x3f8..0x3ff is an exit like\n"
			"                    any other\n"
			"  --reset           the vCPU state RUN keeps between runs of one\n"
			"                    sequence (x87/SSE/AVX, CR2, CR8) back to INIT first\n"
			"\n"
			"Fails with ENODEV where the CPU offers no usable VMX, EBUSY while\n"
			"another hypervisor (kvm_intel) holds VMX.\n",
		.opts = O(OPT_ENTRY) | O(OPT_MODE) | O(OPT_TIMEOUT) |
			O(OPT_CR3) | O(OPT_GUEST_EXC) | O(OPT_REG) |
			O(OPT_UNTIL) | O(OPT_NO_CONSOLE) | O(OPT_RESET),
		.required = O(OPT_ENTRY),
		.device = true,
		.run = cmd_run,
	}, {
		.name = "sleep",
		.summary = "wait MS milliseconds",
		.synopsis = "MS",
		.help = "Wait MS milliseconds (between commands of a batch).\n",
		.pos_min = 1,
		.pos_max = 1,
		.run = cmd_sleep,
	}, {
		.name = "help",
		.summary = "this list, or one command's help",
		.synopsis = "[COMMAND]",
		.help = "Print the list of commands, or what COMMAND does.\n",
		.pos_max = 1,
		.run = cmd_help,
	},
};

const size_t ncommands = ARRAY_SIZE(commands);

static const struct {
	const char *name;
	bool has_arg;
} optdefs[OPT_COUNT] = {
	[OPT_GPA] = { "gpa", true },
	[OPT_SIZE] = { "size", true },
	[OPT_PERM] = { "perm", true },
	[OPT_MEMTYPE] = { "memtype", true },
	[OPT_MAX_PAGE] = { "max-page", true },
	[OPT_IPAT] = { "ipat", false },
	[OPT_AD] = { "ad", false },
	[OPT_ANON] = { "anon", false },
	[OPT_THP] = { "thp", false },
	[OPT_HUGETLB] = { "hugetlb", false },
	[OPT_FILE] = { "file", true },
	[OPT_UADDR_OFFSET] = { "uaddr-offset", true },
	[OPT_FORMAT] = { "format", true },
	[OPT_LEAVES] = { "leaves", false },
	[OPT_ENTRY] = { "entry", true },
	[OPT_MODE] = { "mode", true },
	[OPT_TIMEOUT] = { "timeout", true },
	[OPT_CR3] = { "cr3", true },
	[OPT_GUEST_EXC] = { "guest-exc", false },
	[OPT_REG] = { "reg", true },
	[OPT_UNTIL] = { "until", true },
	[OPT_NO_CONSOLE] = { "no-console", false },
	[OPT_RESET] = { "reset", false },
};

const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < ncommands; i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}

/*
 * With -j, a failure is a JSON document too: the error goes into the
 * command's document when one is open, or into one of its own when the
 * command printed none yet. Only one document per command, ever.
 */
static void json_error(struct ctx *ctx, const char *cmd, int status, int err,
		       const char *msg)
{
	size_t wl;

	if (!ctx || !ctx->json || json_documents() != ctx->docs)
		return;
	if (json_open_document())
		json_unwind();
	else
		json_begin(cmd);
	json_obj("error");
	json_u64("status", status);
	if (err) {
		json_u64("errno", err);
		json_str("errno_name", ept_pmap_errno_name(err));
	} else {
		json_null("errno");
		json_null("errno_name");
	}
	json_str("message", msg);
	wl = strlen(ctx->where);
	if (wl > 2) {
		char where[512];

		snprintf(where, sizeof(where), "%.*s", (int)(wl - 2), ctx->where);
		json_str("where", where);
	}
	json_obj_end();
	json_end();
}

/* One line: "eptctl: [WHERE: ]CMD: [ENAME: ]cause"; @err 0: no errno. */
static int vreport(struct ctx *ctx, const char *cmd, int status, int err,
		   const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_error(ctx, cmd, status, err, msg);
	fflush(stdout);
	fprintf(stderr, "eptctl: %s", ctx ? ctx->where : "");
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	if (err)
		fprintf(stderr, "%s: ", ept_pmap_errno_name(err));
	fprintf(stderr, "%s\n", msg);
	return status;
}

int fail(struct ctx *ctx, const char *cmd, int err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vreport(ctx, cmd, EX_FAIL, err, fmt, ap);
	va_end(ap);
	return ret;
}

int usage_error(struct ctx *ctx, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vreport(ctx, cmd, EX_USAGE, 0, fmt, ap);
	va_end(ap);
	return ret;
}

void print_note(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("eptctl: note: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void print_help(FILE *f, const struct cmd *c)
{
	fprintf(f, "usage: eptctl [OPTIONS] %s%s%s\n\n%s", c->name,
		*c->synopsis ? " " : "", c->synopsis, c->help);
}

/* eptctl's own options: getopt_long's table and the help's lines. */
static const struct {
	struct option o;
	const char *arg;
	const char *what;
} global_opts[] = {
	{ { "device", required_argument, NULL, 'd' }, "DEVICE",
	  "the device to open (default " DEFAULT_DEVICE ")" },
	{ { "batch", required_argument, NULL, 'b' }, "FILE",
	  "read commands from FILE, or stdin for -" },
	{ { "json", no_argument, NULL, 'j' }, NULL,
	  "one JSON document per command on stdout (eptctl.schema.json)" },
	{ { "pretty", no_argument, NULL, 'p' }, NULL,
	  "JSON indented over several lines (implies -j)" },
	{ { "verbose", no_argument, NULL, 'v' }, NULL,
	  "report what map, unmap, protect and load did" },
	{ { "echo", no_argument, NULL, 'x' }, NULL,
	  "print each command (\"eptctl> COMMAND ARGS\") before it runs" },
	{ { "version", no_argument, NULL, 'V' }, NULL,
	  "eptctl's version, the uapi's it was built with, the module's" },
	{ { "help", no_argument, NULL, 'h' }, NULL, "this help" },
};

void print_overview(FILE *f)
{
	size_t i;

	fputs("usage: eptctl [OPTIONS] COMMAND [ARGS] [{--|;} COMMAND [ARGS]]...\n"
	      "       eptctl [OPTIONS] -b FILE|-\n"
	      "\n"
	      "Runs a sequence of commands on one address space (one open file of\n"
	      DEFAULT_DEVICE ", or DEVICE), stopping at the first that fails.\n"
	      "A batch file has one command per line; '#' starts a comment, ';'\n"
	      "separates commands on a line, quotes and backslashes work as in sh.\n"
	      "Numbers are decimal or 0x hex, with k, m, g or t for KiB .. TiB.\n"
	      "Short options combine (-xj); long ones may be abbreviated.\n"
	      "\n"
	      "Options:\n", f);
	for (i = 0; i < ARRAY_SIZE(global_opts); i++) {
		char lhs[40];

		snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", global_opts[i].o.val,
			 global_opts[i].o.name, global_opts[i].arg ? " " : "",
			 global_opts[i].arg ? global_opts[i].arg : "");
		fprintf(f, "  %-22s %s\n", lhs, global_opts[i].what);
	}
	fputs("\nCommands:\n", f);
	for (i = 0; i < ncommands; i++) {
		fprintf(f, "  %-8s %s\n",
			commands[i].name, commands[i].summary);
	}
	fputs("\n'eptctl COMMAND --help' or 'eptctl help COMMAND' for more.\n"
	      "Exit status: 0 all done, 1 a command failed, 2 usage error.\n", f);
}

static void json_command(const struct cmd *c)
{
	int id;

	json_obj(NULL);
	json_str("name", c->name);
	json_str("summary", c->summary);
	json_str("synopsis", c->synopsis);
	json_arr("options");
	for (id = 0; id < OPT_COUNT; id++) {
		if (!(c->opts & O(id)))
			continue;
		json_obj(NULL);
		json_str("name", optdefs[id].name);
		json_bool("argument", optdefs[id].has_arg);
		json_bool("required", c->required & O(id));
		json_obj_end();
	}
	json_arr_end();
	json_obj_end();
}

/* help as JSON: every command (and eptctl's options), or one command. */
void print_help_json(const struct cmd *c)
{
	size_t i;

	json_begin("help");
	if (!c) {
		json_arr("options");
		for (i = 0; i < ARRAY_SIZE(global_opts); i++) {
			char sh[3] = { '-', (char)global_opts[i].o.val, '\0' };

			json_obj(NULL);
			json_str("name", global_opts[i].o.name);
			json_str("short", sh);
			json_bool("argument", global_opts[i].arg);
			json_obj_end();
		}
		json_arr_end();
	}
	json_arr("commands");
	for (i = 0; i < ncommands; i++) {
		if (!c || c == &commands[i])
			json_command(&commands[i]);
	}
	json_arr_end();
	json_end();
}

static int set_opt(struct ctx *ctx, struct args *a, int id, const char *v)
{
	const char *cmd = a->cmd->name;
	char why[160];
	int ret = 0;

	switch (id) {
	case OPT_GPA:
		ret = parse_size(v, &a->gpa);
		break;
	case OPT_SIZE:
		ret = parse_size(v, &a->size);
		break;
	case OPT_UADDR_OFFSET:
		ret = parse_size(v, &a->uaddr_offset);
		break;
	case OPT_PERM:
		if (parse_perm(v, &a->perm))
			return usage_error(ctx, cmd,
					   "bad --perm '%s': want letters r, w, x (e.g. rw, r-x)",
					   v);
		break;
	case OPT_MEMTYPE:
		if (parse_memtype(v, &a->memtype))
			return usage_error(ctx, cmd,
					   "bad --memtype '%s': want wb, uc, wc, wt or wp",
					   v);
		break;
	case OPT_MAX_PAGE:
		if (parse_max_page(v, &a->max_page))
			return usage_error(ctx, cmd, "bad --max-page '%s': want 4k, 2m, 1g or auto",
					   v);
		break;
	case OPT_ANON:
		a->backing = BACK_ANON;
		break;
	case OPT_THP:
		a->backing = BACK_THP;
		break;
	case OPT_HUGETLB:
		a->backing = BACK_HUGETLB;
		break;
	case OPT_FILE:
		a->backing = BACK_FILE;
		a->file = v;
		break;
	case OPT_FORMAT:
		if (!strcmp(v, "tree"))
			a->format = FMT_TREE;
		else if (!strcmp(v, "json"))
			a->format = FMT_JSON;
		else if (!strcmp(v, "dot"))
			a->format = FMT_DOT;
		else
			return usage_error(ctx, cmd, "bad --format '%s': want tree, json or dot",
					   v);
		break;
	case OPT_ENTRY:
		ret = parse_size(v, &a->regs.rip);
		break;
	case OPT_CR3:
		ret = parse_size(v, &a->cr3);
		break;
	case OPT_TIMEOUT:
		ret = parse_u64(v, &a->timeout_ms);
		break;
	case OPT_MODE:
		if (parse_mode(v, &a->mode))
			return usage_error(ctx, cmd, "bad --mode '%s': want real, prot32 or long64",
					   v);
		break;
	case OPT_REG:
		if (run_set_reg(a, v, why, sizeof(why)))
			return usage_error(ctx, cmd, "%s", why);
		break;
	case OPT_UNTIL:
		if (ept_pmap_exit_parse(v, &a->until))
			return usage_error(ctx, cmd,
					   "bad --until '%s': want an exit kind, e.g. hlt, io, vmcall, ept_violation (see 'eptctl run --help')",
					   v);
		break;
	default:	/* flags */
		break;
	}
	if (ret)
		return usage_error(ctx, cmd, "bad number '%s' for --%s%s", v,
				   optdefs[id].name, ret == -ERANGE ?
				   " (too big)" : "");
	return 0;
}

/* What run's options say together; the module checks the rest. */
static int check_run(struct ctx *ctx, struct args *a)
{
	if (!(a->seen & O(OPT_TIMEOUT)))
		a->timeout_ms = 1000;
	if (!a->timeout_ms || a->timeout_ms > 60000)
		return usage_error(ctx, "run", "--timeout %llu: want 1 .. 60000 ms",
				   (unsigned long long)a->timeout_ms);
	if ((a->seen & O(OPT_CR3)) && a->mode != EPM_MODE_LONG64)
		return usage_error(ctx, "run", "--cr3 is for --mode long64 only");
	if ((a->seen & O(OPT_UNTIL)) && a->until == EPM_EXIT_INTR)
		return usage_error(ctx, "run",
				   "--until intr: a signal ends every run anyway");
	return 0;
}

/* The long option @arg names (before any '='), for messages. */
static const char *opt_text(const char *arg, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)strcspn(arg, "="), arg);
	return buf;
}

/* Is @name (no dashes) one of @longopts? */
static bool known_long(const struct option *longopts, const char *name)
{
	for (; longopts->name; longopts++) {
		if (!strcmp(longopts->name, name))
			return true;
	}
	return false;
}

/* How many of @longopts start with @prefix? */
static int prefixes(const struct option *longopts, const char *prefix)
{
	int n = 0;

	for (; longopts->name; longopts++)
		n += !strncmp(longopts->name, prefix, strlen(prefix));
	return n;
}

/*
 * Parse one command, argv[0] being its name, into @a, with getopt_long
 * over the options this command takes. getopt_long permutes what it is
 * given, so it gets a copy: @argv stays as it was (for -x). Values point
 * into argv's strings. Returns 0 or EX_USAGE (the error printed).
 */
static int parse_cmd(struct ctx *ctx, int argc, char **argv, struct args *a)
{
	const struct cmd *c = find_cmd(argv[0]);
	struct option longopts[OPT_COUNT + 2];
	char **copy, name[64];
	int i, id, n = 0, ret = 0;
	u32 missing;

	memset(a, 0, sizeof(*a));
	a->words = argv;
	a->nwords = argc;
	ctx->docs = json_documents();
	if (!c)
		return usage_error(ctx, NULL, "unknown command '%s' (try 'eptctl help')",
				   argv[0]);
	a->cmd = c;
	for (id = 0; id < OPT_COUNT; id++) {
		if (!(c->opts & O(id)))
			continue;
		longopts[n++] = (struct option){
			optdefs[id].name,
			optdefs[id].has_arg ? required_argument : no_argument,
			NULL, id + 1,	/* 0 is not a value getopt can return */
		};
	}
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	copy = malloc((argc + 1) * sizeof(*copy));
	if (!copy)
		return fail(ctx, c->name, ENOMEM, "out of memory");
	memcpy(copy, argv, argc * sizeof(*copy));
	copy[argc] = NULL;
	optind = 0;	/* glibc: start afresh, for every command */
	opterr = 0;
	while (!ret && (id = getopt_long(argc, copy, ":h", longopts, NULL)) != -1) {
		const char *arg = copy[optind - 1];
		bool is_long = !strncmp(arg, "--", 2);

		opt_text(arg, name, sizeof(name));
		if (id == 'h') {
			a->help = true;
		} else if (id == ':') {
			ret = usage_error(ctx, c->name, "%s needs a value",
					  is_long ? name : arg);
		} else if (id == '?' && is_long && strchr(arg, '=') &&
			   known_long(longopts, name + 2)) {
			ret = usage_error(ctx, c->name, "%s takes no value", name);
		} else if (id == '?') {
			if (!is_long)
				snprintf(name, sizeof(name), "-%c", optopt);
			ret = usage_error(ctx, c->name, "%s option '%s' (see 'eptctl %s --help')",
					  is_long && prefixes(longopts, name + 2) > 1 ?
					  "ambiguous" : "unknown", name, c->name);
		} else {
			id--;
			if ((O(id) & BACKING_OPTS) &&
			    (a->seen & BACKING_OPTS & ~O(id)))
				ret = usage_error(ctx, c->name,
						  "--anon, --thp, --hugetlb and --file exclude each other");
			else if (set_opt(ctx, a, id, optarg))
				ret = EX_USAGE;
			a->seen |= O(id);
		}
	}
	for (i = optind; !ret && i < argc; i++) {
		if (a->npos >= c->pos_max)
			ret = usage_error(ctx, c->name,
					  "unexpected argument '%s' (see 'eptctl %s --help')",
					  copy[i], c->name);
		else
			a->pos[a->npos++] = copy[i];
	}
	free(copy);
	if (ret)
		return ret;
	if (a->help)
		return 0;

	missing = c->required & ~a->seen;
	if (missing) {
		for (id = 0; !(missing & O(id)); id++)
			;
		return usage_error(ctx, c->name, "missing --%s (see 'eptctl %s --help')",
				   optdefs[id].name, c->name);
	}
	if (a->npos < c->pos_min)
		return usage_error(ctx, c->name, "missing %s (see 'eptctl %s --help')",
				   c->synopsis, c->name);
	if (c->run == cmd_sleep && parse_u64(a->pos[0], &a->ms))
		return usage_error(ctx, c->name, "bad number of milliseconds '%s'",
				   a->pos[0]);
	if (c->run == cmd_run)
		return check_run(ctx, a);
	if (c->run == cmd_help && a->npos && !find_cmd(a->pos[0]))
		return usage_error(ctx, c->name, "unknown command '%s'",
				   a->pos[0]);
	return 0;
}

static int open_device(struct ctx *ctx, const char *cmd)
{
	int err;

	ctx->fd = open(ctx->dev_path, O_RDWR | O_CLOEXEC);
	if (ctx->fd >= 0)
		return 0;
	err = errno;
	return fail(ctx, cmd, err, "cannot open %s%s", ctx->dev_path,
		    err == ENOENT ? " (is ept_pmap.ko loaded?)" :
		    err == EACCES ? " (the device is root's, mode 0600)" : "");
}

static int run_cmd(struct ctx *ctx, const struct args *a)
{
	int ret, i;

	if (ctx->echo) {
		printf("\neptctl>");
		for (i = 0; i < a->nwords; i++)
			printf(" %s", a->words[i]);
		printf("\n");
	}
	ctx->docs = json_documents();
	if (a->help) {
		if (ctx->json)
			print_help_json(a->cmd);
		else
			print_help(stdout, a->cmd);
		return 0;
	}
	if (a->cmd->device && ctx->fd < 0) {
		ret = open_device(ctx, a->cmd->name);
		if (ret)
			return ret;
	}
	ret = a->cmd->run(ctx, a);
	fflush(stdout);
	return ret;
}

static bool is_separator(const char *s)
{
	return !strcmp(s, "--") || !strcmp(s, ";");
}

/*
 * Commands from the command line: all are parsed before the first runs,
 * so a usage error anywhere changes nothing.
 */
static int run_argv(struct ctx *ctx, int argc, char **argv)
{
	struct args *list = calloc(argc, sizeof(*list));
	char where[32];
	int n = 0, i, start, ret = 0;
	bool many = false;

	if (!list) {
		perror("eptctl");
		return EX_FAIL;
	}
	for (i = 0; i < argc; i++)
		many |= is_separator(argv[i]) && i > 0 && i + 1 < argc;

	for (start = 0; start < argc && !ret; start = i + 1) {
		for (i = start; i < argc && !is_separator(argv[i]); i++)
			;
		if (i == start)
			continue;	/* empty command */
		snprintf(where, sizeof(where), "command %d: ", n + 1);
		ctx->where = many ? where : "";
		ret = parse_cmd(ctx, i - start, argv + start, &list[n]);
		n++;
	}
	if (!n && !ret) {
		print_overview(stderr);
		ret = EX_USAGE;
	}
	for (i = 0; i < n && !ret; i++) {
		snprintf(where, sizeof(where), "command %d: ", i + 1);
		ctx->where = many ? where : "";
		ret = run_cmd(ctx, &list[i]);
	}
	free(list);
	return ret;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Split @line into words in place, as sh would for plain words, '...',
 * "..." and backslashes; '#' at the start of a word ends the line. Returns
 * the number of words, -EINVAL for an unterminated quote or -ENOMEM.
 */
static int split_words(char *line, char ***words, int *room)
{
	char *src = line, *dst = line;
	int n = 0;

	for (;;) {
		char quote = 0;

		while (is_blank(*src))
			src++;
		if (!*src || *src == '#')
			break;
		if (n + 1 >= *room) {
			int r = *room ? *room * 2 : 16;
			char **w = realloc(*words, r * sizeof(**words));

			if (!w)
				return -ENOMEM;
			*words = w;
			*room = r;
		}
		(*words)[n++] = dst;
		for (; *src && (quote || !is_blank(*src)); src++) {
			if (quote) {
				if (*src == quote)
					quote = 0;
				else if (*src == '\\' && quote == '"' &&
					 (src[1] == '"' || src[1] == '\\'))
					*dst++ = *++src;
				else
					*dst++ = *src;
			} else if (*src == '\'' || *src == '"') {
				quote = *src;
			} else if (*src == '\\' && src[1] && src[1] != '\n') {
				*dst++ = *++src;
			} else {
				*dst++ = *src;
			}
		}
		if (quote)
			return -EINVAL;
		if (*src)
			src++;
		*dst++ = '\0';
	}
	return n;
}

/* Commands from a batch file, run as they are read. */
static int run_batch(struct ctx *ctx, const char *path)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char where[512];
	char **words = NULL;
	char *line = NULL;
	size_t cap = 0;
	int room = 0, lineno = 0, ret = 0;

	if (!f) {
		int err = errno;

		return fail(ctx, NULL, err, "cannot open batch file %s", path);
	}
	while (!ret && getline(&line, &cap, f) >= 0) {
		int n, i, start;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d: ", name, lineno);
		ctx->where = where;
		n = split_words(line, &words, &room);
		if (n == -ENOMEM) {
			ret = fail(ctx, NULL, ENOMEM, "out of memory");
			break;
		}
		if (n < 0) {
			ret = usage_error(ctx, NULL, "unterminated quote");
			break;
		}
		for (start = 0; start < n && !ret; start = i + 1) {
			struct args a;

			for (i = start; i < n && strcmp(words[i], ";"); i++)
				;
			if (i == start)
				continue;
			ret = parse_cmd(ctx, i - start, words + start, &a);
			if (!ret)
				ret = run_cmd(ctx, &a);
		}
	}
	if (!ret && ferror(f))
		ret = fail(ctx, NULL, EIO, "error reading %s", name);
	free(words);
	free(line);
	if (f != stdin)
		fclose(f);
	return ret;
}

/*
 * --version: eptctl's, the uapi's it was built with, libept-pmap's, and
 * with the module loaded its MODULE_VERSION and, when the device opens,
 * the API it speaks.
 */
static int print_version(struct ctx *ctx)
{
	char mver[64];
	int fd, api = 0;

	if (ept_pmap_module_version(mver, sizeof(mver)))
		mver[0] = '\0';
	fd = ept_pmap_open(ctx->dev_path);
	if (fd >= 0) {
		api = ept_pmap_version(fd);
		ept_pmap_close(fd);
	}
	if (ctx->json) {
		json_begin("--version");
		json_str("eptctl", EPTCTL_VERSION);
		json_u64("uapi", EPM_API_VERSION);
		json_str("libept_pmap", ept_pmap_lib_version());
		json_str_or_null("module", *mver ? mver : NULL);
		if (api > 0)
			json_int("module_api", api);
		else
			json_null("module_api");
		json_end();
		return EX_OK;
	}
	printf("eptctl %s (uapi %d, libept-pmap %s)\n", EPTCTL_VERSION,
	       EPM_API_VERSION, ept_pmap_lib_version());
	if (*mver || api > 0)
		printf("module %s (uapi %d)\n", *mver ? mver : "?", api > 0 ? api : 0);
	else
		printf("module not loaded\n");
	return EX_OK;
}

int main(int argc, char **argv)
{
	struct ctx ctx = {
		.dev_path = DEFAULT_DEVICE,
		.fd = -1,
		.where = "",
	};
	struct option longopts[ARRAY_SIZE(global_opts) + 1];
	const char *batch = NULL;
	bool version = false, help = false;
	size_t k;
	int i, ret;

	for (k = 0; k < ARRAY_SIZE(global_opts); k++)
		longopts[k] = global_opts[k].o;
	longopts[k] = (struct option){ NULL, 0, NULL, 0 };
	opterr = 0;
	/* '+': the first word that is not an option is the first command */
	while ((i = getopt_long(argc, argv, "+:d:b:jpvxVh", longopts, NULL)) != -1) {
		switch (i) {
		case 'd':
			ctx.dev_path = optarg;
			break;
		case 'b':
			batch = optarg;
			break;
		case 'p':
			json_set_pretty(true);
			ctx.json = true;
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'v':
			ctx.verbose = true;
			break;
		case 'x':
			ctx.echo = true;
			break;
		case 'V':
			version = true;
			break;
		case 'h':
			help = true;
			break;
		case ':':
			return usage_error(&ctx, NULL, "%s needs a value",
					   argv[optind - 1]);
		default:
			if (optopt && strncmp(argv[optind - 1], "--", 2))
				return usage_error(&ctx, NULL, "unknown option '-%c' (try 'eptctl --help')",
						   optopt);
			return usage_error(&ctx, NULL, "unknown or ambiguous option '%s' (try 'eptctl --help')",
					   argv[optind - 1]);
		}
	}
	i = optind;
	if (help) {
		if (ctx.json)
			print_help_json(NULL);
		else
			print_overview(stdout);
		return EX_OK;
	}
	if (version)
		return print_version(&ctx);
	if (ctx.echo && ctx.json)
		return usage_error(&ctx, NULL, "-x and -j exclude each other: -x would break the JSON");
	if (batch && i < argc)
		return usage_error(&ctx, NULL, "-b takes no commands beside the batch file");

	ret = batch ? run_batch(&ctx, batch) : run_argv(&ctx, argc - i, argv + i);

	/* Closing the file unmaps everything; then the memory can go. */
	if (ctx.fd >= 0)
		close(ctx.fd);
	while (ctx.regions) {
		struct region *r = ctx.regions;

		ctx.regions = r->next;
		mem_free(r);
	}
	if (fflush(stdout) && !ret)
		ret = fail(&ctx, NULL, errno, "cannot write output");
	return ret;
}
