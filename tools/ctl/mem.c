// SPDX-License-Identifier: GPL-2.0
/*
 * eptctl: the memory behind MAP. eptctl allocates it itself, keeps it
 * mapped while any part of it is mapped in the guest, and gives back each
 * piece (4 KiB, or a whole huge page) once UNMAP has removed every guest
 * page in it. Each region keeps a bit per guest page still mapped, so
 * unmapping a hole twice or a range spanning several regions is exact.
 * The same bits tell load which guest pages this process backs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/mman.h>

#include "eptctl.h"

#define BITS		64

static u64 round_up(u64 v, u64 a)
{
	return (v + a - 1) & ~(a - 1);
}

static bool test_bit(const u64 *map, u64 i)
{
	return map[i / BITS] >> (i % BITS) & 1;
}

static void set_bit(u64 *map, u64 i)
{
	map[i / BITS] |= 1ULL << (i % BITS);
}

static void clear_bit(u64 *map, u64 i)
{
	map[i / BITS] &= ~(1ULL << (i % BITS));
}

static u64 *bitmap(u64 nbits)
{
	return calloc(nbits / BITS + 1, sizeof(u64));
}

static u64 free_1g_hugepages(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages",
			"r");
	unsigned long long n = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

/* Anonymous memory of @kind from libept-pmap: its address, or NULL. */
static void *alloc_lib(enum ept_pmap_mem_kind kind, size_t *len,
		       size_t *gran, char *why, size_t wlen)
{
	u64 page = kind == EPT_PMAP_MEM_HUGETLB_1G ? EPM_SIZE_1G : EPM_SIZE_2M;
	struct ept_pmap_mem m;
	int err = -ept_pmap_mem_alloc(&m, kind, *len);

	if (err) {
		if (kind == EPT_PMAP_MEM_THP)
			snprintf(why, wlen, "%zu bytes of THP memory: %s%s", *len,
				 strerror(err), err == EINVAL ?
				 " (no transparent huge pages in this kernel?)" : "");
		else if (kind == EPT_PMAP_MEM_ANON)
			snprintf(why, wlen, "mmap of %zu bytes failed", *len);
		else
			snprintf(why, wlen,
				 "no %zu free %s huge pages for %zu bytes (see /proc/sys/vm/nr_hugepages)",
				 (size_t)((*len + page - 1) / page),
				 page == EPM_SIZE_1G ? "1G" : "2M", *len);
		errno = err;
		return NULL;
	}
	*len = m.size;
	/* THP memory may be given back 4 KiB at a time; hugetlb may not */
	*gran = kind == EPT_PMAP_MEM_THP ? EPM_SIZE_4K : m.page;
	return m.addr;
}

static void *alloc_file(const char *path, size_t *len, size_t *gran,
			bool *writable, char *why, size_t wlen)
{
	int prot = PROT_READ | PROT_WRITE;
	struct statfs sfs;
	struct stat st;
	void *m;
	int fd, err;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EISDIR)) {
		prot = PROT_READ;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		err = errno;
		snprintf(why, wlen, "cannot open %s: %s", path, strerror(err));
		errno = err;
		return NULL;
	}
	if (!fstatfs(fd, &sfs) && sfs.f_type == HUGETLBFS_MAGIC &&
	    sfs.f_bsize > (long)EPM_SIZE_4K) {
		*gran = sfs.f_bsize;
		*len = round_up(*len, *gran);
	}
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) &&
	    (u64)st.st_size < *len && (prot & PROT_WRITE) &&
	    ftruncate(fd, *len)) {
		err = errno;
		snprintf(why, wlen, "cannot extend %s to %zu bytes: %s", path,
			 *len, strerror(err));
		close(fd);
		errno = err;
		return NULL;
	}
	*writable = prot & PROT_WRITE;
	m = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	err = errno;
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(why, wlen, "mmap of %s (%zu bytes) failed: %s", path,
			 *len, strerror(err));
		errno = err;
		return NULL;
	}
	return m;
}

/*
 * Allocate what MAP @a needs: size bytes at uaddr = base + uaddr_offset.
 * Returns 0, or a negative errno with a cause in @why.
 */
int mem_alloc(const struct args *a, struct region **out, char *why,
	      size_t wlen)
{
	size_t len = round_up(a->size + a->uaddr_offset, EPM_SIZE_4K);
	size_t gran = EPM_SIZE_4K;
	bool writable = true;
	enum ept_pmap_mem_kind kind;
	struct region *r;
	void *m = MAP_FAILED;
	u64 npages;
	int err = 0;

	/* Let the module judge sizes: never ask mmap() for nothing. */
	if (!len)
		len = EPM_SIZE_4K;
	if (len < a->size || a->size > EPM_GPA_LIMIT ||
	    a->uaddr_offset > EPM_GPA_LIMIT) {
		snprintf(why, wlen, "size 0x%llx + uaddr offset 0x%llx is too big to allocate",
			 (unsigned long long)a->size,
			 (unsigned long long)a->uaddr_offset);
		return -ENOMEM;
	}

	switch (a->backing) {
	case BACK_ANON:
	case BACK_THP:
	case BACK_HUGETLB:
		kind = a->backing == BACK_ANON ? EPT_PMAP_MEM_ANON :
		       a->backing == BACK_THP ? EPT_PMAP_MEM_THP :
		       a->size && !(a->size % EPM_SIZE_1G) &&
		       free_1g_hugepages() >= (len + EPM_SIZE_1G - 1) / EPM_SIZE_1G ?
		       EPT_PMAP_MEM_HUGETLB_1G : EPT_PMAP_MEM_HUGETLB_2M;
		m = alloc_lib(kind, &len, &gran, why, wlen);
		if (!m) {
			err = errno;
			m = MAP_FAILED;
		}
		break;
	case BACK_FILE:
		m = alloc_file(a->file, &len, &gran, &writable, why, wlen);
		if (!m) {
			err = errno;
			m = MAP_FAILED;
		}
		break;
	}
	if (m == MAP_FAILED)
		return err ? -err : -ENOMEM;

	r = calloc(1, sizeof(*r));
	npages = round_up(a->size, EPM_SIZE_4K) / EPM_SIZE_4K;
	if (r) {
		r->mapped = bitmap(npages);
		r->freed = bitmap(len / gran);
	}
	if (!r || !r->mapped || !r->freed) {
		err = errno;
		munmap(m, len);
		if (r) {
			free(r->mapped);
			free(r->freed);
			free(r);
		}
		snprintf(why, wlen, "out of memory for bookkeeping");
		return -err;
	}
	r->kind = a->backing;
	r->gpa = a->gpa;
	r->size = npages * EPM_SIZE_4K;
	r->mbase = (uintptr_t)m;
	r->uaddr = r->mbase + a->uaddr_offset;
	r->mlen = len;
	r->gran = gran;
	r->writable = writable;
	*out = r;
	return 0;
}

/* The MAP succeeded: every page of the region is now in the guest. */
void mem_add(struct ctx *ctx, struct region *r)
{
	u64 i, npages = r->size / EPM_SIZE_4K;

	for (i = 0; i < npages; i++)
		set_bit(r->mapped, i);
	r->nmapped = npages;
	r->next = ctx->regions;
	ctx->regions = r;
}

/* Give back every unit not given back yet, and the bookkeeping. */
void mem_free(struct region *r)
{
	u64 j, n = r->mlen / r->gran;

	for (j = 0; j < n; j++) {
		u64 k = j;

		if (test_bit(r->freed, j))
			continue;
		while (k + 1 < n && !test_bit(r->freed, k + 1))
			k++;
		munmap((void *)(r->mbase + j * r->gran), (k - j + 1) * r->gran);
		j = k;
	}
	free(r->mapped);
	free(r->freed);
	free(r);
}

/* Does any guest page still mapped sit in unit @j of @r? */
static bool unit_in_use(const struct region *r, u64 j)
{
	long long d = r->uaddr - r->mbase;	/* bytes before gpa's page */
	long long first = ((long long)(j * r->gran) - d) / (long long)EPM_SIZE_4K;
	long long last = ((long long)((j + 1) * r->gran) - d) / (long long)EPM_SIZE_4K;
	long long npages = r->size / EPM_SIZE_4K;
	long long i;

	if (first < 0)
		first = 0;
	if (last > npages)
		last = npages;
	for (i = first; i < last; i++) {
		if (test_bit(r->mapped, i))
			return true;
	}
	return false;
}

static void release_region(struct region *r, u64 gpa, u64 end)
{
	u64 lo = gpa > r->gpa ? gpa : r->gpa;
	u64 hi = end < r->gpa + r->size ? end : r->gpa + r->size;
	u64 p, j, j0, j1, run = 0, nrun = 0;

	for (p = (lo - r->gpa) / EPM_SIZE_4K; p < (hi - r->gpa) / EPM_SIZE_4K; p++) {
		if (test_bit(r->mapped, p)) {
			clear_bit(r->mapped, p);
			r->nmapped--;
		}
	}
	if (!r->nmapped)
		return;		/* the caller frees it all */

	/* Units that held [lo, hi): give back those now unused, in runs. */
	j0 = (r->uaddr + (lo - r->gpa) - r->mbase) / r->gran;
	j1 = (r->uaddr + (hi - r->gpa) - 1 - r->mbase) / r->gran;
	for (j = j0; j <= j1 + 1; j++) {
		if (j <= j1 && !test_bit(r->freed, j) && !unit_in_use(r, j)) {
			if (!nrun++)
				run = j;
			set_bit(r->freed, j);
			continue;
		}
		if (nrun)
			munmap((void *)(r->mbase + run * r->gran),
			       nrun * r->gran);
		nrun = 0;
	}
}

/* UNMAP of [gpa, gpa + size) succeeded: give back what it freed. */
void mem_release(struct ctx *ctx, u64 gpa, u64 size)
{
	struct region **pp = &ctx->regions;
	u64 end = gpa + size;

	if (end < gpa)
		end = UINT64_MAX;
	while (*pp) {
		struct region *r = *pp;

		if (end <= r->gpa || gpa >= r->gpa + r->size) {
			pp = &r->next;
			continue;
		}
		release_region(r, gpa, end);
		if (r->nmapped) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		mem_free(r);
	}
}

/* The region that backs the mapped guest page at @gpa, or NULL. */
static struct region *region_of(struct ctx *ctx, u64 gpa)
{
	struct region *r;

	for (r = ctx->regions; r; r = r->next) {
		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    test_bit(r->mapped, (gpa - r->gpa) / EPM_SIZE_4K))
			return r;
	}
	return NULL;
}

/*
 * Copy @len bytes to guest-physical @gpa through the memory this process
 * mapped there: every page of [gpa, gpa + len) must be mapped by this
 * eptctl (MAP, not since UNMAPped) into memory it can write. All or
 * nothing. Returns 0, or a negative errno with a cause in @why.
 */
int mem_write(struct ctx *ctx, u64 gpa, const void *buf, size_t len,
	      char *why, size_t wlen)
{
	u64 end = gpa + len, p;
	const char *src = buf;

	if (!len)
		return 0;
	if (gpa >= EPM_GPA_LIMIT || len > EPM_GPA_LIMIT - gpa) {
		snprintf(why, wlen,
			 "[0x%llx, 0x%llx) goes beyond the 48-bit guest-physical space",
			 (unsigned long long)gpa, (unsigned long long)end);
		return -EINVAL;
	}
	for (p = gpa & ~(EPM_SIZE_4K - 1); p < end; p += EPM_SIZE_4K) {
		struct region *r = region_of(ctx, p);

		if (!r) {
			snprintf(why, wlen,
				 "gpa 0x%llx is not mapped by this eptctl (map [0x%llx, 0x%llx) first, in the same sequence)",
				 (unsigned long long)(p > gpa ? p : gpa),
				 (unsigned long long)gpa,
				 (unsigned long long)end);
			return -ENOENT;
		}
		if (!r->writable) {
			snprintf(why, wlen,
				 "gpa 0x%llx is backed by %s, which eptctl opened read-only",
				 (unsigned long long)(p > gpa ? p : gpa),
				 r->kind == BACK_FILE ? "a file" : "memory");
			return -EACCES;
		}
	}
	/* page by page: each page's region may be another */
	while (gpa < end) {
		struct region *r = region_of(ctx, gpa & ~(EPM_SIZE_4K - 1));
		u64 n = EPM_SIZE_4K - (gpa & (EPM_SIZE_4K - 1));

		if (n > end - gpa)
			n = end - gpa;
		memcpy((void *)(r->uaddr + (gpa - r->gpa)), src, n);
		src += n;
		gpa += n;
	}
	return 0;
}
