// SPDX-License-Identifier: GPL-2.0
/*
 * eptctl: load and run. load copies a flat guest binary into the memory
 * behind a mapped gpa range; run enters the guest through EPM_IOC_RUN and
 * prints the exit record the module returns, decoded, with the registers.
 *
 * run plays a tiny COM1 for the guest, so that a guest can say something:
 * an OUT of one byte to the data port 0x3f8 goes to stdout, the other
 * UART registers (0x3f9..0x3ff) take what is written and read as an idle
 * 16550 (LSR: transmitter empty), and the guest is resumed. Every other
 * exit ends the run, unless --until names a kind not seen yet: then HLT,
 * VMCALL and port I/O exits are printed in one line and resumed (an IN
 * from a port nobody emulates reads all ones) until that kind comes,
 * something that cannot be resumed happens, or the time is up. --timeout
 * bounds the whole command, all resumptions included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "eptctl.h"

#define COM1_BASE	0x3f8
#define COM1_DATA	COM1_BASE
#define COM1_LSR	(COM1_BASE + 5)
#define COM1_PORTS	8
#define LSR_IDLE	0x60	/* THR empty, transmitter empty */
#define LOAD_MAX	(256ULL << 20)

/* Read all of @path into a new buffer. Returns 0 or a negative errno. */
static int read_file(const char *path, char **out, size_t *lenp, char *why,
		     size_t wlen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;
	size_t len;
	int err;

	if (!f) {
		err = errno;
		snprintf(why, wlen, "cannot open %s: %s", path, strerror(err));
		return -err;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, wlen, "%s is not a regular file", path);
		fclose(f);
		return -EINVAL;
	}
	if (!st.st_size || (u64)st.st_size > LOAD_MAX) {
		snprintf(why, wlen, "%s is %s (a guest image is 1 byte .. 256 MiB)",
			 path, st.st_size ? "too big" : "empty");
		fclose(f);
		return -EINVAL;
	}
	len = st.st_size;
	buf = malloc(len);
	if (!buf) {
		snprintf(why, wlen, "out of memory for %zu bytes", len);
		fclose(f);
		return -ENOMEM;
	}
	if (fread(buf, 1, len, f) != len) {
		err = ferror(f) ? EIO : EINVAL;
		snprintf(why, wlen, "cannot read %zu bytes from %s", len, path);
		free(buf);
		fclose(f);
		return -err;
	}
	fclose(f);
	*out = buf;
	*lenp = len;
	return 0;
}

int cmd_load(struct ctx *ctx, const struct args *a)
{
	const char *path = a->pos[0];
	char why[256];
	size_t len = 0;
	char *buf = NULL;
	int err;

	err = -read_file(path, &buf, &len, why, sizeof(why));
	if (err)
		return fail(ctx, "load", err, "%s", why);
	err = -mem_write(ctx, a->gpa, buf, len, why, sizeof(why));
	free(buf);
	if (err)
		return fail(ctx, "load", err, "%s", why);
	if (ctx->json) {
		json_begin("load");
		json_str("file", path);
		json_u64("gpa", a->gpa);
		json_u64("size", len);
		json_end();
	} else if (ctx->verbose) {
		printf("load: %s: %zu bytes at [0x%llx, 0x%llx)\n", path, len,
		       (unsigned long long)a->gpa,
		       (unsigned long long)(a->gpa + len));
	}
	return 0;
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static u64 *reg_slot(struct epm_regs *regs, unsigned int idx)
{
	return (u64 *)regs + idx;
}

/* Put @val into the low @size bytes of rax, as IN does. */
static void set_in_data(struct epm_run *r, u64 val)
{
	u64 mask = r->io_size >= 8 ? ~0ULL : _BITULL(8 * r->io_size) - 1;

	r->regs.rax = (r->regs.rax & ~mask) | (val & mask);
}

/*
 * The guest's COM1. Returns true when the exit was port I/O to it and the
 * guest can go on; a byte written to the data port goes to stdout, and
 * *@column tracks whether the console's last line is open.
 */
/* What the guest wrote to COM1, kept for -j (bounded: the rest is dropped). */
#define CONSOLE_MAX	65536

struct console {
	bool json;
	size_t len;
	char buf[CONSOLE_MAX + 1];
};

static void console_putc(struct console *con, char c)
{
	if (!con->json) {
		putchar(c);
		if (c == '\n')
			fflush(stdout);
	} else if (con->len < CONSOLE_MAX) {
		con->buf[con->len++] = c;
		con->buf[con->len] = '\0';
	}
}

static bool com1(struct epm_run *r, bool *column, struct console *con)
{
	if (r->exit_kind != EPM_EXIT_IO || r->io_flags || r->io_size != 1 ||
	    r->port < COM1_BASE || r->port >= COM1_BASE + COM1_PORTS)
		return false;
	if (r->io_in) {
		set_in_data(r, r->port == COM1_LSR ? LSR_IDLE : 0);
		return true;
	}
	if (r->port == COM1_DATA) {
		char c = r->io_data & 0xff;

		console_putc(con, c);
		*column = c != '\n';
	}
	return true;
}

static bool resumable(u32 kind)
{
	return kind == EPM_EXIT_HLT || kind == EPM_EXIT_VMCALL ||
	       kind == EPM_EXIT_IO;
}

/* "io out port 0x80 size 1 data 0x41", "ept_violation gpa ...", ... */
static void exit_summary(const struct epm_run *r, u64 timeout_ms, char *buf,
			 size_t len)
{
	char acc[4], map[4];
	u64 q = r->exit_qual;
	int n;

	n = snprintf(buf, len, "%s", exit_name(r->exit_kind));
	if (n < 0 || (size_t)n >= len)
		return;
	buf += n;
	len -= n;
	switch (r->exit_kind) {
	case EPM_EXIT_IO:
		snprintf(buf, len, " %s port 0x%x size %u%s%s",
			 r->io_in ? "in" : "out", r->port, r->io_size,
			 r->io_flags & EPM_IO_STRING ? " string" : "",
			 r->io_flags & EPM_IO_REP ? " rep" : "");
		if (!r->io_in && !r->io_flags) {
			n = strlen(buf);
			snprintf(buf + n, len - n, " data 0x%llx",
				 (unsigned long long)r->io_data);
		}
		break;
	case EPM_EXIT_EPT_VIOLATION:
		/* qualification bits 5:3: what the translation allowed */
		snprintf(buf, len, " gpa 0x%llx access %s, %s%s",
			 (unsigned long long)r->gpa, ept_pmap_perm_str(r->access, acc),
			 q & (7 << 3) ? "mapped " : "not mapped",
			 q & (7 << 3) ? ept_pmap_perm_str((q >> 3) & 7, map) : "");
		break;
	case EPM_EXIT_EPT_MISCONFIG:
		snprintf(buf, len, " gpa 0x%llx", (unsigned long long)r->gpa);
		break;
	case EPM_EXIT_EXCEPTION:
		snprintf(buf, len, " vector %u (%s)", r->vector,
			 ept_pmap_vector_name(r->vector));
		if (ept_pmap_vector_has_error_code(r->vector)) {
			n = strlen(buf);
			snprintf(buf + n, len - n, " error code 0x%x",
				 r->error_code);
		}
		if (r->vector == 14) {
			n = strlen(buf);
			snprintf(buf + n, len - n, " address 0x%llx",
				 (unsigned long long)q);
		}
		break;
	case EPM_EXIT_TIMEOUT:
		snprintf(buf, len, " after %llu ms",
			 (unsigned long long)timeout_ms);
		break;
	case EPM_EXIT_ENTRY_FAIL:
		if (r->exit_reason & _BITULL(31))
			snprintf(buf, len, " reason %u (%s)", r->entry_error,
				 vmx_reason_name(r->entry_error));
		else
			snprintf(buf, len, " VM-instruction error %u (%s)",
				 r->entry_error,
				 vmx_insn_error_name(r->entry_error));
		break;
	case EPM_EXIT_INTR:
		snprintf(buf, len, " (a signal arrived)");
		break;
	case EPM_EXIT_OTHER:
		snprintf(buf, len, " (%s)",
			 vmx_reason_name(r->exit_reason & 0xffff));
		break;
	}
}

static void print_regs(const struct epm_regs *regs)
{
	const u64 *v = (const u64 *)regs;
	char fl[96];
	unsigned int i;

	for (i = 0; i < 16; i++)
		printf("  %-3s 0x%016llx%s", reg_name(i),
		       (unsigned long long)v[i], i % 4 == 3 ? "\n" : "");
	rflags_bits(regs->rflags, fl, sizeof(fl));
	printf("  rip 0x%016llx  rflags 0x%016llx%s%s\n",
	       (unsigned long long)regs->rip, (unsigned long long)regs->rflags,
	       *fl ? " " : "", fl);
}

static void json_record(const struct epm_run *r, u64 timeout_ms)
{
	static const char *const regs[] = {
		"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
		"rip", "rflags",
	};
	const u64 *v = (const u64 *)&r->regs;
	char sum[192], acc[4];
	unsigned int i;

	exit_summary(r, timeout_ms, sum, sizeof(sum));
	json_obj("exit");
	json_str("kind", exit_name(r->exit_kind));
	json_u64("kind_code", r->exit_kind);
	json_str("summary", sum);
	json_u64("reason", r->exit_reason);
	json_str_or_null("reason_name",
			 ept_pmap_vmx_reason_name(r->exit_reason & 0xffff));
	json_bool("entry_failure", r->exit_reason & _BITULL(31));
	json_u64("qualification", r->exit_qual);
	json_u64("gpa", r->gpa);
	json_str("access", ept_pmap_perm_str(r->access, acc));
	json_u64("vector", r->vector);
	json_u64("error_code", r->error_code);
	json_u64("port", r->port);
	json_u64("io_size", r->io_size);
	json_bool("io_in", r->io_in);
	json_u64("io_data", r->io_data);
	json_bool("io_string", r->io_flags & EPM_IO_STRING);
	json_bool("io_rep", r->io_flags & EPM_IO_REP);
	json_u64("entry_error", r->entry_error);
	json_obj_end();
	json_obj("regs");
	for (i = 0; i < ARRAY_SIZE(regs); i++)
		json_u64(regs[i], v[i]);
	json_obj_end();
}

static void print_record(const struct epm_run *r, u64 timeout_ms)
{
	char sum[192];

	exit_summary(r, timeout_ms, sum, sizeof(sum));
	printf("exit: %s\n", sum);
	if ((r->exit_kind == EPM_EXIT_TIMEOUT || r->exit_kind == EPM_EXIT_INTR) &&
	    !r->exit_reason && !r->exit_qual)
		printf("  reason 0, qualification 0x0 (no VM exit: the run was stopped)\n");
	else
		printf("  reason %u (%s), qualification 0x%llx\n",
		       r->exit_reason & 0xffff,
		       r->exit_kind == EPM_EXIT_ENTRY_FAIL && !r->exit_reason ?
		       "VMLAUNCH failed" :
		       vmx_reason_name(r->exit_reason & 0xffff),
		       (unsigned long long)r->exit_qual);
	print_regs(&r->regs);
}

static const char *run_cause(const struct args *a, int err, char *buf,
			     size_t len)
{
	switch (err) {
	case ENODEV:
		return "no usable VMX here (see caps: vmx, ept, unrestricted, preempt_timer)";
	case EBUSY:
		return "VMX is held by another hypervisor (kvm_intel?): close its VMs or rmmod it";
	case EINVAL:
		if (a->mode == EPM_MODE_LONG64 && (a->cr3 & (EPM_SIZE_4K - 1)))
			snprintf(buf, len, "cr3 0x%llx is not 4 KiB aligned",
				 (unsigned long long)a->cr3);
		else
			snprintf(buf, len, "the module refused the run (mode %s, entry 0x%llx)",
				 ept_pmap_mode_name(a->mode),
				 (unsigned long long)a->regs.rip);
		return buf;
	case EPERM:
		return "the address space belongs to another process";
	case ENOTTY:
		return "the module has no RUN (old module?)";
	default:
		return strerror(err);
	}
}

int cmd_run(struct ctx *ctx, const struct args *a)
{
	u64 timeout_ms = a->timeout_ms, start, deadline, t;
	bool column = false, until = a->seen & O(OPT_UNTIL);
	bool console = !(a->seen & O(OPT_NO_CONSOLE));
	struct console *con = calloc(1, sizeof(*con));
	struct epm_run r;
	char why[192];
	int err, ret = 0;

	if (!con)
		return fail(ctx, "run", ENOMEM, "out of memory");
	con->json = ctx->json;
	if (ctx->json) {
		json_begin("run");
		json_u64("entry", a->regs.rip);
		json_str("mode", ept_pmap_mode_name(a->mode));
		json_u64("timeout_ms", timeout_ms);
		json_arr("resumed");
	}
	memset(&r, 0, sizeof(r));
	r.flags = (a->seen & O(OPT_GUEST_EXC) ? EPM_RUN_GUEST_EXC : 0) |
		  (a->seen & O(OPT_RESET) ? EPM_RUN_RESET : 0);
	r.mode = a->mode;
	r.cr3 = a->cr3;
	r.regs = a->regs;
	start = now_ns();
	deadline = start + timeout_ms * 1000000ULL;

	for (;;) {
		t = now_ns();
		/* out of time: a 1 ns run still returns a timeout record */
		r.timeout_ns = t < deadline ? deadline - t : 1;
		err = -ept_pmap_run(ctx->fd, &r);
		if (err && err != EINTR) {
			if (column && !con->json)
				putchar('\n');
			ret = fail(ctx, "run", err, "%s",
				   run_cause(a, err, why, sizeof(why)));
			goto out;
		}
		if (!err && console && com1(&r, &column, con))
			continue;
		if (err || !until || r.exit_kind == a->until ||
		    !resumable(r.exit_kind))
			break;
		if (column && !con->json)
			putchar('\n');
		column = false;
		exit_summary(&r, timeout_ms, why, sizeof(why));
		if (r.exit_kind == EPM_EXIT_IO && r.io_in)
			set_in_data(&r, ~0ULL);
		if (con->json) {
			json_obj(NULL);
			json_str("kind", exit_name(r.exit_kind));
			json_str("summary", why);
			json_u64("rip", r.regs.rip);
			if (r.exit_kind == EPM_EXIT_IO && r.io_in)
				json_u64("read", r.regs.rax &
					 (_BITULL(8 * r.io_size) - 1));
			json_obj_end();
		} else if (r.exit_kind == EPM_EXIT_IO && r.io_in) {
			printf("exit: %s at rip 0x%llx: read 0x%llx, resumed\n",
			       why, (unsigned long long)r.regs.rip,
			       (unsigned long long)(r.regs.rax &
			       (_BITULL(8 * r.io_size) - 1)));
		} else {
			printf("exit: %s at rip 0x%llx: resumed\n", why,
			       (unsigned long long)r.regs.rip);
		}
	}
	if (con->json) {
		json_arr_end();
		json_str("console", con->buf);
		json_record(&r, timeout_ms);
	} else {
		if (column)
			putchar('\n');
		print_record(&r, timeout_ms);
	}
	if (err)
		ret = fail(ctx, "run", err, "interrupted by a signal after %llu ms",
			   (unsigned long long)((now_ns() - start) / 1000000));
	else if (until && r.exit_kind != a->until)
		ret = fail(ctx, "run", 0, "stopped at exit %s, not at %s",
			   exit_name(r.exit_kind), exit_name(a->until));
	else if (con->json)
		json_end();
out:
	free(con);
	return ret;
}

/* --reg NAME=VALUE into @a: 0, or a message in @why and -EINVAL. */
int run_set_reg(struct args *a, const char *s, char *why, size_t wlen)
{
	unsigned int idx;
	u64 val;
	int ret = parse_reg(s, &idx, &val);

	if (ret == -ENOENT || (!ret && idx == 16)) {
		snprintf(why, wlen,
			 "bad --reg '%s': want rax..rdx, rsi, rdi, rsp, rbp, r8..r15 or rflags%s",
			 s, ret ? "" : " (rip is --entry)");
		return -EINVAL;
	}
	if (ret) {
		snprintf(why, wlen, "bad --reg '%s': want NAME=VALUE, e.g. rax=0x1234",
			 s);
		return -EINVAL;
	}
	*reg_slot(&a->regs, idx) = val;
	a->regs_set |= 1u << idx;
	return 0;
}
