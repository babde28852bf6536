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
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
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

/*
 * Generic helpers added for the memory tests (mem_test.c).
 */

/* epm_map_at() with a memory type (EPM_MEMTYPE_*) and a largest leaf size. */
static inline int epm_map_sized(int fd, uint64_t gpa, uint64_t size, void *mem,
				uint32_t flags, uint8_t memtype,
				uint8_t max_page)
{
	struct epm_map m = {
		.gpa = gpa, .size = size, .uaddr = (uintptr_t)mem,
		.flags = flags, .memtype = memtype, .max_page = max_page,
	};

	return ioctl(fd, EPM_IOC_MAP, &m);
}

/*
 * Fold every CPU's pending vmstat deltas into /proc/vmstat (needs root).
 * Returns 0, or -1 with errno set.
 */
static inline int epm_vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = write(fd, "1\n", 2) == 2 ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * epm_pins_held() after epm_vmstat_refresh(): exact, where the plain read
 * can be off by the per-CPU deltas not yet folded. -1 on failure.
 */
static inline long long epm_pins_exact(void)
{
	if (epm_vmstat_refresh())
		return -1;
	return epm_pins_held();
}

/*
 * Drop capability @cap from this process's effective, permitted and
 * inheritable sets (raw capget/capset, no libcap). 0, or -1 with errno.
 */
static inline int epm_cap_drop(unsigned int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	uint32_t bit = 1u << (cap % 32);
	unsigned int i = cap / 32;

	if (i >= _LINUX_CAPABILITY_U32S_3) {
		errno = EINVAL;
		return -1;
	}
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[i].effective &= ~bit;
	data[i].permitted &= ~bit;
	data[i].inheritable &= ~bit;
	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

/*
 * Real uids the tests charge pins to (MAP charges the opening user): each
 * test that needs a charge starting at zero takes its own, used by no
 * other process in the VM.
 */
#define EPM_TEST_UID_ABI	42001
#define EPM_TEST_UID_MEMLOCK	42002
#define EPM_TEST_UID_EXEC	42003
#define EPM_TEST_UID_EXIT	42004

/*
 * Make @uid this process's real uid, keeping uid 0 as the effective and
 * saved one, so the capabilities stay and the device still opens: files
 * opened from now on charge their pins to @uid's user. 0, or -1 (errno).
 */
static inline int epm_become_user(uid_t uid)
{
	return setresuid(uid, (uid_t)-1, (uid_t)-1);
}

/*
 * Generic helpers added for the ABI and model tests (abi_test.c,
 * model_test.c).
 */

/*
 * Page frame backing @addr, from /proc/self/pagemap (frames show to
 * CAP_SYS_ADMIN only), or 0 when nothing backs it or on failure.
 */
static inline uint64_t epm_pfn_of(const void *addr)
{
	off_t off = (off_t)((uintptr_t)addr / SZ_4K * sizeof(uint64_t));
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t ent = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), off) != sizeof(ent))
		ent = 0;
	close(fd);
	/* bit 63: present; bits 54:0: the frame */
	return (ent >> 63) ? ent & ((1ULL << 55) - 1) : 0;
}

#endif /* _EPM_TEST_H */
