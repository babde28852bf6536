// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libept-pmap: the device and its ioctls, one call each, and the dump
 * iterator. Every call returns 0 (or a value) or a negative errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ept-pmap.h"

#define SYSFS_VERSION	"/sys/module/ept_pmap/version"

static int do_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

int ept_pmap_open(const char *path)
{
	int fd = open(path ? path : EPT_PMAP_DEFAULT_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int ept_pmap_close(int fd)
{
	return close(fd) ? -errno : 0;
}

int ept_pmap_module_version(char *buf, size_t len)
{
	FILE *f = fopen(SYSFS_VERSION, "r");
	size_t n;
	int err;

	if (!f)
		return -errno;
	if (!len) {
		fclose(f);
		return -EINVAL;
	}
	if (!fgets(buf, len, f)) {
		err = ferror(f) ? EIO : ENODATA;
		fclose(f);
		return -err;
	}
	fclose(f);
	n = strcspn(buf, "\n");
	buf[n] = '\0';
	return 0;
}

int ept_pmap_version(int fd)
{
	return do_ioctl(fd, EPM_IOC_VERSION, NULL);
}

int ept_pmap_caps(int fd, struct epm_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	return do_ioctl(fd, EPM_IOC_CAPS, caps);
}

int ept_pmap_map(int fd, const struct epm_map *map)
{
	return do_ioctl(fd, EPM_IOC_MAP, (void *)map);
}

int ept_pmap_unmap(int fd, uint64_t gpa, uint64_t size)
{
	struct epm_range r = { .gpa = gpa, .size = size };

	return do_ioctl(fd, EPM_IOC_UNMAP, &r);
}

int ept_pmap_protect(int fd, uint64_t gpa, uint64_t size, uint32_t perm)
{
	struct epm_range r = { .gpa = gpa, .size = size, .perm = perm };

	return do_ioctl(fd, EPM_IOC_PROTECT, &r);
}

int ept_pmap_query(int fd, uint64_t gpa, struct epm_query *q)
{
	memset(q, 0, sizeof(*q));
	q->gpa = gpa;
	return do_ioctl(fd, EPM_IOC_QUERY, q);
}

int ept_pmap_dump(int fd, struct epm_dump *d)
{
	return do_ioctl(fd, EPM_IOC_DUMP, d);
}

int ept_pmap_check(int fd, struct epm_check *c)
{
	memset(c, 0, sizeof(*c));
	return do_ioctl(fd, EPM_IOC_CHECK, c);
}

int ept_pmap_eptp(int fd, uint32_t flags, struct epm_eptp *e)
{
	memset(e, 0, sizeof(*e));
	e->flags = flags;
	return do_ioctl(fd, EPM_IOC_EPTP, e);
}

int ept_pmap_stats(int fd, struct epm_stats *s)
{
	memset(s, 0, sizeof(*s));
	return do_ioctl(fd, EPM_IOC_STATS, s);
}

int ept_pmap_run(int fd, struct epm_run *r)
{
	return do_ioctl(fd, EPM_IOC_RUN, r);
}

void ept_pmap_dump_init(struct ept_pmap_dump_iter *it, int fd, uint32_t flags)
{
	it->fd = fd;
	it->flags = flags;
	it->cursor = 0;
	it->count = 0;
	it->next = 0;
	it->done = false;
}

int ept_pmap_dump_next(struct ept_pmap_dump_iter *it,
		       const struct epm_dump_entry **e)
{
	struct epm_dump d;
	int ret;

	while (it->next == it->count) {
		if (it->done)
			return 0;
		memset(&d, 0, sizeof(d));
		d.buf = (uintptr_t)it->buf;
		d.count = EPT_PMAP_DUMP_BATCH;
		d.flags = it->flags;
		d.cursor = it->cursor;
		ret = ept_pmap_dump(it->fd, &d);
		if (ret < 0)
			return ret;
		if (d.count > EPT_PMAP_DUMP_BATCH)
			return -EPROTO;
		if (!d.count && d.cursor == it->cursor &&
		    d.cursor != EPM_DUMP_DONE)
			return -EPROTO;
		it->count = d.count;
		it->next = 0;
		it->cursor = d.cursor;
		it->done = d.cursor == EPM_DUMP_DONE;
	}
	*e = &it->buf[it->next++];
	return 1;
}
