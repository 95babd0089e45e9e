// SPDX-License-Identifier: MIT
/*
 * A remote component as this process reaches it: its component file mapped
 * read-only, and its data-space segments mapped on first use. One per
 * (context, GCID, incarnation), shared by the queue pairs and address
 * handles that talk to it. Everything read from its files is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "providers/shm/shm.h"

static int peer_map_seg(struct gz_xdm_target *t, uint32_t idx)
{
	struct gz_shm_peer *p = container_of(t, struct gz_shm_peer, tgt);
	const struct gz_shm_segdesc *d = &p->comp->seg[idx];
	uint32_t dir;
	uint64_t want, len;
	char name[64];
	void *addr;
	int ret = 0;

	pthread_mutex_lock(&p->map_lock);
	if (t->seg[idx].base)
		goto out;
	/* Acquire pairs with the release in seg_publish(). */
	if (!atomic_load_explicit((_Atomic uint32_t *)&d->live,
				  memory_order_acquire)) {
		ret = -ENOENT;
		goto out;
	}
	dir = GZ_READ_ONCE(d->dir);
	want = GZ_READ_ONCE(d->len);
	/* the directory index is theirs; the directory is ours */
	if (dir >= GZ_SHM_NDIRS || p->ctx->dirfd[dir] < 0) {
		ret = -EPROTO;
		goto out;
	}
	gz_shm_seg_name(p->ctx, name, sizeof(name), GENZIO_GCID_CID(p->gcid),
			p->incarnation, idx);
	/* Mapped with the size the file has, never the size they wrote;
	 * a file shorter than they say is refused here, not a SIGBUS later */
	ret = gz_sys_shmfile_map(p->ctx->dirfd[dir], name, want, 0, 1, &addr,
				 &len, NULL);
	if (ret) {
		gz_err(ret, "map %s: %s", name, strerror(-ret));
		goto out;
	}
	t->seg[idx].len = len;
	/* Release pairs with the acquire in gz_xdm_resolve(): len is set
	 * before base says the entry is usable. */
	__atomic_store_n(&t->seg[idx].base, (uint8_t *)addr, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&p->map_lock);
	return ret;
}

/*
 * Whether the pid the peer's header gives is the peer's: the process the
 * kernel says holds its component file open read-write, as only its
 * owner does (a peer opens it read-only, and closes it once mapped; one
 * mapping a file renamed onto a segment's name holds it for microseconds,
 * a window this check, made once, does not close). A peer that wrote
 * another process's pid there, ours included, is never written through.
 * Asked once per peer, on its first access of this kind (as a segment is
 * mapped at its first use).
 */
static int pid_check(struct gz_shm_peer *p)
{
	int r = gz_sys_procmem_owner(p->pid, p->comp_id);
	int ok = r == 1 ? 1 : -1;

	if (r != 1)
		gz_err(r < 0 ? r : -EPERM, "GCID %#x: pid %d %s: its memory "
		       "outside data space is not reached", p->gcid,
		       (int)p->pid, r < 0 ? "cannot be checked" :
					    "does not hold its component file");
	atomic_store_explicit(&p->pid_ok, ok, memory_order_relaxed);
	return ok;
}

/*
 * A READ or WRITE to the peer's memory outside data space, through the
 * kernel. Its pid is the one its header gave, checked once against the
 * kernel's maps (pid_check) and by the liveness watch, which is asked
 * again first, so a pid the kernel gave to another process after the
 * peer died is not written to (a window of one system call remains, and
 * the pid space must wrap within it).
 */
static uint8_t peer_proc_copy(struct gz_xdm_target *t, uint64_t raddr,
			      const struct gz_xdm_iov *v, uint32_t n,
			      uint64_t len, int write)
{
	struct gz_shm_peer *p = container_of(t, struct gz_shm_peer, tgt);
	struct iovec l[GZ_SHM_MAX_SGE];
	int ok, ret;

	if (n > GZ_SHM_MAX_SGE)
		return GZ_XDM_ST_LOC_LEN;
	if (!gz_fabric_alive(&p->live))
		return GZ_XDM_ST_RETRY_EXC;
	ok = atomic_load_explicit(&p->pid_ok, memory_order_relaxed);
	if (GZ_UNLIKELY(!ok))
		ok = pid_check(p);
	if (ok < 0)
		return GZ_XDM_ST_REM_ACCESS;
	for (uint32_t i = 0; i < n; i++)
		l[i] = (struct iovec){ v[i].p, v[i].len };
	ret = gz_sys_procmem_copy(p->pid, raddr, l, n, len, write);
	if (!ret)
		return GZ_XDM_ST_SUCCESS;
	/* gone: as any peer that stopped answering */
	if (ret == -ESRCH)
		return GZ_XDM_ST_RETRY_EXC;
	/* its memory went away under a live key (EFAULT), or the kernel
	 * says no (EPERM: not dumpable, a security module; ENOSYS, EPERM
	 * from a seccomp filter of ours): said once per peer */
	if (ret != -EFAULT && !atomic_exchange_explicit(&p->proc_told, 1,
							memory_order_relaxed))
		gz_err(ret, "GCID %#x: process_vm_%sv: %s", p->gcid,
		       write ? "write" : "read", strerror(-ret));
	return GZ_XDM_ST_REM_ACCESS;
}

const struct gz_xdm_seg *gz_shm_peer_seg(struct gz_shm_peer *p, uint32_t seg)
{
	struct gz_xdm_seg *s;

	if (GZ_UNLIKELY(seg >= p->tgt.nseg))
		return NULL;
	s = &p->tgt.seg[seg];
	if (GZ_UNLIKELY(!__atomic_load_n(&s->base, __ATOMIC_ACQUIRE)) &&
	    p->tgt.map_seg(&p->tgt, seg))
		return NULL;
	return s;
}

static int is_mask(uint32_t m)
{
	return m < GZ_SHM_MAX_DEPTH && !(m & (m + 1));
}

static uint8_t qpent_copy(const struct gz_shm_peer *p, uint32_t qpn,
			  struct gz_shm_qpsnap *s)
{
	const struct gz_shm_qpent *e = &p->comp->qp[qpn & (GZ_SHM_MAX_QP - 1)];
	uint64_t id = gz_shm_qpent_id(p, qpn);

	if (GZ_UNLIKELY(!qpn || GZ_SHM_ID_QPN(id) != qpn))
		return GENZIO_WC_REM_QP;
	if (GZ_UNLIKELY(GZ_SHM_ID_SEQ(id) & 1))
		return GZ_SHM_CHANGING;
	/* Seqlock read side: acquire loads keep the re-read of id after
	 * them (plain loads on x86). */
	s->id = id;
	s->qpn = qpn;
	s->domain = __atomic_load_n(&e->domain, __ATOMIC_ACQUIRE);
	s->type = __atomic_load_n(&e->type, __ATOMIC_ACQUIRE);
	s->rq_seg = __atomic_load_n(&e->rq_seg, __ATOMIC_ACQUIRE);
	s->rq_mask = __atomic_load_n(&e->rq_mask, __ATOMIC_ACQUIRE);
	s->rq_stride = __atomic_load_n(&e->rq_stride, __ATOMIC_ACQUIRE);
	s->rcq_seg = __atomic_load_n(&e->rcq_seg, __ATOMIC_ACQUIRE);
	s->rcq_mask = __atomic_load_n(&e->rcq_mask, __ATOMIC_ACQUIRE);
	s->peer_gcid = __atomic_load_n(&e->peer_gcid, __ATOMIC_ACQUIRE);
	s->peer_qpn = __atomic_load_n(&e->peer_qpn, __ATOMIC_ACQUIRE);
	s->peer_inc = __atomic_load_n(&e->peer_inc, __ATOMIC_ACQUIRE);
	if (GZ_UNLIKELY(atomic_load_explicit((_Atomic uint64_t *)&e->id,
					     memory_order_relaxed) != id))
		return GZ_SHM_CHANGING;
	/* a malformed entry is not a queue pair */
	if (GZ_UNLIKELY(!is_mask(s->rq_mask) || !is_mask(s->rcq_mask) ||
			s->rq_stride < sizeof(struct gz_xdm_rqe) ||
			s->rq_stride > GZ_SHM_RQE_MAX + 63 ||
			(s->rq_stride & 63) ||
			(s->type != GENZIO_QPT_RC && s->type != GENZIO_QPT_RD)))
		return GENZIO_WC_REM_QP;
	return GENZIO_WC_SUCCESS;
}

uint8_t gz_shm_qpent_peek(const struct gz_shm_peer *p, uint32_t qpn,
			  struct gz_shm_qpsnap *s)
{
	uint8_t st = qpent_copy(p, qpn, s);

	/* an owner's change is a few stores: wait that long, not longer
	 * (it may be stopped mid-change, or garbage) */
	for (int i = 0; st == GZ_SHM_CHANGING && i < 64; i++) {
		gz_cpu_relax();
		st = qpent_copy(p, qpn, s);
	}
	return st;
}

uint8_t gz_shm_qpent_read(const struct gz_shm_peer *p, uint32_t qpn,
			  struct gz_shm_qpsnap *s)
{
	uint8_t st = gz_shm_qpent_peek(p, qpn, s);

	return st == GZ_SHM_CHANGING ? GENZIO_WC_REM_QP : st;
}

/* Check what its owner wrote in the header, once, into the peer. */
static int peer_header(struct gz_shm_peer *p, uint32_t gcid, uint64_t inc)
{
	const struct gz_shm_comp *c = p->comp;

	/* Acquire pairs with the owner's release of magic. */
	if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) != GZ_SHM_MAGIC_COMP ||
	    c->version != GZ_SHM_VERSION || c->incarnation != inc ||
	    c->gcid != gcid)
		return -EHOSTUNREACH;
	p->pid = GZ_READ_ONCE(c->pid);
	p->starttime = GZ_READ_ONCE(c->starttime);
	return gz_fabric_watch_init(&p->live, &c->life, &c->closed, p->pid,
				    p->starttime);
}

/* Its exit makes a pidfd readable: PEER_DEAD without any traffic. No
 * ptrace permission needed; kernels before 5.3 lack it, and then death
 * is seen by the next operation only. The event set names the peer by
 * (CID, generation), never by pointer: a forked child holding a copy of
 * the fd keeps the entry alive after we let the peer go. */
static void peer_watch(struct gz_shm_peer *p)
{
	struct epoll_event e = { .events = EPOLLIN };

	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0)
		return;
	e.data.u64 = (uint64_t)GENZIO_GCID_CID(p->gcid) << 32 | p->gen;
	if (epoll_ctl(p->ctx->base.ev.epfd, EPOLL_CTL_ADD, p->pidfd, &e)) {
		close(p->pidfd);
		p->pidfd = -1;
	}
}

/* Out of the event set, before the fd goes: a forked child may hold a
 * copy that would keep the entry alive. */
void gz_shm_peer_unwatch(struct gz_shm_peer *p)
{
	if (p->pidfd < 0)
		return;
	epoll_ctl(p->ctx->base.ev.epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
	close(p->pidfd);
	p->pidfd = -1;
}

static int peer_open(struct gz_shm_ctx *ctx, uint32_t gcid, uint64_t inc,
		     struct gz_shm_peer **out)
{
	char name[64];
	struct gz_shm_peer *p;
	uint64_t len, id[2];
	void *comp;
	int ret;

	gz_shm_name(ctx, name, sizeof(name), GENZIO_GCID_CID(gcid), inc,
		    ".comp");
	ret = gz_sys_shmfile_map(ctx->dirfd[GZ_SHM_DIR_SHM], name,
				 sizeof(struct gz_shm_comp),
				 sizeof(struct gz_shm_comp), 0, &comp, &len, id);
	if (ret == -ENOENT)
		return gz_err(-EHOSTUNREACH, "GCID %#x has no component file "
			      "(it left)", gcid);
	if (ret)
		return gz_err(ret, "map %s: %s", name, strerror(-ret));
	p = calloc(1, sizeof(*p));
	if (p)
		p->tgt.seg = calloc(GZ_SHM_MAX_SEG, sizeof(*p->tgt.seg));
	if (!p || !p->tgt.seg) {
		free(p);
		munmap(comp, sizeof(struct gz_shm_comp));
		return -ENOMEM;
	}
	p->comp = comp;
	/* what pid_check() looks for: the file we mapped */
	p->comp_id[0] = id[0];
	p->comp_id[1] = id[1];
	p->tgt.keys = p->comp->keys;
	p->tgt.key_mask = GZ_SHM_KEYS - 1;
	p->tgt.nseg = GZ_SHM_MAX_SEG;
	p->tgt.map_seg = peer_map_seg;
	p->tgt.proc_copy = peer_proc_copy;
	p->gcid = gcid;
	/* a CID of this fabric (checked by the caller): a word of our row */
	p->path = &ctx->fm.row[GENZIO_GCID_CID(gcid)];
	p->incarnation = inc;
	p->ctx = ctx;
	p->users = 1;
	p->pidfd = -1;
	p->gen = ++ctx->peer_gen;
	pthread_mutex_init(&p->map_lock, NULL);
	ret = peer_header(p, gcid, inc);
	if (ret) {
		gz_shm_peer_put(p);
		return gz_err(ret, "GCID %#x: %s", gcid, ret == -EHOSTUNREACH ?
			      "it has left, or is not ready" : strerror(-ret));
	}
	ret = gz_shm_guard_attach(p);
	if (ret) {
		gz_shm_peer_put(p);
		return gz_err(ret, "GCID %#x: its guard file: %s", gcid,
			      strerror(-ret));
	}
	peer_watch(p);
	*out = p;
	return 0;
}

int gz_shm_peer_get(struct gz_shm_ctx *ctx, uint32_t gcid,
		    struct gz_shm_peer **out)
{
	uint32_t cid = GENZIO_GCID_CID(gcid);
	struct gz_fabric_member m;
	struct gz_shm_peer *p;
	int ret;

	if (GENZIO_GCID_SID(gcid) != ctx->fabric.subnet || cid < 1 ||
	    cid > GZ_SHM_MAX_CID || gcid >> 28)
		return gz_err(-EHOSTUNREACH, "GCID %#x is not on fabric %s",
			      gcid, ctx->fabric.name);
	ret = gz_fabric_lookup(&ctx->fabric, cid, &m);
	if (ret == -EAGAIN)
		return gz_err(-EAGAIN, "the registry slot of GCID %#x stays "
			      "mid-update: try again", gcid);
	if (ret == -EHOSTUNREACH)
		return gz_err(ret, "no live component has GCID %#x", gcid);
	if (ret)
		return gz_err(ret, "cannot tell whether GCID %#x lives: %s",
			      gcid, strerror(-ret));
	p = ctx->peer[cid];
	if (p && p->incarnation == m.incarnation && gz_shm_peer_alive(p)) {
		p->users++;
		*out = p;
		return 0;
	}
	ret = peer_open(ctx, gcid, m.incarnation, out);
	if (ret)
		return ret;
	/* The context keeps one use of the current peer per CID. One that
	 * a new incarnation replaces is dead: say so now (queue pairs and
	 * address handles may hold it for long), and stop watching it, or
	 * its readable pidfd would keep the event fd readable for ever. */
	if (p) {
		gz_shm_peer_died(p);
		gz_shm_peer_unwatch(p);
		gz_shm_peer_put(p);
	}
	ctx->peer[cid] = *out;
	(*out)->users++;
	return 0;
}

void gz_shm_peer_put(struct gz_shm_peer *p)
{
	if (--p->users)
		return;
	if (p->ctx->peer[GENZIO_GCID_CID(p->gcid)] == p)
		p->ctx->peer[GENZIO_GCID_CID(p->gcid)] = NULL;
	for (uint32_t i = 0; i < p->tgt.nseg; i++)
		if (p->tgt.seg[i].base)
			gz_sys_shmfile_unmap(p->tgt.seg[i].base,
					     p->tgt.seg[i].len);
	free(p->tgt.seg);
	gz_shm_peer_unwatch(p);
	for (int i = 0; i < GZ_SHM_MAX_CHANNELS; i++) {
		uint64_t v = atomic_load(&p->chan[i]);

		if (v)
			close((int)(uint32_t)v);
	}
	for (uint32_t i = 0; i < atomic_load(&p->nretired) &&
			     i < GZ_SHM_MAX_CHANNELS; i++)
		if (p->retired[i] >= 0)
			close(p->retired[i]);
	gz_shm_guard_detach(p);
	munmap((void *)p->comp, sizeof(*p->comp));
	pthread_mutex_destroy(&p->map_lock);
	free(p);
}

void gz_shm_peer_died(struct gz_shm_peer *p)
{
	struct genzio_event e = { .type = GENZIO_EVENT_PEER_DEAD,
				  .gcid = p->gcid };

	/* every later check says dead, whoever found out first */
	atomic_store_explicit(&p->live.dead, 1, memory_order_relaxed);
	if (!atomic_exchange(&p->told, 1))
		gz_event_push(&p->ctx->base, &e);
}
