/* SPDX-License-Identifier: MIT */
/* genzio: load/store access to remote memory, flush and fence.
 * Include <genzio/genzio.h>, which includes every part. */
#ifndef GENZIO_LOADSTORE_H
#define GENZIO_LOADSTORE_H

#include <genzio/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ load/store access */

enum genzio_rmap_mode {
	GENZIO_RMAP_WB = 0,	/* write-back: cached like local memory */
	GENZIO_RMAP_WC = 1,	/* write-combining: stores buffered, flush
				 * drains them (coherent memory: as WB) */
};

/** A remote region mapped for loads and stores (requester ZMMU entry). */
struct genzio_rmap {
	void *addr;		/* load and store here */
	uint64_t length;
	uint32_t mode;		/* enum genzio_rmap_mode obtained */
	uint32_t writable;	/* 0: the key is read-only, stores fault */
};

/**
 * genzio_rmap_map - Map a remote region for loads and stores
 * @ah:         the remote component
 * @remote_qpn: a queue pair of it: the key must be one its protection
 *              domain honours, the same rule as for RMA through it
 * @raddr:      remote address, inside a region of @rkey
 * @len:        bytes (> 0)
 * @rkey:       R-Key; REMOTE_WRITE maps read-write, else REMOTE_READ
 *              read-only
 * @mode:       enum genzio_rmap_mode
 * @rmap:       out
 *
 * A mapping has page granularity (the page size of the remote memory), so
 * the key's region must cover every page [@raddr, @raddr + @len) touches:
 * a load or store never reaches bytes the key does not grant.
 *
 * Stores become visible to the owner after genzio_flush(). If the owner
 * dies, the mapping stays valid memory that nobody else sees any more;
 * its PEER_DEAD event says so.
 *
 * Return: 0, -EINVAL (bad argument, or pages the key does not cover),
 * -ENODEV (the device is gone), -EACCES (key lacks REMOTE_READ, bounds,
 * another protection domain, or a region peers cannot map),
 * -ENOENT (no such key), -EHOSTUNREACH (peer or its queue pair gone),
 * -ENOMEM, or -errno of mmap.
 */
GENZIO_EXPORT int genzio_rmap_map(struct genzio_ah *ah, uint32_t remote_qpn,
				  uint64_t raddr, uint64_t len, uint32_t rkey,
				  uint32_t mode, struct genzio_rmap **rmap);
/** genzio_rmap_unmap - Remove the mapping. Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_rmap_unmap(struct genzio_rmap *rmap);

/**
 * genzio_flush - Make stores to [@ptr, @ptr + @len) visible to the owner
 *
 * Uses the cheapest correct instruction for the memory behind the
 * mapping: a store fence on coherent memory, draining write-combining
 * buffers on WC mappings, cache-line write-back (clwb, clflushopt or
 * clflush, whichever the CPU has) plus a store fence on memory that is
 * not coherent.
 *
 * Return: 0, or -EINVAL (@ptr NULL with @len > 0).
 */
GENZIO_EXPORT int genzio_flush(const void *ptr, size_t len);

/**
 * genzio_fence - Order every earlier store before every later one
 *
 * Return: 0.
 */
static inline int genzio_fence(void)
{
#if defined(__x86_64__) || defined(__i386__)
	/* sfence also orders non-temporal and write-combining stores */
	__asm__ __volatile__("sfence" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_LOADSTORE_H */
