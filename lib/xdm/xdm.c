// SPDX-License-Identifier: MIT
/* Software data mover: atomics, copies and command-entry execution. */
#include <string.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "xdm/xdm.h"

/* MIN/MAX have no single instruction: CAS until ours is no better. */
static int better(uint8_t op, uint64_t v, uint64_t old, int wide)
{
	int64_t sv = wide ? (int64_t)v : (int32_t)v;
	int64_t so = wide ? (int64_t)old : (int32_t)old;

	switch (op) {
	case GZ_XDM_SMIN:
		return sv < so;
	case GZ_XDM_SMAX:
		return sv > so;
	case GZ_XDM_UMIN:
		return v < old;
	default:
		return v > old;
	}
}

static uint64_t minmax64(uint8_t op, uint64_t *p, uint64_t v)
{
	uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (better(op, v, old, 1) &&
	       !__atomic_compare_exchange_n(p, &old, v, 0, __ATOMIC_SEQ_CST,
					    __ATOMIC_RELAXED))
		;
	return old;
}

static uint64_t minmax32(uint8_t op, uint32_t *p, uint32_t v)
{
	uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (better(op, v, old, 0) &&
	       !__atomic_compare_exchange_n(p, &old, v, 0, __ATOMIC_SEQ_CST,
					    __ATOMIC_RELAXED))
		;
	return old;
}

static uint64_t atomic64(uint8_t op, uint64_t *p, uint64_t v, uint64_t cmp)
{
	switch (op) {
	case GZ_XDM_SWAP:
		return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
	case GZ_XDM_CAS:
		__atomic_compare_exchange_n(p, &cmp, v, 0, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
		return cmp;
	case GZ_XDM_ADD:
		return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
	case GZ_XDM_AND:
		return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
	case GZ_XDM_OR:
		return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
	case GZ_XDM_XOR:
		return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
	default:
		return minmax64(op, p, v);
	}
}

static uint64_t atomic32(uint8_t op, uint32_t *p, uint32_t v, uint32_t cmp)
{
	switch (op) {
	case GZ_XDM_SWAP:
		return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
	case GZ_XDM_CAS:
		__atomic_compare_exchange_n(p, &cmp, v, 0, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
		return cmp;
	case GZ_XDM_ADD:
		return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
	case GZ_XDM_AND:
		return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
	case GZ_XDM_OR:
		return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
	case GZ_XDM_XOR:
		return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
	default:
		return minmax32(op, p, v);
	}
}

uint64_t gz_xdm_atomic(uint8_t op, void *p, uint32_t size, uint64_t operand,
		       uint64_t compare)
{
	if (size == 4)
		return atomic32(op, p, (uint32_t)operand, (uint32_t)compare);
	return atomic64(op, p, operand, compare);
}

void gz_xdm_copy_nt(void *dst, const void *src, uint64_t len)
{
#if defined(__x86_64__)
	uint8_t *d = dst;
	const uint8_t *s = src;
	uint64_t head = (64 - ((uintptr_t)d & 63)) & 63;

	/* up to the first destination line boundary, then whole lines
	 * streamed (SSE2: every x86-64 has it), then the tail */
	memcpy(d, s, head);
	d += head, s += head, len -= head;
	for (; len >= 64; d += 64, s += 64, len -= 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)s);
		__m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
		__m128i e = _mm_loadu_si128((const __m128i *)(s + 48));

		_mm_stream_si128((__m128i *)d, a);
		_mm_stream_si128((__m128i *)(d + 16), b);
		_mm_stream_si128((__m128i *)(d + 32), c);
		_mm_stream_si128((__m128i *)(d + 48), e);
	}
	memcpy(d, s, len);
	/* streaming stores are weakly ordered: fence before any flag */
	_mm_sfence();
#else
	memcpy(dst, src, len);
	__atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

uint8_t gz_xdm_proc(struct gz_xdm_target *t, uint64_t raddr,
		    const struct gz_xdm_iov *v, uint32_t n, uint64_t len,
		    int write)
{
	return t->proc_copy ? t->proc_copy(t, raddr, v, n, len, write) :
			      GZ_XDM_ST_REM_ACCESS;
}

uint8_t gz_xdm_kcache_fill(struct gz_xdm_target *t, struct gz_xdm_kcache *kc,
			   uint32_t domain, uint32_t rkey, uint64_t raddr,
			   uint64_t len, uint32_t need, uint8_t **ptr)
{
	struct gz_key_snap snap;
	uint8_t st = gz_xdm_resolve(t, domain, rkey, raddr, len, need, ptr,
				    &snap);

	if (st)
		return st;
	/* the snapshot the checks passed on, clamped to our mapping */
	kc->k = snap;
	kc->rkey = rkey;
	kc->ptr = *ptr - (raddr - snap.base);
	return GZ_XDM_ST_SUCCESS;
}

/* The queue ABI's status numbers are the ones applications see. */
#define SAME(x) _Static_assert((int)GZ_XDM_ST_##x == (int)GENZIO_WC_##x, #x)
SAME(SUCCESS);
SAME(BAD_RKEY);
SAME(RDM_FULL);
SAME(RETRY_EXC);
SAME(REM_BOUNDS);
SAME(LOC_PROT);
SAME(LOC_LEN);
SAME(REM_ACCESS);
SAME(REM_QP);
SAME(FLUSHED);
SAME(REM_INV_REQ);
SAME(REM_OP);
SAME(GENERAL_ERR);

/* The local buffer of @c through @in; NULL when it cannot be reached. */
static uint8_t *local(const struct gz_xdm_initiator *in, uint64_t laddr,
		      uint64_t len)
{
	if (!in || !in->xlate)
		return (uint8_t *)(uintptr_t)laddr;
	return in->xlate(in->arg, laddr, len);
}

uint8_t gz_xdm_cmd_exec(const struct gz_xdm_cmd *entry,
			const struct gz_xdm_initiator *in,
			struct gz_xdm_target *t, uint32_t domain,
			struct gz_xdm_cqe *cqe)
{
	struct gz_xdm_cmd c;
	uint8_t opcode, st = GZ_XDM_ST_SUCCESS, wc_op = GENZIO_WC_WRITE;
	uint32_t size;
	uint64_t len, old;
	struct gz_xdm_iov v;

	/* the producer's memory: one copy, and only the copy is used */
	memcpy(&c, entry, sizeof(c));
	opcode = c.opflags & GZ_XDM_OPCODE_MASK;
	size = c.opflags & GZ_XDM_FLAG_ATOMIC32 ? 4 : 8;
	len = c.length;
	memset(cqe, 0, offsetof(struct gz_xdm_cqe, phase));
	memset(cqe->result, 0, sizeof(cqe->result));
	cqe->cidx = c.cidx;
	cqe->context = c.context;
	if (c.opflags & GZ_XDM_FLAG_FENCE)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);

	switch (opcode) {
	case GZ_XDM_NOP:
	case GZ_XDM_SYNC:
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		wc_op = GENZIO_WC_SYNC;
		len = 0;
		break;
	case GZ_XDM_PUT:
	case GZ_XDM_GET:
		wc_op = opcode == GZ_XDM_PUT ? GENZIO_WC_WRITE : GENZIO_WC_READ;
		v.p = local(in, c.op.laddr, len);
		v.len = len;
		if (!v.p)
			st = GZ_XDM_ST_LOC_PROT;
		else if (opcode == GZ_XDM_PUT)
			st = gz_xdm_put(t, NULL, domain, c.rkey, c.raddr, &v, 1,
					len);
		else
			st = gz_xdm_get(t, NULL, domain, c.rkey, c.raddr, &v, 1,
					len);
		if (st == GZ_XDM_ST_PROC)
			st = gz_xdm_proc(t, c.raddr, &v, 1, len,
					 opcode == GZ_XDM_PUT);
		break;
	case GZ_XDM_PUTIMM:
	case GZ_XDM_GETIMM:
		wc_op = opcode == GZ_XDM_PUTIMM ? GENZIO_WC_WRITE :
						  GENZIO_WC_READ;
		if (len > GZ_XDM_IMM_MAX) {
			st = GZ_XDM_ST_LOC_LEN;
			break;
		}
		/* the data travels in the entry (our copy) or the cqe */
		v.p = opcode == GZ_XDM_PUTIMM ? c.imm : cqe->result;
		v.len = len;
		st = opcode == GZ_XDM_PUTIMM ?
			     gz_xdm_put(t, NULL, domain, c.rkey, c.raddr, &v, 1,
					len) :
			     gz_xdm_get(t, NULL, domain, c.rkey, c.raddr, &v, 1,
					len);
		if (st == GZ_XDM_ST_PROC)
			st = gz_xdm_proc(t, c.raddr, &v, 1, len,
					 opcode == GZ_XDM_PUTIMM);
		break;
	case GZ_XDM_SWAP:
	case GZ_XDM_ADD:
	case GZ_XDM_AND:
	case GZ_XDM_OR:
	case GZ_XDM_XOR:
	case GZ_XDM_SMIN:
	case GZ_XDM_SMAX:
	case GZ_XDM_UMIN:
	case GZ_XDM_UMAX:
	case GZ_XDM_CAS:
		wc_op = GENZIO_WC_ATOMIC;
		len = size;
		if (c.raddr & (size - 1)) {
			st = GZ_XDM_ST_REM_BOUNDS;
			break;
		}
		st = gz_xdm_amo(t, NULL, domain, c.rkey, c.raddr, opcode, size,
				c.op.operand, c.op.compare, &old);
		if (!st)
			memcpy(cqe->result, &old, sizeof(old));
		break;
	default:
		st = GZ_XDM_ST_GENERAL_ERR;
	}
	cqe->status = st;
	cqe->opcode = wc_op;
	cqe->byte_len = st ? 0 : (uint32_t)len;
	return st;
}
