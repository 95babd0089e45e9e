/* SPDX-License-Identifier: MIT */
/*
 * Completion rings of the queue ABI: each 64-byte entry carries a phase
 * bit that flips every lap, so the consumer needs no tail and never clears
 * an entry; producers (several queue pairs, local or remote) reserve slots
 * with a CAS on prod. Indices run freely over 2^32 and are masked on use;
 * prod and cons live on separate cache lines so producers and the
 * consumer never share one. Command queues are xdm/cmdq.h.
 */
#ifndef GZ_XDM_RING_H
#define GZ_XDM_RING_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gz.h"
#include "xdm/xdm_abi.h"

struct gz_ring_ctrl {
	_Atomic uint32_t prod GZ_ALIGNED;	/* tail: the doorbell */
	_Atomic uint32_t cons GZ_ALIGNED;	/* head: space given back */
	char guard[GZ_CACHELINE - sizeof(uint32_t)];
};

struct gz_ring {
	struct gz_ring_ctrl *ctrl;	/* prod: reserved; cons: consumed */
	uint8_t *ent;		/* nent entries of 64 bytes */
	uint32_t mask;		/* nent - 1 */
	uint32_t shift;		/* log2(nent) */
};

/* @nent must be a power of two; @ent zeroed (phase 0 = empty in lap 0). */
static inline int gz_ring_init(struct gz_ring *r, struct gz_ring_ctrl *ctrl,
			       void *ent, uint32_t nent)
{
	if (!nent || (nent & (nent - 1)))
		return -EINVAL;
	r->ctrl = ctrl;
	r->ent = ent;
	r->mask = nent - 1;
	r->shift = (uint32_t)__builtin_ctz(nent);
	atomic_store_explicit(&ctrl->prod, 0, memory_order_relaxed);
	atomic_store_explicit(&ctrl->cons, 0, memory_order_relaxed);
	return 0;
}

static inline void *gz_ring_slot(const struct gz_ring *r, uint32_t idx)
{
	return r->ent + ((size_t)(idx & r->mask) << 6);
}

/* Phase an entry written at @idx carries: 1 in lap 0, 0 in lap 1, ... */
static inline uint8_t gz_ring_phase(const struct gz_ring *r, uint32_t idx)
{
	return (uint8_t)(((idx >> r->shift) & 1u) ^ 1u);
}

/* The consumer gives back every slot before @cons. */
static inline void gz_ring_consume(struct gz_ring *r, uint32_t cons)
{
	/* Release: our reads of the entries happen before a producer may
	 * reuse them (pairs with the acquire in gz_ring_reserve). */
	atomic_store_explicit(&r->ctrl->cons, cons, memory_order_release);
}

/* ---- completion ring: many producers, phase bit ---- */

/*
 * Reserve one completion slot; several queue pairs (each on its own
 * thread) may feed one completion queue, so reservation is a CAS.
 * Return: 0 and *idx, or -EAGAIN when every slot holds an unread entry.
 */
static inline int gz_ring_reserve(struct gz_ring *r, uint32_t *idx)
{
	uint32_t p, c;

	do {
		/* cons first: prod read after it is never behind it, so a
		 * snapshot that went stale meanwhile never looks full.
		 * Acquire pairs with the consumer's release in
		 * gz_ring_consume(): the slot's old entry has been read. */
		c = atomic_load_explicit(&r->ctrl->cons, memory_order_acquire);
		p = atomic_load_explicit(&r->ctrl->prod, memory_order_relaxed);
		if (GZ_UNLIKELY(p - c > r->mask))
			return -EAGAIN;
	} while (!atomic_compare_exchange_weak_explicit(
		&r->ctrl->prod, &p, p + 1, memory_order_relaxed,
		memory_order_relaxed));
	*idx = p;
	return 0;
}

/*
 * gz_ring_reserve() for a producer that keeps its own view of cons in
 * @cons_seen (a lower bound: cons only grows), and reads the consumer's
 * line only when that view says full. For a producer on another core
 * this saves a cache-line transfer per entry. (Not wait-free against a
 * process that keeps rewriting prod; lock-free, and that process can
 * only stall its own victims' sends.)
 */
static inline int gz_ring_reserve_cached(struct gz_ring *r, uint32_t *idx,
					 uint32_t *cons_seen)
{
	uint32_t p = atomic_load_explicit(&r->ctrl->prod, memory_order_relaxed);

	do {
		if (GZ_UNLIKELY(p - *cons_seen > r->mask)) {
			/* Acquire: as in gz_ring_reserve(); and prod again
			 * after it, for the same reason */
			*cons_seen = atomic_load_explicit(&r->ctrl->cons,
							  memory_order_acquire);
			p = atomic_load_explicit(&r->ctrl->prod,
						 memory_order_relaxed);
			if (p - *cons_seen > r->mask)
				return -EAGAIN;
		}
	} while (!atomic_compare_exchange_weak_explicit(
		&r->ctrl->prod, &p, p + 1, memory_order_relaxed,
		memory_order_relaxed));
	*idx = p;
	return 0;
}

/* Publish a completion whose other fields are written. */
static inline void gz_ring_cqe_publish(struct gz_ring *r, uint32_t idx,
				       struct gz_xdm_cqe *cqe)
{
	/* Release pairs with the acquire in gz_ring_cqe_peek(). */
	__atomic_store_n(&cqe->phase, gz_ring_phase(r, idx), __ATOMIC_RELEASE);
}

/* The completion at @cons if it has been published, else NULL. */
static inline struct gz_xdm_cqe *gz_ring_cqe_peek(const struct gz_ring *r,
						   uint32_t cons)
{
	struct gz_xdm_cqe *cqe = gz_ring_slot(r, cons);

	if (__atomic_load_n(&cqe->phase, __ATOMIC_ACQUIRE) !=
	    gz_ring_phase(r, cons))
		return NULL;
	return cqe;
}

#endif /* GZ_XDM_RING_H */
