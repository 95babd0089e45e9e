// SPDX-License-Identifier: MIT
/*
 * Registration: a local key for the posting side and, with remote access,
 * a random R-Key in our key table that peers check one-sidedly. Peers map
 * data space, and page-aligned private memory moved into a segment file in
 * place; any other memory they reach through the kernel (its key names no
 * segment: GZ_KEY_SEG_PROC).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "providers/shm/shm.h"

#define REMOTE_ANY (GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_WRITE | \
		    GENZIO_ACCESS_REMOTE_ATOMIC)

static int publish_rkey(struct gz_shm_ctx *ctx, struct genzio_pd *pd,
			struct gz_shm_mr *mr, uint32_t access)
{
	struct gz_shm_mem *m = mr->mem;
	uint64_t addr = (uintptr_t)mr->base.pub.addr;
	int ret = -EEXIST;

	/* Random keys: a stale or forged key misses with probability
	 * nkeys / 2^20 per domain instead of hitting the next counter; and
	 * a key whose probe window is full is simply drawn again. */
	for (int tries = 0; tries < 256 && ret; tries++) {
		uint32_t key, rkey;

		ret = gz_sys_random(&key, sizeof(key));
		if (ret)
			return gz_err(ret, "getrandom: %s", strerror(-ret));
		rkey = GZ_SHM_RKEY(pd->key_domain, key);
		if (rkey < GZ_KEY_MIN) {
			ret = -EEXIST;
			continue;
		}
		ret = gz_keytab_insert(ctx->comp->keys, GZ_SHM_KEYS - 1, rkey,
				       &(struct gz_key_desc){
					       .access = access & REMOTE_ANY,
					       .domain = pd->key_domain,
					       .seg = m ? m->seg :
							  GZ_KEY_SEG_PROC,
					       .base = addr,
					       .length = mr->base.pub.length,
					       .seg_off = m ? addr - (uintptr_t)
								     m->base.pub
									     .addr :
							      0,
				       });
		if (!ret)
			mr->base.pub.rkey = rkey;
		else if (ret != -EEXIST && ret != -ENOSPC)
			break;
	}
	if (ret)
		return gz_err(-ENOSPC, "the key table has no room");
	return 0;
}

/*
 * Remote access outside data space. Page-aligned private memory moves
 * into a segment in place (REG_CONVERT: every operation, load/store too);
 * anything else stays as it is and peers reach it through the kernel
 * (REG_ANY: READ and WRITE, one system call each; the kernel has no
 * atomics, and WRITE_IMM could fail after consuming a receive). *@mem:
 * the converted region, or NULL for the latter.
 */
static int place(struct gz_shm_ctx *ctx, void *addr, uint64_t len,
		 uint32_t access, struct gz_shm_mem **mem)
{
	uint64_t a = (uintptr_t)addr;

	*mem = NULL;
	if (!((a | len) & (GZ_PAGE_4K - 1)) &&
	    !gz_shm_mem_overlaps(ctx, a, len) &&
	    gz_sys_range_is_private_anon(addr, len) == 1)
		return gz_shm_mem_convert(ctx, addr, len, mem);
	if (ctx->procmem_why[0])
		return gz_err(-EOPNOTSUPP, "remote access to %p+%" PRIu64
			      " needs data space (genzio_mem_alloc) or "
			      "page-aligned private memory here: %s", addr,
			      len, ctx->procmem_why);
	if (access & GENZIO_ACCESS_REMOTE_ATOMIC)
		return gz_err(-EOPNOTSUPP, "remote atomics on %p+%" PRIu64
			      " need data space (genzio_mem_alloc) or "
			      "page-aligned private memory: peers reach other "
			      "memory through the kernel, which has none",
			      addr, len);
	return 0;
}

int gz_shm_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
		  uint32_t access, struct gz_mr **out)
{
	struct gz_shm_ctx *ctx = to_shm_ctx(pd->ctx);
	uint64_t a = (uintptr_t)addr;
	struct gz_shm_mr *mr;
	int ret;

	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return -ENOMEM;
	gz_mr_init(&mr->base, addr, len, access);
	mr->mem = gz_shm_mem_find(ctx, a, len);
	if (!mr->mem && (access & REMOTE_ANY)) {
		ret = place(ctx, addr, len, access, &mr->mem);
		if (ret)
			goto free_mr;
	}
	/* in data space it can take receives; either way it holds the
	 * memory (genzio_mem_free answers -EBUSY) */
	if (mr->mem) {
		mr->mem->users++;
		mr->base.cookie = mr->mem->seg;
		mr->base.cookie_va = (uintptr_t)mr->mem->base.pub.addr;
	}
	if (access & REMOTE_ANY) {
		ret = publish_rkey(ctx, pd, mr, access);
		if (ret)
			goto put_mem;
	}
	*out = &mr->base;
	return 0;

put_mem:
	if (mr->mem && !--mr->mem->users && mr->mem->converted)
		gz_shm_mem_release(ctx, mr->mem);
free_mr:
	free(mr);
	return ret;
}

int gz_shm_mr_revoke(struct gz_mr *base)
{
	struct gz_shm_mr *mr = container_of(base, struct gz_shm_mr, base);
	struct gz_shm_ctx *ctx = to_shm_ctx(base->pd->ctx);

	if (!base->pub.rkey)
		return 0;
	/* No new access can pass the key check from now on; one that did
	 * already may still be copying: mr_quiesce waits for it. */
	if (!mr->revoked)
		gz_keytab_remove(ctx->comp->keys, GZ_SHM_KEYS - 1,
				 base->pub.rkey);
	mr->revoked = 1;
	return 1;
}

int gz_shm_quiesce(struct genzio_context *ctx, int best_effort)
{
	return gz_shm_guard_wait(to_shm_ctx(ctx), best_effort);
}

void gz_shm_mr_dereg(struct gz_mr *base)
{
	struct gz_shm_mr *mr = container_of(base, struct gz_shm_mr, base);
	struct gz_shm_ctx *ctx = to_shm_ctx(base->pd->ctx);

	/* A poll that checked this lkey before the core freed it may still
	 * copy a staged receive into the memory: wait for it, as verbs
	 * guarantees nothing lands after dereg returns. */
	if (!mr->mem && (base->pub.access & GENZIO_ACCESS_LOCAL_WRITE))
		for (uint32_t i = 0; i < GZ_SHM_MAX_QP; i++) {
			struct gz_shm_cq *cq = atomic_load(&ctx->cq[i]);

			if (cq)
				gz_shm_cq_quiesce(cq);
		}

	if (mr->mem && !--mr->mem->users && mr->mem->converted)
		gz_shm_mem_release(ctx, mr->mem);
	free(mr);
}
