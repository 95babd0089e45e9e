// SPDX-License-Identifier: MIT
/*
 * What makes genzio_mr_dereg() mean what ibv_dereg_mr() means: when it
 * returns, no access through that key is in flight or will start.
 *
 * A requester's copy runs in the requester's process, so the owner cannot
 * stop it; it can only wait for it. Each target has a guard file, a
 * window per requester CID, a lane (cache line) per requester queue pair:
 * a queue pair marks its lane busy (odd) before it looks the key up and
 * idle (even, release) after the copy - two plain stores to a line only it
 * writes. The owner removes the key, then runs a membarrier: afterwards
 * every requester either sees the key gone or has its busy mark visible
 * (the asymmetric fence of liburcu's membarrier flavour). So the owner
 * waits for every lane it sees busy to move on, bounded by the setup
 * timeout; a requester that died busy is skipped by its incarnation.
 *
 * Window 0 (CID 0 is nobody) holds one byte per CID: "has attached".
 * The file is sparse; only windows in use have pages. The owner reads it
 * with pread(2), never through a mapping: a wait is rare, a 512 MiB
 * mapping would count against RLIMIT_MEMLOCK and be allocated whole by
 * an application's mlockall(), and a read of a hole costs nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "providers/shm/shm.h"

#define GUARD_LEN ((uint64_t)GZ_SHM_GUARD_WIN * (GZ_SHM_MAX_CID + 1))

static void guard_name(const struct gz_shm_ctx *ctx, char *buf, size_t len,
		       uint32_t cid, uint64_t inc)
{
	gz_shm_name(ctx, buf, len, cid, inc, ".guard");
}

int gz_shm_guard_create(struct gz_shm_ctx *ctx)
{
	int dfd = ctx->dirfd[GZ_SHM_DIR_SHM], fd, ret;
	char name[64];

	guard_name(ctx, name, sizeof(name), ctx->cid, ctx->incarnation);
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
				       O_CLOEXEC, 0600);
	if (fd < 0)
		return gz_err(-errno, "cannot create %s: %s", name,
			      strerror(errno));
	/* sparse, but what we read is allocated now: a read of a hole in
	 * a full tmpfs would be a SIGBUS (requesters allocate their own
	 * windows when they attach) */
	if (ftruncate(fd, (off_t)GUARD_LEN)) {
		ret = -errno;
		goto fail;
	}
	ret = -posix_fallocate(fd, 0, GZ_SHM_GUARD_WIN);
	if (ret)
		goto fail;
	ctx->guard_fd = fd;
	pthread_mutex_init(&ctx->stuck_lock, NULL);
	return 0;
fail:
	unlinkat(dfd, name, 0);
	close(fd);
	return gz_err(ret, "guard file %s: %s", name, strerror(-ret));
}

void gz_shm_guard_destroy(struct gz_shm_ctx *ctx)
{
	char name[64];

	guard_name(ctx, name, sizeof(name), ctx->cid, ctx->incarnation);
	unlinkat(ctx->dirfd[GZ_SHM_DIR_SHM], name, 0);
	close(ctx->guard_fd);
	pthread_mutex_destroy(&ctx->stuck_lock);
}

int gz_shm_guard_attach(struct gz_shm_peer *p)
{
	struct gz_shm_ctx *ctx = p->ctx;
	struct gz_shm_guard_hdr *h;
	uint32_t old;
	char name[64];
	uint8_t one = 1;
	void *win;
	int fd;

	guard_name(ctx, name, sizeof(name), GENZIO_GCID_CID(p->gcid),
		   p->incarnation);
	fd = gz_sys_open_owned(ctx->dirfd[GZ_SHM_DIR_SHM], name, O_RDWR,
			       S_IFREG, GUARD_LEN, NULL);
	/* between its component file and its guard file: not ready yet */
	if (fd == -ENOENT)
		return -EHOSTUNREACH;
	if (fd < 0)
		return fd;
	/* our window's pages exist before we store into them: with tmpfs
	 * full this is -ENOSPC now rather than a SIGBUS later */
	if (posix_fallocate(fd, (off_t)ctx->cid * GZ_SHM_GUARD_WIN,
			    GZ_SHM_GUARD_WIN)) {
		close(fd);
		return -ENOSPC;
	}
	win = mmap(NULL, GZ_SHM_GUARD_WIN, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, (off_t)ctx->cid * GZ_SHM_GUARD_WIN);
	if (win == MAP_FAILED) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	madvise(win, GZ_SHM_GUARD_WIN, MADV_DONTFORK);
	h = win;
	/* An earlier holder of our CID may have died with lanes busy:
	 * clear them before the header says they are ours. */
	atomic_store_explicit((_Atomic uint64_t *)&h->incarnation, 0,
			      memory_order_release);
	old = GZ_READ_ONCE(h->max_lane);
	if (old > GZ_SHM_GUARD_LANES)
		old = GZ_SHM_GUARD_LANES;
	memset((char *)win + 64, 0, (size_t)old * 64);
	h->max_lane = ctx->lane_hw;
	h->expedited = (uint32_t)ctx->mb_expedited;
	/* Release pairs with the owner's acquire in guard_scan(). */
	atomic_store_explicit((_Atomic uint64_t *)&h->incarnation,
			      ctx->incarnation, memory_order_release);
	/* A syscall: ordered before any access we make to this peer. */
	if (pwrite(fd, &one, 1, ctx->cid) != 1) {
		int ret = -errno;

		munmap(win, GZ_SHM_GUARD_WIN);
		close(fd);
		return ret;
	}
	close(fd);
	p->lanes = (struct gz_shm_lane *)(void *)((char *)win + 64);
	return 0;
}

void gz_shm_guard_detach(struct gz_shm_peer *p)
{
	struct gz_shm_guard_hdr *h;

	if (!p->lanes)
		return;
	h = (struct gz_shm_guard_hdr *)(void *)((char *)p->lanes - 64);
	atomic_store_explicit((_Atomic uint64_t *)&h->incarnation, 0,
			      memory_order_release);
	munmap(h, GZ_SHM_GUARD_WIN);
	p->lanes = NULL;
}

int gz_shm_lane_take(struct gz_shm_ctx *ctx, uint32_t *lane)
{
	uint32_t i;

	for (i = 0; i < GZ_SHM_MAX_QP; i++)
		if (!(ctx->lanes_used[i / 64] & (1ull << (i % 64))))
			break;
	if (i == GZ_SHM_MAX_QP)
		return -ENOSPC;
	ctx->lanes_used[i / 64] |= 1ull << (i % 64);
	if (i >= ctx->lane_hw) {
		ctx->lane_hw = i + 1;
		/* Stored before the lane's first busy mark (program order;
		 * the owner reads it after its membarrier). */
		for (uint32_t c = 1; c <= GZ_SHM_MAX_CID; c++) {
			struct gz_shm_peer *p = ctx->peer[c];

			if (p && p->lanes)
				((struct gz_shm_guard_hdr *)(void *)
				 ((char *)p->lanes - 64))->max_lane =
					ctx->lane_hw;
		}
	}
	*lane = i;
	return 0;
}

void gz_shm_lane_give(struct gz_shm_ctx *ctx, uint32_t lane)
{
	ctx->lanes_used[lane / 64] &= ~(1ull << (lane % 64));
}

/* @len bytes of the guard file at @off, as requesters last wrote them:
 * 0, or -EIO for a short read (a file someone truncated), which a wait
 * must take as "cannot tell", never as idle. */
static int guard_read(const struct gz_shm_ctx *ctx, void *buf, size_t len,
		      uint64_t off)
{
	if (pread(ctx->guard_fd, buf, len, (off_t)off) == (ssize_t)len)
		return 0;
	return gz_err(-EIO, "the guard file cannot be read (cut short?): "
		      "accesses in flight cannot be told");
}

/* Where lane @i of requester @cid's window is (its header comes first). */
static uint64_t lane_off(uint32_t cid, uint32_t i)
{
	return (uint64_t)cid * GZ_SHM_GUARD_WIN + 64 + (uint64_t)i * 64;
}

/*
 * Requester @cid's window header, read into @h: 1 if a live requester
 * uses the window, 0 if not, -EIO. One we cannot check counts as alive,
 * or we might free memory it is still writing.
 */
static int window(struct gz_shm_ctx *ctx, uint32_t cid,
		  struct gz_shm_guard_hdr *h)
{
	struct gz_fabric_member m;
	int ret = guard_read(ctx, h, sizeof(*h),
			     (uint64_t)cid * GZ_SHM_GUARD_WIN);

	if (ret)
		return ret;
	if (!h->incarnation)
		return 0;
	ret = gz_fabric_lookup(&ctx->fabric, cid, &m);
	if (ret == -EHOSTUNREACH || (!ret && m.incarnation != h->incarnation))
		return 0;
	return 1;
}

/* Wait until lane @i of @cid leaves busy value @v: 0, -ETIMEDOUT, or
 * -EIO (unreadable). */
static int lane_wait(struct gz_shm_ctx *ctx, uint32_t cid, uint32_t i,
		     uint64_t v, uint64_t deadline)
{
	for (uint32_t spins = 0;; spins++) {
		uint64_t now;

		if (guard_read(ctx, &now, sizeof(now), lane_off(cid, i)))
			return -EIO;
		if (now != v)
			return 0;
		if (gz_shm_now_ns() > deadline)
			return -ETIMEDOUT;
		if (spins > 64)
			sched_yield();
	}
}

/* Whether (cid, inc, lane, state) is an access an earlier wait already
 * timed out on; @add records it. Under ctx->stuck_lock. */
static int stuck(struct gz_shm_ctx *ctx, uint32_t cid, uint64_t inc,
		 uint32_t lane, uint64_t state, int add)
{
	for (uint32_t i = 0; i < GZ_ARRAY_SIZE(ctx->stuck); i++) {
		const struct gz_shm_stuck *k = &ctx->stuck[i];

		if (k->cid == cid && k->inc == inc && k->lane == lane &&
		    k->state == state)
			return 1;
	}
	if (add)
		ctx->stuck[ctx->nstuck++ % GZ_ARRAY_SIZE(ctx->stuck)] =
			(struct gz_shm_stuck){ inc, state, cid, lane };
	return 0;
}

/* Wait for the busy lanes of requester @cid, whose window header as read
 * is @h; @lane has room for GZ_SHM_GUARD_LANES lanes. */
static int window_wait(struct gz_shm_ctx *ctx, uint32_t cid,
		       const struct gz_shm_guard_hdr *h, struct gz_shm_lane *lane,
		       uint64_t deadline, int best_effort)
{
	/* the lanes it may have used, at most the window's */
	uint32_t n = h->max_lane < GZ_SHM_GUARD_LANES ? h->max_lane :
							GZ_SHM_GUARD_LANES;
	int ret = 0, skip, r;

	if (n && guard_read(ctx, lane, n * sizeof(*lane), lane_off(cid, 0)))
		return -EIO;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = atomic_load_explicit(&lane[i].state,
						  memory_order_relaxed);

		if (!(v & 1))
			continue;
		pthread_mutex_lock(&ctx->stuck_lock);
		skip = best_effort && stuck(ctx, cid, h->incarnation, i, v, 0);
		pthread_mutex_unlock(&ctx->stuck_lock);
		if (skip)
			continue;
		r = lane_wait(ctx, cid, i, v, deadline);
		if (!r)
			continue;
		if (r == -EIO)
			return r;
		pthread_mutex_lock(&ctx->stuck_lock);
		stuck(ctx, cid, h->incarnation, i, v, 1);
		pthread_mutex_unlock(&ctx->stuck_lock);
		ret = gz_err(-ETIMEDOUT, "GCID %#x queue pair lane %u stays "
			     "inside an access",
			     GENZIO_GCID(ctx->fabric.subnet, cid), i);
		if (!best_effort)
			return ret;
	}
	return ret;
}

int gz_shm_guard_wait(struct gz_shm_ctx *ctx, int best_effort)
{
	uint64_t deadline = gz_shm_now_ns() +
			    (uint64_t)gz_sys_setup_timeout_ms() * 1000000u;
	int all_expedited = ctx->mb_expedited, ret, failed = 0;
	uint8_t attached[GZ_SHM_MAX_CID + 1];
	/* its type's alignment (a cache line), which malloc() does not give */
	struct gz_shm_lane *lane = aligned_alloc(
		_Alignof(struct gz_shm_lane), GZ_SHM_GUARD_LANES * sizeof(*lane));
	struct gz_shm_guard_hdr h;

	if (!lane)
		return -ENOMEM;
	/* The key is gone: a full fence orders that before what we read
	 * of the windows (a requester attaching now runs a syscall before
	 * its first access, so either we see it or it sees the key gone). */
	atomic_thread_fence(memory_order_seq_cst);
	ret = guard_read(ctx, attached, sizeof(attached), 0);
	for (uint32_t c = 1; !ret && c <= GZ_SHM_MAX_CID && all_expedited; c++)
		if (attached[c] && window(ctx, c, &h) == 1 && !h.expedited)
			all_expedited = 0;
	if (ret)
		goto out;
	ret = gz_sys_membarrier(all_expedited);
	if (ret) {
		gz_err(ret, "membarrier: %s", strerror(-ret));
		goto out;
	}
	/* again after the barrier: a requester that attached meanwhile */
	ret = guard_read(ctx, attached, sizeof(attached), 0);
	for (uint32_t c = 1; !ret && c <= GZ_SHM_MAX_CID; c++) {
		if (!attached[c])
			continue;
		ret = window(ctx, c, &h);
		if (ret < 0)
			break;
		ret = ret ? window_wait(ctx, c, &h, lane, deadline,
					best_effort) :
			    0;
		failed |= ret == -ETIMEDOUT;
		if (ret == -ETIMEDOUT && best_effort)
			ret = 0;
	}
	if (!ret && failed)
		ret = -ETIMEDOUT;
out:
	free(lane);
	return ret;
}
