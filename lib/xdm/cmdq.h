/* SPDX-License-Identifier: MIT */
/*
 * Command queues of the queue ABI: a producer (a queue pair) fills 64-byte
 * command entries, then rings a doorbell with its tail; the data mover
 * (software here, a bridge's engine in a device) executes entries up to
 * that tail and writes its head back where the producer reads it. The
 * three are kept apart, as in mlx5 (doorbell register in a BAR, doorbell
 * record in host memory), so that:
 *   - entries can live in host memory or in a BAR;
 *   - the doorbell is an operation: a release store into host memory for
 *     software, an MMIO write (after the entries are visible) for a device;
 *   - the head is written back to host memory, so the producer never
 *     reads a register to learn it has room.
 * Indices run freely over 2^32 and are masked on use.
 */
#ifndef GZ_XDM_CMDQ_H
#define GZ_XDM_CMDQ_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gz.h"
#include "xdm/xdm_abi.h"

/* Publish @tail to the engine; @db is what the queue was set up with. */
typedef void (*gz_cmdq_ring_fn)(void *db, uint32_t tail);

/* The producer's side. */
struct gz_cmdq {
	uint8_t *ent;			/* nent entries of 64 bytes */
	uint32_t mask;			/* nent - 1 */
	uint32_t tail;			/* next entry to fill (ours) */
	uint32_t head_seen;		/* the engine's head as last read */
	const _Atomic uint32_t *head_wb;	/* the engine writes it here */
	gz_cmdq_ring_fn ring;
	void *db;
};

/* The engine's side. */
struct gz_cmdq_engine {
	const uint8_t *ent;
	uint32_t mask;
	uint32_t head;			/* next entry to execute (ours) */
	const _Atomic uint32_t *tail;	/* the doorbell as the engine sees it */
	_Atomic uint32_t *head_wb;
};

/* The doorbell of a queue whose engine reads host memory. */
static inline void gz_cmdq_ring_mem(void *db, uint32_t tail)
{
	/* Release: entries written before are visible to an engine that
	 * reads the tail with acquire (gz_cmdq_avail). */
	atomic_store_explicit((_Atomic uint32_t *)db, tail,
			      memory_order_release);
}

/* @nent a power of two; @head_wb starts at 0. */
static inline int gz_cmdq_init(struct gz_cmdq *q, void *ent, uint32_t nent,
			       const _Atomic uint32_t *head_wb,
			       gz_cmdq_ring_fn ring, void *db)
{
	if (!nent || (nent & (nent - 1)) || !ring)
		return -EINVAL;
	*q = (struct gz_cmdq){ .ent = ent, .mask = nent - 1,
			       .head_wb = head_wb, .ring = ring, .db = db };
	return 0;
}

static inline void gz_cmdq_engine_init(struct gz_cmdq_engine *e,
				       const void *ent, uint32_t nent,
				       const _Atomic uint32_t *tail,
				       _Atomic uint32_t *head_wb)
{
	*e = (struct gz_cmdq_engine){ .ent = ent, .mask = nent - 1,
				      .tail = tail, .head_wb = head_wb };
}

/* Entries the producer may fill now. */
static inline uint32_t gz_cmdq_space(struct gz_cmdq *q)
{
	if (q->tail - q->head_seen > q->mask)
		/* Acquire pairs with gz_cmdq_done(): an entry given back
		 * has been read. Only when we look full: the line the
		 * engine writes is read once per lap, not per entry. */
		q->head_seen = atomic_load_explicit(q->head_wb,
						    memory_order_acquire);
	return q->mask + 1 - (q->tail - q->head_seen);
}

/* The next entry to fill; gz_cmdq_space() said there is one. */
static inline struct gz_xdm_cmd *gz_cmdq_next(struct gz_cmdq *q)
{
	return (struct gz_xdm_cmd *)(void *)(q->ent +
					     ((size_t)(q->tail++ & q->mask)
					      << 6));
}

/* Ring the doorbell for everything filled so far. */
static inline void gz_cmdq_ring(struct gz_cmdq *q)
{
	q->ring(q->db, q->tail);
}

/* Engine: entries rung and not yet executed, or UINT32_MAX when the tail
 * claims more than the ring holds (the tail is the producer's word: a
 * broken producer, whom the engine stops serving). */
static inline uint32_t gz_cmdq_avail(const struct gz_cmdq_engine *e)
{
	uint32_t n = atomic_load_explicit(e->tail, memory_order_acquire) -
		     e->head;

	return n > e->mask + 1 ? UINT32_MAX : n;
}

/* Engine: the entry at its head. The producer may rewrite it at any
 * time (it is input): copy it before use. */
static inline const struct gz_xdm_cmd *
gz_cmdq_head(const struct gz_cmdq_engine *e)
{
	return (const struct gz_xdm_cmd *)(const void *)(e->ent +
		((size_t)(e->head & e->mask) << 6));
}

/* Engine: @n entries executed; give them back. */
static inline void gz_cmdq_done(struct gz_cmdq_engine *e, uint32_t n)
{
	e->head += n;
	/* Release: our reads of the entries happen before the producer
	 * may reuse them (pairs with the acquire in gz_cmdq_space). */
	atomic_store_explicit(e->head_wb, e->head, memory_order_release);
}

#endif /* GZ_XDM_CMDQ_H */
