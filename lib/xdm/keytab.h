/* SPDX-License-Identifier: MIT */
/*
 * The responder's key table (the responder ZMMU): R-Key -> region. It lives
 * in memory the owner writes and requesters map read-only, so lookups are
 * lock-free: an open-addressing hash table whose entries are guarded by a
 * sequence counter (odd while the owner rewrites the entry). One entry per
 * cache line keeps lookups on read-mostly lines.
 *
 * Every key sits within GZ_KEY_PROBES slots of its home (the owner picks
 * random keys until one fits), so a lookup, even of a key that does not
 * exist, reads at most that many lines whatever the table holds.
 */
#ifndef GZ_XDM_KEYTAB_H
#define GZ_XDM_KEYTAB_H

#include <stdatomic.h>
#include <stdint.h>

#include "gz.h"
#include "xdm/xdm_abi.h"

#define GZ_KEY_EMPTY 0u		/* never used: ends a probe */
#define GZ_KEY_TOMB 1u		/* deregistered: probe goes on */
#define GZ_KEY_MIN 2u		/* smallest valid R-Key value */
#define GZ_KEY_PROBES 32u	/* longest probe, hit or miss */

struct gz_key_entry {
	_Atomic uint32_t seq;	/* odd while being written */
	_Atomic uint32_t rkey;
	uint32_t access;	/* GENZIO_ACCESS_REMOTE_* */
	uint32_t seg;		/* owner's segment index */
	uint64_t base;		/* owner's virtual address of the region */
	uint64_t length;
	uint64_t seg_off;	/* offset of base inside the segment */
	uint32_t domain;	/* protection domain whose queue pairs honour it */
	uint32_t pad0;
	uint64_t pad[2];
} GZ_ALIGNED;

/* A key's seg for memory outside data space: the owner's own memory at
 * base, which a requester reaches through the kernel (cross-memory
 * attach), never through a mapping. */
#define GZ_KEY_SEG_PROC 0xffffffffu

/* What the owner registers under a key. */
struct gz_key_desc {
	uint32_t access;
	uint32_t domain;
	uint32_t seg;
	uint64_t base, length, seg_off;
};

_Static_assert(sizeof(struct gz_key_entry) == 64, "one key per cache line");

/* One consistent copy of an entry, and where it was read. */
struct gz_key_snap {
	const struct gz_key_entry *e;
	uint32_t seq;		/* e->seq when copied: unchanged = still valid */
	uint32_t access;
	uint32_t seg;
	uint32_t domain;
	uint64_t base, length, seg_off;
};

static inline uint32_t gz_keytab_hash(uint32_t rkey, uint32_t mask)
{
	return (rkey * 0x9e3779b1u) >> 7 & mask;
}

/* Copy entry @e if it holds @rkey and is stable. 1 copied, 0 not @rkey
 * (go on probing), -1 the probe ends (empty slot, or never stable). */
GZ_INLINE int gz_keytab_read(const struct gz_key_entry *e, uint32_t rkey,
			     struct gz_key_snap *s)
{
	/* A writer that died mid-update leaves seq odd for good: retry a
	 * bounded number of times, then call the key bad. */
	for (int tries = 0; tries < 64; tries++) {
		/* Acquire pairs with the owner's release of seq in
		 * gz_keytab_insert/remove: fields read below are at least as
		 * new as this seq value. */
		uint32_t s1 = atomic_load_explicit((_Atomic uint32_t *)&e->seq,
						   memory_order_acquire);
		uint32_t k = atomic_load_explicit((_Atomic uint32_t *)&e->rkey,
						  memory_order_acquire);

		/* mid-update: wait only if it may be our key; a slot being
		 * rewritten for another key neither holds nor ends our chain */
		if (s1 & 1) {
			if (k != rkey && k != GZ_KEY_EMPTY)
				return 0;
			continue;
		}
		if (k == GZ_KEY_EMPTY)
			return -1;
		if (k != rkey)
			return 0;
		/* Seqlock read side, C11 style: acquire loads of the fields
		 * keep the re-read of seq after them (plain loads on x86);
		 * a field the owner rewrote makes seq differ below. */
		s->access = __atomic_load_n(&e->access, __ATOMIC_ACQUIRE);
		s->domain = __atomic_load_n(&e->domain, __ATOMIC_ACQUIRE);
		s->seg = __atomic_load_n(&e->seg, __ATOMIC_ACQUIRE);
		s->base = __atomic_load_n(&e->base, __ATOMIC_ACQUIRE);
		s->length = __atomic_load_n(&e->length, __ATOMIC_ACQUIRE);
		s->seg_off = __atomic_load_n(&e->seg_off, __ATOMIC_ACQUIRE);
		if (atomic_load_explicit((_Atomic uint32_t *)&e->seq,
					 memory_order_relaxed) != s1)
			continue;
		s->e = e;
		s->seq = s1;
		return 1;
	}
	return -1;
}

/* Find @rkey: 1 and *@s, or 0. Touches nothing but the table. */
GZ_INLINE int gz_keytab_find(const struct gz_key_entry *tab, uint32_t mask,
			     uint32_t rkey, struct gz_key_snap *s)
{
	uint32_t i = gz_keytab_hash(rkey, mask);

	if (GZ_UNLIKELY(rkey < GZ_KEY_MIN))
		return 0;
	for (uint32_t n = 0; n < GZ_KEY_PROBES && n <= mask;
	     n++, i = (i + 1) & mask) {
		int r = gz_keytab_read(&tab[i], rkey, s);

		if (r)
			return r > 0;
	}
	return 0;
}

/* Whether snapshot @s grants @need over [@raddr, @raddr + @len) to a
 * request for a queue pair of protection domain @domain: a key of
 * another domain is refused like one without the right (verbs: remote
 * access error). GZ_XDM_ST_SUCCESS or the status the requester sees. */
GZ_INLINE uint8_t gz_key_check(const struct gz_key_snap *s, uint32_t domain,
			       uint64_t raddr, uint64_t len, uint32_t need)
{
	if (GZ_UNLIKELY((s->access & need) != need || s->domain != domain))
		return GZ_XDM_ST_REM_ACCESS;
	if (GZ_UNLIKELY(raddr < s->base || len > s->length ||
			raddr - s->base > s->length - len))
		return GZ_XDM_ST_REM_BOUNDS;
	return GZ_XDM_ST_SUCCESS;
}

/* Whether the entry @s was copied from is unchanged since. */
GZ_INLINE int gz_key_still(const struct gz_key_snap *s)
{
	/* Acquire pairs with the owner's release of seq: if it is the
	 * value we copied, so is the entry. */
	return atomic_load_explicit((_Atomic uint32_t *)&s->e->seq,
				    memory_order_acquire) == s->seq;
}

/* Owner side; the caller serialises writers (its context lock).
 * Return: 0, -EEXIST (@rkey present), -ENOSPC (no free slot within
 * GZ_KEY_PROBES of its home: pick another key). */
int gz_keytab_insert(struct gz_key_entry *tab, uint32_t mask, uint32_t rkey,
		     const struct gz_key_desc *d);
/* Return: 0 or -ENOENT. */
int gz_keytab_remove(struct gz_key_entry *tab, uint32_t mask, uint32_t rkey);

#endif /* GZ_XDM_KEYTAB_H */
