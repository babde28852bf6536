// SPDX-License-Identifier: GPL-2.0
/*
 * The flat model and the random operation driver (see model.h).
 *
 * The driver keeps its operations in three 4 GiB windows: one at a random
 * place in a random 512G slot (sometimes straddling two slots), one at gpa
 * 0 and one ending at 2^48. Ranges are often 2M or 1G aligned and frames
 * often congruent to their gpa modulo 2M or 1G, so that jumbo leaves are
 * built, and unmap/protect edges fall inside them, all the time.
 *
 * Frames come from a counter that only grows, so no frame is handed out
 * twice and "released exactly once" can be checked exactly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

#define MD_HPA_LIMIT		(1ULL << 52)

/* Choices */

static u64 md_splitmix(u64 *x)
{
	u64 z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void md_src_seed(struct md_src *src, u64 seed)
{
	unsigned int i;

	memset(src, 0, sizeof(*src));
	for (i = 0; i < 4; i++)
		src->s[i] = md_splitmix(&seed);
}

void md_src_bytes(struct md_src *src, const u8 *data, size_t len)
{
	memset(src, 0, sizeof(*src));
	src->data = data;
	src->len = len;
}

static inline u64 md_rotl(u64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static u64 md_xoshiro(struct md_src *src)
{
	u64 *s = src->s;
	u64 r = md_rotl(s[1] * 5, 7) * 9;
	u64 t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = md_rotl(s[3], 45);
	return r;
}

bool md_src_next(struct md_src *src)
{
	u64 seed = src->pos;
	unsigned int i;

	if (!src->data)
		return true;
	if (src->dry || src->len - src->pos < MD_BLOCK) {
		src->dry = true;
		return false;
	}
	memcpy(src->block, src->data + src->pos, MD_BLOCK);
	src->pos += MD_BLOCK;
	src->bpos = 0;
	for (i = 0; i < MD_BLOCK; i++)
		seed = seed * 0x100000001b3ULL + src->block[i];
	for (i = 0; i < 4; i++)
		src->s[i] = md_splitmix(&seed);
	return true;
}

u64 md_below(struct md_src *src, u64 n)
{
	unsigned int i, need = 1;
	u64 v = 0;

	if (n <= 1)
		return 0;
	/* As few block bytes as the choice needs, then the stream. */
	while (need < 8 && (n - 1) >> (8 * need))
		need++;
	if (!src->data || src->bpos + need > MD_BLOCK)
		return md_xoshiro(src) % n;
	for (i = 0; i < need; i++)
		v |= (u64)src->block[src->bpos++] << (8 * i);
	return v % n;
}

/* Lists and the model */

static void md_list_reserve(struct md_list *l, size_t n)
{
	size_t cap = l->cap ? l->cap : 16;
	struct md_ext *e;

	if (n <= l->cap)
		return;
	while (cap < n)
		cap *= 2;
	e = realloc(l->e, cap * sizeof(*e));
	if (!e) {
		fprintf(stderr, "model: out of memory\n");
		abort();
	}
	l->e = e;
	l->cap = cap;
}

static void md_list_insert(struct md_list *l, size_t i, struct md_ext x)
{
	md_list_reserve(l, l->n + 1);
	memmove(&l->e[i + 1], &l->e[i], (l->n - i) * sizeof(*l->e));
	l->e[i] = x;
	l->n++;
}

static void md_list_erase(struct md_list *l, size_t i, size_t count)
{
	if (!count)
		return;
	memmove(&l->e[i], &l->e[i + count],
		(l->n - i - count) * sizeof(*l->e));
	l->n -= count;
}

void md_list_push(struct md_list *l, u64 gpa, u64 size, u64 hpa, u32 attr)
{
	md_list_reserve(l, l->n + 1);
	l->e[l->n++] = (struct md_ext){ gpa, size, hpa, attr };
}

void md_list_free(struct md_list *l)
{
	free(l->e);
	*l = (struct md_list){ 0 };
}

void model_free(struct model *m)
{
	md_list_free(&m->l);
	m->bytes = 0;
}

static inline u64 md_end(const struct md_ext *e)
{
	return e->gpa + e->size;
}

/* Extent @i, or NULL past the end. */
static inline struct md_ext *model_at(const struct model *m, size_t i)
{
	return i < m->l.n ? &m->l.e[i] : NULL;
}

/* Index of the first extent ending after @gpa (m->l.n if none). */
static size_t model_find(const struct model *m, u64 gpa)
{
	size_t lo = 0, hi = m->l.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (md_end(&m->l.e[mid]) <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool model_lookup(const struct model *m, u64 gpa, u64 *hpa, u32 *attr)
{
	const struct md_ext *e = model_at(m, model_find(m, gpa));

	if (!e || e->gpa > gpa)
		return false;
	*hpa = e->hpa + (gpa - e->gpa);
	*attr = e->attr;
	return true;
}

bool model_any(const struct model *m, u64 gpa, u64 size)
{
	size_t i = model_find(m, gpa);

	return i < m->l.n && m->l.e[i].gpa < gpa + size;
}

u64 model_run_end(const struct model *m, u64 gpa)
{
	size_t i;

	for (i = model_find(m, gpa); i < m->l.n; i++) {
		if (m->l.e[i].gpa > gpa)
			break;
		gpa = md_end(&m->l.e[i]);
	}
	return gpa;
}

bool model_full(const struct model *m, u64 gpa, u64 size)
{
	return model_run_end(m, gpa) >= gpa + size;
}

/* model_is_run() with i == model_find(m, gpa) known. */
static bool model_is_run_at(const struct model *m, size_t i, u64 gpa,
			    u64 size, u64 hpa, u32 attr)
{
	u64 cur = gpa, end = gpa + size;

	for (; cur < end; i++) {
		const struct md_ext *e = model_at(m, i);

		if (!e || e->gpa > cur || e->attr != attr ||
		    e->hpa + (cur - e->gpa) != hpa + (cur - gpa))
			return false;
		cur = md_end(e);
	}
	return true;
}

bool model_is_run(const struct model *m, u64 gpa, u64 size, u64 hpa,
		  u32 attr)
{
	return model_is_run_at(m, model_find(m, gpa), gpa, size, hpa, attr);
}

/* Make @gpa the start of an extent if it falls inside one. */
static void model_cut(struct model *m, u64 gpa)
{
	size_t i = model_find(m, gpa);
	struct md_ext *e = model_at(m, i), tail;

	if (!e || e->gpa >= gpa)
		return;
	tail = *e;
	tail.gpa = gpa;
	tail.hpa += gpa - e->gpa;
	tail.size -= gpa - e->gpa;
	e->size = gpa - e->gpa;
	md_list_insert(&m->l, i + 1, tail);
}

static bool md_joins(const struct md_ext *a, const struct md_ext *b)
{
	return md_end(a) == b->gpa && a->hpa + a->size == b->hpa &&
	       a->attr == b->attr;
}

/* Merge neighbours among extents [i, j] that continue each other. */
static void model_merge(struct model *m, size_t i, size_t j)
{
	if (j >= m->l.n)
		j = m->l.n - 1;
	while (j > i && j < m->l.n) {
		if (md_joins(&m->l.e[j - 1], &m->l.e[j])) {
			m->l.e[j - 1].size += m->l.e[j].size;
			md_list_erase(&m->l, j, 1);
		}
		j--;
	}
}

void model_insert(struct model *m, u64 gpa, u64 size, u64 hpa, u32 attr)
{
	size_t i = model_find(m, gpa);

	md_list_insert(&m->l, i, (struct md_ext){ gpa, size, hpa, attr });
	m->bytes += size;
	model_merge(m, i ? i - 1 : 0, i + 1);
}

void model_remove(struct model *m, u64 gpa, u64 size)
{
	size_t i, j;

	model_cut(m, gpa);
	model_cut(m, gpa + size);
	i = model_find(m, gpa);
	for (j = i; j < m->l.n && m->l.e[j].gpa < gpa + size; j++)
		m->bytes -= m->l.e[j].size;
	md_list_erase(&m->l, i, j - i);
}

void model_protect(struct model *m, u64 gpa, u64 size, u32 perm)
{
	size_t i, j;

	model_cut(m, gpa);
	model_cut(m, gpa + size);
	i = model_find(m, gpa);
	for (j = i; j < m->l.n && m->l.e[j].gpa < gpa + size; j++)
		m->l.e[j].attr = (m->l.e[j].attr & ~EPM_ATTR_PERM) | perm;
	model_merge(m, i ? i - 1 : 0, j);
}

void model_frames(const struct model *m, u64 gpa, u64 size,
		  struct md_list *out)
{
	u64 end = gpa + size;
	size_t i;

	for (i = model_find(m, gpa); i < m->l.n; i++) {
		const struct md_ext *e = &m->l.e[i];
		u64 from = e->gpa > gpa ? e->gpa : gpa;
		u64 to = md_end(e) < end ? md_end(e) : end;

		if (e->gpa >= end)
			break;
		md_list_push(out, from, to - from, e->hpa + (from - e->gpa),
			     md_release_attr(e->attr));
	}
}

u32 md_map_attr(u32 attr, u64 max_page)
{
	if (max_page == EPM_SIZE_2M)
		attr |= 1u << MD_MAXPG_SHIFT;
	else if (max_page == EPM_SIZE_1G)
		attr |= 2u << MD_MAXPG_SHIFT;
	if ((attr & EPM_ATTR_AD) && (attr & EPM_ATTR_W))
		attr |= MD_DIRTY;
	return attr;
}

/* Leaf bits, from the lockstep table in Documentation/design.md */

void md_leaf_bits(unsigned int level, u64 hpa, u32 attr, u64 *kpte,
		  u64 *epte)
{
	bool large = level > 1;
	u64 pat = large ? KPTE_PAT_LARGE : KPTE_PAT_4K;
	u64 k = KPTE_P | KPTE_U | hpa, e = hpa;

	/* Linux's PAT: 0 WB, 1 WC, 3 UC, 5 WP, 7 WT. */
	switch (EPM_ATTR_GET_MT(attr)) {
	case EPM_MT_WC:
		k |= KPTE_PWT;
		break;
	case EPM_MT_UC:
		k |= KPTE_PCD | KPTE_PWT;
		break;
	case EPM_MT_WP:
		k |= pat | KPTE_PWT;
		break;
	case EPM_MT_WT:
		k |= pat | KPTE_PCD | KPTE_PWT;
		break;
	}
	e |= (u64)EPM_ATTR_GET_MT(attr) << EPTE_MT_SHIFT;
	if (attr & EPM_ATTR_R)
		e |= EPTE_R;
	if (attr & EPM_ATTR_W) {
		k |= KPTE_W;
		e |= EPTE_W;
	}
	if (attr & EPM_ATTR_X)
		e |= EPTE_X;
	else
		k |= KPTE_NX;
	if (large) {
		k |= KPTE_PS;
		e |= EPTE_PS;
	}
	if (attr & EPM_ATTR_IPAT)
		e |= EPTE_IPAT;
	if (attr & EPM_ATTR_AD) {
		k |= KPTE_A;
		e |= EPTE_A;
	}
	if (attr & MD_DIRTY) {
		k |= KPTE_D;
		e |= EPTE_D;
	}
	if (attr & EPM_ATTR_PINW) {
		k |= KPTE_SW_PINW;
		e |= EPTE_SW_PINW;
	}
	*kpte = k;
	*epte = e;
}

/* Releases */

void md_rel_add(struct md_rel *r, u64 hpa, u64 size, u32 attr)
{
	struct md_ext *last = r->l.n ? &r->l.e[r->l.n - 1] : NULL;

	if (last && last->hpa + last->size == hpa && last->attr == attr)
		r->uncoalesced++;
	md_list_push(&r->l, 0, size, hpa, attr);
}

static int md_cmp_hpa(const void *a, const void *b)
{
	const struct md_ext *x = a, *y = b;

	return x->hpa < y->hpa ? -1 : x->hpa > y->hpa;
}

/*
 * Sort by frame and merge continuing neighbours, so that two lists that
 * describe the same frames with the same attrs come out equal. Returns the
 * first frame covered twice, or MD_HPA_LIMIT.
 */
static u64 md_canon(struct md_list *l)
{
	u64 twice = MD_HPA_LIMIT;
	size_t i, n = 0;

	if (!l->n)
		return twice;
	qsort(l->e, l->n, sizeof(*l->e), md_cmp_hpa);
	for (i = 0; i < l->n; i++) {
		struct md_ext *p = n ? &l->e[n - 1] : NULL;

		if (p && p->hpa + p->size > l->e[i].hpa &&
		    twice == MD_HPA_LIMIT)
			twice = l->e[i].hpa;
		if (p && p->hpa + p->size == l->e[i].hpa &&
		    p->attr == l->e[i].attr)
			p->size += l->e[i].size;
		else
			l->e[n++] = l->e[i];
	}
	l->n = n;
	return twice;
}

int md_rel_match(const struct model *m, u64 gpa, u64 size,
		 const struct md_rel *r, char *why, size_t len)
{
	struct md_list want = { 0 }, got = { 0 };
	u64 twice;
	size_t i;
	int ret = -1;

	model_frames(m, gpa, size, &want);
	md_canon(&want);
	for (i = 0; i < r->l.n; i++) {
		const struct md_ext *e = &r->l.e[i];

		if (!e->size || (e->hpa | e->size) & (EPM_PAGE_SIZE - 1)) {
			snprintf(why, len, "released a bad range hpa 0x%llx size 0x%llx",
				 (unsigned long long)e->hpa,
				 (unsigned long long)e->size);
			goto out;
		}
		md_list_push(&got, 0, e->size, e->hpa, e->attr);
	}
	twice = md_canon(&got);
	if (twice != MD_HPA_LIMIT) {
		snprintf(why, len, "frame 0x%llx released twice",
			 (unsigned long long)twice);
		goto out;
	}
	if (r->uncoalesced) {
		snprintf(why, len, "%llu releases continue the previous one",
			 (unsigned long long)r->uncoalesced);
		goto out;
	}
	for (i = 0; i < want.n || i < got.n; i++) {
		const struct md_ext *w = i < want.n ? &want.e[i] : NULL;
		const struct md_ext *g = i < got.n ? &got.e[i] : NULL;

		if (w && g && w->hpa == g->hpa && w->size == g->size &&
		    w->attr == g->attr)
			continue;
		if (w)
			snprintf(why, len,
				 "frames differ from hpa 0x%llx: want size 0x%llx attr 0x%x, got %s0x%llx size 0x%llx attr 0x%x",
				 (unsigned long long)w->hpa,
				 (unsigned long long)w->size, w->attr,
				 g ? "hpa " : "nothing, next ",
				 g ? (unsigned long long)g->hpa : 0ULL,
				 g ? (unsigned long long)g->size : 0ULL,
				 g ? g->attr : 0);
		else
			snprintf(why, len,
				 "released frames the model did not map: hpa 0x%llx size 0x%llx",
				 (unsigned long long)g->hpa,
				 (unsigned long long)g->size);
		goto out;
	}
	ret = 0;
out:
	md_list_free(&want);
	md_list_free(&got);
	return ret;
}

/* Whole-tree comparison */

/* May a leaf at @level exist on this CPU for a map with this attr? */
static bool md_level_ok(const struct epm_pmap *pm, unsigned int level,
			u32 attr)
{
	if (level < 1 || level > 3 || EPM_LEVEL_SIZE(level) > MD_MAXPG(attr))
		return false;
	if (level == 3)
		return pm->hw.ept_1g && pm->hw.kpt_1g;
	if (level == 2)
		return pm->hw.ept_2m;
	return true;
}

/*
 * Check the leaf at @level (gpa @base) with halves @kpte/@epte against
 * the model, whose extent @i is the first to end after @base: 0 or -1
 * with a reason.
 */
static int md_leaf_check(const struct epm_pmap *pm, const struct model *m,
			 size_t i, unsigned int level, u64 base, u64 kpte,
			 u64 epte, char *why, size_t len)
{
	u64 size = EPM_LEVEL_SIZE(level);
	u64 hpa = epte & EPM_PTE_ADDR & ~(size - 1);
	const struct md_ext *e = model_at(m, i);
	u64 mhpa, wk, we;
	u32 attr;

	if (!e || e->gpa > base) {
		snprintf(why, len, "level %u leaf at gpa 0x%llx is not in the model",
			 level, (unsigned long long)base);
		return -1;
	}
	mhpa = e->hpa + (base - e->gpa);
	attr = e->attr;
	if (!md_level_ok(pm, level, attr)) {
		snprintf(why, len, "level %u leaf at gpa 0x%llx not allowed (attr 0x%x)",
			 level, (unsigned long long)base, attr);
		return -1;
	}
	if (mhpa != hpa || !model_is_run_at(m, i, base, size, hpa, attr)) {
		snprintf(why, len, "level %u leaf at gpa 0x%llx hpa 0x%llx: the model has hpa 0x%llx attr 0x%x, not one run",
			 level, (unsigned long long)base,
			 (unsigned long long)hpa, (unsigned long long)mhpa,
			 attr);
		return -1;
	}
	md_leaf_bits(level, hpa, attr, &wk, &we);
	if (kpte != wk || epte != we) {
		snprintf(why, len, "level %u leaf at gpa 0x%llx: kpte 0x%llx epte 0x%llx, want 0x%llx 0x%llx (attr 0x%x)",
			 level, (unsigned long long)base,
			 (unsigned long long)kpte, (unsigned long long)epte,
			 (unsigned long long)wk, (unsigned long long)we, attr);
		return -1;
	}
	return 0;
}

struct md_cmp {
	struct epm_pmap *pm;
	const struct model *m;
	size_t i;		/* first extent ending after the last leaf */
	u64 gpa, end;
	u64 bytes;
	char *why;
	size_t len;
};

/* Leaves come in gpa order: walk the model alongside. */
static int md_cmp_visit(void *arg, const struct epm_entry *e)
{
	struct md_cmp *cmp = arg;
	const struct model *m = cmp->m;
	u64 from, to;

	if (!e->leaf)
		return 0;
	from = e->gpa > cmp->gpa ? e->gpa : cmp->gpa;
	to = e->gpa + EPM_LEVEL_SIZE(e->level);
	cmp->bytes += (to < cmp->end ? to : cmp->end) - from;
	while (cmp->i < m->l.n && md_end(&m->l.e[cmp->i]) <= e->gpa)
		cmp->i++;
	return md_leaf_check(cmp->pm, m, cmp->i, e->level, e->gpa, e->kpte,
			     e->epte, cmp->why, cmp->len);
}

/* Bytes the model maps in [gpa, gpa + size). */
static u64 model_bytes_in(const struct model *m, u64 gpa, u64 size)
{
	u64 end = gpa + size, bytes = 0;
	size_t i;

	if (!gpa && size == EPM_GPA_LIMIT)
		return m->bytes;
	for (i = model_find(m, gpa); i < m->l.n; i++) {
		const struct md_ext *e = &m->l.e[i];
		u64 from = e->gpa > gpa ? e->gpa : gpa;
		u64 to = md_end(e) < end ? md_end(e) : end;

		if (e->gpa >= end)
			break;
		bytes += to - from;
	}
	return bytes;
}

int md_compare_range(struct epm_pmap *pm, const struct model *m, u64 gpa,
		     u64 size, char *why, size_t len)
{
	struct md_cmp cmp = { pm, m, 0, gpa, gpa + size, 0, why, len };
	u64 want;
	int ret;

	/* The first leaf may start before @gpa. */
	cmp.i = model_find(m, gpa & ~(EPM_SIZE_1G - 1));
	ret = epm_for_each(pm, gpa, size, EPM_WALK_PRE, md_cmp_visit, &cmp);
	if (ret) {
		if (ret != -1)
			snprintf(why, len, "epm_for_each: %d", ret);
		return -1;
	}
	want = model_bytes_in(m, gpa, size);
	if (cmp.bytes != want) {
		snprintf(why, len, "leaves map 0x%llx bytes of [0x%llx, +0x%llx), the model 0x%llx",
			 (unsigned long long)cmp.bytes,
			 (unsigned long long)gpa, (unsigned long long)size,
			 (unsigned long long)want);
		return -1;
	}
	return 0;
}

int md_check(struct epm_pmap *pm, char *why, size_t len)
{
	struct epm_mismatch bad = { 0 };
	u64 n = epm_check(pm, &bad);

	if (!n)
		return 0;
	snprintf(why, len, "epm_check: %llu mismatches, first: why %d level %u gpa 0x%llx kpte 0x%llx epte 0x%llx",
		 (unsigned long long)n, bad.why, bad.level,
		 (unsigned long long)bad.gpa, (unsigned long long)bad.kpte,
		 (unsigned long long)bad.epte);
	return -1;
}

int md_compare(struct epm_pmap *pm, const struct model *m, char *why,
	       size_t len)
{
	if (md_check(pm, why, len))
		return -1;
	return md_compare_range(pm, m, 0, EPM_GPA_LIMIT, why, len);
}

/* Order-dependent, cheap; good enough to see any entry change. */
static inline u64 md_mix(u64 h, u64 v)
{
	return (h ^ v) * 0x100000001b3ULL + (h >> 29);
}

static int md_digest_visit(void *arg, const struct epm_entry *e)
{
	u64 *h = arg;

	*h = md_mix(*h, e->gpa | e->level | (u64)e->leaf << 3);
	*h = md_mix(*h, e->kpte);
	*h = md_mix(*h, e->epte);
	return 0;
}

u64 md_digest(struct epm_pmap *pm, u64 gpa, u64 size)
{
	u64 h = pm->nr_pairs;
	unsigned int i;

	for (i = 0; i < 3; i++)
		h = md_mix(h, pm->mapped[i]);
	epm_for_each(pm, gpa, size, EPM_WALK_PRE, md_digest_visit, &h);
	return md_splitmix(&h);
}

/* The driver */

static void md_fail(struct md_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

void md_report(const struct md_ctx *c, const char *who)
{
	fprintf(stderr, "%s: op %llu: %s\n%s: %s\n", who,
		(unsigned long long)c->st.ops, c->opdesc, who, c->why);
}

static u64 md_mapped(const struct epm_pmap *pm)
{
	return pm->mapped[0] + pm->mapped[1] + pm->mapped[2];
}

static void md_release(void *arg, u64 hpa, u64 size, u32 attr)
{
	struct md_ctx *c = arg;

	if (!c->rel_ok)
		md_fail(c, "released hpa 0x%llx size 0x%llx outside an unmap",
			(unsigned long long)hpa, (unsigned long long)size);
	md_rel_add(&c->rel, hpa, size, attr);
}

/*
 * The frame source: frames congruent to gpa modulo op.align, from a
 * counter that only grows, in runs whose length op.frag decides; the
 * op.fault_call-th answer is malformed or an error if asked for.
 */
static int md_frame(void *arg, u64 gpa, u64 *hpa, u64 *contig)
{
	struct md_ctx *c = arg;
	struct md_src *s = c->src;
	u64 end = c->op.gpa + c->op.size, left = end - gpa;
	u64 a = c->op.align, h, n;

	c->frame_calls++;
	if (gpa != c->frame_next || gpa >= end) {
		md_fail(c, "frame source asked for gpa 0x%llx, want 0x%llx",
			(unsigned long long)gpa,
			(unsigned long long)c->frame_next);
		return -EIO;
	}
	if (c->frame_calls == c->op.fault_call) {
		c->fault_err = -EINVAL;
		*hpa = c->hpa_next;
		*contig = EPM_PAGE_SIZE;
		switch (c->op.fault_kind) {
		case 0:
			c->fault_err = -EFAULT;
			return -EFAULT;
		case 1:
			return 1;
		case 2:
			*hpa |= 0x800;
			return 0;
		case 3:
			*contig += 0x10;
			return 0;
		case 4:
			*contig = 0;
			return 0;
		case 5:
			*hpa = MD_HPA_LIMIT;
			return 0;
		default:
			/* A run past the last frame there can be. */
			*hpa = MD_HPA_LIMIT - EPM_PAGE_SIZE;
			*contig = 2 * EPM_PAGE_SIZE;
			return 0;
		}
	}
	/*
	 * Sometimes continue the last run: the core must not care where a
	 * run came from. Not where that would cost a gigabyte of 4K leaves.
	 */
	if (md_chance(s, 25) && (left <= 2 * EPM_SIZE_2M ||
				 (c->hpa_next - gpa) % a == 0)) {
		h = c->hpa_next;
	} else {
		h = c->hpa_next + md_below(s, 4) * EPM_PAGE_SIZE;
		h = ((h - gpa % a + a - 1) & ~(a - 1)) + gpa % a;
	}
	/* At most 8 runs a map, so that the model stays small. */
	switch (c->frame_calls > 8 ? 0 : c->op.frag) {
	case 0:
		n = left;
		break;
	case 1:
		n = (1 + md_below(s, left / EPM_PAGE_SIZE)) * EPM_PAGE_SIZE;
		break;
	default:
		n = (1 + md_below(s, 16)) * EPM_PAGE_SIZE;
		break;
	}
	if (md_chance(s, 10))
		n += md_below(s, 4) * EPM_SIZE_2M;	/* more than asked */
	if (h + n > MD_HPA_LIMIT) {
		md_fail(c, "frame counter ran out at 0x%llx",
			(unsigned long long)h);
		return -EIO;
	}
	md_list_push(&c->pend, gpa, n < left ? n : left, h, 0);
	c->frame_next = gpa + n;
	c->hpa_next = h + n;
	*hpa = h;
	*contig = n;
	return 0;
}

/* The errno the core must give before changing anything. */
static int md_range_err(u64 gpa, u64 size)
{
	if (!size || (gpa | size) & (EPM_PAGE_SIZE - 1))
		return -EINVAL;
	if (gpa >= EPM_GPA_LIMIT || size > EPM_GPA_LIMIT - gpa)
		return -EINVAL;
	return 0;
}

static int md_attr_err(const struct epm_hw *hw, u32 attr)
{
	u32 perm = attr & EPM_ATTR_PERM;

	switch (EPM_ATTR_GET_MT(attr)) {
	case EPM_MT_UC: case EPM_MT_WC: case EPM_MT_WT: case EPM_MT_WP:
	case EPM_MT_WB:
		break;
	default:
		return -EINVAL;
	}
	if (attr & ~EPM_ATTR_ALL)
		return -EINVAL;
	if (!perm || ((perm & EPM_ATTR_W) && !(perm & EPM_ATTR_R)))
		return -EINVAL;
	if (perm == EPM_ATTR_X && !hw->exec_only)
		return -EOPNOTSUPP;
	return 0;
}

static int md_map_err(const struct md_ctx *c, const struct md_op *op)
{
	int ret = md_range_err(op->gpa, op->size);

	if (!ret)
		ret = md_attr_err(&c->pm.hw, op->attr);
	if (!ret && op->max_page != EPM_SIZE_4K &&
	    op->max_page != EPM_SIZE_2M && op->max_page != EPM_SIZE_1G)
		ret = -EINVAL;
	if (!ret && model_any(&c->m, op->gpa, op->size))
		ret = -EEXIST;
	return ret;
}

static int md_protect_err(const struct md_ctx *c, const struct md_op *op)
{
	int ret = md_range_err(op->gpa, op->size);

	if (!ret && op->attr & ~EPM_ATTR_PERM)
		ret = -EINVAL;
	if (!ret)
		ret = md_attr_err(&c->pm.hw, op->attr);
	if (!ret && !model_full(&c->m, op->gpa, op->size))
		ret = -ENOENT;
	return ret;
}

/* One translation against the model. */
static void md_xlate_check(struct md_ctx *c, u64 gpa)
{
	struct epm_xlate x;
	u64 hpa, base, k, e;
	u32 attr, want;
	int ret = epm_translate(&c->pm, gpa, &x);

	if (gpa >= EPM_GPA_LIMIT) {
		if (ret != -EINVAL)
			md_fail(c, "translate 0x%llx beyond 48 bits: %d",
				(unsigned long long)gpa, ret);
		return;
	}
	if (!model_lookup(&c->m, gpa, &hpa, &attr)) {
		if (ret != -ENOENT)
			md_fail(c, "translate 0x%llx: %d, want -ENOENT (level %u hpa 0x%llx)",
				(unsigned long long)gpa, ret, x.level,
				(unsigned long long)x.hpa);
		return;
	}
	if (ret) {
		md_fail(c, "translate 0x%llx: %d, want hpa 0x%llx",
			(unsigned long long)gpa, ret,
			(unsigned long long)hpa);
		return;
	}
	c->st.xlate[x.level - 1]++;
	want = md_release_attr(attr);
	if (x.hpa != hpa || x.kpt_hpa != hpa || x.attr != want ||
	    (x.attr & EPM_ATTR_PERM) != (attr & EPM_ATTR_PERM) ||
	    x.kpt_attr != ((want | EPM_ATTR_R) & ~EPM_ATTR_IPAT) ||
	    x.page_size != EPM_LEVEL_SIZE(x.level)) {
		md_fail(c, "translate 0x%llx: hpa 0x%llx/0x%llx attr 0x%x/0x%x size 0x%llx, want hpa 0x%llx attr 0x%x",
			(unsigned long long)gpa, (unsigned long long)x.hpa,
			(unsigned long long)x.kpt_hpa, x.attr, x.kpt_attr,
			(unsigned long long)x.page_size,
			(unsigned long long)hpa, want);
		return;
	}
	base = gpa & ~(x.page_size - 1);
	if (md_leaf_check(&c->pm, &c->m, model_find(&c->m, base), x.level,
			  base, x.kpte[x.level], x.epte[x.level], c->why,
			  sizeof(c->why))) {
		c->failed = true;
		return;
	}
	/* The upper levels are tables pointing at the next pair. */
	for (k = EPM_LEVELS; k > x.level; k--) {
		e = x.kpte[k] & EPM_PTE_ADDR;
		if ((x.kpte[k] & ~KPTE_A) != (e | KPTE_TABLE) ||
		    (x.epte[k] & ~EPTE_A) !=
		    ((e + EPM_PAGE_SIZE) | EPTE_TABLE)) {
			md_fail(c, "translate 0x%llx: level %llu kpte 0x%llx epte 0x%llx",
				(unsigned long long)gpa,
				(unsigned long long)k,
				(unsigned long long)x.kpte[k],
				(unsigned long long)x.epte[k]);
			return;
		}
	}
}

static u64 md_rand_gpa(struct md_ctx *c, unsigned int r, u64 align)
{
	return c->reg[r] + md_below(c->src, MD_REGION_SIZE / align) * align;
}

/* Translations near the op's range, in the windows and in the model. */
static void md_xlates(struct md_ctx *c)
{
	struct md_src *s = c->src;
	u64 gpa = c->op.gpa, size = c->op.size, pick[8];
	unsigned int i, n = 0;

	if (!md_range_err(gpa, size)) {
		pick[n++] = gpa;
		pick[n++] = gpa + size - 1;
		pick[n++] = gpa - 1;
		pick[n++] = gpa + size;
		pick[n++] = gpa + md_below(s, size);
	}
	while (n < 8) {
		if (c->m.l.n && md_chance(s, 50)) {
			const struct md_ext *e =
				&c->m.l.e[md_below(s, c->m.l.n)];

			pick[n++] = e->gpa + md_below(s, e->size);
		} else {
			pick[n++] = md_rand_gpa(c, md_below(s, MD_REGIONS), 1);
		}
	}
	for (i = 0; i < c->xlates && !c->failed; i++)
		md_xlate_check(c, pick[i % 8] & (EPM_GPA_LIMIT - 1));
	if (md_chance(s, 2))
		md_xlate_check(c, EPM_GPA_LIMIT + md_below(s, EPM_SIZE_1G));
}

static unsigned int md_pick_region(struct md_ctx *c)
{
	u64 k = md_below(c->src, 10);

	return k < 8 ? 0 : k - 7;
}

/*
 * Where a range starting at @gpa should end at the latest: the end of
 * the window holding it (2^48 outside the windows).
 */
static u64 md_clip(const struct md_ctx *c, u64 gpa, u64 size)
{
	u64 end = EPM_GPA_LIMIT;
	unsigned int r;

	for (r = 0; r < MD_REGIONS; r++) {
		if (gpa >= c->reg[r] && gpa - c->reg[r] < MD_REGION_SIZE)
			end = c->reg[r] + MD_REGION_SIZE;
	}
	if (gpa >= end)
		return EPM_PAGE_SIZE;
	return size < end - gpa ? size : end - gpa;
}

static u64 md_pages(struct md_src *s, u64 max)
{
	return (1 + md_below(s, max)) * EPM_PAGE_SIZE;
}

/*
 * A place to start a range: anywhere in window @r, or more often just
 * before, inside or after what is mapped already, so that mappings
 * cluster and the tree stays moderate however long the run.
 */
static u64 md_pick_gpa(struct md_ctx *c, unsigned int r, u64 align)
{
	struct md_src *s = c->src;
	const struct md_ext *e;
	u64 g;

	if (!c->m.l.n || md_chance(s, 10))
		return md_rand_gpa(c, r, align);
	e = &c->m.l.e[md_below(s, c->m.l.n)];
	switch (md_below(s, 3)) {
	case 0:
		g = md_end(e) + md_below(s, 8) * EPM_PAGE_SIZE;
		break;
	case 1:
		g = e->gpa - md_pages(s, 16);
		break;
	default:
		g = e->gpa + md_below(s, e->size / EPM_PAGE_SIZE) *
		    EPM_PAGE_SIZE;
		break;
	}
	return g & ~(align - 1) & (EPM_GPA_LIMIT - 1);
}

static u32 md_pick_perm(struct md_ctx *c)
{
	static const u32 perms[] = {
		EPM_ATTR_R, EPM_ATTR_R | EPM_ATTR_W, EPM_ATTR_R | EPM_ATTR_X,
		EPM_ATTR_R | EPM_ATTR_W | EPM_ATTR_X, EPM_ATTR_X,
	};

	return perms[md_below(c->src, c->pm.hw.exec_only ? 5 : 4)];
}

/* Is the tree as big as this test wants it? */
static bool md_crowded(const struct md_ctx *c)
{
	return c->pm.nr_pairs > 160 || c->m.l.n > 400 ||
	       c->m.bytes > 6 * EPM_SIZE_1G;
}

static void md_gen_map(struct md_ctx *c, struct md_op *op)
{
	static const u32 mts[] = {
		EPM_MT_UC, EPM_MT_WC, EPM_MT_WT, EPM_MT_WP,
	};
	struct md_src *s = c->src;
	unsigned int r = md_pick_region(c), i;
	u64 k = md_below(s, 100), g;

	op->kind = MD_MAP;
	op->align = md_chance(s, 50) ? EPM_SIZE_2M : EPM_SIZE_4K;
	op->max_page = md_chance(s, 40) ? EPM_SIZE_1G :
		       md_chance(s, 60) ? EPM_SIZE_2M : EPM_SIZE_4K;
	if (k < 35) {
		op->gpa = md_pick_gpa(c, r, EPM_PAGE_SIZE);
		op->size = md_pages(s, 16);
	} else if (k < 60) {
		op->gpa = md_pick_gpa(c, r, EPM_PAGE_SIZE);
		op->size = md_pages(s, 1024);
	} else if (k < 85) {
		op->gpa = md_pick_gpa(c, r, EPM_SIZE_2M);
		if (md_chance(s, 40))
			op->gpa = (op->gpa - md_pages(s, 4)) &
				  (EPM_GPA_LIMIT - 1);
		op->size = (1 + md_below(s, 8)) * EPM_SIZE_2M;
		if (md_chance(s, 40))
			op->size += md_pages(s, 3);
		op->align = EPM_SIZE_2M;
	} else {
		/* 1G leaves: look for a free gigabyte. */
		for (i = 0; i < 4; i++) {
			op->gpa = md_rand_gpa(c, r, EPM_SIZE_1G);
			if (!model_any(&c->m, op->gpa, EPM_SIZE_1G))
				break;
		}
		if (md_chance(s, 25))
			op->gpa += md_below(s, 4) * EPM_SIZE_2M;
		op->size = (1 + md_below(s, 2)) * EPM_SIZE_1G;
		if (md_chance(s, 25))
			op->size -= md_below(s, 3) * EPM_SIZE_2M;
		op->align = md_chance(s, 80) ? EPM_SIZE_1G : EPM_SIZE_2M;
		op->max_page = md_chance(s, 75) ? EPM_SIZE_1G :
			       md_chance(s, 90) ? EPM_SIZE_2M : EPM_SIZE_4K;
	}
	/* 4K leaves cost time: at most 64 MiB of them a map. */
	if ((op->max_page == EPM_SIZE_4K || !c->pm.hw.ept_2m) &&
	    op->size > 32 * EPM_SIZE_2M)
		op->size = (1 + md_below(s, 32)) * EPM_SIZE_2M;
	/* Often look for a hole rather than fail with EEXIST. */
	if (k < 85 && md_chance(s, 60)) {
		g = model_run_end(&c->m, op->gpa);
		if (md_clip(c, g, EPM_PAGE_SIZE) && g < EPM_GPA_LIMIT)
			op->gpa = g;
	}
	op->size = md_clip(c, op->gpa, op->size);
	op->attr = md_pick_perm(c);
	if (md_chance(s, 50))
		op->attr |= EPM_ATTR_MT(EPM_MT_WB);
	else
		op->attr |= EPM_ATTR_MT(mts[md_below(s, 4)]);
	if (md_chance(s, 20))
		op->attr |= EPM_ATTR_IPAT;
	if (md_chance(s, 30))
		op->attr |= EPM_ATTR_AD;
	if (md_chance(s, 30))
		op->attr |= EPM_ATTR_PINW;
	op->frag = md_chance(s, 50) ? 0 : md_chance(s, 60) ? 1 : 2;
	if (md_chance(s, 4)) {
		op->fault_call = 1 + md_below(s, 3);
		op->fault_kind = md_below(s, 7);
	}
}

static void md_gen_unmap(struct md_ctx *c, struct md_op *op)
{
	struct md_src *s = c->src;
	unsigned int r = md_pick_region(c);
	u64 k = md_below(s, 100);
	const struct md_ext *e = NULL;

	op->kind = MD_UNMAP;
	if (c->m.l.n)
		e = &c->m.l.e[md_below(s, c->m.l.n)];
	if (md_crowded(c) && md_chance(s, 20))
		k = 80 + md_below(s, 20);
	if (k < 30) {
		op->gpa = md_pick_gpa(c, r, EPM_PAGE_SIZE);
		op->size = md_pages(s, 16);
	} else if (k < 55 && e) {
		op->gpa = e->gpa;
		if (md_chance(s, 70))
			op->gpa += md_below(s, e->size / EPM_PAGE_SIZE) *
				   EPM_PAGE_SIZE;
		op->size = md_end(e) - op->gpa;
		if (md_chance(s, 50))
			op->size = md_pages(s, op->size / EPM_PAGE_SIZE);
		if (md_chance(s, 20))
			op->size += md_pages(s, 4);
	} else if (k < 80) {
		op->gpa = md_pick_gpa(c, r, md_chance(s, 50) ? EPM_SIZE_2M :
					    EPM_PAGE_SIZE);
		op->size = md_pages(s, 16384);
	} else if (k < 95) {
		op->gpa = md_rand_gpa(c, r, EPM_SIZE_1G);
		op->gpa += md_below(s, 3) * EPM_SIZE_2M + md_pages(s, 2) -
			   EPM_PAGE_SIZE;
		op->size = (1 + md_below(s, 2)) * EPM_SIZE_1G -
			   md_below(s, 3) * EPM_PAGE_SIZE;
	} else {
		op->gpa = c->reg[r];
		op->size = MD_REGION_SIZE;
	}
	op->size = md_clip(c, op->gpa, op->size);
}

static void md_gen_protect(struct md_ctx *c, struct md_op *op)
{
	struct md_src *s = c->src;
	unsigned int r = md_pick_region(c);
	u64 span;

	op->kind = MD_PROTECT;
	op->attr = md_pick_perm(c);
	if (c->m.l.n && md_chance(s, 85)) {
		const struct md_ext *e = &c->m.l.e[md_below(s, c->m.l.n)];

		op->gpa = e->gpa + md_below(s, e->size / EPM_PAGE_SIZE) *
			  EPM_PAGE_SIZE;
		span = model_run_end(&c->m, op->gpa) - op->gpa;
		if (md_chance(s, 30))
			op->size = span;
		else if (md_chance(s, 50))
			op->size = md_pages(s, 16);
		else
			op->size = md_pages(s, span / EPM_PAGE_SIZE);
		if (op->size > span)
			op->size = span;
		if (md_chance(s, 10))
			op->size += md_pages(s, 4);	/* into a hole */
	} else {
		op->gpa = md_pick_gpa(c, r, EPM_PAGE_SIZE);
		op->size = md_pages(s, md_chance(s, 50) ? 16 : 1024);
		op->size = md_clip(c, op->gpa, op->size);
	}
}

/* An op with one thing wrong about it (X-only may turn out fine). */
static void md_gen_invalid(struct md_ctx *c, struct md_op *op)
{
	static const u32 bad_perm[] = {
		0, EPM_ATTR_W, EPM_ATTR_W | EPM_ATTR_X, EPM_ATTR_X,
	};
	/* Protect takes permissions only; map knows no other bits. */
	static const u32 bad_protect_bits[] = {
		EPM_ATTR_MT(EPM_MT_WB), EPM_ATTR_IPAT, EPM_ATTR_AD, 0x8,
	};
	static const u32 bad_map_bits[] = {
		0x8, 0x80, 0x800, 0x8000, 0x80000, 0x80000000,
	};
	static const u32 bad_mt[] = { 2, 3, 7 };
	static const u64 bad_max[] = {
		0, 2 * EPM_SIZE_4K, 2 * EPM_SIZE_2M, EPM_LEVEL_SIZE(4),
		EPM_SIZE_1G + EPM_SIZE_4K, ~0ULL,
	};
	struct md_src *s = c->src;
	u64 k = md_below(s, 3);

	if (k == 0)
		md_gen_map(c, op);
	else if (k == 1)
		md_gen_unmap(c, op);
	else
		md_gen_protect(c, op);
	op->fault_call = 0;
	if (op->kind != MD_UNMAP && md_chance(s, 50)) {
		k = md_below(s, op->kind == MD_MAP ? 4 : 3);
		if (k == 0) {
			op->attr = (op->attr & ~EPM_ATTR_PERM) |
				   bad_perm[md_below(s, 4)];
		} else if (k == 1 && op->kind == MD_PROTECT) {
			op->attr |= bad_protect_bits[md_below(s, 4)];
		} else if (k == 1) {
			op->attr |= bad_map_bits[md_below(s, 6)];
		} else if (k == 2) {
			op->attr &= ~EPM_ATTR_MT_MASK;
			op->attr |= EPM_ATTR_MT(bad_mt[md_below(s, 3)]);
		} else {
			op->max_page = bad_max[md_below(s, 6)];
		}
		return;
	}
	switch (md_below(s, 7)) {
	case 0:
		op->size = 0;
		break;
	case 1:
		op->gpa |= 1 + md_below(s, EPM_PAGE_SIZE - 1);
		break;
	case 2:
		op->size |= 1 + md_below(s, EPM_PAGE_SIZE - 1);
		break;
	case 3:
		op->gpa = EPM_GPA_LIMIT + md_below(s, 4) * EPM_SIZE_1G;
		break;
	case 4:
		op->gpa = EPM_GPA_LIMIT - md_pages(s, 16);
		op->size = EPM_GPA_LIMIT - op->gpa + md_pages(s, 16);
		break;
	case 5:
		op->size = ~0ULL << EPM_PAGE_SHIFT;
		break;
	default:
		op->gpa = ~0ULL << EPM_PAGE_SHIFT;
		break;
	}
}

static void md_describe(struct md_ctx *c)
{
	static const char *const names[] = { "map", "unmap", "protect" };
	const struct md_op *op = &c->op;

	snprintf(c->opdesc, sizeof(c->opdesc),
		 "%s gpa 0x%llx size 0x%llx attr 0x%x max 0x%llx align 0x%llx frag %u fault %u@%u fail_at %u",
		 names[op->kind], (unsigned long long)op->gpa,
		 (unsigned long long)op->size, op->attr,
		 (unsigned long long)op->max_page,
		 (unsigned long long)op->align, op->frag, op->fault_kind,
		 op->fault_call, op->fail_at);
}

/*
 * Run c->op and check its result, its releases and (when it failed) that
 * nothing changed.
 */
static void md_run_op(struct md_ctx *c)
{
	struct md_op *op = &c->op;
	u64 pairs = c->pm.nr_pairs, mapped = md_mapped(&c->pm);
	u64 live = epm_user_mem.live, failed = epm_user_mem.failed;
	u64 allocs = epm_user_mem.allocs, digest = 0, dfrom, dsize;
	struct epm_map_req req;
	bool hit;
	size_t i;
	int pre, want, ret;
	u32 mattr;

	md_describe(c);
	pre = op->kind == MD_MAP ? md_map_err(c, op) :
	      op->kind == MD_PROTECT ? md_protect_err(c, op) :
	      md_range_err(op->gpa, op->size);
	/*
	 * What a rolled back op may have touched: its range, and the jumbos
	 * split at its edges.
	 */
	dfrom = op->gpa & ~(EPM_SIZE_1G - 1);
	dsize = ((op->gpa + op->size + EPM_SIZE_1G - 1) &
		 ~(EPM_SIZE_1G - 1)) - dfrom;
	if (!pre && (op->fail_at || op->fault_call))
		digest = md_digest(&c->pm, dfrom, dsize);
	c->pend.n = 0;
	c->rel.l.n = 0;
	c->rel.uncoalesced = 0;
	c->frame_calls = 0;
	c->frame_next = op->gpa;
	c->fault_err = 0;
	c->rel_ok = op->kind == MD_UNMAP;
	epm_user_mem.attempts = 0;
	epm_user_mem.fail_at = op->fail_at;

	switch (op->kind) {
	case MD_MAP:
		req = (struct epm_map_req){
			.gpa = op->gpa, .size = op->size, .attr = op->attr,
			.max_page = op->max_page, .frame = md_frame, .arg = c,
		};
		ret = epm_map(&c->pm, &req);
		break;
	case MD_UNMAP:
		ret = epm_unmap(&c->pm, op->gpa, op->size, md_release, c);
		break;
	default:
		ret = epm_protect(&c->pm, op->gpa, op->size, op->attr);
		break;
	}
	epm_user_mem.fail_at = 0;
	c->rel_ok = false;
	if (c->failed)
		return;

	hit = epm_user_mem.failed != failed;
	if (pre)
		want = pre;
	else if (hit)
		want = -ENOMEM;
	else
		want = c->fault_err;
	if (ret != want) {
		md_fail(c, "returned %d, want %d", ret, want);
		return;
	}
	c->st.enomem += hit;
	c->st.faults += c->fault_err && !hit;
	if (pre && (epm_user_mem.attempts || c->frame_calls)) {
		md_fail(c, "failed validation (%d) after %llu allocations and %u frame calls",
			pre, (unsigned long long)epm_user_mem.attempts,
			c->frame_calls);
		return;
	}
	if (ret) {
		if (c->pm.nr_pairs != pairs || md_mapped(&c->pm) != mapped ||
		    epm_user_mem.live != live || c->rel.l.n ||
		    (!pre && md_digest(&c->pm, dfrom, dsize) != digest))
			md_fail(c, "failed (%d) but changed the tree (pairs %llu -> %llu, %zu releases)",
				ret, (unsigned long long)pairs,
				(unsigned long long)c->pm.nr_pairs,
				c->rel.l.n);
		switch (op->kind) {
		case MD_MAP:
			c->st.map_err++;
			break;
		case MD_UNMAP:
			c->st.unmap_err++;
			break;
		default:
			c->st.protect_err++;
			break;
		}
		return;
	}

	switch (op->kind) {
	case MD_MAP:
		if (c->frame_next < op->gpa + op->size) {
			md_fail(c, "mapped, but frames were asked only up to 0x%llx",
				(unsigned long long)c->frame_next);
			return;
		}
		mattr = md_map_attr(op->attr, op->max_page);
		for (i = 0; i < c->pend.n; i++) {
			model_insert(&c->m, c->pend.e[i].gpa,
				     c->pend.e[i].size, c->pend.e[i].hpa,
				     mattr);
			c->handed += c->pend.e[i].size;
		}
		c->st.map_ok++;
		break;
	case MD_UNMAP:
		if (md_rel_match(&c->m, op->gpa, op->size, &c->rel, c->why,
				 sizeof(c->why))) {
			c->failed = true;
			return;
		}
		for (i = 0; i < c->rel.l.n; i++)
			c->released += c->rel.l.e[i].size;
		model_remove(&c->m, op->gpa, op->size);
		c->st.splits += epm_user_mem.allocs - allocs;
		c->st.unmap_ok++;
		break;
	default:
		model_protect(&c->m, op->gpa, op->size, op->attr);
		c->st.splits += epm_user_mem.allocs - allocs;
		c->st.protect_ok++;
		break;
	}
}

/*
 * The checks after every op: counters, translations and the leaves around
 * the op's range; epm_check() every check_every ops; md_compare() every
 * full_every ops.
 */
static void md_verify(struct md_ctx *c)
{
	struct epm_pmap *pm = &c->pm;
	u64 from, to;

	if (md_mapped(pm) != c->m.bytes) {
		md_fail(c, "mapped[] add up to 0x%llx, the model maps 0x%llx",
			(unsigned long long)md_mapped(pm),
			(unsigned long long)c->m.bytes);
		return;
	}
	if (epm_user_mem.live - c->live0 != pm->nr_pairs) {
		md_fail(c, "%llu pairs live, nr_pairs %llu",
			(unsigned long long)(epm_user_mem.live - c->live0),
			(unsigned long long)pm->nr_pairs);
		return;
	}
	md_xlates(c);
	if (c->failed)
		return;
	if (!md_range_err(c->op.gpa, c->op.size)) {
		/* Splits reach one 2M page beyond either edge. */
		from = c->op.gpa & ~(EPM_SIZE_2M - 1);
		to = (c->op.gpa + c->op.size + EPM_SIZE_2M - 1) &
		     ~(EPM_SIZE_2M - 1);
		if (to > EPM_GPA_LIMIT)
			to = EPM_GPA_LIMIT;
		if (md_compare_range(pm, &c->m, from, to - from, c->why,
				     sizeof(c->why))) {
			c->failed = true;
			return;
		}
	}
	if (c->st.ops % c->full_every == 0) {
		c->st.full++;
		if (md_compare(pm, &c->m, c->why, sizeof(c->why)))
			c->failed = true;
	} else if (c->st.ops % c->check_every == 0) {
		if (md_check(pm, c->why, sizeof(c->why)))
			c->failed = true;
	}
	if (pm->nr_pairs > c->st.max_pairs)
		c->st.max_pairs = pm->nr_pairs;
	if (c->m.l.n > c->st.max_ext)
		c->st.max_ext = c->m.l.n;
	if (pm->mapped[2] > c->st.max_1g)
		c->st.max_1g = pm->mapped[2];
	if (pm->mapped[1] > c->st.max_2m)
		c->st.max_2m = pm->mapped[1];
}

int md_init(struct md_ctx *c, struct md_src *src, const struct epm_hw *hw)
{
	struct epm_hw h;
	unsigned int i;
	u64 slot;
	int ret;

	memset(c, 0, sizeof(*c));
	c->src = src;
	c->check_every = 1;
	c->full_every = 1;
	c->xlates = 8;
	if (hw) {
		h = *hw;
	} else {
		/* Mostly a full-featured CPU; never 1G without 2M. */
		h.ept_2m = !md_chance(src, 10);
		h.ept_1g = h.ept_2m && !md_chance(src, 15);
		h.kpt_1g = !md_chance(src, 15);
		h.exec_only = !md_chance(src, 30);
	}
	slot = md_below(src, 512);
	c->reg[0] = slot * EPM_LEVEL_SIZE(4) +
		    md_below(src, 509) * EPM_SIZE_1G;
	if (slot && md_chance(src, 25))
		c->reg[0] = slot * EPM_LEVEL_SIZE(4) - MD_REGION_SIZE / 2;
	c->reg[1] = 0;
	c->reg[2] = EPM_GPA_LIMIT - MD_REGION_SIZE;
	c->hpa_next = md_chance(src, 20) ? MD_HPA_LIMIT / 2 : 0;
	c->hpa_next += md_below(src, 1024) * EPM_SIZE_1G;
	for (i = 0; i < MD_REGIONS; i++)
		c->reg[i] &= EPM_GPA_LIMIT - 1;
	c->live0 = epm_user_mem.live;
	ret = epm_pmap_init(&c->pm, &h);
	if (ret)
		return ret;
	c->up = true;
	return 0;
}

int md_step(struct md_ctx *c)
{
	struct md_src *s = c->src;
	u64 k;

	if (c->failed)
		return -1;
	c->st.ops++;
	memset(&c->op, 0, sizeof(c->op));
	k = md_below(s, 100);
	/* Lean towards unmapping once the tree is big enough. */
	if (md_crowded(c) && k >= 5 && k < 52)
		k = 60;
	if (k < 5)
		md_gen_invalid(c, &c->op);
	else if (k < 52)
		md_gen_map(c, &c->op);
	else if (k < 78)
		md_gen_unmap(c, &c->op);
	else
		md_gen_protect(c, &c->op);
	if (md_chance(s, 3))
		c->op.fail_at = 1 + md_below(s, 4);
	md_run_op(c);
	if (!c->failed)
		md_verify(c);
	return c->failed ? -1 : 0;
}

int md_finish(struct md_ctx *c, bool unmap_first)
{
	if (!c->up)
		goto out;
	if (!c->failed && md_compare(&c->pm, &c->m, c->why, sizeof(c->why)))
		c->failed = true;
	if (!c->failed && unmap_first) {
		memset(&c->op, 0, sizeof(c->op));
		c->op.kind = MD_UNMAP;
		c->op.size = EPM_GPA_LIMIT;
		md_run_op(c);
		if (!c->failed && md_compare(&c->pm, &c->m, c->why,
					     sizeof(c->why)))
			c->failed = true;
		if (!c->failed && (c->pm.nr_pairs != 1 ||
				   epm_user_mem.live != c->live0 + 1 ||
				   c->m.bytes || md_mapped(&c->pm)))
			md_fail(c, "after unmapping all: %llu pairs, %llu live, model 0x%llx bytes",
				(unsigned long long)c->pm.nr_pairs,
				(unsigned long long)(epm_user_mem.live -
						     c->live0),
				(unsigned long long)c->m.bytes);
	}
	if (!c->failed)
		snprintf(c->opdesc, sizeof(c->opdesc), "destroy");
	c->rel.l.n = 0;
	c->rel.uncoalesced = 0;
	c->rel_ok = true;
	epm_pmap_destroy(&c->pm, md_release, c);
	c->rel_ok = false;
	c->up = false;
	if (!c->failed && md_rel_match(&c->m, 0, EPM_GPA_LIMIT, &c->rel,
				       c->why, sizeof(c->why)))
		c->failed = true;
	if (!c->failed) {
		size_t i;

		for (i = 0; i < c->rel.l.n; i++)
			c->released += c->rel.l.e[i].size;
		model_remove(&c->m, 0, EPM_GPA_LIMIT);
		if (c->handed != c->released)
			md_fail(c, "handed out 0x%llx bytes of frames, 0x%llx came back",
				(unsigned long long)c->handed,
				(unsigned long long)c->released);
	}
	if (!c->failed && epm_user_mem.live != c->live0)
		md_fail(c, "%lld pairs leaked",
			(long long)(epm_user_mem.live - c->live0));
out:
	model_free(&c->m);
	md_list_free(&c->pend);
	md_list_free(&c->rel.l);
	return c->failed ? -1 : 0;
}
