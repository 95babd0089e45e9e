// SPDX-License-Identifier: MIT
/* genzio_rmap_* and genzio_flush: load/store access to remote data space. */
#include <errno.h>

#include "provider.h"
#include "sys/sys.h"

/* Mappings of memory that is not cache-coherent with ours. The shm
 * provider maps coherent host memory only, so this stays 0 and a flush is
 * a store fence; a fabric provider counts its non-coherent mappings here.
 * Process-wide because an address means one thing in a process. */
static _Atomic uint32_t noncoherent_maps;

void gz_rmap_noncoherent(int delta)
{
	atomic_fetch_add(&noncoherent_maps, (uint32_t)delta);
}

GENZIO_EXPORT int genzio_rmap_map(struct genzio_ah *ah, uint32_t remote_qpn,
				  uint64_t raddr, uint64_t len, uint32_t rkey,
				  uint32_t mode, struct genzio_rmap **out)
{
	GZ_API();
	struct genzio_context *ctx;
	int ret;

	if (!ah || !out || !len)
		return gz_err(-EINVAL, "ah %p, rmap %p, len %llu", (void *)ah,
			      (void *)out, (unsigned long long)len);
	if (remote_qpn >> 24)
		return gz_err(-EINVAL, "queue pair %#x is over 24 bits",
			      remote_qpn);
	if (mode != GENZIO_RMAP_WB && mode != GENZIO_RMAP_WC)
		return gz_err(-EINVAL, "mode %u", mode);
	if (raddr + len < raddr)
		return gz_err(-EINVAL, "range wraps around");
	ctx = ah->pd->ctx;
	ret = gz_ctx_gone(ctx);
	if (ret)
		return ret;
	gz_ctx_lock(ctx);
	ret = ctx->prov->rmap_map(ah, remote_qpn, raddr, len, rkey, mode, out);
	if (!ret)
		ctx->nrmap++;
	gz_ctx_unlock(ctx);
	return ret;
}

GENZIO_EXPORT int genzio_rmap_unmap(struct genzio_rmap *rmap)
{
	GZ_API();
	struct genzio_context *ctx;

	if (!rmap)
		return gz_err(-EINVAL, "rmap is NULL");
	ctx = container_of(rmap, struct gz_rmap, pub)->ctx;
	gz_ctx_lock(ctx);
	ctx->prov->rmap_unmap(rmap);
	ctx->nrmap--;
	gz_ctx_unlock(ctx);
	return 0;
}

GENZIO_EXPORT int genzio_flush(const void *ptr, size_t len)
{
	if (!ptr && len)
		return gz_err(-EINVAL, "ptr is NULL");
	if (GZ_UNLIKELY(atomic_load_explicit(&noncoherent_maps,
					     memory_order_relaxed)))
		gz_sys_flush_lines(ptr, len);
	/* Coherent or written back: order the stores before later ones
	 * (and drain write-combining buffers). */
	genzio_fence();
	return 0;
}
