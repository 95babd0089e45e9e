/* SPDX-License-Identifier: MIT */
/*
 * vfio provider: genzio on a genzio bridge (docs/vfio-bridge.md), whose
 * memory is a PCI function's BAR through VFIO (ivshmem's BAR2 in a QEMU
 * guest) or, in the host-only mode, the file genzio-bridged serves. A
 * context is one slot of the bridge (vfio_slot.c): its GCID, its rings,
 * its key table and its data window.
 *
 *   post   a command entry in the queue pair's ring and a doorbell store
 *          (vfio_post.c); what the entry cannot name (memory outside the
 *          window, several scatter entries, an atomic's result buffer) is
 *          staged through the queue pair's bounce area in the window
 *   poll   completions by phase bit (vfio_cq.c), each matched to the
 *          queue pair's shadow ring by its sequence, never trusted as an
 *          index before it is checked
 *   wait   no interrupt on the emulated bridge: a channel's thread looks
 *          at its armed cqs on a timer (GZ_VF_WAIT_NS) and makes the
 *          channel's fd readable when one has a completion
 *
 * The engine is the device: what it writes (completions, states, the
 * layout) is input. A component shows it lives by beating; this
 * provider beats from poll and from the context's event fd (a timer in
 * its event set), as a target without GENZIO_CAP_ONE_SIDED_TARGET makes
 * progress, and there it finds the engine gone (DEVICE_FATAL).
 */
#ifndef GZ_PROVIDERS_VFIO_VFIO_H
#define GZ_PROVIDERS_VFIO_VFIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "provider.h"
#include "providers/vfio/vfio_pci.h"
#include "providers/vfio/vfio_slot.h"
#include "sys/sys.h"

#define GZ_VF_ADDR_LEN 16 /* our part of an address */
/* A queue pair's number (24 bits, as every qp_num): its index in the slot
 * + 1 in the low 10 bits, how many were made at that index above them */
#define GZ_VF_QPN_IDX(qpn) (((qpn)&1023u) - 1u)
#define GZ_VF_BOUNCE (64u << 10) /* a queue pair's staging bytes */
#define GZ_VF_MAX_DEPTH 4096u	 /* sq entries */
#define GZ_VF_MAX_SGE 4u
#define GZ_VF_MAX_CHANNELS 32u
#define GZ_VF_WAIT_NS 50000ull /* a channel's first look */
/* and its longest gap: an idle waiter in a guest under emulation costs a
 * wake-up (about 0.4 ms of CPU there) per look */
#define GZ_VF_WAIT_MAX_NS 20000000ull
#define GZ_VF_BEAT_NS 20000000ull    /* a beat at least this often */
#define GZ_VF_ALIVE_NS 3000000000ull /* an engine that does not beat */

/* How long a setup call waits for the engine's answer (a claim, a queue
 * pair's state): GENZIO_SETUP_TIMEOUT_MS, as every setup wait. */
static inline uint64_t gz_vf_setup_ns(void)
{
	return (uint64_t)gz_sys_setup_timeout_ms() * 1000000u;
}

/* The host-only mode's device: the bridge file GENZIO_BRIDGE names. */
#define GZ_VF_FILE_DEV "bridge0"

struct gz_vf_mem;
struct gz_vf_qp;
struct gz_vf_cq;
struct gz_vf_channel;

struct gz_vf_ctx {
	struct genzio_context base;
	int pci;		/* 1: a PCI function, 0: a file */
	struct gz_vfio_dev dev; /* pci */
	void *map;		/* file: its mapping */
	int fd;			/* file: open, its lock ours */
	int locked;		/* we hold our slot's lock */
	int holed;		/* file: a failed mmap left a hole */
	uint64_t map_len;
	struct gz_bridge_map m;
	struct gz_vslot slot;
	int timerfd;   /* in the event set: beats */
	uint64_t page; /* of the bridge's mapping */
	/* the poller's and the event fd's: last beat, engine liveness */
	_Atomic uint64_t beat_ns;
	_Atomic int looking;	    /* gz_vf_liveness runs */
	uint64_t hb_seen, hb_since; /* the looker's */
	_Atomic uint32_t nflush;    /* queue pairs that poll flushes */
	uint64_t ev_next; /* the fabric's next event to read (ctx lock) */
	/* queue pairs destroyed that the engine may still run: nothing
	 * their requests name is given back (ctx lock) */
	uint32_t stuck;
	struct gz_vf_zombie *zombies; /* window ranges freed later */
	struct gz_vf_ctx *next_live;  /* vfio_device.c: for fork */
	struct gz_vf_mem *mems;	      /* window ranges, by offset (ctx lock) */
	struct gz_vf_qp *_Atomic qp[GZ_BRIDGE_MAX_QP];
	/* queue pairs made at each number: a successor's qp_num differs
	 * (GZ_VF_QPN) */
	uint32_t qp_made[GZ_BRIDGE_MAX_QP];
	struct gz_vf_cq *cq[GZ_BRIDGE_MAX_CQ];
	struct gz_vf_channel *chan[GZ_VF_MAX_CHANNELS];
};

static inline struct gz_vf_ctx *gz_vf_ctx_of(struct genzio_context *c)
{
	return container_of(c, struct gz_vf_ctx, base);
}

/* ---- the bridge's host fabric (vfio_fabric.c) ---- */
/* Its events the engine copied into the header, as genzio events (under
 * the ctx lock). */
void gz_vf_fabric_watch(struct gz_vf_ctx *ctx);
/* genzio_member_list: -ENOTSUP (the engine holds every member). */
int gz_vf_fabric_open(const char *dev, const struct genzio_open_attr *attr,
		      struct gz_fabric *f);
/* genzio_fabric_open of the host-only mode's bridge: its engine's
 * manager file. */
int gz_vf_fm_open(const char *dev, const struct genzio_open_attr *attr,
		  struct gz_fm *fm);

/* ---- data space and registrations (vfio_mem.c) ---- */
/* A twin range whose registration is gone while requests through it may
 * still run: freed once every queue pair's head passed its tail then. */
struct gz_vf_zombie {
	struct gz_vf_zombie *next;
	uint64_t off;
	struct gz_vf_qp *qp[GZ_BRIDGE_MAX_QP];
	uint64_t tail[GZ_BRIDGE_MAX_QP];
};

struct gz_vf_mem {
	struct gz_mem base; /* base.pub.addr == NULL: a bounce area */
	struct gz_vf_mem *next;
	uint64_t off, len; /* in the window */
	uint32_t users;	   /* registrations inside it */
};

struct gz_vf_mr {
	struct gz_mr base;
	struct gz_vf_mem *mem; /* NULL: outside the window, staged */
	int twin;	       /* staged through a window range of its own */
	uint64_t twin_off;
};

/* A range of the window for the provider's own use (a bounce area), under
 * the ctx lock: its offset in *@off, or -ENOMEM. */
int gz_vf_win_take(struct gz_vf_ctx *ctx, uint64_t len, uint64_t *off);
void gz_vf_win_give(struct gz_vf_ctx *ctx, uint64_t off);
/* At close: the twin ranges still waiting (vfio_mem.c). */
void gz_vf_zombies_free(struct gz_vf_ctx *ctx);
/* Wait until the engine has finished whatever it was executing (a
 * round of its heartbeat), bounded. */
int gz_vf_quiesce(struct genzio_context *ctx, int best_effort);

/* ---- completion queues (vfio_cq.c) and channels (vfio_channel.c) ---- */
struct gz_vf_cq {
	struct gz_cq base;
	struct gz_vf_ctx *ctx;
	uint32_t idx;	/* the bridge's cq number */
	uint32_t users; /* work queues (ctx lock) */
	/* odd while a poll runs: a destroy waits for it to leave */
	_Atomic uint32_t in_poll;
	_Atomic uint32_t armed; /* req_notify: the next completion wakes */
	struct gz_vf_channel *chan;
	uint32_t polls;		  /* since the last liveness look */
	uint32_t ring_ent;	  /* entries of its ring */
	uint64_t dropped;	  /* entries that named nothing of ours */
	_Atomic int overrun_told; /* CQ_OVERRUN raised */
};

/* A channel (vfio_channel.c): its fd readable once an armed cq has a
 * completion, which a thread of its own looks for on a timer. */
struct gz_vf_channel {
	struct gz_channel base; /* base.pub.fd: an epoll set of readyfd */
	int readyfd;		/* eventfd: "look now" */
	struct gz_vf_ctx *ctx;
	int timerfd;		  /* one-shot: the looker's next look */
	_Atomic uint64_t wait_ns; /* the gap to it */
	int stopfd;		  /* eventfd: the looker ends */
	/* bumped by every req_notify: a look that saw none armed and
	 * stopped the timer looks again when it moved meanwhile */
	_Atomic uint32_t notifies;
	pthread_t looker;
	int has_looker; /* 0 in a forked child: the thread is not there */
	uint32_t idx;
};

int gz_vf_cq_create(struct genzio_context *ctx,
		    const struct genzio_cq_attr *attr, struct gz_cq **cq);
int gz_vf_cq_destroy(struct gz_cq *cq);
int gz_vf_cq_req_notify(struct gz_cq *cq);
int gz_vf_channel_create(struct genzio_context *ctx, struct gz_channel **ch);
void gz_vf_channel_destroy(struct gz_channel *ch);
int gz_vf_channel_get_event(struct gz_channel *ch, int timeout_ms,
			    struct gz_cq **cq);
/* Wait until no poll of @cq that may have seen a queue pair taken out
 * of the table since is still running. */
void gz_vf_cq_drain(struct gz_vf_cq *cq);
/* The device is gone: every channel's waiter wakes. */
void gz_vf_channels_wake(struct gz_vf_ctx *ctx);
/* In a forked child: the channels' threads are the parent's. */
void gz_vf_channels_forked(struct gz_vf_ctx *ctx);
/* A beat from a setup call: a guest's context that only sets up for a
 * while is alive too (a lost slot takes none). */
static inline void gz_vf_beat(struct gz_vf_ctx *ctx)
{
	gz_vslot_beat(&ctx->slot);
}
/* Beat and look at the engine, at most every GZ_VF_BEAT_NS unless
 * @force: from poll, waits and the event fd. */
void gz_vf_liveness(struct gz_vf_ctx *ctx, int force);

/* ---- queue pairs (vfio_qp.c, vfio_post.c) ---- */
enum {
	GZ_VF_WQE_PLAIN = 0,
	GZ_VF_WQE_RESULT, /* an atomic: its old value to dst */
	GZ_VF_WQE_COPY,	  /* a READ: the bounce (or the inline
			   * result) to the scatter list at dst */
};

/* What a posted request needs at its completion: its shadow entry. */
struct gz_vf_wqe {
	uint64_t wr_id;
	uint64_t bounce_end; /* the bounce area's tail after it */
	uint64_t bounce_off; /* its bytes there (COPY) */
	struct genzio_sge sge[GZ_VF_MAX_SGE]; /* COPY, RESULT: where to */
	uint32_t num_sge;
	uint32_t len;	/* byte_len */
	uint8_t opcode; /* enum genzio_wc_opcode */
	uint8_t kind;
	uint8_t signaled;    /* the user asked for its completion */
	uint8_t inline_read; /* COPY from the completion's result */
};

/* An address handle: an RD destination's GCID (base.gcid) and, when it
 * came from an address, the attach it names (0: whichever). */
struct gz_vf_ah {
	struct genzio_ah base;
	uint32_t gen;
};

/* A posted receive as we keep it: the ring's copy is the engine's. */
struct gz_vf_rwqe {
	uint64_t wr_id;
	uint32_t cap; /* bytes its buffers hold (at most UINT32_MAX) */
};

struct gz_vf_qp {
	struct gz_qp base;
	struct gz_vf_ctx *ctx;
	uint32_t idx;	   /* the bridge's queue pair number */
	uint32_t depth;	   /* sq_depth: shadow entries (pow2) */
	uint32_t ring_ent; /* the command ring's entries */
	struct gz_vf_cq *scq, *rcq;
	uint32_t domain; /* the pd's key domain, the bridge's pd */
	uint32_t max_inline, max_sge, max_recv_sge;
	int msg; /* the engine delivers messages (GZ_BRIDGE_CAP_MSG) */
	int rd;	 /* GENZIO_QPT_RD: each request names its destination */
	_Atomic uint32_t told;	/* its QP_ERR raised */
	_Atomic uint32_t state; /* GENZIO_QPS_* as we tell it */
	uint32_t err_status;
	uint32_t peer_gcid, peer_idx;
	uint8_t peer[GENZIO_ADDR_MAX]; /* the address connected to */
	uint32_t peer_len;
	uint64_t staged, staged_bytes; /* requests through the bounce area */
	/* the shadow ring: the poster's tail, the poller's head */
	struct gz_vf_wqe *wqe;
	_Atomic uint64_t tail;	/* requests posted */
	_Atomic uint64_t head;	/* requests completed */
	_Atomic uint32_t flush; /* the device is gone: poll flushes */
	/* the bounce area: offset in the window, bytes used (tail - head,
	 * by the wqes' bounce_end) */
	uint64_t bounce, bounce_tail;
	int has_bounce;
	_Atomic uint64_t bounce_head;
	const struct gz_lkey *lkeys;
	uint32_t max_mr;
	/* the receive ring (vfio_recv.c): rq_ent entries (0: none), the
	 * poster's tail, the poller's head */
	struct gz_vf_rwqe *rwqe;
	uint32_t rq_ent;
	uint32_t rdm_us; /* GENZIO_QP_ATTR_RDM_TIMEOUT, 0: the engine's */
	_Atomic uint64_t rq_tail;
	_Atomic uint64_t rq_head;
};

/* The queue pair that entry qp number @n (its qp_num, the record's tag) of @cq
 * names, if it is ours and completes its sends (@recv 0) or its receives (1)
 * there. */
static inline struct gz_vf_qp *gz_vf_entry_qp(const struct gz_vf_cq *cq,
					      uint32_t n, int recv)
{
	struct gz_vf_qp *qp;

	if (GZ_VF_QPN_IDX(n) >= GZ_BRIDGE_MAX_QP)
		return NULL;
	qp = atomic_load_explicit(&cq->ctx->qp[GZ_VF_QPN_IDX(n)],
				  memory_order_acquire);
	/* all of its number: a predecessor's entries name another */
	return qp && qp->base.pub.qp_num == n &&
		       (recv ? qp->rcq : qp->scq) == cq
		   ? qp
		   : NULL;
}

static inline struct gz_vf_qp *gz_vf_qp_of(struct genzio_qp *q)
{
	return container_of(q, struct gz_vf_qp, base.pub);
}

/* The window's byte @off as the component's pointer, and back. */
static inline uint8_t *gz_vf_win(const struct gz_vf_ctx *ctx, uint64_t off)
{
	return ctx->slot.window + off;
}

/* Whether [@addr, +@len) is inside the window: its offset in *@off. */
static inline int gz_vf_in_win(const struct gz_vf_ctx *ctx, uint64_t addr,
			       uint64_t len, uint64_t *off)
{
	uint64_t w = (uintptr_t)ctx->slot.window;

	if (addr < w || len > ctx->slot.window_len ||
	    addr - w > ctx->slot.window_len - len)
		return 0;
	*off = addr - w;
	return 1;
}

int gz_vf_qp_create(struct genzio_pd *pd, const struct genzio_qp_attr *attr,
		    struct genzio_qp **qp);
int gz_vf_qp_connect(struct genzio_qp *qp, uint32_t gcid, const uint8_t *a,
		     size_t len);
int gz_vf_qp_addr(struct genzio_qp *qp, uint8_t *buf, size_t len);
void gz_vf_verbs_port(struct genzio_context *ctx,
		      struct genzio_verbs_port *port);
int gz_vf_verbs_addr(struct genzio_context *ctx,
		     const struct genzio_verbs_dest *d, uint8_t *buf,
		     size_t len, uint32_t *gcid);
void gz_vf_qp_query(struct genzio_qp *qp, struct genzio_qp_info *info);
int gz_vf_qp_reset(struct genzio_qp *qp);
void gz_vf_qp_destroy(struct genzio_qp *qp);
int gz_vf_post_send(struct genzio_qp *qp, struct genzio_send_wr *wr,
		    struct genzio_send_wr **bad);
int gz_vf_post_recv(struct genzio_qp *qp, struct genzio_recv_wr *wr,
		    struct genzio_recv_wr **bad);
/* Receive completion @e of @cq (vfio_recv.c): 1 and *@wc, or 0 (it names
 * no receive of ours outstanding: dropped, counted). */
int gz_vf_recv_take(struct gz_vf_cq *cq, const struct gz_xdm_cqe *e,
		    struct genzio_wc *wc);
/* The device is gone: @qp's receives complete FLUSHED, at most @n. */
int gz_vf_recv_flush(struct gz_vf_qp *qp, int n, struct genzio_wc *wc);
/* What a completed request leaves to do: its result where it goes, its
 * bounce bytes back (vfio_post.c). */
/* Return: a status that overrides the engine's success (LOC_PROT: the
 * registration a result goes to is gone), or 0. */
uint8_t gz_vf_wqe_finish(struct gz_vf_qp *qp, struct gz_vf_wqe *w,
			 const struct gz_xdm_cqe *e, int ok);

/* The engine failed @qp's connection with @status (RETRY_EXC): ERR, and
 * QP_ERR raised once (PEER_DEAD too for a peer gone). */
void gz_vf_qp_failed(struct gz_vf_qp *qp, uint32_t status);
/* The engine will complete @qp's work no more (gone, or it moved the
 * queue pair to ERR without flushing): ERR with @status, and poll
 * completes what is owed FLUSHED. Under the ctx lock. */
void gz_vf_qp_flush(struct gz_vf_qp *qp, uint32_t status);

/* ---- liveness and events (vfio_live.c) ---- */
void gz_vf_event_watch(struct genzio_context *ctx);
void gz_vf_event_harvest(struct genzio_context *ctx);
void gz_vf_device_fatal(struct genzio_context *ctx, uint8_t status);

/* ---- the device (vfio_device.c) ---- */
int gz_vf_mem_alloc(struct genzio_context *ctx, uint64_t len, uint32_t flags,
		    struct genzio_mem **mem);
int gz_vf_mem_free(struct genzio_mem *mem);
int gz_vf_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
		 uint32_t access, struct gz_mr **mr);
int gz_vf_mr_revoke(struct gz_mr *mr);
void gz_vf_mr_dereg(struct gz_mr *mr);

extern const struct gz_provider gz_vfio_provider;

#endif /* GZ_PROVIDERS_VFIO_VFIO_H */
