// SPDX-License-Identifier: MIT
/*
 * IOVA space for DMA mappings: first fit over what the IOMMU and the
 * device can address, kept as sorted arrays of disjoint ranges (a few
 * thousand mappings at most: one per registration outside data space).
 * Written here: no library in Debian's C ecosystem offers one small
 * enough (DPDK's and SPDK's live inside their environments).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gz.h"
#include "providers/vfio/vfio_pci.h"

int gz_iova_init(struct gz_iova *a, uint64_t page)
{
	memset(a, 0, sizeof(*a));
	if (!page || (page & (page - 1)))
		return -EINVAL;
	a->page = page;
	pthread_mutex_init(&a->lock, NULL);
	return 0;
}

void gz_iova_fini(struct gz_iova *a)
{
	free(a->usable);
	free(a->used);
	if (a->page)
		pthread_mutex_destroy(&a->lock);
	memset(a, 0, sizeof(*a));
}

/* Insert @r at index @at of the @n ranges of *@v (capacity *@cap). */
static int insert(struct gz_iova_range **v, uint32_t *n, uint32_t *cap,
		  uint32_t at, struct gz_iova_range r)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 16;
		struct gz_iova_range *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	memmove(*v + at + 1, *v + at, (*n - at) * sizeof(**v));
	(*v)[at] = r;
	++*n;
	return 0;
}

int gz_iova_add(struct gz_iova *a, uint64_t start, uint64_t end)
{
	uint32_t at = 0;

	/* whole pages only, and never IOVA 0 (a null DMA address) */
	if (start < a->page)
		start = a->page;
	if (start > UINT64_MAX - (a->page - 1))
		return 0; /* no whole page left up there */
	start = (start + a->page - 1) & ~(a->page - 1);
	if (end < start || end - start + 1 < a->page)
		return 0;
	end = ((end - start + 1) & ~(a->page - 1)) + start - 1;
	while (at < a->nusable && a->usable[at].start < start)
		at++;
	if ((at && a->usable[at - 1].end >= start) ||
	    (at < a->nusable && a->usable[at].start <= end))
		return -EINVAL; /* overlaps: the caller's ranges are disjoint */
	return insert(&a->usable, &a->nusable, &a->capusable, at,
		      (struct gz_iova_range){start, end});
}

/* The first @align-aligned address at or after @x, or 0 on overflow. */
static uint64_t up(uint64_t x, uint64_t align)
{
	return x > UINT64_MAX - (align - 1) ? 0
					    : (x + align - 1) & ~(align - 1);
}

int gz_iova_alloc(struct gz_iova *a, uint64_t len, uint64_t align,
		  uint64_t *iova)
{
	uint32_t j = 0;
	int ret = -ENOSPC;

	if (!len || len % a->page || align < a->page || (align & (align - 1)))
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	for (uint32_t i = 0; i < a->nusable && ret == -ENOSPC; i++) {
		const struct gz_iova_range *u = &a->usable[i];
		uint64_t at = up(u->start, align);

		/* the used ranges before this one end before it starts */
		while (j < a->nused && a->used[j].end < u->start)
			j++;
		for (; at; j++) {
			if (at > u->end || len - 1 > u->end - at)
				break; /* past this usable range */
			if (j == a->nused || at + len - 1 < a->used[j].start) {
				ret = insert(
				    &a->used, &a->nused, &a->capused, j,
				    (struct gz_iova_range){at, at + len - 1});
				if (!ret)
					*iova = at;
				break;
			}
			at = a->used[j].end == UINT64_MAX
				 ? 0
				 : up(a->used[j].end + 1, align);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* Under the lock: the index of allocation [@iova, +@len), or nused. */
static uint32_t lookup(const struct gz_iova *a, uint64_t iova, uint64_t len)
{
	uint32_t lo = 0, hi = a->nused;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (a->used[mid].start < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->nused && a->used[lo].start == iova && len &&
		       a->used[lo].end == iova + len - 1
		   ? lo
		   : a->nused;
}

int gz_iova_has(struct gz_iova *a, uint64_t iova, uint64_t len)
{
	int has;

	pthread_mutex_lock(&a->lock);
	has = lookup(a, iova, len) < a->nused;
	pthread_mutex_unlock(&a->lock);
	return has;
}

int gz_iova_free(struct gz_iova *a, uint64_t iova, uint64_t len)
{
	uint32_t lo;
	int ret = -EINVAL;

	pthread_mutex_lock(&a->lock);
	lo = lookup(a, iova, len);
	if (lo < a->nused) {
		memmove(a->used + lo, a->used + lo + 1,
			(a->nused - lo - 1) * sizeof(*a->used));
		a->nused--;
		ret = 0;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}
