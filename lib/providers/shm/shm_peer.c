// SPDX-License-Identifier: MIT
/*
 * A remote component as this process reaches it: its component file mapped
 * read-only, and its data-space segments mapped on first use. One per
 * (context, GCID, incarnation), shared by the queue pairs and address
 * handles that talk to it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include "providers/shm/shm.h"

void gz_shm_peer_seg_path(const struct gz_shm_peer *p, uint32_t idx,
			  char *buf, size_t len)
{
	const struct gz_shm_segdesc *d = &p->comp->seg[idx];
	uint32_t dir = d->dir;

	snprintf(buf, len, "%s/genzio-%s-%u-%" PRIu64 "-%u",
		 dir == 1 || dir == 2 ? p->comp->hugedir[dir - 1] : GZ_SHM_DIR,
		 p->ctx->fabric, GENZIO_GCID_CID(p->gcid), p->incarnation, idx);
}

static int peer_map_seg(struct gz_xdm_target *t, uint32_t idx)
{
	struct gz_shm_peer *p = container_of(t, struct gz_shm_peer, tgt);
	const struct gz_shm_segdesc *d = &p->comp->seg[idx];
	char path[PATH_MAX];
	void *addr;
	int ret = 0;

	pthread_mutex_lock(&p->map_lock);
	if (t->seg[idx].base)
		goto out;
	if (!atomic_load_explicit((_Atomic uint32_t *)&d->live,
				  memory_order_acquire)) {
		ret = -ENOENT;
		goto out;
	}
	gz_shm_peer_seg_path(p, idx, path, sizeof(path));
	ret = gz_sys_shmfile_map(path, d->len, 1, &addr);
	if (ret) {
		gz_err(ret, "map %s: %s", path, strerror(-ret));
		goto out;
	}
	t->seg[idx].len = d->len;
	/* Release pairs with the fast path's read of base (x86: a plain
	 * load): len is set before base says the entry is usable. */
	__atomic_store_n(&t->seg[idx].base, (uint8_t *)addr, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&p->map_lock);
	return ret;
}

static int peer_open(struct gz_shm_ctx *ctx, uint32_t gcid, uint64_t inc,
		     struct gz_shm_peer **out)
{
	char path[PATH_MAX];
	struct gz_shm_peer *p;
	void *comp;
	int ret;

	gz_shm_path(ctx, path, sizeof(path), GENZIO_GCID_CID(gcid), inc,
		    ".comp");
	ret = gz_sys_shmfile_map(path, sizeof(struct gz_shm_comp), 0, &comp);
	if (ret)
		return gz_err(-EHOSTUNREACH, "map %s: %s", path, strerror(-ret));
	p = calloc(1, sizeof(*p));
	if (!p) {
		munmap(comp, sizeof(struct gz_shm_comp));
		return -ENOMEM;
	}
	p->tgt.seg = calloc(GZ_SHM_MAX_SEG, sizeof(*p->tgt.seg));
	if (!p->tgt.seg) {
		free(p);
		munmap(comp, sizeof(struct gz_shm_comp));
		return -ENOMEM;
	}
	p->comp = comp;
	p->tgt.keys = p->comp->keys;
	p->tgt.key_mask = GZ_SHM_KEYS - 1;
	p->tgt.nseg = GZ_SHM_MAX_SEG;
	p->tgt.map_seg = peer_map_seg;
	p->gcid = gcid;
	p->incarnation = inc;
	p->ctx = ctx;
	p->users = 1;
	p->pidfd = -1;
	for (int i = 0; i < GZ_SHM_MAX_CHANNELS; i++)
		p->chan_fd[i] = -1;
	pthread_mutex_init(&p->map_lock, NULL);
	/* Acquire pairs with the owner's release of magic. */
	if (__atomic_load_n(&p->comp->magic, __ATOMIC_ACQUIRE) !=
		    GZ_SHM_MAGIC_COMP ||
	    p->comp->incarnation != inc) {
		gz_shm_peer_put(p);
		return gz_err(-EHOSTUNREACH, "%s is not ready", path);
	}
	p->life_word = gz_sys_lifelock_word(&p->comp->life);
	if (!(p->life_word & GZ_FUTEX_TID_MASK))
		p->life_word = GZ_SHM_LIFE_UNKNOWN;
	if (atomic_load(&p->comp->closed) ||
	    !gz_sys_proc_alive(p->comp->pid, p->comp->starttime)) {
		gz_shm_peer_put(p);
		return gz_err(-EHOSTUNREACH, "GCID %#x has left", gcid);
	}
	/* Its exit makes this fd readable: PEER_DEAD without any traffic.
	 * No ptrace permission needed; kernels before 5.3 lack it, and
	 * then death is seen by the next operation only. */
	p->pidfd = (int)syscall(SYS_pidfd_open, p->comp->pid, 0);
	if (p->pidfd >= 0) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = p };

		if (epoll_ctl(ctx->base.ev.epfd, EPOLL_CTL_ADD, p->pidfd, &e)) {
			close(p->pidfd);
			p->pidfd = -1;
		}
	}
	*out = p;
	return 0;
}

int gz_shm_peer_get(struct gz_shm_ctx *ctx, uint32_t gcid,
		    struct gz_shm_peer **out)
{
	uint32_t cid = GENZIO_GCID_CID(gcid);
	struct gz_shm_peer *p;
	uint64_t inc;
	int ret;

	if (GENZIO_GCID_SID(gcid) != GENZIO_GCID_SID(ctx->base.attr.gcid) ||
	    cid < 1 || cid > GZ_SHM_MAX_CID || gcid >> 28)
		return gz_err(-EHOSTUNREACH, "GCID %#x is not on fabric %s",
			      gcid, ctx->fabric);
	ret = gz_shm_registry_lookup(ctx->reg, cid, &inc);
	if (ret)
		return gz_err(ret, "no live component has GCID %#x", gcid);
	p = ctx->peer[cid];
	if (p && p->incarnation == inc && gz_shm_peer_alive(p)) {
		p->users++;
		*out = p;
		return 0;
	}
	ret = peer_open(ctx, gcid, inc, out);
	if (ret)
		return ret;
	/* The context keeps one use of the current peer per CID. */
	if (p)
		gz_shm_peer_put(p);
	ctx->peer[cid] = *out;
	(*out)->users++;
	return 0;
}

void gz_shm_peer_put(struct gz_shm_peer *p)
{
	if (--p->users)
		return;
	for (uint32_t i = 0; i < p->tgt.nseg; i++)
		if (p->tgt.seg[i].base)
			gz_sys_shmfile_unmap(p->tgt.seg[i].base,
					     p->tgt.seg[i].len);
	free(p->tgt.seg);
	if (p->pidfd >= 0)
		close(p->pidfd);	/* leaves the epoll set by itself */
	for (int i = 0; i < GZ_SHM_MAX_CHANNELS; i++)
		if (p->chan_fd[i] >= 0)
			close(p->chan_fd[i]);
	munmap((void *)p->comp, sizeof(*p->comp));
	pthread_mutex_destroy(&p->map_lock);
	free(p);
}

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	/* vDSO: no system call */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int gz_shm_peer_check(struct gz_shm_peer *p)
{
	const struct gz_shm_comp *c = p->comp;
	uint32_t word = gz_sys_lifelock_word(&c->life);
	uint64_t now;

	if (atomic_load_explicit(&p->dead, memory_order_relaxed))
		return 0;
	if (atomic_load_explicit((_Atomic uint32_t *)&c->closed,
				 memory_order_acquire))
		goto dead;
	/*
	 * The word changed but the component did not close: the process
	 * died, or only the thread that opened the context exited. Tell
	 * them apart with the kernel; in the second case the word can no
	 * longer announce a death, so check again at most every
	 * GZ_SHM_RECHECK_NS (a coarse clock read, no syscall, in between).
	 */
	if (p->life_word == GZ_SHM_LIFE_UNKNOWN) {
		now = coarse_ns();
		if (now < p->next_check_ns)
			return 1;
		p->next_check_ns = now + GZ_SHM_RECHECK_NS;
	}
	if (!gz_sys_proc_alive(c->pid, c->starttime))
		goto dead;
	if (word & GZ_FUTEX_TID_MASK)
		p->life_word = word;	/* re-armed by its owner */
	else
		p->life_word = GZ_SHM_LIFE_UNKNOWN;
	return 1;
dead:
	gz_shm_peer_died(p);
	return 0;
}

void gz_shm_peer_died(struct gz_shm_peer *p)
{
	struct genzio_event e = { .type = GENZIO_EVENT_PEER_DEAD,
				  .gcid = p->gcid };

	if (!atomic_exchange(&p->dead, 1))
		gz_event_push(&p->ctx->base, &e);
}
