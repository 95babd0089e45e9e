/* SPDX-License-Identifier: MIT */
/*
 * The software data mover: checks an operation against the responder's key
 * table, then copies or applies the atomic on the mapped data space. The
 * same code runs inline in a caller's thread (shm), from a command ring
 * (gz_xdm_cmd_exec), or behind an emulated bridge.
 */
#ifndef GZ_XDM_XDM_H
#define GZ_XDM_XDM_H

#include <stdint.h>
#include <string.h>

#include "gz.h"
#include "xdm/keytab.h"
#include "xdm/xdm_abi.h"

/* One responder segment as this process sees it. */
struct gz_xdm_seg {
	uint8_t *base;		/* NULL until mapped */
	uint64_t len;
};

struct gz_xdm_iov;

/* A responder as the data mover reaches it. */
struct gz_xdm_target {
	const struct gz_key_entry *keys;
	uint32_t key_mask;
	uint32_t nseg;
	struct gz_xdm_seg *seg;	/* nseg entries */
	/* Slow path: map segment @idx on first use; 0 or -errno. */
	int (*map_seg)(struct gz_xdm_target *t, uint32_t idx);
	/* Slow path, or NULL: move @len bytes between @n local buffers and
	 * the responder's own memory at @raddr (a GZ_KEY_SEG_PROC key, its
	 * bounds checked); @write: to it. Return: a status. */
	uint8_t (*proc_copy)(struct gz_xdm_target *t, uint64_t raddr,
			     const struct gz_xdm_iov *v, uint32_t n,
			     uint64_t len, int write);
};

/* gz_xdm_resolve(), gz_xdm_put() and gz_xdm_get() on a GZ_KEY_SEG_PROC
 * key, its checks passed: no pointer and no bytes moved; the caller moves
 * them with gz_xdm_proc() (out of line, so that the inline fast path
 * keeps nothing live for it). Never a completion's status. */
#define GZ_XDM_ST_PROC 0xfe

/*
 * Turn (rkey, raddr, len) into a pointer this process may access, for a
 * request to a queue pair of protection domain @domain, and (when @snap is
 * not NULL) hand back the key entry it was checked against, for a cache
 * that revalidates it by sequence number.
 * Return: GZ_XDM_ST_SUCCESS and *ptr, or the completion status.
 */
GZ_INLINE uint8_t gz_xdm_resolve(struct gz_xdm_target *t, uint32_t domain,
				 uint32_t rkey, uint64_t raddr, uint64_t len,
				 uint32_t need, uint8_t **ptr,
				 struct gz_key_snap *snap)
{
	struct gz_key_snap k;
	struct gz_xdm_seg *s;
	uint64_t rel, slen;
	uint8_t *base;
	uint8_t st;

	if (GZ_UNLIKELY(!gz_keytab_find(t->keys, t->key_mask, rkey, &k)))
		return GZ_XDM_ST_BAD_RKEY;
	st = gz_key_check(&k, domain, raddr, len, need);
	if (GZ_UNLIKELY(st))
		return st;
	if (GZ_UNLIKELY(k.seg >= t->nseg))
		return k.seg == GZ_KEY_SEG_PROC ? GZ_XDM_ST_PROC :
						  GZ_XDM_ST_BAD_RKEY;
	s = &t->seg[k.seg];
	/* Acquire pairs with the release that publishes a new mapping. */
	base = __atomic_load_n(&s->base, __ATOMIC_ACQUIRE);
	if (GZ_UNLIKELY(!base)) {
		if (t->map_seg(t, k.seg))
			return GZ_XDM_ST_BAD_RKEY;
		base = __atomic_load_n(&s->base, __ATOMIC_ACQUIRE);
	}
	/* The table is the owner's word; never trust it past our mapping
	 * (whose length fstat gave us). */
	slen = s->len;
	rel = raddr - k.base;
	if (GZ_UNLIKELY(k.seg_off > slen || rel > slen - k.seg_off ||
			len > slen - k.seg_off - rel))
		return GZ_XDM_ST_REM_BOUNDS;
	*ptr = base + k.seg_off + rel;
	if (snap) {
		*snap = k;
		/* what lies beyond our mapping is not the key's to give */
		if (k.length > slen - k.seg_off)
			snap->length = slen - k.seg_off;
	}
	return GZ_XDM_ST_SUCCESS;
}

/*
 * A requester's memory of the last key it resolved at one target, so a
 * stream of requests to one region skips the hash probe: the snapshot the
 * data mover checked (clamped to our mapping), valid while the entry's
 * sequence number is unchanged (any rewrite of the entry bumps it). One
 * per queue pair and target; clear it when the target changes.
 */
struct gz_xdm_kcache {
	struct gz_key_snap k;		/* k.e NULL: empty */
	uint32_t rkey;
	uint8_t *ptr;			/* our address of k.base */
};

static inline void gz_xdm_kcache_clear(struct gz_xdm_kcache *kc)
{
	kc->k.e = NULL;
}

/* Resolve through the table and remember the answer (xdm.c). */
uint8_t gz_xdm_kcache_fill(struct gz_xdm_target *t, struct gz_xdm_kcache *kc,
			   uint32_t domain, uint32_t rkey, uint64_t raddr,
			   uint64_t len, uint32_t need, uint8_t **ptr);

/* gz_xdm_resolve() through @kc, which may be NULL (no cache). */
GZ_INLINE uint8_t gz_xdm_resolve_cached(struct gz_xdm_target *t,
					struct gz_xdm_kcache *kc,
					uint32_t domain, uint32_t rkey,
					uint64_t raddr, uint64_t len,
					uint32_t need, uint8_t **ptr)
{
	if (!kc)
		return gz_xdm_resolve(t, domain, rkey, raddr, len, need, ptr,
				      NULL);
	if (GZ_LIKELY(kc->k.e && kc->rkey == rkey && gz_key_still(&kc->k) &&
		      !gz_key_check(&kc->k, domain, raddr, len, need))) {
		*ptr = kc->ptr + (raddr - kc->k.base);
		return GZ_XDM_ST_SUCCESS;
	}
	return gz_xdm_kcache_fill(t, kc, domain, rkey, raddr, len, need, ptr);
}

/* Map a work-request atomic opcode to the ABI opcode (0 if none). */
static inline uint8_t gz_xdm_atomic_opcode(uint32_t wr_opcode)
{
	static const uint8_t map[GENZIO_WR_OPCODE_MAX] = {
		[GENZIO_WR_ATOMIC_SWAP] = GZ_XDM_SWAP,
		[GENZIO_WR_ATOMIC_CAS] = GZ_XDM_CAS,
		[GENZIO_WR_ATOMIC_FADD] = GZ_XDM_ADD,
		[GENZIO_WR_ATOMIC_AND] = GZ_XDM_AND,
		[GENZIO_WR_ATOMIC_OR] = GZ_XDM_OR,
		[GENZIO_WR_ATOMIC_XOR] = GZ_XDM_XOR,
		[GENZIO_WR_ATOMIC_SMIN] = GZ_XDM_SMIN,
		[GENZIO_WR_ATOMIC_SMAX] = GZ_XDM_SMAX,
		[GENZIO_WR_ATOMIC_UMIN] = GZ_XDM_UMIN,
		[GENZIO_WR_ATOMIC_UMAX] = GZ_XDM_UMAX,
	};

	return wr_opcode < GENZIO_WR_OPCODE_MAX ? map[wr_opcode] : 0;
}

/*
 * Whether the pointer an atomic resolved to is aligned: its address comes
 * from the owner's key entry (base, offset), not only from raddr, and a
 * misaligned locked operation is a split lock (SIGBUS where that is
 * fatal, a forced sleep elsewhere; SIGBUS outright on other CPUs).
 */
GZ_INLINE uint8_t gz_xdm_atomic_aligned(const uint8_t *p, uint32_t size)
{
	return GZ_UNLIKELY((uintptr_t)p & (size - 1)) ? GZ_XDM_ST_REM_BOUNDS :
							GZ_XDM_ST_SUCCESS;
}

/*
 * Apply atomic @op at @p (aligned to @size, 4 or 8) and return the old
 * value. Sequentially consistent, like a Gen-Z responder's atomics, so a
 * peer's plain loads after a completion see the result.
 */
uint64_t gz_xdm_atomic(uint8_t op, void *p, uint32_t size, uint64_t operand,
		       uint64_t compare);

/* Above this, a copy cannot stay in the last-level cache (32 MiB here):
 * streaming stores skip the read-for-ownership of every destination line. */
#define GZ_XDM_NT_MIN (32ull << 20)

/* Non-temporal copy, ends with a store fence. */
void gz_xdm_copy_nt(void *dst, const void *src, uint64_t len);

/* Copy for PUT/GET. Inline: an 8-byte put must not pay for a call. */
GZ_INLINE void gz_xdm_copy(void *dst, const void *src, uint64_t len)
{
	/* the 8-byte put (a flag, a counter) is one load and one store */
	if (len == 8) {
		memcpy(dst, src, 8);
		return;
	}
	if (GZ_UNLIKELY(len >= GZ_XDM_NT_MIN)) {
		gz_xdm_copy_nt(dst, src, len);
		return;
	}
	memcpy(dst, src, len);
#if defined(__x86_64__)
	/* glibc's memcpy switches to non-temporal stores for large copies;
	 * those are weakly ordered even on x86, so fence them before any
	 * later store (a flag, a completion) can be seen. */
	if (GZ_UNLIKELY(len >= 256 * 1024))
		__builtin_ia32_sfence();
#else
	__atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

/* ---- execution: the one path every engine takes ---- */

/* A local buffer the requester named, in this address space. */
struct gz_xdm_iov {
	uint8_t *p;
	uint64_t len;
};

/* The PUT (@write) or GET that came back GZ_XDM_ST_PROC, through the
 * target's proc_copy (REM_ACCESS without one). */
uint8_t gz_xdm_proc(struct gz_xdm_target *t, uint64_t raddr,
		    const struct gz_xdm_iov *v, uint32_t n, uint64_t len,
		    int write) __attribute__((cold));

/* PUT: @n local buffers (@len bytes in all) to (rkey, raddr). */
GZ_INLINE uint8_t gz_xdm_put(struct gz_xdm_target *t, struct gz_xdm_kcache *kc,
			     uint32_t domain, uint32_t rkey, uint64_t raddr,
			     const struct gz_xdm_iov *v, uint32_t n,
			     uint64_t len)
{
	uint8_t *rp;
	uint8_t st = gz_xdm_resolve_cached(t, kc, domain, rkey, raddr, len,
					   GENZIO_ACCESS_REMOTE_WRITE, &rp);

	if (GZ_UNLIKELY(st))
		return st;
	for (uint32_t i = 0; i < n; rp += v[i].len, i++)
		gz_xdm_copy(rp, v[i].p, v[i].len);
	return GZ_XDM_ST_SUCCESS;
}

/* GET: (rkey, raddr) into @n local buffers. */
GZ_INLINE uint8_t gz_xdm_get(struct gz_xdm_target *t, struct gz_xdm_kcache *kc,
			     uint32_t domain, uint32_t rkey, uint64_t raddr,
			     const struct gz_xdm_iov *v, uint32_t n,
			     uint64_t len)
{
	const uint8_t *rp;
	uint8_t st = gz_xdm_resolve_cached(t, kc, domain, rkey, raddr, len,
					   GENZIO_ACCESS_REMOTE_READ,
					   (uint8_t **)&rp);

	if (GZ_UNLIKELY(st))
		return st;
	for (uint32_t i = 0; i < n; rp += v[i].len, i++)
		gz_xdm_copy(v[i].p, rp, v[i].len);
	return GZ_XDM_ST_SUCCESS;
}

/* An atomic @op (GZ_XDM_SWAP..CAS) of @size (4 or 8) bytes at (rkey,
 * raddr); the old value in *@old, zero-extended. */
GZ_INLINE uint8_t gz_xdm_amo(struct gz_xdm_target *t, struct gz_xdm_kcache *kc,
			     uint32_t domain, uint32_t rkey, uint64_t raddr,
			     uint8_t op, uint32_t size, uint64_t operand,
			     uint64_t compare, uint64_t *old)
{
	uint8_t *rp;
	uint8_t st = gz_xdm_resolve_cached(t, kc, domain, rkey, raddr, size,
					   GENZIO_ACCESS_REMOTE_ATOMIC, &rp);

	if (GZ_LIKELY(!st))
		st = gz_xdm_atomic_aligned(rp, size);
	/* the kernel moves bytes between processes, it has no atomics */
	if (GZ_UNLIKELY(st))
		return st == GZ_XDM_ST_PROC ? GZ_XDM_ST_REM_ACCESS : st;
	/* the counter of a ping-pong or a lock: one instruction */
	if (op == GZ_XDM_ADD && size == 8)
		*old = __atomic_fetch_add((uint64_t *)(void *)rp, operand,
					  __ATOMIC_SEQ_CST);
	else
		*old = gz_xdm_atomic(op, rp, size, operand, compare);
	if (size == 4)
		*old = (uint32_t)*old;
	return GZ_XDM_ST_SUCCESS;
}

/*
 * Where a command's local addresses point. A software engine in the
 * requester's process needs nothing (@xlate NULL: laddr is an address);
 * an engine elsewhere (a bridge model, another process) translates them,
 * and says NULL for a range it cannot reach (LOC_PROT).
 */
struct gz_xdm_initiator {
	void *(*xlate)(void *arg, uint64_t laddr, uint64_t len);
	void *arg;
};

/*
 * Execute one command entry from @in against @t, for a queue pair of
 * protection domain @domain, and fill @cqe (all but phase). The entry is
 * the producer's, so it is copied once before use; its local address goes
 * through @in. Return: the status written to @cqe.
 */
uint8_t gz_xdm_cmd_exec(const struct gz_xdm_cmd *cmd,
			const struct gz_xdm_initiator *in,
			struct gz_xdm_target *t, uint32_t domain,
			struct gz_xdm_cqe *cqe);

#endif /* GZ_XDM_XDM_H */
