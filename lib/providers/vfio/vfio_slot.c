// SPDX-License-Identifier: MIT
/*
 * A component's side of a genzio bridge: the device's words (header,
 * layout, states, completions) are checked where they are read; ours are
 * written in the order the engine reads them (a description, then the
 * state that says it is complete).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "fabric/fabric.h"
#include "gz.h"
#include "providers/vfio/vfio_slot.h"
#include "xdm/keytab.h"

int gz_bridge_map_check(void *base, uint64_t len, struct gz_bridge_map *m)
{
	struct gz_bridge_hdr *h = base;

	memset(m, 0, sizeof(*m));
	if (len < GZ_BRIDGE_SLOT_ALIGN ||
	    atomic_load_explicit((_Atomic uint32_t *)&h->magic,
				 memory_order_acquire) != GZ_BRIDGE_MAGIC)
		return -ENODEV;
	m->base = base;
	m->len = len;
	m->hdr = h;
	m->nslots = GZ_READ_ONCE(h->nslots);
	m->subnet = GZ_READ_ONCE(h->subnet);
	m->slot0 = GZ_READ_ONCE(h->slot0);
	m->slot_size = GZ_READ_ONCE(h->slot_size);
	m->caps = GZ_READ_ONCE(h->caps);
	m->incarnation = GZ_READ_ONCE(h->incarnation);
	memcpy(m->fabric, h->fabric, sizeof(m->fabric));
	m->fabric[sizeof(m->fabric) - 1] = 0;
	if (m->fabric[0] && !gz_fabric_name_ok(m->fabric))
		m->fabric[0] = 0; /* garbage: no fabric we could name */
	if (GZ_READ_ONCE(h->version) != GZ_BRIDGE_VERSION)
		return gz_err(-EPROTO, "bridge: layout version %u, not %u",
			      GZ_READ_ONCE(h->version), GZ_BRIDGE_VERSION);
	/* every slot inside what we mapped, each big enough for its
	 * fixed parts and a window */
	if (!m->nslots || m->nslots > GZ_BRIDGE_MAX_SLOTS ||
	    m->slot_size < 2 * GZ_BRIDGE_SLOT_ALIGN ||
	    m->slot_size % GZ_BRIDGE_SLOT_ALIGN ||
	    m->slot0 % GZ_BRIDGE_SLOT_ALIGN || m->slot0 < 4096 ||
	    m->slot0 > len || m->slot_size > (len - m->slot0) / m->nslots ||
	    !m->subnet || m->subnet > 0xffff)
		return gz_err(-EPROTO,
			      "bridge: %u slots of %llu bytes from %llu do not "
			      "fit its %llu bytes (subnet %#x)",
			      m->nslots, (unsigned long long)m->slot_size,
			      (unsigned long long)m->slot0,
			      (unsigned long long)len, m->subnet);
	return 0;
}

int gz_bridge_alive(const struct gz_bridge_map *m, uint64_t *seen,
		    uint64_t *since_ns, uint64_t now_ns, uint64_t timeout_ns)
{
	uint64_t hb =
	    atomic_load_explicit(&m->hdr->heartbeat, memory_order_acquire);

	/* a cleared magic (a clean stop) or another incarnation (a new
	 * engine formatted it under us): this bridge is gone */
	if (atomic_load_explicit((_Atomic uint32_t *)&m->hdr->magic,
				 memory_order_relaxed) != GZ_BRIDGE_MAGIC ||
	    GZ_READ_ONCE(m->hdr->incarnation) != m->incarnation)
		return -ENODEV;
	if (hb != *seen || !*since_ns) {
		*seen = hb;
		*since_ns = now_ns;
	}
	/* signed: a caller's older clock reading is no long silence */
	return (int64_t)(now_ns - *since_ns) > (int64_t)timeout_ns ? -ENODEV
								   : 0;
}

/* The layout the engine gave slot @v at attach, as our copy. */
static int layout(struct gz_vslot *v)
{
	struct gz_bridge_slot *s = v->s;
	const uint64_t size = v->m->slot_size;
	uint64_t koff = GZ_READ_ONCE(s->keys_off);
	uint32_t nkeys = GZ_READ_ONCE(s->nkeys);
	uint64_t woff = GZ_READ_ONCE(s->window_off);
	uint64_t kend;

	v->gcid = GZ_READ_ONCE(s->gcid);
	v->generation = GZ_READ_ONCE(s->generation);
	v->queues_off = GZ_READ_ONCE(s->queues_off);
	v->queues_len = GZ_READ_ONCE(s->queues_len);
	v->window_len = GZ_READ_ONCE(s->window_len);
	kend = koff + (uint64_t)nkeys * sizeof(struct gz_key_entry);
	/* in the slot, in order, none over another or the control area:
	 * keys, queues, window */
	if (v->gcid >> 12 != v->m->subnet || !(v->gcid & 0xfff) ||
	    !v->generation || !nkeys || (nkeys & (nkeys - 1)) || koff % 64 ||
	    koff < GZ_BRIDGE_CTL_LEN || koff > size ||
	    nkeys > (size - koff) / sizeof(struct gz_key_entry) ||
	    v->queues_off % 64 || v->queues_off < kend ||
	    v->queues_off > size || v->queues_len > size - v->queues_off ||
	    woff % 4096 || woff < v->queues_off + v->queues_len ||
	    woff > size || v->window_len > size - woff || !v->window_len)
		return gz_err(-EPROTO,
			      "bridge: slot at %p has a layout that does not "
			      "fit it (GCID %#x)",
			      (void *)v->base, v->gcid);
	/* the fixed parts, wherever the engine put them; the window is
	 * reached range by range as it is handed out */
	if (v->m->reach &&
	    v->m->reach(v->m->reach_arg, (uint64_t)(v->base - v->m->base), woff,
			1))
		return -ENOMEM;
	v->keys = (struct gz_key_entry *)(void *)(v->base + koff);
	v->key_mask = nkeys - 1;
	v->window = v->base + woff;
	v->ring_units = (uint32_t)(v->queues_len / GZ_VSLOT_UNIT);
	if (v->ring_units > GZ_VSLOT_UNITS)
		v->ring_units = GZ_VSLOT_UNITS;
	memset(v->ring_map, 0, sizeof(v->ring_map));
	return 0;
}

/* A claim gives up on an engine that has not beaten for this long. */
#define HB_WAIT_NS 1000000000ull

int gz_vslot_claim(const struct gz_bridge_map *m, struct gz_vslot *v,
		   uint64_t (*clock)(void), uint64_t timeout_ns)
{
	uint64_t start, hb = 0, hb_ns = 0;
	uint64_t refused = 0; /* slots whose claim the engine took back */
	uint32_t cooling, st;
	int ret;

	memset(v, 0, sizeof(*v));
	v->m = m;
	if (getrandom(&v->owner, sizeof(v->owner), 0) != sizeof(v->owner))
		v->owner = (uint64_t)(uintptr_t)v ^ clock();
	start = clock();
again:
	cooling = 0;
	for (uint32_t i = 0; i < m->nslots && !v->s; i++) {
		uint64_t off = m->slot0 + (uint64_t)i * m->slot_size;
		struct gz_bridge_slot *s = (void *)(m->base + off);
		uint32_t free_ = GZ_BRIDGE_FREE;

		if ((refused >> i & 1) ||
		    (m->reach && m->reach(m->reach_arg, off, 4096, 1)))
			continue;
		if (atomic_compare_exchange_strong(&s->state, &free_,
						   GZ_BRIDGE_CLAIMED) &&
		    (!m->reach ||
		     !m->reach(m->reach_arg, off, GZ_BRIDGE_CTL_LEN, 1))) {
			v->s = s;
			v->base = (uint8_t *)s;
		} else {
			cooling += free_ == GZ_BRIDGE_COOLING;
			/* ours, but not reachable whole: let it go */
			if (m->reach && !free_)
				atomic_store(&s->state, GZ_BRIDGE_CLOSING);
			if (m->reach)
				m->reach(m->reach_arg, off, m->slot_size, 0);
		}
	}
	/* none free, some freed a moment ago: they soon are, while an
	 * engine beats to free them */
	if (!v->s && cooling) {
		uint64_t now = clock();

		if (gz_bridge_alive(m, &hb, &hb_ns, now, HB_WAIT_NS))
			return gz_err(-ENODEV,
				      "bridge: its slots wait for an engine "
				      "that stopped (start genzio-bridged on "
				      "the file again)");
		if (now - start < timeout_ns) {
			usleep(1000);
			goto again;
		}
	}
	if (!v->s && refused)
		return gz_err(-EADDRNOTAVAIL,
			      "bridge: the engine refused our claim of every "
			      "slot free: its fabric %s has no component free "
			      "for them (genzio-bridged says why; "
			      "genzio-fabric -f %s show)",
			      m->fabric, m->fabric);
	if (!v->s)
		return gz_err(-EBUSY,
			      "bridge: all %u slots are taken (close a "
			      "context, or start genzio-bridged with more: "
			      "-n, -S)",
			      m->nslots);
	v->s->owner = v->owner;
	gz_vslot_beat(v);
	for (uint64_t t0 = clock();
	     (st = atomic_load_explicit(&v->s->state, memory_order_acquire)) !=
	     GZ_BRIDGE_ATTACHED;
	     sched_yield()) {
		uint64_t now = clock();

		/* taken back by the engine: its fabric gave no GCID for it
		 * (a description that declares none, one removed, one
		 * another provider holds); not ours: try the others */
		if (st != GZ_BRIDGE_CLAIMED) {
			uint64_t off = (uint64_t)((uint8_t *)v->s - m->base);

			refused |= 1ull << ((off - m->slot0) / m->slot_size);
			if (m->reach)
				m->reach(m->reach_arg, off, m->slot_size, 0);
			v->s = NULL;
			v->base = NULL;
			goto again;
		}

		/* an engine that does not beat will not attach us either:
		 * a killed one leaves its magic behind */
		if (gz_bridge_alive(m, &hb, &hb_ns, now, HB_WAIT_NS) ||
		    now - t0 > timeout_ns) {
			gz_vslot_release(v);
			return gz_err(
			    -ENODEV,
			    "bridge: no engine attached our slot in "
			    "%llu ms, its heartbeat %s (start "
			    "genzio-bridged on the file again, or "
			    "remove it)",
			    (unsigned long long)((now - t0) / 1000000),
			    now - hb_ns > HB_WAIT_NS ? "stopped" : "going on");
		}
	}
	ret = layout(v);
	if (ret)
		gz_vslot_release(v); /* the engine frees it */
	return ret;
}

int gz_vslot_window_reach(struct gz_vslot *v, uint64_t off, uint64_t len,
			  int on)
{
	if (!v->m->reach)
		return 0;
	if (off > v->window_len || len > v->window_len - off)
		return -EINVAL;
	return v->m->reach(v->m->reach_arg,
			   (uint64_t)(v->window - v->m->base) + off, len, on);
}

/* Whether the slot is still ours: the attach we were given. */
static int ours(const struct gz_vslot *v)
{
	return GZ_READ_ONCE(v->s->generation) == v->generation &&
	       GZ_READ_ONCE(v->s->owner) == v->owner;
}

void gz_vslot_release(struct gz_vslot *v)
{
	uint32_t st = GZ_BRIDGE_ATTACHED;

	if (!v->s || v->lost)
		return;
	/* a claim that timed out or whose layout we refused, or a slot
	 * still ours; never another component's that the engine gave it
	 * after reaping us */
	if (!v->generation) {
		if (!atomic_compare_exchange_strong(
			&v->s->state, &(uint32_t){GZ_BRIDGE_CLAIMED},
			GZ_BRIDGE_CLOSING) &&
		    GZ_READ_ONCE(v->s->owner) == v->owner)
			atomic_compare_exchange_strong(&v->s->state, &st,
						       GZ_BRIDGE_CLOSING);
	} else if (ours(v)) {
		atomic_compare_exchange_strong(&v->s->state, &st,
					       GZ_BRIDGE_CLOSING);
	}
	/* from now on nothing of ours writes the slot: it may be another
	 * component's at any moment */
	v->lost = 1;
}

int gz_vslot_beat(struct gz_vslot *v)
{
	if (v->lost || (v->generation && !ours(v)))
		return -ENODEV;
	atomic_fetch_add_explicit(&v->s->heartbeat, 1, memory_order_relaxed);
	return 0;
}

/* Rings come from the queue area in units of GZ_VSLOT_UNIT bytes, a bit
 * each: first fit, so queues made and destroyed for ever never run out. */
static int units_free(const struct gz_vslot *v, uint32_t at, uint32_t n)
{
	for (uint32_t i = at; i < at + n; i++)
		if (v->ring_map[i / 64] >> (i % 64) & 1)
			return 0;
	return 1;
}

static void units_set(struct gz_vslot *v, uint32_t at, uint32_t n, int on)
{
	for (uint32_t i = at; i < at + n; i++)
		if (on)
			v->ring_map[i / 64] |= 1ull << (i % 64);
		else
			v->ring_map[i / 64] &= ~(1ull << (i % 64));
}

/* Units a ring of @ent entries takes, 0 for a bad size. */
static uint32_t ring_units(uint32_t ent)
{
	if (!ent || (ent & (ent - 1)) || ent > GZ_BRIDGE_MAX_RING)
		return 0;
	return (uint32_t)(((uint64_t)ent * 64 + GZ_VSLOT_UNIT - 1) /
			  GZ_VSLOT_UNIT);
}

/* @bytes of the queue area, zeroed: their offset in the slot, or 0. */
static uint64_t area_alloc(struct gz_vslot *v, uint64_t bytes)
{
	uint32_t n = (uint32_t)((bytes + GZ_VSLOT_UNIT - 1) / GZ_VSLOT_UNIT);

	for (uint32_t at = 0; n && at + n <= v->ring_units; at++) {
		if (!units_free(v, at, n))
			continue;
		units_set(v, at, n, 1);
		memset(v->base + v->queues_off + (uint64_t)at * GZ_VSLOT_UNIT,
		       0, bytes);
		return v->queues_off + (uint64_t)at * GZ_VSLOT_UNIT;
	}
	return 0;
}

static void area_free(struct gz_vslot *v, uint64_t off, uint64_t bytes)
{
	uint32_t n = (uint32_t)((bytes + GZ_VSLOT_UNIT - 1) / GZ_VSLOT_UNIT);

	if (n && off >= v->queues_off)
		units_set(v, (uint32_t)((off - v->queues_off) / GZ_VSLOT_UNIT),
			  n, 0);
}

uint64_t gz_vslot_ring_alloc(struct gz_vslot *v, uint32_t ent)
{
	return ring_units(ent) ? area_alloc(v, (uint64_t)ent * 64) : 0;
}

void gz_vslot_ring_free(struct gz_vslot *v, uint64_t off, uint32_t ent)
{
	if (ring_units(ent))
		area_free(v, off, (uint64_t)ent * 64);
}

int gz_vslot_cq_create(struct gz_vslot *v, uint32_t n, uint32_t ent)
{
	struct gz_bridge_cq *r;
	uint64_t off;

	if (v->lost)
		return -ENODEV;
	if (n >= GZ_BRIDGE_MAX_CQ || v->cq[n].ent || !ring_units(ent))
		return -EINVAL;
	if (!(off = gz_vslot_ring_alloc(v, ent)))
		return -ENOSPC;
	r = &v->s->cq[n];
	r->ring_off = off;
	r->ent = ent;
	/* never 0, never the last one's: the engine starts it afresh */
	r->epoch = ++v->cq_epoch[n] ? v->cq_epoch[n] : ++v->cq_epoch[n];
	atomic_store(&r->cons, 0);
	atomic_store(&r->overrun, 0);
	v->cq[n] = (struct gz_vslot_cq){
	    .ent = (struct gz_xdm_cqe *)(void *)(v->base + off),
	    .mask = ent - 1,
	    .shift = (uint32_t)__builtin_ctz(ent),
	};
	return 0;
}

void gz_vslot_cq_destroy(struct gz_vslot *v, uint32_t n)
{
	struct gz_vslot_cq *c;

	if (n >= GZ_BRIDGE_MAX_CQ || !(c = &v->cq[n])->ent)
		return;
	gz_vslot_ring_free(v, (uint64_t)((uint8_t *)c->ent - v->base),
			   c->mask + 1);
	memset(c, 0, sizeof(*c));
}

int gz_vslot_qp_create(struct gz_vslot *v, uint32_t n, uint32_t ent,
		       uint32_t scq, uint32_t rcq, uint32_t pd,
		       uint32_t peer_gcid, uint32_t peer_qpn, uint32_t peer_gen)
{
	struct gz_bridge_qp *r;
	uint64_t off;

	if (v->lost)
		return -ENODEV;
	if (n >= GZ_BRIDGE_MAX_QP || scq >= GZ_BRIDGE_MAX_CQ ||
	    rcq >= GZ_BRIDGE_MAX_CQ || !v->cq[scq].ent || !v->cq[rcq].ent)
		return -EINVAL;
	r = &v->s->qp[n];
	/* the engine must have it in RESET: a description is read once */
	if (atomic_load_explicit(&r->want, memory_order_relaxed) !=
		GZ_BRIDGE_QP_RESET ||
	    gz_vslot_qp_state(v, n) != GZ_BRIDGE_QP_RESET)
		return -EBUSY;
	/* a queue pair made again keeps its ring */
	if (v->sq[n].ent && v->sq[n].mask + 1 == ent) {
		off = (uint64_t)(v->sq[n].ent - v->base);
	} else {
		gz_vslot_qp_free(v, n);
		if (!(off = gz_vslot_ring_alloc(v, ent)))
			return -ENOSPC;
	}
	r->cmd_off = off;
	r->cmd_ent = ent;
	r->scq = scq;
	r->rcq = rcq;
	r->pd = pd;
	r->peer_gcid = peer_gcid;
	r->peer_qpn = peer_qpn;
	r->peer_gen = peer_gen;
	atomic_store_explicit(&r->cmd_tail, 0, memory_order_relaxed);
	gz_cmdq_init(&v->sq[n], v->base + off, ent, &r->cmd_head,
		     gz_cmdq_ring_mem, &r->cmd_tail);
	/* the description before the request that says it is complete */
	atomic_store_explicit(&r->want, GZ_BRIDGE_QP_RTS, memory_order_release);
	return 0;
}

int gz_vslot_rq_create(struct gz_vslot *v, uint32_t n, uint32_t ent)
{
	struct gz_bridge_qp *r;
	uint64_t off;

	if (v->lost)
		return -ENODEV;
	if (n >= GZ_BRIDGE_MAX_QP || v->rq[n].ent || !ent ||
	    (ent & (ent - 1)) || ent > GZ_BRIDGE_MAX_RING)
		return -EINVAL;
	if (!(off =
		  area_alloc(v, (uint64_t)ent * sizeof(struct gz_bridge_rqe))))
		return -ENOSPC;
	r = &v->s->qp[n];
	r->rq_off = off;
	r->rq_ent = ent;
	v->rq[n] = (struct gz_vslot_rq){
	    .ent = (struct gz_bridge_rqe *)(void *)(v->base + off),
	    .mask = ent - 1,
	};
	return 0;
}

void gz_vslot_rq_start(struct gz_vslot *v, uint32_t n, uint32_t first,
		       uint32_t tail, uint32_t rdm_us, uint32_t tag)
{
	if (v->lost || n >= GZ_BRIDGE_MAX_QP)
		return;
	v->s->qp[n].rq_first = first;
	v->s->qp[n].rdm_us = rdm_us;
	v->s->qp[n].tag = tag;
	/* and the tail, whatever a queue pair before us at @n left: none
	 * posted since @first yet, or those posted in RESET */
	atomic_store_explicit(&v->s->qp[n].rq_tail, tail, memory_order_relaxed);
}

void gz_vslot_rq_free(struct gz_vslot *v, uint32_t n)
{
	if (n >= GZ_BRIDGE_MAX_QP || !v->rq[n].ent)
		return;
	area_free(v, (uint64_t)((uint8_t *)v->rq[n].ent - v->base),
		  (uint64_t)(v->rq[n].mask + 1) * sizeof(struct gz_bridge_rqe));
	memset(&v->rq[n], 0, sizeof(v->rq[n]));
	if (!v->lost) {
		v->s->qp[n].rq_off = 0;
		v->s->qp[n].rq_ent = 0;
	}
}

void gz_vslot_qp_free(struct gz_vslot *v, uint32_t n)
{
	if (n >= GZ_BRIDGE_MAX_QP || !v->sq[n].ent)
		return;
	gz_vslot_ring_free(v, (uint64_t)(v->sq[n].ent - v->base),
			   v->sq[n].mask + 1);
	memset(&v->sq[n], 0, sizeof(v->sq[n]));
}

void gz_vslot_qp_reset(struct gz_vslot *v, uint32_t n)
{
	if (n < GZ_BRIDGE_MAX_QP && !v->lost)
		atomic_store_explicit(&v->s->qp[n].want, GZ_BRIDGE_QP_RESET,
				      memory_order_release);
}

uint32_t gz_vslot_qp_state(const struct gz_vslot *v, uint32_t n)
{
	return n < GZ_BRIDGE_MAX_QP && !v->lost
		   ? atomic_load_explicit(&v->s->qp[n].state,
					  memory_order_acquire)
		   : GZ_BRIDGE_QP_ERR;
}

int gz_vslot_key_add(struct gz_vslot *v, uint32_t rkey, uint32_t pd,
		     uint64_t off, uint64_t len, uint64_t va, uint32_t access)
{
	struct gz_key_desc d = {.access = access,
				.domain = pd,
				.seg = 0,
				.base = va,
				.length = len,
				.seg_off = off};

	if (v->lost)
		return -ENODEV;
	if (off > v->window_len || len > v->window_len - off)
		return -EINVAL;
	return gz_keytab_insert(v->keys, v->key_mask, rkey, &d);
}

int gz_vslot_post(struct gz_vslot *v, uint32_t n, const struct gz_xdm_cmd *cmd)
{
	struct gz_cmdq *q;

	if (v->lost)
		return -ENODEV;
	if (n >= GZ_BRIDGE_MAX_QP || !(q = &v->sq[n])->ent)
		return -EINVAL;
	if (!gz_cmdq_space(q))
		return -EAGAIN;
	memcpy(gz_cmdq_next(q), cmd, sizeof(*cmd));
	gz_cmdq_ring(q);
	return 0;
}

int gz_vslot_poll(struct gz_vslot *v, uint32_t n, struct gz_xdm_cqe *out)
{
	struct gz_vslot_cq *c;
	struct gz_xdm_cqe *x;

	if (v->lost || n >= GZ_BRIDGE_MAX_CQ || !(c = &v->cq[n])->ent)
		return 0;
	x = &c->ent[c->head & c->mask];
	if (__atomic_load_n(&x->phase, __ATOMIC_ACQUIRE) !=
	    (uint8_t)(((c->head >> c->shift) & 1u) ^ 1u))
		return 0;
	memcpy(out, x, sizeof(*out));
	c->head++;
	/* the entry read before the engine may write it again */
	atomic_store_explicit(&v->s->cq[n].cons, c->head, memory_order_release);
	return 1;
}

int gz_vslot_peek(const struct gz_vslot *v, uint32_t n)
{
	const struct gz_vslot_cq *c;

	if (v->lost || n >= GZ_BRIDGE_MAX_CQ || !(c = &v->cq[n])->ent)
		return 0;
	return __atomic_load_n(&c->ent[c->head & c->mask].phase,
			       __ATOMIC_ACQUIRE) ==
	       (uint8_t)(((c->head >> c->shift) & 1u) ^ 1u);
}
