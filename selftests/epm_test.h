/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the ept-pmap selftests (kselftest harness). Every
 * helper returns what the ioctl returned and leaves errno as it set it, so
 * tests can assert exact errnos.
 */
#ifndef _EPM_TEST_H
#define _EPM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/ept_pmap.h>

#define EPM_DEV		"/dev/" EPM_DEVICE_NAME
#define SZ_4K		0x1000ULL
#define SZ_2M		0x200000ULL
#define SZ_1G		0x40000000ULL

static inline int epm_open_dev(void)
{
	return open(EPM_DEV, O_RDWR | O_CLOEXEC);
}

/* Anonymous memory aligned to @align (for THP: 2M and MADV_HUGEPAGE). */
static inline void *epm_alloc(size_t size, size_t align, int advice)
{
	size_t len = size + align;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (advice)
		madvise((void *)a, size, advice);
	memset((void *)a, 0x5a, size);
	return (void *)a;
}

static inline int epm_map_at(int fd, uint64_t gpa, uint64_t size, void *mem,
			     uint32_t flags)
{
	struct epm_map m = {
		.gpa = gpa, .size = size, .uaddr = (uintptr_t)mem,
		.flags = flags,
	};

	return ioctl(fd, EPM_IOC_MAP, &m);
}

static inline int epm_unmap_at(int fd, uint64_t gpa, uint64_t size)
{
	struct epm_range r = { .gpa = gpa, .size = size };

	return ioctl(fd, EPM_IOC_UNMAP, &r);
}

static inline int epm_protect_at(int fd, uint64_t gpa, uint64_t size,
				 uint32_t perm)
{
	struct epm_range r = { .gpa = gpa, .size = size, .perm = perm };

	return ioctl(fd, EPM_IOC_PROTECT, &r);
}

static inline int epm_query_at(int fd, uint64_t gpa, struct epm_query *q)
{
	memset(q, 0, sizeof(*q));
	q->gpa = gpa;
	return ioctl(fd, EPM_IOC_QUERY, q);
}

static inline int epm_stats_of(int fd, struct epm_stats *s)
{
	memset(s, 0, sizeof(*s));
	return ioctl(fd, EPM_IOC_STATS, s);
}

/* Mismatch count from CHECK, or -1 (errno set) when the ioctl fails. */
static inline long long epm_check_count(int fd)
{
	struct epm_check c;

	memset(&c, 0, sizeof(c));
	if (ioctl(fd, EPM_IOC_CHECK, &c))
		return -1;
	return (long long)c.mismatches;
}

/* A whole dump, taken in small batches through the cursor. */
struct epm_snap {
	struct epm_dump_entry *e;
	size_t n;
};

static inline int epm_snap_take(int fd, struct epm_snap *s)
{
	struct epm_dump_entry batch[37];
	struct epm_dump d = { .buf = (uintptr_t)batch };

	s->e = NULL;
	s->n = 0;
	do {
		d.count = 37;
		if (ioctl(fd, EPM_IOC_DUMP, &d))
			return -1;
		s->e = realloc(s->e, (s->n + d.count + 1) * sizeof(*s->e));
		memcpy(s->e + s->n, batch, d.count * sizeof(*batch));
		s->n += d.count;
	} while (d.cursor != EPM_DUMP_DONE);
	return 0;
}

static inline int epm_snap_equal(const struct epm_snap *a,
				 const struct epm_snap *b)
{
	return a->n == b->n &&
	       !memcmp(a->e, b->e, a->n * sizeof(*a->e));
}

static inline void epm_snap_free(struct epm_snap *s)
{
	free(s->e);
	s->e = NULL;
	s->n = 0;
}

/* nr_foll_pin_acquired - nr_foll_pin_released from /proc/vmstat */
static inline long long epm_pins_held(void)
{
	long long acq = -1, rel = -1, v;
	char name[64];
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	return acq < 0 || rel < 0 ? -1 : acq - rel;
}

#endif /* _EPM_TEST_H */
