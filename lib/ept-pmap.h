/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * libept-pmap: the /dev/ept-pmap ABI (include/uapi/linux/ept_pmap.h) as C
 * calls, with decoders for what it returns and helpers that allocate guest
 * memory of each kind.
 *
 * Conventions:
 *  - Every call that can fail returns 0 (or a non-negative value) on
 *    success and a negative errno on failure; errno itself is left as the
 *    failing system call set it. Nothing prints.
 *  - One call per ioctl. Structures are the uapi's; calls that take one
 *    zero what the kernel wants zero before filling in their arguments,
 *    except ept_pmap_map() and ept_pmap_run(), which pass the caller's
 *    structure as it is (its reserved fields must be zero).
 *  - An address space is a file descriptor from ept_pmap_open(); raw
 *    ioctls on it mix freely with these calls.
 *  - Decoders return static strings (or write into the caller's buffer)
 *    and never fail: unknown values come back as "?" or a number.
 *
 * Link with `pkg-config --libs libept-pmap` (-lept-pmap); static and
 * shared builds are installed.
 */
#ifndef _EPT_PMAP_LIB_H
#define _EPT_PMAP_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/ept_pmap.h>
#include <linux/ept_pmap_pte.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this library, "MAJOR.MINOR", and the uapi it was built for. */
const char *ept_pmap_lib_version(void);
#define EPT_PMAP_DEFAULT_DEVICE	"/dev/" EPM_DEVICE_NAME

/* ---- the device -------------------------------------------------------- */

/* Open @path (NULL: /dev/ept-pmap) read-write, close-on-exec: a new, empty
 * address space. Returns the file descriptor or -errno. */
int ept_pmap_open(const char *path);
/* Close it: everything is unmapped, unpinned and freed. 0 or -errno. */
int ept_pmap_close(int fd);
/* The module's version string (MODULE_VERSION) from sysfs into @buf;
 * 0, -ENOENT when the module is not loaded, or -errno. */
int ept_pmap_module_version(char *buf, size_t len);

/* ---- one call per ioctl -------------------------------------------------- */

/* EPM_IOC_VERSION: the module's API version (>= 1) or -errno. */
int ept_pmap_version(int fd);
int ept_pmap_caps(int fd, struct epm_caps *caps);
int ept_pmap_map(int fd, const struct epm_map *map);
int ept_pmap_unmap(int fd, uint64_t gpa, uint64_t size);
int ept_pmap_protect(int fd, uint64_t gpa, uint64_t size, uint32_t perm);
/* Walk @gpa; @q is zeroed and filled in. */
int ept_pmap_query(int fd, uint64_t gpa, struct epm_query *q);
/* One EPM_IOC_DUMP as it is; see the iterator below for the usual use. */
int ept_pmap_dump(int fd, struct epm_dump *d);
int ept_pmap_check(int fd, struct epm_check *c);
/* @flags: EPM_EPTP_*; @e is zeroed and filled in. */
int ept_pmap_eptp(int fd, uint32_t flags, struct epm_eptp *e);
int ept_pmap_stats(int fd, struct epm_stats *s);
/* RUN with @r in and out. A signal gives -EINTR with @r filled in
 * (exit_kind EPM_EXIT_INTR). */
int ept_pmap_run(int fd, struct epm_run *r);

/* ---- dumping every entry --------------------------------------------------
 *
 *	struct ept_pmap_dump_iter it;
 *	const struct epm_dump_entry *e;
 *	int ret;
 *
 *	ept_pmap_dump_init(&it, fd, 0);
 *	while ((ret = ept_pmap_dump_next(&it, &e)) > 0)
 *		use(e);
 *	if (ret < 0)
 *		error(-ret);
 *
 * Entries come parents before children, in gpa order, as DUMP returns
 * them, fetched EPT_PMAP_DUMP_BATCH at a time. The fields are private.
 */
#define EPT_PMAP_DUMP_BATCH	256

struct ept_pmap_dump_iter {
	int fd;
	uint32_t flags;			/* EPM_DUMP_* */
	uint64_t cursor;		/* the next DUMP's cursor */
	uint32_t count;			/* entries in buf */
	uint32_t next;			/* the next one to hand out */
	bool done;			/* DUMP said EPM_DUMP_DONE */
	struct epm_dump_entry buf[EPT_PMAP_DUMP_BATCH];
};

void ept_pmap_dump_init(struct ept_pmap_dump_iter *it, int fd, uint32_t flags);
/* 1 with *@e set (valid until the next call), 0 at the end, or -errno;
 * -EPROTO when the module answered something impossible (more entries
 * than room, or no progress). */
int ept_pmap_dump_next(struct ept_pmap_dump_iter *it,
		       const struct epm_dump_entry **e);

/* ---- guest memory ---------------------------------------------------------- */

enum ept_pmap_mem_kind {
	EPT_PMAP_MEM_ANON,		/* 4 KiB pages, huge pages refused */
	EPT_PMAP_MEM_THP,		/* 2 MiB aligned, MADV_HUGEPAGE, touched */
	EPT_PMAP_MEM_HUGETLB_2M,	/* MAP_HUGETLB 2 MiB pages */
	EPT_PMAP_MEM_HUGETLB_1G,	/* MAP_HUGETLB 1 GiB pages */
};

struct ept_pmap_mem {
	void *addr;			/* page aligned: give this to MAP */
	size_t size;			/* bytes asked for, rounded up to page */
	size_t page;			/* 4K, 2M or 1G: the kind's unit */
	enum ept_pmap_mem_kind kind;
};

/* Private anonymous memory of @kind for at least @size bytes (rounded up
 * to the kind's page). 0, or -errno: -EINVAL for size 0 or an unknown
 * kind, -ENOMEM when no (huge) pages are free, -errno of mmap/madvise. */
int ept_pmap_mem_alloc(struct ept_pmap_mem *m, enum ept_pmap_mem_kind kind,
		       size_t size);
void ept_pmap_mem_free(struct ept_pmap_mem *m);
const char *ept_pmap_mem_kind_name(enum ept_pmap_mem_kind kind);

/* ---- decoders -------------------------------------------------------------- */

/* "EINVAL" for 22 or -22; "E<n>" for what the C library does not name. */
const char *ept_pmap_errno_name(int err);

/* Exit kinds: "hlt", "io", "ept_violation", ...; NULL when unknown. */
const char *ept_pmap_exit_name(uint32_t kind);
/* The kind named @s ('-' reads as '_', any case), not "none": 0 or -EINVAL. */
int ept_pmap_exit_parse(const char *s, uint32_t *kind);
/* Basic VMX exit reason (bits 15:0) as <asm/vmx.h> names it, "EPT_VIOLATION";
 * NULL when unknown. */
const char *ept_pmap_vmx_reason_name(uint32_t basic);
/* SVM exit code as <asm/svm.h> names it, "npf"; NULL when unknown. */
const char *ept_pmap_svm_exit_name(uint64_t code);
/* Exception vector: "#PF", ...; "#?" beyond 21. */
const char *ept_pmap_vector_name(uint32_t vector);
bool ept_pmap_vector_has_error_code(uint32_t vector);
const char *ept_pmap_mode_name(uint32_t mode);	/* "prot32", ...; NULL */

/* Capability flags in bit order, with a short name and what each means. */
struct ept_pmap_flag {
	uint64_t flag;
	const char *name;		/* "ept_1g" */
	const char *what;		/* "EPT 1G leaves" */
};
const struct ept_pmap_flag *ept_pmap_cap_flags(size_t *count);

/* "rwx", "r--": @buf has room for 4. */
const char *ept_pmap_perm_str(uint32_t perm, char buf[4]);
/* EPM_MEMTYPE_*: "WB", ...; "?" when unknown. */
const char *ept_pmap_memtype_name(uint32_t memtype);
/* EPT memory-type field (bits 5:3, EPM_MT_*): "WB", "UC", ..., "MT2?". */
const char *ept_pmap_ept_mt_name(uint32_t mt);
/* Level 1..4: "PTE", "PDE", "PDPTE", "PML4E" ("?" otherwise). */
const char *ept_pmap_level_name(uint32_t level);
/* Bytes one entry at @level (1..4) maps, 0 for other levels. */
uint64_t ept_pmap_level_size(uint32_t level);
/* CHECK why: "present in one half only", ... */
const char *ept_pmap_mismatch_name(uint32_t why);

/* Is entry @e at @level a leaf by its own bits (level 1, or PS at 2 and 3)? */
bool ept_pmap_kpte_is_leaf(uint64_t e, uint32_t level);
bool ept_pmap_epte_is_leaf(uint64_t e, uint32_t level);
/* The address an entry holds: bits 51:12, or 51:21 / 51:30 for jumbos. */
uint64_t ept_pmap_entry_addr(uint64_t e, uint32_t level, bool leaf);
/* The entry's set bits by name, "P W U NX pinw", into @buf; bits that have
 * no name at that level come as one "?0x..." word. Returns @buf. */
char *ept_pmap_kpte_str(uint64_t e, uint32_t level, bool leaf, char *buf,
			size_t len);
char *ept_pmap_epte_str(uint64_t e, uint32_t level, bool leaf, char *buf,
			size_t len);

#ifdef __cplusplus
}
#endif

#endif /* _EPT_PMAP_LIB_H */
