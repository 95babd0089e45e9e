// SPDX-License-Identifier: MIT
/*
 * The bridge's engine in software: slots (claims, attach, liveness,
 * cooling) and queue pair states; the execution of their commands is
 * bridge_exec.c's. A slot's words are the component's: each is loaded
 * once where it is used, and what is kept (a queue pair's rings, its
 * peer, a completion queue's ring) is a checked copy taken when the
 * queue pair goes to RTS.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "providers/vfio/bridge_engine.h"

#define SLOT_MIN                                                               \
	(2 * GZ_BRIDGE_SLOT_ALIGN) /* control, keys, queues; window            \
				    */
#define KEYS_LEN ((uint64_t)GZ_BRIDGE_KEYS * sizeof(struct gz_key_entry))
#define TIMEOUT_NS 1000000000ull
/* A component that beats (a guest) is dead after this long without a
 * beat: generous, as a guest under emulation can stall for a while, and
 * a host process is told dead by its lock at once anyway. */
#define REAP_NS 10000000000ull
#define LOCK_LOOK_NS 200000ull
#define COOL_NS 1000000000ull
#define ROUTE_NS 1000000000ull /* shm's GENZIO_ROUTE_TIMEOUT_MS default */

/* A data window has no segment to map on first use: it is mapped. */
static int no_map(struct gz_xdm_target *t, uint32_t idx)
{
	(void)t;
	(void)idx;
	return -ENXIO;
}

uint32_t gz_bridge_engine_fit(uint64_t len, uint32_t nslots,
			      uint64_t *slot_size)
{
	const uint64_t slot0 = GZ_BRIDGE_SLOT_ALIGN;
	uint64_t fit = len > slot0 ? (len - slot0) / SLOT_MIN : 0;

	if (fit > GZ_BRIDGE_MAX_SLOTS)
		fit = GZ_BRIDGE_MAX_SLOTS;
	if (!nslots)
		nslots = (uint32_t)fit;
	if (!nslots || nslots > fit)
		return 0;
	*slot_size = ((len - slot0) / nslots) & ~(GZ_BRIDGE_SLOT_ALIGN - 1);
	return nslots;
}

int gz_bridge_engine_init(struct gz_bridge_engine *e, void *base, uint64_t len,
			  uint32_t nslots, uint32_t subnet, const char *fabric)
{
	const uint64_t slot0 = GZ_BRIDGE_SLOT_ALIGN; /* page 0 and padding */
	uint64_t inc = 0, size = 0;
	uint32_t n = gz_bridge_engine_fit(len, nslots, &size);

	memset(e, 0, sizeof(*e));
	if (!subnet || subnet > 0xffff)
		return gz_err(-EINVAL, "bridge: subnet %#x is not 1 to 0xffff",
			      subnet);
	if (!n)
		return gz_err(-EINVAL,
			      "bridge: %llu bytes do not hold %u slots of at "
			      "least %llu MiB after the header's 2 MiB",
			      (unsigned long long)len, nslots,
			      (unsigned long long)(SLOT_MIN >> 20));
	nslots = n;
	e->base = base;
	e->len = len;
	e->hdr = base;
	e->nslots = nslots;
	e->subnet = subnet;
	e->slot_size = size;
	e->timeout_ns = TIMEOUT_NS;
	e->reap_ns = REAP_NS;
	e->cool_ns = COOL_NS;
	e->route_ns = ROUTE_NS;
	if (getrandom(&inc, sizeof(inc), 0) != sizeof(inc))
		inc ^= (uint64_t)(uintptr_t)e; /* any value differs enough */
	/* a component that sees the magic sees the rest */
	atomic_store_explicit((_Atomic uint32_t *)&e->hdr->magic, 0,
			      memory_order_relaxed);
	e->hdr->version = GZ_BRIDGE_VERSION;
	e->hdr->nslots = nslots;
	e->hdr->subnet = subnet;
	e->hdr->slot0 = slot0;
	e->hdr->slot_size = e->slot_size;
	/* a host process: no DMA, no interrupt */
	e->hdr->caps = GZ_BRIDGE_CAP_MSG;
	e->hdr->incarnation = inc;
	/* a last run's events and fabric are none of this one's */
	memset(e->hdr->fabric, 0, sizeof(e->hdr->fabric));
	if (fabric)
		snprintf(e->hdr->fabric, sizeof(e->hdr->fabric), "%s", fabric);
	atomic_store(&e->hdr->ev_head, 0);
	memset(e->hdr->ev, 0, sizeof(e->hdr->ev));
	atomic_store(&e->hdr->heartbeat, 0);
	for (uint32_t i = 0; i < nslots; i++) {
		struct gz_bridge_eslot *es = &e->slot[i];

		es->base = e->base + slot0 + (uint64_t)i * e->slot_size;
		es->member = &e->hdr->member[i];
		atomic_store(es->member, 0);
		es->window = es->base + GZ_BRIDGE_SLOT_ALIGN;
		es->window_len = e->slot_size - GZ_BRIDGE_SLOT_ALIGN;
		memset(es->base, 0, GZ_BRIDGE_CTL_LEN);
	}
	return 0;
}

void gz_bridge_engine_publish(struct gz_bridge_engine *e)
{
	atomic_store_explicit((_Atomic uint32_t *)&e->hdr->magic,
			      GZ_BRIDGE_MAGIC, memory_order_release);
}

/* Give slot @es its GCID and layout; its component may set up once it
 * sees ATTACHED. */
static void attach(struct gz_bridge_engine *e, struct gz_bridge_eslot *es,
		   uint32_t i, uint64_t now)
{
	struct gz_bridge_slot *s = gz_bridge_ctl(es);

	/* its CID on the host fabric first (the engine's thread joins);
	 * one refused is a claim taken back, which the claimer sees */
	if (e->fab) {
		int ret = gz_bridge_fab_join(e->fab, i);

		if (ret == -EAGAIN)
			return;
		if (ret) {
			gz_bridge_detach(e, es);
			return;
		}
	}
	es->gcid = e->subnet << 12 | (i + 1);
	memset(s->qp, 0, sizeof(s->qp));
	memset(s->cq, 0, sizeof(s->cq));
	memset(es->base + GZ_BRIDGE_CTL_LEN, 0, KEYS_LEN); /* no key yet */
	s->gcid = es->gcid;
	s->keys_off = GZ_BRIDGE_CTL_LEN;
	s->nkeys = GZ_BRIDGE_KEYS;
	s->queues_off = GZ_BRIDGE_CTL_LEN + KEYS_LEN;
	s->queues_len = GZ_BRIDGE_QUEUES_LEN;
	s->window_off = GZ_BRIDGE_SLOT_ALIGN;
	s->window_len = es->window_len;
	memset(es->qp, 0, sizeof(es->qp));
	memset(es->cq, 0, sizeof(es->cq));
	es->seg = (struct gz_xdm_seg){es->window, es->window_len};
	es->target = (struct gz_xdm_target){
	    .keys =
		(const struct gz_key_entry *)(const void *)(es->base +
							    GZ_BRIDGE_CTL_LEN),
	    .key_mask = GZ_BRIDGE_KEYS - 1,
	    .nseg = 1,
	    .seg = &es->seg,
	    .map_seg = no_map,
	};
	es->hb = atomic_load(&s->heartbeat);
	es->hb_ns = now;
	es->locked = 0;
	/* never 0: a component's "no generation" */
	es->generation = ++e->generation ? e->generation : ++e->generation;
	s->generation = es->generation;
	/* a member before anyone sees ATTACHED: the GCID a component
	 * hands out at once is reachable */
	atomic_store_explicit(es->member, es->generation, memory_order_release);
	/* only from CLAIMED: a claimer that gave up meanwhile (CLOSING)
	 * leaves it free at the next round */
	if (atomic_compare_exchange_strong_explicit(
		&s->state, &(uint32_t){GZ_BRIDGE_CLAIMED}, GZ_BRIDGE_ATTACHED,
		memory_order_release, memory_order_relaxed))
		es->state = GZ_BRIDGE_ATTACHED;
	else
		atomic_store_explicit(es->member, 0, memory_order_release);
}

/* The slot is free again (claimable once it cooled): closed, dead, or
 * garbage in its state. Work of its peers to it completes RETRY_EXC
 * from now on. */
void gz_bridge_detach(struct gz_bridge_engine *e, struct gz_bridge_eslot *es)
{
	struct gz_bridge_slot *s = gz_bridge_ctl(es);

	if (e->fab)
		gz_bridge_fab_leave(e->fab, (uint32_t)(es - e->slot));
	es->state = GZ_BRIDGE_FREE;
	es->gcid = 0;
	es->generation = 0;
	atomic_store_explicit(es->member, 0, memory_order_release);
	es->locked = 0;
	/* nothing of this component for the next one to read: its pages
	 * given back (shmem, hugetlbfs), else zeroed */
	if (madvise(es->window, es->window_len, MADV_REMOVE))
		memset(es->window, 0, es->window_len);
	memset(es->base + GZ_BRIDGE_CTL_LEN, 0,
	       GZ_BRIDGE_SLOT_ALIGN - GZ_BRIDGE_CTL_LEN);
	memset(es->qp, 0, sizeof(es->qp));
	memset(es->cq, 0, sizeof(es->cq));
	memset((uint8_t *)s + sizeof(s->state), 0,
	       GZ_BRIDGE_CTL_LEN - sizeof(s->state));
	es->freed_ns = e->now_ns;
	atomic_store_explicit(&s->state, GZ_BRIDGE_COOLING,
			      memory_order_release);
}

/* Whether [@off, +@len) is inside the slot's queue area, 64-aligned. */
static int in_queues(uint64_t off, uint64_t len)
{
	const uint64_t q0 = GZ_BRIDGE_CTL_LEN + KEYS_LEN;

	return !(off % 64) && off >= q0 && len <= GZ_BRIDGE_QUEUES_LEN &&
	       off - q0 <= GZ_BRIDGE_QUEUES_LEN - len;
}

static int ring_ok(uint64_t off, uint32_t ent)
{
	return ent && !(ent & (ent - 1)) && ent <= GZ_BRIDGE_MAX_RING &&
	       in_queues(off, (uint64_t)ent * 64);
}

/* Completion queue @n of @es for a queue pair going to RTS: adopted from
 * a copy of its record when it has no user yet. 0 or -EINVAL. */
static int cq_use(struct gz_bridge_eslot *es, uint32_t n)
{
	struct gz_bridge_ecq *c = &es->cq[n];
	struct gz_bridge_cq *r = &gz_bridge_ctl(es)->cq[n];
	uint64_t off;
	uint32_t ent, epoch;

	if (c->users) {
		c->users++;
		return 0;
	}
	off = GZ_READ_ONCE(r->ring_off);
	ent = GZ_READ_ONCE(r->ent);
	epoch = GZ_READ_ONCE(r->epoch);
	if (!ring_ok(off, ent))
		return -EINVAL;
	/* the same queue again (its queue pairs went to RESET and back):
	 * it goes on where it was, as its consumer does */
	if (c->ent != (struct gz_xdm_cqe *)(void *)(es->base + off) ||
	    c->mask != ent - 1 || c->epoch != epoch)
		*c = (struct gz_bridge_ecq){
		    .epoch = epoch,
		    .mask = ent - 1,
		    .shift = (uint32_t)__builtin_ctz(ent),
		    .ent = (struct gz_xdm_cqe *)(void *)(es->base + off),
		};
	c->users = 1;
	atomic_store_explicit(&r->prod, c->prod, memory_order_release);
	return 0;
}

static void cq_put(struct gz_bridge_eslot *es, uint32_t n)
{
	if (es->cq[n].users)
		es->cq[n].users--;
}

void gz_bridge_qp_state(struct gz_bridge_qp *r, uint32_t state, uint32_t st)
{
	r->status = st;
	atomic_store_explicit(&r->state, state, memory_order_release);
}

static void to_reset(struct gz_bridge_eslot *es, uint32_t n)
{
	struct gz_bridge_eqp *q = &es->qp[n];

	/* an ERR queue pair that got to RTS still holds its cqs */
	if (q->rts || (q->state == GZ_BRIDGE_QP_ERR && q->q.ent)) {
		cq_put(es, q->scq);
		cq_put(es, q->rcq);
	}
	memset(q, 0, sizeof(*q));
	gz_bridge_qp_state(&gz_bridge_ctl(es)->qp[n], GZ_BRIDGE_QP_RESET, 0);
}

/* A queue pair the engine stops serving (a broken producer), with its
 * cqs kept until the component asks for RESET. */
void gz_bridge_to_err(struct gz_bridge_eslot *es, uint32_t n, uint8_t st)
{
	es->qp[n].rts = 0;
	es->qp[n].state = GZ_BRIDGE_QP_ERR;
	gz_bridge_qp_state(&gz_bridge_ctl(es)->qp[n], GZ_BRIDGE_QP_ERR, st);
}

/*
 * Queue pair @n of @es, about to be RTS: paired at once with its peer if
 * that one connected to it first (from then on both are tied to each
 * other's generation). 0: refused, its peer serves another queue pair,
 * or is tied to a component that had our GCID before us.
 */
static int rts_pair(struct gz_bridge_engine *e, struct gz_bridge_eslot *es,
		    uint32_t n)
{
	struct gz_bridge_eqp *q = &es->qp[n], *p;
	struct gz_bridge_eslot *t = gz_bridge_find(e, q->peer_gcid);

	if (!t || (q->peer_gen && q->peer_gen != t->generation))
		return 1; /* not there (yet), or another attach: work to it
			   * fails RETRY_EXC */
	p = &t->qp[q->peer_qpn];
	if (!p->rts || p->flushing)
		return 1; /* not connected yet: work to it waits */
	if (!gz_bridge_paired(t, q, es->gcid, n, es->generation))
		return 0;
	q->peer_gen = t->generation;
	p->peer_gen = es->generation;
	q->was_paired = p->was_paired = 1;
	return 1;
}

/* The receive ring of record @r, a checked copy into @q: 1, or 0 when
 * it makes no sense (none is fine: messages to it wait for a receive). */
static int rq_take(struct gz_bridge_eqp *q, struct gz_bridge_qp *r)
{
	uint64_t off = GZ_READ_ONCE(r->rq_off);
	uint32_t ent = GZ_READ_ONCE(r->rq_ent);
	uint32_t us = GZ_READ_ONCE(r->rdm_us);

	q->rdm_ns = (uint64_t)(us ? us : 100000u) * 1000u;
	if (!ent)
		return 1;
	if ((ent & (ent - 1)) || ent > GZ_BRIDGE_MAX_RING ||
	    !in_queues(off, (uint64_t)ent * sizeof(struct gz_bridge_rqe)))
		return 0;
	q->has_rq = 1;
	q->rq_off = off;
	q->rq_mask = ent - 1;
	q->rq_head = GZ_READ_ONCE(r->rq_first);
	atomic_store_explicit(&r->rq_head, q->rq_head, memory_order_release);
	return 1;
}

static void to_rts(struct gz_bridge_engine *e, struct gz_bridge_eslot *es,
		   uint32_t n)
{
	struct gz_bridge_qp *r = &gz_bridge_ctl(es)->qp[n];
	struct gz_bridge_eqp *q = &es->qp[n];
	uint64_t off = GZ_READ_ONCE(r->cmd_off);
	uint32_t ent = GZ_READ_ONCE(r->cmd_ent);

	*q = (struct gz_bridge_eqp){
	    .pd = GZ_READ_ONCE(r->pd),
	    .scq = GZ_READ_ONCE(r->scq),
	    .rcq = GZ_READ_ONCE(r->rcq),
	    .peer_gcid = GZ_READ_ONCE(r->peer_gcid),
	    .peer_qpn = GZ_READ_ONCE(r->peer_qpn),
	    /* an address of a component gone since: its successor on the
	     * GCID is not reached (route: RETRY_EXC) */
	    .peer_gen = GZ_READ_ONCE(r->peer_gen),
	    .tag = GZ_READ_ONCE(r->tag),
	};
	if (!ring_ok(off, ent) || !rq_take(q, r) ||
	    q->scq >= GZ_BRIDGE_MAX_CQ || q->rcq >= GZ_BRIDGE_MAX_CQ ||
	    q->peer_qpn >= GZ_BRIDGE_MAX_QP || cq_use(es, q->scq)) {
		memset(q, 0, sizeof(*q));
		q->state = GZ_BRIDGE_QP_ERR;
		gz_bridge_qp_state(r, GZ_BRIDGE_QP_ERR, GZ_XDM_ST_GENERAL_ERR);
		return;
	}
	if (cq_use(es, q->rcq)) {
		cq_put(es, q->scq);
		memset(q, 0, sizeof(*q));
		q->state = GZ_BRIDGE_QP_ERR;
		gz_bridge_qp_state(r, GZ_BRIDGE_QP_ERR, GZ_XDM_ST_GENERAL_ERR);
		return;
	}
	gz_cmdq_engine_init(&q->q, es->base + off, ent, &r->cmd_tail,
			    &r->cmd_head);
	atomic_store_explicit(&r->cmd_head, 0, memory_order_relaxed);
	q->rts = 1;
	q->state = GZ_BRIDGE_QP_RTS;
	q->rd = !q->peer_gcid;
	/* decided before anyone sees RTS: a connect that sees it holds */
	if (!q->rd && !rts_pair(e, es, n))
		gz_bridge_to_err(es, n, GZ_XDM_ST_REM_QP);
	else
		gz_bridge_qp_state(r, GZ_BRIDGE_QP_RTS, 0);
}

static void qp_states(struct gz_bridge_engine *e, struct gz_bridge_eslot *es)
{
	struct gz_bridge_slot *s = gz_bridge_ctl(es);

	for (uint32_t n = 0; n < GZ_BRIDGE_MAX_QP; n++) {
		uint32_t want =
		    atomic_load_explicit(&s->qp[n].want, memory_order_acquire);
		uint32_t now = es->qp[n].state;

		if (want == GZ_BRIDGE_QP_RTS && now == GZ_BRIDGE_QP_RESET)
			to_rts(e, es, n);
		else if (want != GZ_BRIDGE_QP_RTS && now != GZ_BRIDGE_QP_RESET)
			to_reset(es, n);
	}
}

/*
 * What the lock of the component of attached slot @es says: 1 it lives,
 * 0 it died (the kernel dropped a lock it held), -1 nothing (it holds
 * none, or it cannot be told). A lock counts once it was seen held: a
 * component's word that claims one is no lock.
 */
int gz_bridge_lock_says(const struct gz_bridge_engine *e,
			struct gz_bridge_eslot *es)
{
	int held;

	if (!e->lock_held ||
	    (!es->locked &&
	     !(GZ_READ_ONCE(gz_bridge_ctl(es)->caps) & GZ_BRIDGE_COMP_LOCK)))
		return -1;
	held = e->lock_held(e->lock_arg, (uint64_t)(es->base - e->base));
	if (held > 0)
		es->locked = 1;
	if (held < 0)
		return -1;
	return held ? 1 : es->locked ? 0 : -1;
}

static void slot_states(struct gz_bridge_engine *e, uint32_t i, uint64_t now)
{
	struct gz_bridge_eslot *es = &e->slot[i];
	struct gz_bridge_slot *s = gz_bridge_ctl(es);
	uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
	uint64_t hb;

	if (es->state == GZ_BRIDGE_FREE) {
		if (st == GZ_BRIDGE_CLAIMED)
			attach(e, es, i, now);
		else if (st == GZ_BRIDGE_COOLING && e->fab &&
			 !gz_bridge_fab_idle(e->fab, i))
			gz_bridge_fab_leave(e->fab, i); /* asked, or again */
		else if (st == GZ_BRIDGE_COOLING &&
			 now - es->freed_ns >= e->cool_ns)
			atomic_store_explicit(&s->state, GZ_BRIDGE_FREE,
					      memory_order_release);
		else if (st != GZ_BRIDGE_FREE && st != GZ_BRIDGE_COOLING)
			gz_bridge_detach(e, es); /* a state only we may write */
		return;
	}
	hb = atomic_load_explicit(&s->heartbeat, memory_order_relaxed);
	if (hb != es->hb) {
		es->hb = hb;
		es->hb_ns = now;
	}
	if (st == GZ_BRIDGE_ATTACHED && now - es->lock_ns > LOCK_LOOK_NS) {
		int says = gz_bridge_lock_says(e, es);

		es->lock_ns = now;
		if (!says)
			st = GZ_BRIDGE_FREE; /* dead, whatever it wrote */
		else if (says > 0)
			es->hb_ns = now; /* alive: its kernel says so */
	}
	if (st != GZ_BRIDGE_ATTACHED || now - es->hb_ns > e->reap_ns)
		gz_bridge_detach(e, es); /* closed, killed, or garbage */
	else
		qp_states(e, es);
}

uint32_t gz_bridge_engine_step(struct gz_bridge_engine *e, uint64_t now_ns,
			       uint32_t budget)
{
	uint32_t done = 0;

	atomic_fetch_add_explicit(&e->hdr->heartbeat, 1, memory_order_release);
	e->now_ns = now_ns;
	for (uint32_t i = 0; i < e->nslots; i++)
		slot_states(e, i, now_ns);
	for (uint32_t i = 0; i < e->nslots; i++)
		for (uint32_t n = 0; e->slot[i].state == GZ_BRIDGE_ATTACHED &&
				     n < GZ_BRIDGE_MAX_QP;
		     n++)
			if (e->slot[i].qp[n].rts)
				done += gz_bridge_run_qp(e, &e->slot[i], n,
							 now_ns, budget);
	return done;
}
