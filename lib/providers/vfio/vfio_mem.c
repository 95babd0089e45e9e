// SPDX-License-Identifier: MIT
/*
 * vfio provider: data space is the slot's window, handed out first fit
 * in pages (a list by offset, under the ctx lock); registrations inside
 * it get an R-Key in the slot's key table, which the engine checks; the
 * rest of memory is for local use only and is staged (vfio_post.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "providers/vfio/vfio.h"
#include "sys/sys.h"

#define REMOTE_ANY                                                             \
	(GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_WRITE |              \
	 GENZIO_ACCESS_REMOTE_ATOMIC)

/* The twin ranges no request can reach any more, given back. */
static void zombies_reap(struct gz_vf_ctx *ctx)
{
	if (ctx->stuck)
		return; /* an engine that may still run their requests */
	for (struct gz_vf_zombie **at = &ctx->zombies, *z; (z = *at);) {
		int done = 1;

		for (uint32_t i = 0; i < GZ_BRIDGE_MAX_QP && done; i++)
			done = !z->qp[i] ||
			       atomic_load(&ctx->qp[i]) != z->qp[i] ||
			       atomic_load(&z->qp[i]->head) >= z->tail[i];
		if (!done) {
			at = &z->next;
			continue;
		}
		*at = z->next;
		gz_vf_win_give(ctx, z->off);
		free(z);
	}
}

void gz_vf_zombies_free(struct gz_vf_ctx *ctx)
{
	while (ctx->zombies) {
		struct gz_vf_zombie *z = ctx->zombies;

		ctx->zombies = z->next;
		free(z);
	}
}

/* First fit of @len bytes (a page multiple) in the window: a new range
 * linked in order, or NULL. */
static struct gz_vf_mem *win_fit(struct gz_vf_ctx *ctx, uint64_t len)
{
	struct gz_vf_mem **at = &ctx->mems, *m;
	uint64_t off = 0;

	zombies_reap(ctx);
	for (; *at; at = &(*at)->next) {
		if ((*at)->off - off >= len)
			break;
		off = (*at)->off + (*at)->len;
	}
	if (len > ctx->slot.window_len || off > ctx->slot.window_len - len)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	/* mapped when handed out (host-only mode: see vfio_device.c) */
	if (gz_vslot_window_reach(&ctx->slot, off, len, 1)) {
		free(m);
		return NULL;
	}
	m->off = off;
	m->len = len;
	m->next = *at;
	*at = m;
	return m;
}

static void win_unlink(struct gz_vf_ctx *ctx, struct gz_vf_mem *m)
{
	struct gz_vf_mem **at = &ctx->mems;

	while (*at && *at != m)
		at = &(*at)->next;
	if (*at)
		*at = m->next;
	gz_vslot_window_reach(&ctx->slot, m->off, m->len, 0);
	free(m);
}

int gz_vf_win_take(struct gz_vf_ctx *ctx, uint64_t len, uint64_t *off)
{
	struct gz_vf_mem *m = win_fit(ctx, gz_align_up(len, ctx->page));

	if (!m)
		return gz_err(-ENOMEM,
			      "the data window (%" PRIu64
			      " bytes) has no %" PRIu64 " bytes free for a "
			      "bounce area",
			      ctx->slot.window_len, len);
	*off = m->off;
	return 0;
}

void gz_vf_win_give(struct gz_vf_ctx *ctx, uint64_t off)
{
	for (struct gz_vf_mem *m = ctx->mems; m; m = m->next)
		if (m->off == off && !m->base.pub.addr) {
			win_unlink(ctx, m);
			return;
		}
}

int gz_vf_mem_alloc(struct genzio_context *base, uint64_t len, uint32_t flags,
		    struct genzio_mem **out)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	uint64_t page = base->attr.page_size;
	int node = (int)((flags >> 16) & 0xffu) - 1;
	struct gz_vf_mem *m;

	gz_vf_beat(ctx);
	if (node >= 0 && gz_sys_numa_node_check(&node))
		return gz_err(-EINVAL, "NUMA node %d: no such node", node);
	/* the window's pages are what they are: huge ones cannot be asked
	 * for, nor a NUMA node (the device's memory has one) */
	if ((flags & GENZIO_MEM_REQUIRE_HUGE) && page < GZ_PAGE_2M)
		return gz_err(-ENOMEM,
			      "the data window of %s has %" PRIu64
			      "-byte pages: no huge pages to require",
			      base->attr.name, page);
	if (flags & GENZIO_MEM_HUGE_1G)
		return gz_err(-ENOMEM,
			      "the data window of %s has no 1 GiB "
			      "pages",
			      base->attr.name);
	m = win_fit(ctx, gz_align_up(len, page));
	if (!m)
		return gz_err(-ENOMEM,
			      "the data window of %s (%" PRIu64
			      " bytes, a slot of the bridge) has no %" PRIu64
			      " bytes free: free some, or give genzio-bridged "
			      "larger slots",
			      base->attr.name, ctx->slot.window_len, len);
	m->base.ctx = base;
	m->base.pub.addr = gz_vf_win(ctx, m->off);
	m->base.pub.length = m->len;
	m->base.pub.page_size = page;
	m->base.pub.numa_node = -1;
	m->base.pub.flags = flags;
	/* what a last user left: a new range reads zero, as anonymous
	 * memory does */
	memset(m->base.pub.addr, 0, m->len);
	if ((flags & GENZIO_MEM_LOCK) && mlock(m->base.pub.addr, m->len)) {
		win_unlink(ctx, m);
		return gz_err(-ENOMEM, "GENZIO_MEM_LOCK: mlock failed");
	}
	*out = &m->base.pub;
	return 0;
}

int gz_vf_mem_free(struct genzio_mem *pub)
{
	struct gz_vf_mem *m = container_of(pub, struct gz_vf_mem, base.pub);
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(m->base.ctx);

	if (m->users)
		return gz_err(-EBUSY, "%u registrations inside it", m->users);
	win_unlink(ctx, m);
	return 0;
}

/* The user range of the window that holds [@a, +@len), or NULL. */
static struct gz_vf_mem *mem_find(struct gz_vf_ctx *ctx, uint64_t a,
				  uint64_t len)
{
	for (struct gz_vf_mem *m = ctx->mems; m; m = m->next) {
		uint64_t s = (uintptr_t)m->base.pub.addr;

		if (s && a >= s && len <= m->len && a - s <= m->len - len)
			return m;
	}
	return NULL;
}

/* A random R-Key of @pd's domain for [@mr) in the key table. */
static int rkey_publish(struct gz_vf_ctx *ctx, struct genzio_pd *pd,
			struct gz_vf_mr *mr, uint32_t access)
{
	uint64_t a = (uintptr_t)mr->base.pub.addr, off = 0;
	int ret = -EEXIST;

	gz_vf_in_win(ctx, a, mr->base.pub.length, &off);
	for (int tries = 0; tries < 256 && ret; tries++) {
		uint32_t rkey;

		ret = gz_sys_random(&rkey, sizeof(rkey));
		if (ret)
			return gz_err(ret, "getrandom: %s", strerror(-ret));
		if (rkey < GZ_KEY_MIN) {
			ret = -EEXIST;
			continue;
		}
		ret = gz_vslot_key_add(&ctx->slot, rkey, pd->key_domain, off,
				       mr->base.pub.length, a,
				       access & REMOTE_ANY);
		if (!ret)
			mr->base.pub.rkey = rkey;
		else if (ret != -EEXIST && ret != -ENOSPC)
			break;
	}
	return ret ? gz_err(-ENOSPC,
			    "the slot's key table (%u keys) has no "
			    "room",
			    ctx->slot.key_mask + 1)
		   : 0;
}

/*
 * Memory outside the window, for local use: a twin range of the window
 * of its size if there is room, through which its requests are staged
 * whatever their size (the lkey's cookie says where: an address plus
 * cookie_va is its twin's offset). Without room, requests go through
 * the queue pair's bounce area, GZ_VF_BOUNCE bytes at most each.
 */
static void twin_take(struct gz_vf_ctx *ctx, struct gz_vf_mr *mr)
{
	uint64_t off;
	struct gz_vf_mem *m =
	    win_fit(ctx, gz_align_up(mr->base.pub.length, ctx->page));

	if (!m)
		return;
	off = m->off;
	mr->twin = 1;
	mr->twin_off = off;
	mr->base.cookie = 0;
	mr->base.cookie_va = off - (uintptr_t)mr->base.pub.addr;
}

int gz_vf_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
		 uint32_t access, struct gz_mr **out)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(pd->ctx);
	struct gz_vf_mr *mr;
	int ret;

	gz_vf_beat(ctx);
	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return -ENOMEM;
	gz_mr_init(&mr->base, addr, len, access);
	mr->mem = mem_find(ctx, (uintptr_t)addr, len);
	/* the engine reaches the window only (no DMA on this bridge) */
	if (!mr->mem && (access & REMOTE_ANY)) {
		free(mr);
		return gz_err(-EOPNOTSUPP,
			      "remote access to %p+%" PRIu64
			      " needs data space (genzio_mem_alloc): the "
			      "bridge reaches its data window only",
			      addr, len);
	}
	if (access & REMOTE_ANY) {
		ret = rkey_publish(ctx, pd, mr, access);
		if (ret) {
			free(mr);
			return ret;
		}
	}
	if (mr->mem)
		mr->mem->users++;
	else
		twin_take(ctx, mr);
	*out = &mr->base;
	return 0;
}

/* A twin range of a registration that goes: requests posted through it
 * may still run (a READ the engine has yet to write): given back once
 * every queue pair's head is past its tail now. */
static void twin_give(struct gz_vf_ctx *ctx, uint64_t off)
{
	struct gz_vf_zombie *z = calloc(1, sizeof(*z));

	if (!z)
		return; /* kept for good: never reused under a request */
	z->off = off;
	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_QP; i++)
		if ((z->qp[i] = atomic_load(&ctx->qp[i])))
			z->tail[i] = atomic_load(&z->qp[i]->tail);
	z->next = ctx->zombies;
	ctx->zombies = z;
	zombies_reap(ctx);
}

int gz_vf_mr_revoke(struct gz_mr *base)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base->pd->ctx);

	if (!base->pub.rkey || ctx->slot.lost)
		return 0;
	gz_keytab_remove(ctx->slot.keys, ctx->slot.key_mask, base->pub.rkey);
	return 1;
}

void gz_vf_mr_dereg(struct gz_mr *base)
{
	struct gz_vf_mr *mr = container_of(base, struct gz_vf_mr, base);

	if (mr->mem)
		mr->mem->users--;
	if (mr->twin)
		twin_give(gz_vf_ctx_of(base->pd->ctx), mr->twin_off);
	free(mr);
}

/*
 * The engine bumps its heartbeat after every command and at every round:
 * once it changed after our stores, whatever it was executing when we
 * made them has ended, and what it starts next sees them. An engine that
 * does not beat executes nothing either.
 */
int gz_vf_quiesce(struct genzio_context *base, int best_effort)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	uint64_t hb, t0 = gz_sys_now_ns();

	(void)best_effort;
	/* our stores (a key removed, a state asked) before the read:
	 * pairs with the engine's locked increment */
	atomic_thread_fence(memory_order_seq_cst);
	hb = atomic_load_explicit(&ctx->m.hdr->heartbeat, memory_order_acquire);
	while (atomic_load_explicit(&ctx->m.hdr->heartbeat,
				    memory_order_acquire) == hb) {
		if (gz_sys_now_ns() - t0 > GZ_VF_ALIVE_NS)
			return 0; /* no engine: nothing in flight */
		sched_yield();
	}
	return 0;
}
