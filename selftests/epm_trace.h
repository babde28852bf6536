/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's trace events (src/trace.h) as the selftests read them: a
 * private tracefs instance, so nothing else that traces sees or disturbs
 * it, with the ept_pmap events of this process only (set_event_pid), read
 * back as the text after each line's timestamp ("ept_pmap_map: gpa ...").
 * Include it after kselftest_harness.h: epm_trace_expect() asserts.
 */
#ifndef _EPM_TRACE_H
#define _EPM_TRACE_H

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define EPM_TRACE_MAX	64

struct epm_trace {
	char dir[160];			/* the instance */
	char *line[EPM_TRACE_MAX];	/* after epm_trace_read() */
	int n;
};

static inline int epm_trace_write(const struct epm_trace *t,
				  const char *file, const char *val)
{
	char path[256];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", t->dir, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/* Where tracefs is: mounted at /sys/kernel/tracing if it is not yet. */
static inline const char *epm_tracefs(void)
{
	if (!access("/sys/kernel/tracing/instances", F_OK))
		return "/sys/kernel/tracing";
	if (!mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) &&
	    !access("/sys/kernel/tracing/instances", F_OK))
		return "/sys/kernel/tracing";
	if (!access("/sys/kernel/debug/tracing/instances", F_OK))
		return "/sys/kernel/debug/tracing";
	return NULL;
}

/*
 * Start recording the ept_pmap events of this process. Returns 0; -1 with
 * errno ENODEV when the kernel has no tracefs, ENOENT when it has no
 * ept_pmap events (the module is not loaded, or its events were refused),
 * else what tracefs said.
 */
static inline int epm_trace_start(struct epm_trace *t)
{
	const char *fs = epm_tracefs();
	char pid[32];

	memset(t, 0, sizeof(*t));
	if (!fs) {
		errno = ENODEV;
		return -1;
	}
	snprintf(t->dir, sizeof(t->dir), "%s/instances/epm-test-%d", fs,
		 (int)getpid());
	rmdir(t->dir);
	if (mkdir(t->dir, 0700))
		return -1;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (epm_trace_write(t, "set_event_pid", pid) ||
	    epm_trace_write(t, "events/ept_pmap/enable", "1")) {
		int err = errno;

		rmdir(t->dir);
		errno = err;
		return -1;
	}
	return 0;
}

static inline void epm_trace_free(struct epm_trace *t)
{
	while (t->n > 0)
		free(t->line[--t->n]);
}

/*
 * Read what was recorded into t->line[] (oldest first): each event as
 * "name: fields". Returns the count, or -1 when the buffer cannot be read
 * or holds more than EPM_TRACE_MAX events.
 */
static inline int epm_trace_read(struct epm_trace *t)
{
	char path[256], buf[512];
	FILE *f;

	epm_trace_free(t);
	snprintf(path, sizeof(path), "%s/trace", t->dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f)) {
		char *ev = strstr(buf, ": ept_pmap_");

		if (buf[0] == '#' || !ev)
			continue;
		if (t->n == EPM_TRACE_MAX) {
			fclose(f);
			return -1;
		}
		ev[strcspn(ev, "\n")] = 0;
		t->line[t->n++] = strdup(ev + 2);
	}
	fclose(f);
	return t->n;
}

/* Forget what was recorded so far (the next read starts after it). */
static inline int epm_trace_clear(struct epm_trace *t)
{
	epm_trace_free(t);
	return epm_trace_write(t, "trace", "");
}

/* The events recorded are exactly @want[0..n), in order; all shown if not. */
static inline void epm_trace_expect(struct __test_metadata *_metadata,
				    struct epm_trace *t,
				    const char *const *want, int n)
{
	int got = epm_trace_read(t), i;
	bool same = got == n;

	for (i = 0; same && i < n; i++)
		same = !strcmp(want[i], t->line[i]);
	for (i = 0; !same && i < got; i++)
		TH_LOG("event %d: %s", i, t->line[i]);
	ASSERT_EQ(n, got);
	for (i = 0; i < n; i++)
		ASSERT_STREQ(want[i], t->line[i]);
}

static inline void epm_trace_stop(struct epm_trace *t)
{
	epm_trace_free(t);
	epm_trace_write(t, "events/ept_pmap/enable", "0");
	rmdir(t->dir);
}

#endif /* _EPM_TRACE_H */
