// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libept-pmap: guest memory of each kind MAP can use. Every kind is
 * private anonymous memory of this process; the huge kinds are aligned to
 * their page so that MAP can build 2M and 1G leaves from them.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <linux/mman.h>

#include "ept-pmap.h"

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* @len bytes aligned to @align: map more, give back the edges. */
static void *mmap_aligned(size_t len, size_t align)
{
	size_t span = len + align;
	uintptr_t p, a;
	void *m;

	m = mmap(NULL, span, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return m;
	p = (uintptr_t)m;
	a = round_up(p, align);
	if (a > p)
		munmap(m, a - p);
	if (p + span > a + len)
		munmap((void *)(a + len), p + span - (a + len));
	return (void *)a;
}

int ept_pmap_mem_alloc(struct ept_pmap_mem *m, enum ept_pmap_mem_kind kind,
		       size_t size)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	size_t page, len, i;
	void *p;
	int err;

	switch (kind) {
	case EPT_PMAP_MEM_ANON:
		page = EPM_SIZE_4K;
		break;
	case EPT_PMAP_MEM_THP:
	case EPT_PMAP_MEM_HUGETLB_2M:
		page = EPM_SIZE_2M;
		break;
	case EPT_PMAP_MEM_HUGETLB_1G:
		page = EPM_SIZE_1G;
		break;
	default:
		return -EINVAL;
	}
	if (!size || size > SIZE_MAX - page)
		return -EINVAL;
	len = round_up(size, page);

	switch (kind) {
	case EPT_PMAP_MEM_ANON:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 flags | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		/* a kernel without THP fails this: it makes no huge pages */
		madvise(p, len, MADV_NOHUGEPAGE);
		break;
	case EPT_PMAP_MEM_THP:
		p = mmap_aligned(len, page);
		if (p == MAP_FAILED)
			return -errno;
		if (madvise(p, len, MADV_HUGEPAGE)) {
			err = errno;
			munmap(p, len);
			return -err;
		}
		/* fault it in now, so that MAP finds huge pages */
		for (i = 0; i < len; i += EPM_SIZE_4K)
			((volatile char *)p)[i] = 0;
		break;
	default:
		flags |= MAP_HUGETLB | (kind == EPT_PMAP_MEM_HUGETLB_1G ?
					MAP_HUGE_1GB : MAP_HUGE_2MB);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		break;
	}
	m->addr = p;
	m->size = len;
	m->page = page;
	m->kind = kind;
	return 0;
}

void ept_pmap_mem_free(struct ept_pmap_mem *m)
{
	if (m->addr)
		munmap(m->addr, m->size);
	m->addr = NULL;
	m->size = 0;
}

const char *ept_pmap_mem_kind_name(enum ept_pmap_mem_kind kind)
{
	switch (kind) {
	case EPT_PMAP_MEM_ANON:
		return "anon";
	case EPT_PMAP_MEM_THP:
		return "thp";
	case EPT_PMAP_MEM_HUGETLB_2M:
		return "hugetlb-2m";
	case EPT_PMAP_MEM_HUGETLB_1G:
		return "hugetlb-1g";
	}
	return "?";
}
