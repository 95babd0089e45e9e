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

static uint32_t need_of(uint8_t opcode)
{
	switch (opcode) {
	case GZ_XDM_PUT:
	case GZ_XDM_PUTIMM:
		return GENZIO_ACCESS_REMOTE_WRITE;
	case GZ_XDM_GET:
	case GZ_XDM_GETIMM:
		return GENZIO_ACCESS_REMOTE_READ;
	default:
		return GENZIO_ACCESS_REMOTE_ATOMIC;
	}
}

uint8_t gz_xdm_cmd_exec(const struct gz_xdm_cmd *cmd, struct gz_xdm_target *t,
			struct gz_xdm_cqe *cqe)
{
	uint8_t opcode = cmd->opflags & GZ_XDM_OPCODE_MASK;
	uint32_t size = cmd->opflags & GZ_XDM_FLAG_ATOMIC32 ? 4 : 8;
	uint64_t len = cmd->length;
	uint8_t st = GENZIO_WC_SUCCESS, wc_op = GENZIO_WC_WRITE;
	uint8_t *rp;

	memset(cqe, 0, offsetof(struct gz_xdm_cqe, phase));
	memset(cqe->result, 0, sizeof(cqe->result));
	cqe->cidx = cmd->cidx;
	cqe->context = cmd->context;
	if (cmd->opflags & GZ_XDM_FLAG_FENCE)
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
	case GZ_XDM_PUTIMM:
	case GZ_XDM_GETIMM:
		wc_op = opcode == GZ_XDM_PUT || opcode == GZ_XDM_PUTIMM ?
				GENZIO_WC_WRITE : GENZIO_WC_READ;
		if ((opcode == GZ_XDM_PUTIMM || opcode == GZ_XDM_GETIMM) &&
		    len > GZ_XDM_IMM_MAX) {
			st = GENZIO_WC_LOC_LEN;
			break;
		}
		st = gz_xdm_resolve(t, cmd->rkey, cmd->raddr, len,
				    need_of(opcode), &rp, NULL);
		if (st)
			break;
		if (opcode == GZ_XDM_PUT)
			gz_xdm_copy(rp, (const void *)(uintptr_t)cmd->op.laddr,
				    len);
		else if (opcode == GZ_XDM_GET)
			gz_xdm_copy((void *)(uintptr_t)cmd->op.laddr, rp, len);
		else if (opcode == GZ_XDM_PUTIMM)
			gz_xdm_copy(rp, cmd->imm, len);
		else
			memcpy(cqe->result, rp, len);
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
	case GZ_XDM_CAS: {
		uint64_t old;

		wc_op = GENZIO_WC_ATOMIC;
		len = size;
		if (cmd->raddr & (size - 1)) {
			st = GENZIO_WC_REM_BOUNDS;
			break;
		}
		st = gz_xdm_resolve(t, cmd->rkey, cmd->raddr, size,
				    GENZIO_ACCESS_REMOTE_ATOMIC, &rp, NULL);
		if (!st)
			st = gz_xdm_atomic_aligned(rp, size);
		if (st)
			break;
		old = gz_xdm_atomic(opcode, rp, size, cmd->op.operand,
				    cmd->op.compare);
		memcpy(cqe->result, &old, sizeof(old));
		break;
	}
	default:
		st = GENZIO_WC_GENERAL_ERR;
	}
	cqe->status = st;
	cqe->opcode = wc_op;
	cqe->byte_len = st ? 0 : (uint32_t)len;
	return st;
}
