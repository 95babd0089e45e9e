/* SPDX-License-Identifier: MIT */
/*
 * The responder's key table (the responder ZMMU): R-Key -> region. It lives
 * in memory the owner writes and requesters map read-only, so lookups are
 * lock-free: an open-addressing hash table whose entries are guarded by a
 * sequence counter (odd while the owner rewrites the entry). One entry per
 * cache line keeps lookups on read-mostly lines.
 */
#ifndef GZ_XDM_KEYTAB_H
#define GZ_XDM_KEYTAB_H

#include <stdatomic.h>
#include <stdint.h>

#include "gz.h"

#define GZ_KEY_EMPTY 0u		/* never used: ends a probe */
#define GZ_KEY_TOMB 1u		/* deregistered: probe goes on */
#define GZ_KEY_MIN 2u		/* smallest valid R-Key value */

struct gz_key_entry {
	_Atomic uint32_t seq;	/* odd while being written */
	_Atomic uint32_t rkey;
	uint32_t access;	/* GENZIO_ACCESS_REMOTE_* */
	uint32_t seg;		/* owner's segment index */
	uint64_t base;		/* owner's virtual address of the region */
	uint64_t length;
	uint64_t seg_off;	/* offset of base inside the segment */
	uint64_t pad[3];
} GZ_ALIGNED;

_Static_assert(sizeof(struct gz_key_entry) == 64, "one key per cache line");

struct gz_key_hit {
	uint32_t seg;
	uint64_t off;		/* byte offset inside the segment */
};

static inline uint32_t gz_keytab_hash(uint32_t rkey, uint32_t mask)
{
	return (rkey * 0x9e3779b1u) >> 7 & mask;
}

/*
 * Find @rkey and check that [@raddr, @raddr + @len) lies in its region and
 * that the key grants @need. Return: GENZIO_WC_SUCCESS and *hit, or the
 * status the requester must see. Touches nothing but the table.
 */
GZ_INLINE uint8_t gz_keytab_lookup(const struct gz_key_entry *tab,
				       uint32_t mask, uint32_t rkey,
				       uint64_t raddr, uint64_t len,
				       uint32_t need, struct gz_key_hit *hit)
{
	uint32_t i = gz_keytab_hash(rkey, mask);

	if (GZ_UNLIKELY(rkey < GZ_KEY_MIN))
		return GENZIO_WC_BAD_RKEY;
	for (uint32_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
		const struct gz_key_entry *e = &tab[i];
		/* A writer that died mid-update leaves seq odd for good:
		 * retry a bounded number of times, then call the key bad. */
		for (int tries = 0; tries < 64; tries++) {
			/* Acquire pairs with the owner's release of seq in
			 * gz_keytab_insert/remove: fields read below are at
			 * least as new as this seq value. */
			uint32_t s1 = atomic_load_explicit(
				(_Atomic uint32_t *)&e->seq,
				memory_order_acquire);
			uint32_t k = atomic_load_explicit(
				(_Atomic uint32_t *)&e->rkey,
				memory_order_relaxed);

			/* mid-update: wait only if it may be our key; a
			 * slot being rewritten for another key neither
			 * holds nor ends our chain */
			if (s1 & 1) {
				if (k != rkey && k != GZ_KEY_EMPTY)
					goto next;
				continue;
			}
			if (k == GZ_KEY_EMPTY)
				return GENZIO_WC_BAD_RKEY;
			if (k != rkey)
				goto next;
			uint32_t access = e->access, seg = e->seg;
			uint64_t base = e->base, length = e->length;
			uint64_t seg_off = e->seg_off;

			/* Seqlock read side: order the field loads before
			 * the re-read of seq. */
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit((_Atomic uint32_t *)&e->seq,
						 memory_order_relaxed) != s1)
				continue;
			if (GZ_UNLIKELY((access & need) != need))
				return GENZIO_WC_REM_ACCESS;
			if (GZ_UNLIKELY(raddr < base || len > length ||
					raddr - base > length - len))
				return GENZIO_WC_REM_BOUNDS;
			hit->seg = seg;
			hit->off = seg_off + (raddr - base);
			return GENZIO_WC_SUCCESS;
		}
		return GENZIO_WC_BAD_RKEY;
next:;
	}
	return GENZIO_WC_BAD_RKEY;
}

/* Owner side; the caller serialises writers (its context lock).
 * Return: 0, -EEXIST (@rkey present), -ENOSPC (table full). */
int gz_keytab_insert(struct gz_key_entry *tab, uint32_t mask, uint32_t rkey,
		     uint32_t access, uint32_t seg, uint64_t base,
		     uint64_t length, uint64_t seg_off);
/* Return: 0 or -ENOENT. */
int gz_keytab_remove(struct gz_key_entry *tab, uint32_t mask, uint32_t rkey);

#endif /* GZ_XDM_KEYTAB_H */
