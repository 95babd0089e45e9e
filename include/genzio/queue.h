/* SPDX-License-Identifier: MIT */
/* genzio: completions, completion channels, events, queue pairs, addresses, work requests.
 * Include <genzio/genzio.h>, which includes every part. */
#ifndef GENZIO_QUEUE_H
#define GENZIO_QUEUE_H

#include <genzio/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ completions */

enum genzio_wc_status {
	GENZIO_WC_SUCCESS = 0x00,
	GENZIO_WC_BAD_RKEY = 0x87,	/* Gen-Z invalid permission: no such key */
	GENZIO_WC_RDM_FULL = 0x93,	/* receiver posted no receive within
					 * the qp's rdm_timeout_us */
	GENZIO_WC_RETRY_EXC = 0xa2,	/* retries exceeded: path or peer lost */
	GENZIO_WC_REM_BOUNDS = 0xc1,	/* remote range outside the region */
	GENZIO_WC_LOC_PROT = 0xc2,	/* bad lkey, local range or rights */
	GENZIO_WC_LOC_LEN = 0xc3,	/* local length does not fit the op */
	GENZIO_WC_REM_ACCESS = 0xc4,	/* key lacks the right (e.g. read-only) */
	GENZIO_WC_REM_QP = 0xc5,	/* remote queue pair gone */
	GENZIO_WC_FLUSHED = 0xc6,	/* flushed: its queue pair was
					 * destroyed (or is in error) */
	GENZIO_WC_REM_INV_REQ = 0xc7,	/* receive buffer too small */
	GENZIO_WC_REM_OP = 0xc8,	/* receiver's completion queue overran
					 * (verbs: the responder failed it) */
	/* Statuses only verbs reports (each one ibv_wc_status, so nothing
	 * verbs tells apart is merged; wc.vendor_err has the device's own
	 * code). RD/EE-only ones never arise on RC but keep their names. */
	GENZIO_WC_LOC_QP_OP = 0xc9,	/* local queue pair inconsistency */
	GENZIO_WC_LOC_EEC_OP = 0xca,
	GENZIO_WC_MW_BIND = 0xcb,	/* memory window bind failed */
	GENZIO_WC_BAD_RESP = 0xcc,	/* unexpected response from the peer */
	GENZIO_WC_LOC_ACCESS = 0xcd,	/* local access error (e.g. an
					 * atomic's result buffer) */
	GENZIO_WC_LOC_RDD_VIOL = 0xce,
	GENZIO_WC_REM_INV_RD_REQ = 0xcf,
	GENZIO_WC_REM_ABORT = 0xd0,	/* the responder aborted the op */
	GENZIO_WC_INV_EECN = 0xd1,
	GENZIO_WC_INV_EEC_STATE = 0xd2,
	GENZIO_WC_FATAL = 0xd3,		/* the device failed */
	GENZIO_WC_RESP_TIMEOUT = 0xd4,	/* response timeout */
	GENZIO_WC_TM = 0xd5,		/* tag matching error */
	GENZIO_WC_TM_RNDV = 0xd6,	/* tag matching rendezvous incomplete */
	GENZIO_WC_GENERAL_ERR = 0xff,
};

enum genzio_wc_opcode {
	GENZIO_WC_WRITE = 0,
	GENZIO_WC_READ,
	GENZIO_WC_ATOMIC,
	GENZIO_WC_SEND,
	GENZIO_WC_SYNC,
	GENZIO_WC_RECV = 0x80,
	GENZIO_WC_RECV_WRITE_IMM,
};

enum genzio_wc_flags {
	GENZIO_WC_WITH_IMM = 1u << 0,
};

/** One completion. */
struct genzio_wc {
	uint64_t wr_id;		/* from the work request */
	uint32_t status;	/* enum genzio_wc_status */
	uint32_t opcode;	/* enum genzio_wc_opcode */
	uint32_t byte_len;	/* bytes moved (atomics: operand size) */
	uint32_t qp_num;	/* local queue pair */
	uint32_t src_gcid;	/* receives: sender's GCID */
	uint32_t imm_data;	/* with GENZIO_WC_WITH_IMM */
	uint32_t wc_flags;	/* enum genzio_wc_flags */
	uint32_t vendor_err;	/* on error, the device's own code (verbs'
				 * ibv_wc.vendor_err); 0 where none */
	uint64_t result;	/* atomics: value before the operation */
};

/** Public head of a completion queue: ABI, never reorder. */
struct genzio_cq {
	int (*poll)(struct genzio_cq *cq, int n, struct genzio_wc *wc);
	void *user_context;
	struct genzio_context *context;
	uint32_t depth;
	uint32_t reserved;
};

/** Settings for genzio_cq_create(). */
enum genzio_cq_attr_mask {
	GENZIO_CQ_ATTR_CHANNEL = 1u << 0,
};

struct genzio_comp_channel;

struct genzio_cq_attr {
	uint64_t comp_mask;	/* enum genzio_cq_attr_mask: optional fields */
	uint32_t depth;		/* completions it holds (1..max_cqe) */
	uint32_t reserved;
	void *user_context;	/* copied to cq->user_context */
	struct genzio_comp_channel *channel;	/* GENZIO_CQ_ATTR_CHANNEL */
};

/**
 * genzio_cq_create - Create a completion queue
 * Return: 0, -EINVAL (bad depth or comp_mask), -ENODEV (the device is
 * gone), -ENOSPC (max_cq reached), -ENOMEM.
 */
GENZIO_EXPORT int genzio_cq_create(struct genzio_context *ctx,
				   const struct genzio_cq_attr *attr,
				   struct genzio_cq **cq);
/** genzio_cq_destroy - Destroy @cq. Return: 0, -EINVAL, -EBUSY while a qp uses it. */
GENZIO_EXPORT int genzio_cq_destroy(struct genzio_cq *cq);

/**
 * genzio_poll_cq - Reap up to @n completions without blocking
 * @cq: completion queue; one thread at a time
 * @n:  capacity of @wc
 * @wc: array of at least @n entries
 *
 * A failed transfer is a completion with wc->status != GENZIO_WC_SUCCESS.
 * A peer that finds @cq full marks it overrun rather than overwrite a
 * completion; @cq is in error from then on. Also runs the parked requests
 * of the queue pairs @cq serves; a parked request holds no slot, so no
 * completion waits behind it. A SEND completes after its delivery: a
 * reply's receive completion may come first. Receive completions of a
 * queue pair destroyed meanwhile are dropped.
 *
 * Return: number of completions (0..@n), -EINVAL, or -EOVERFLOW (@n > 0,
 * @cq is empty and has overrun).
 */
static inline int genzio_poll_cq(struct genzio_cq *cq, int n,
				 struct genzio_wc *wc)
{
	if (GENZIO_UNLIKELY(!cq || n < 0 || (n && !wc)))
		return -EINVAL;
	return cq->poll(cq, n, wc);
}

/* ------------------------------------------------------ blocking waits */

/** Public head of a completion channel: wait on @fd with poll/epoll. */
struct genzio_comp_channel {
	int fd;			/* readable when an armed cq completes */
	uint32_t reserved;
	struct genzio_context *context;
};

/**
 * genzio_comp_channel_create - A file descriptor to block on for completions
 * Return: 0, -EINVAL, -ENODEV (the device is gone), -ENOSPC (too many
 * channels), -ENOMEM, or -errno.
 */
GENZIO_EXPORT int genzio_comp_channel_create(struct genzio_context *ctx,
					     struct genzio_comp_channel **ch);
/** genzio_comp_channel_destroy - Return: 0, -EINVAL, -EBUSY while a cq uses it. */
GENZIO_EXPORT int genzio_comp_channel_destroy(struct genzio_comp_channel *ch);

/**
 * genzio_cq_req_notify - Arm @cq: its next completion wakes its channel
 * @cq: a cq created with a channel; one thread at a time
 *
 * Poll the cq again after arming: a completion that arrived just before
 * the call does not wake the channel.
 *
 * Return: 0, -EINVAL (no channel).
 */
GENZIO_EXPORT int genzio_cq_req_notify(struct genzio_cq *cq);

/**
 * genzio_comp_channel_get_event - Wait for an armed cq of @ch to complete
 * @ch:         channel
 * @timeout_ms: -1 waits for ever, 0 does not wait
 * @cq:         out: the cq that completed (disarmed until the next
 *              genzio_cq_req_notify())
 *
 * Also makes progress on sends parked for want of a receive buffer, so a
 * waiter sleeps at most until the next retry is due.
 *
 * Return: 0, -EINVAL, -EAGAIN (nothing yet; timeout 0), -ETIMEDOUT,
 * -EINTR, -ENODEV (the device is gone and no armed cq was woken), or
 * another -errno.
 */
GENZIO_EXPORT int genzio_comp_channel_get_event(struct genzio_comp_channel *ch,
						int timeout_ms,
						struct genzio_cq **cq);
/** genzio_cq_ack_events - Acknowledge @n events of @cq (needed before
 *  destroying it). Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_cq_ack_events(struct genzio_cq *cq, uint32_t n);

/* ------------------------------------------------------ async events */

enum genzio_event_type {
	GENZIO_EVENT_PEER_DEAD = 1,	/* a peer we talk to exited or left */
	GENZIO_EVENT_CQ_OVERRUN,	/* a cq overflowed; it is in error */
	GENZIO_EVENT_LINK_DOWN,		/* raised by fabric providers */
	GENZIO_EVENT_LINK_UP,
	GENZIO_EVENT_COMPONENT_ADD,
	GENZIO_EVENT_COMPONENT_REMOVE,
	GENZIO_EVENT_QP_ERR,		/* a queue pair moved to ERR */
	GENZIO_EVENT_DEVICE_FATAL,	/* the device is gone: every queue
					 * pair is in ERR, setup calls fail
					 * with -ENODEV; close the context */
};

/** One unsolicited event (Gen-Z UEP). */
struct genzio_event {
	uint32_t type;		/* enum genzio_event_type */
	uint32_t gcid;		/* PEER_DEAD, COMPONENT_*: the component;
				 * QP_ERR: its peer's; DEVICE_FATAL: ours */
	struct genzio_cq *cq;	/* CQ_OVERRUN */
	uint32_t qp_num;	/* QP_ERR: the queue pair */
	uint32_t status;	/* QP_ERR: the completion status that did it;
				 * DEVICE_FATAL: the status work flushed by
				 * it reports in err_status */
	uint32_t link;		/* LINK_*: the switch link's id, or
				 * GENZIO_LINK_COMPONENT for @gcid's own */
	uint32_t reserved;
};

/**
 * genzio_event_fd - A file descriptor that is readable while events wait
 * Return: the fd (owned by @ctx), or -EINVAL.
 */
GENZIO_EXPORT int genzio_event_fd(struct genzio_context *ctx);
/**
 * genzio_event_get - Take the next unsolicited event without blocking
 * Return: 0 and *@ev, -EAGAIN (none), or -EINVAL.
 */
GENZIO_EXPORT int genzio_event_get(struct genzio_context *ctx,
				   struct genzio_event *ev);

/** genzio_wc_status_str - Name @status; never NULL. */
GENZIO_EXPORT const char *genzio_wc_status_str(uint32_t status);

/* ------------------------------------------------------ queue pairs */

enum genzio_qp_type {
	GENZIO_QPT_RC = 1,	/* connected to one remote queue pair */
	GENZIO_QPT_RD = 2,	/* destination per work request (ah, qpn) */
};

struct genzio_sge {
	uint64_t addr;
	uint32_t length;
	uint32_t lkey;		/* ignored with GENZIO_SEND_INLINE */
};

enum genzio_wr_opcode {
	GENZIO_WR_WRITE = 0,
	GENZIO_WR_WRITE_IMM,
	GENZIO_WR_READ,
	GENZIO_WR_SEND,
	GENZIO_WR_SEND_IMM,
	GENZIO_WR_ATOMIC_SWAP,	/* old = *p; *p = operand */
	GENZIO_WR_ATOMIC_CAS,	/* old = *p; if old == compare: *p = operand */
	GENZIO_WR_ATOMIC_FADD,	/* old = *p; *p += operand */
	GENZIO_WR_ATOMIC_AND,
	GENZIO_WR_ATOMIC_OR,
	GENZIO_WR_ATOMIC_XOR,
	GENZIO_WR_ATOMIC_SMIN,	/* signed minimum */
	GENZIO_WR_ATOMIC_SMAX,
	GENZIO_WR_ATOMIC_UMIN,	/* unsigned minimum */
	GENZIO_WR_ATOMIC_UMAX,
	GENZIO_WR_SYNC,		/* completes when all earlier work is visible */
	GENZIO_WR_OPCODE_MAX
};

enum genzio_send_flags {
	GENZIO_SEND_SIGNALED = 1u << 0,	/* always write a completion */
	GENZIO_SEND_FENCE = 1u << 1,	/* ordered after all earlier work */
	GENZIO_SEND_INLINE = 1u << 2,	/* data copied at post; lkey unused */
};

/** A work request for genzio_post_send(). */
struct genzio_send_wr {
	uint64_t wr_id;			/* returned in the completion */
	struct genzio_send_wr *next;	/* batch: NULL ends the list */
	struct genzio_sge *sg_list;
	int32_t num_sge;
	uint32_t opcode;		/* enum genzio_wr_opcode */
	uint32_t send_flags;		/* enum genzio_send_flags */
	uint32_t imm_data;
	struct genzio_ah *ah;		/* GENZIO_QPT_RD: destination */
	uint32_t remote_qpn;		/* GENZIO_QPT_RD: destination qp */
	uint32_t reserved;
	union {
		struct {
			uint64_t remote_addr;
			uint32_t rkey;
			uint32_t reserved;
		} rdma;
		struct {
			uint64_t remote_addr;	/* aligned to size */
			uint32_t rkey;
			uint32_t size;		/* 4 or 8 bytes */
			uint64_t operand;	/* add / swap / mask value */
			uint64_t compare;	/* CAS only */
		} atomic;
	};
};

/** A receive buffer for genzio_post_recv(). */
struct genzio_recv_wr {
	uint64_t wr_id;
	struct genzio_recv_wr *next;
	struct genzio_sge *sg_list;
	int32_t num_sge;
	uint32_t reserved;
};

/** Public head of a queue pair: ABI, never reorder. */
struct genzio_qp {
	int (*post_send)(struct genzio_qp *qp, struct genzio_send_wr *wr,
			 struct genzio_send_wr **bad_wr);
	int (*post_recv)(struct genzio_qp *qp, struct genzio_recv_wr *wr,
			 struct genzio_recv_wr **bad_wr);
	void *user_context;
	struct genzio_context *context;
	uint32_t qp_num;	/* 24 bits */
	uint32_t qp_type;	/* enum genzio_qp_type */
};

/** Settings for genzio_qp_create(). */
enum genzio_qp_attr_mask {
	GENZIO_QP_ATTR_RDM_TIMEOUT = 1u << 0,
};

struct genzio_qp_attr {
	uint64_t comp_mask;	/* enum genzio_qp_attr_mask: optional fields */
	uint32_t qp_type;	/* enum genzio_qp_type */
	uint32_t sq_depth;	/* outstanding send work requests */
	uint32_t rq_depth;	/* posted receives */
	uint32_t max_send_sge;
	uint32_t max_recv_sge;
	uint32_t max_inline;	/* <= the device's max_inline */
	struct genzio_cq *send_cq;
	struct genzio_cq *recv_cq;
	void *user_context;
	/* GENZIO_QP_ATTR_RDM_TIMEOUT: how long a send retries while the
	 * receiver has no buffer posted, before it completes with
	 * GENZIO_WC_RDM_FULL (default 100000 us) */
	uint32_t rdm_timeout_us;
	uint32_t reserved;
};

/**
 * genzio_qp_create - Create a queue pair
 * Return: 0, -EOPNOTSUPP (GENZIO_QPT_RD without GENZIO_CAP_RD),
 * -EINVAL (bad type, depth, sge count, inline size, cq of another
 * context, comp_mask), -ENODEV (the device is gone), -ENOSPC (no free
 * queue pair number), -ENOMEM.
 */
GENZIO_EXPORT int genzio_qp_create(struct genzio_pd *pd,
				   const struct genzio_qp_attr *attr,
				   struct genzio_qp **qp);
/**
 * genzio_qp_destroy - Destroy @qp
 * @qp: queue pair; no post on it may run concurrently
 *
 * Unpublishes @qp first (peers' new work to it completes with
 * GENZIO_WC_REM_QP), then waits, at most $GENZIO_SETUP_TIMEOUT_MS, for
 * deliveries already under way into its receive buffers: as in verbs,
 * nothing lands there after it returns, unless a sender stayed stopped
 * inside a delivery past that bound (@qp is destroyed anyway; GENZIO_DEBUG
 * says so). Parked requests complete with GENZIO_WC_FLUSHED (or their own
 * status if they took effect). Safe while other threads poll its cqs or
 * wait on their channel: it waits for them to leave its data.
 *
 * Return: 0 or -EINVAL.
 */
GENZIO_EXPORT int genzio_qp_destroy(struct genzio_qp *qp);

/*
 * Addresses: what a queue pair publishes for a peer to connect to. An
 * address is an opaque byte string of at most GENZIO_ADDR_MAX bytes whose
 * layout is the provider's (shm: GCID, queue pair number, incarnation;
 * verbs: GID, QPN, PSN, MTU, ...); it names its provider and its GCID,
 * which every provider has. Pass it around as bytes or as text.
 */
#define GENZIO_ADDR_MAX 64
#define GENZIO_ADDR_STRLEN (16 + 2 * GENZIO_ADDR_MAX + 1)

/**
 * genzio_qp_addr - The address of @qp, for a peer's genzio_qp_connect()
 * @qp:   queue pair
 * @addr: buffer of *@len bytes
 * @len:  in: its size; out: the address's length
 *
 * Return: 0, -EINVAL, or -ENOSPC (*@len is too small: it is set to the
 * length needed).
 */
GENZIO_EXPORT int genzio_qp_addr(struct genzio_qp *qp, void *addr,
				 size_t *len);

/**
 * genzio_qp_connect - Connect a GENZIO_QPT_RC queue pair to a remote one
 * @qp:   RC queue pair, not connected
 * @addr: the remote queue pair's genzio_qp_addr()
 * @len:  its length
 *
 * As in verbs, both ends connect, each from the other's address (exchange
 * them out of band, then connect on both sides): an RC queue pair talks
 * to exactly one remote RC queue pair. Work posted before the remote end
 * has connected back waits for it (polls make it progress) up to 1 s or
 * the queue pair's rdm_timeout_us, whichever is longer, then completes
 * with GENZIO_WC_RETRY_EXC; work to a remote queue pair connected to
 * another completes with GENZIO_WC_REM_QP. On a network (verbs) the remote
 * side is not checked at connect: the remote -EISCONN, -EHOSTUNREACH and
 * -ENOENT below are the host fabric's (shm); there, work to a peer that is
 * not there, or paired with another, retries for the ACK timeout and
 * completes GENZIO_WC_RETRY_EXC (genzio_verbs(7)).
 *
 * Return: 0, -EINVAL (not RC, or a malformed address), -ENODEV (the device
 * is gone), -EISCONN (@qp is
 * connected, or the remote queue pair is connected to another one),
 * -EAFNOSUPPORT (an address of another provider), -EHOSTUNREACH (no live
 * component has its GCID, or it is an earlier component's address),
 * -ENOENT (it has no such queue pair), or any other error of
 * genzio_ah_create(): -EAGAIN, -EMFILE, -ENFILE, -ENOMEM, -EPERM, -errno.
 */
GENZIO_EXPORT int genzio_qp_connect(struct genzio_qp *qp, const void *addr,
				    size_t len);

enum genzio_qp_state {
	GENZIO_QPS_RESET = 0,	/* RC, not connected: receives may be posted,
				 * sends fail with -ENOTCONN */
	GENZIO_QPS_RTS = 1,	/* connected (RD: from creation on) */
	GENZIO_QPS_ERR = 2,	/* a fatal error (peer or its queue pair
				 * gone): everything outstanding and all
				 * later work completes GENZIO_WC_FLUSHED */
};

/** What genzio_qp_query() reports. */
struct genzio_qp_info {
	uint32_t state;		/* enum genzio_qp_state */
	uint32_t qp_type;	/* enum genzio_qp_type */
	uint32_t qp_num;
	uint32_t err_status;	/* ERR: the status that caused it */
	uint32_t peer_addr_len;	/* RC, connected: bytes of peer_addr */
	uint32_t reserved;
	uint8_t peer_addr[GENZIO_ADDR_MAX];	/* the address connected to */
	/* GENZIO_CAP_RECV_STAGED: receives into memory outside data space */
	uint64_t max_recv_staged;	/* bytes one may hold on this qp */
	uint64_t recv_staged;		/* completed, their payload copied
					 * out at poll */
	uint64_t recv_staged_bytes;	/* bytes those copied */
};

/**
 * genzio_qp_query - Report the state of @qp
 * Return: 0 or -EINVAL.
 */
GENZIO_EXPORT int genzio_qp_query_sz(struct genzio_qp *qp,
				     struct genzio_qp_info *info, size_t size);
static inline int genzio_qp_query(struct genzio_qp *qp,
				  struct genzio_qp_info *info)
{
	return genzio_qp_query_sz(qp, info, sizeof(*info));
}

/**
 * genzio_qp_reset - Take an RC queue pair back to GENZIO_QPS_RESET
 * @qp: RC queue pair; no post on it may run concurrently
 *
 * With GENZIO_CAP_RESET_FLUSHES, unlike verbs' move to RESET, which drops
 * outstanding work silently, every outstanding send and receive completes
 * with GENZIO_WC_FLUSHED (their completions go to the cqs, as on ERR);
 * without it (verbs) that work is dropped, and completions of the old
 * connection still in the cqs are dropped at poll. Then @qp may connect
 * again, to the same peer or another one (its address changes).
 *
 * Return: 0, -EINVAL (NULL or not RC), -ENODEV (the device is gone: @qp
 * stays in ERR).
 */
GENZIO_EXPORT int genzio_qp_reset(struct genzio_qp *qp);

/** genzio_addr_gcid - The GCID in an address. Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_addr_gcid(const void *addr, size_t len,
				   uint32_t *gcid);
/**
 * genzio_addr_str - Format an address as text ("shm:0101..."), for argv,
 * a file or a key-value store
 * Return: 0, -EINVAL (malformed), -ENOSPC (@size < what it needs, at most
 * GENZIO_ADDR_STRLEN).
 */
GENZIO_EXPORT int genzio_addr_str(const void *addr, size_t len, char *buf,
				  size_t size);
/**
 * genzio_addr_parse - Read text from genzio_addr_str()
 * @len: in: size of @addr; out: the address's length
 * Return: 0, -EINVAL (not an address), -ENOSPC (@addr too small).
 */
GENZIO_EXPORT int genzio_addr_parse(const char *str, void *addr, size_t *len);

/**
 * genzio_post_send - Post a list of send work requests
 * @qp:     one thread at a time
 * @wr:     list linked by ->next
 * @bad_wr: out: the first request not posted, on error
 *
 * Checks that need no lookup (opcode, sge count, inline length, atomic
 * alignment) fail here; key and bounds faults come back as completions.
 *
 * A SEND that finds no receive posted is parked (posted, retried by poll,
 * post and channel waits); a parked request holds no cq slot but is
 * counted against the send cq's depth.
 *
 * Return: 0, -EINVAL (malformed request), -EOPNOTSUPP (an atomic opcode or
 * size not in the device's atomic_ops32 / atomic_ops64), -EAGAIN (no
 * effect: the send queue is full, or (GENZIO_CAP_CQ_BACKPRESSURE) the send
 * cq could not hold this completion besides those it holds and owes, or
 * 256 requests already parked waiting for receive buffers: poll, then
 * post *bad_wr again), -ENOTCONN (RC not connected).
 */
static inline int genzio_post_send(struct genzio_qp *qp,
				   struct genzio_send_wr *wr,
				   struct genzio_send_wr **bad_wr)
{
	if (GENZIO_UNLIKELY(!qp || !wr || !bad_wr))
		return -EINVAL;
	return qp->post_send(qp, wr, bad_wr);
}

/**
 * genzio_post_recv - Post a list of receive buffers
 * A sender writes buffers in data space (genzio_mem_alloc() memory, or a
 * region registered with remote access) itself. With
 * GENZIO_CAP_RECV_STAGED any local-write registration will do: a message
 * to other memory lands in the queue pair's staging buffer and poll copies
 * it out, at most genzio_qp_query()'s max_recv_staged bytes a receive.
 *
 * verbs checks a receive's lkey when a message uses it (a LOC_PROT-class
 * completion), not at post: GENZIO_CAP_FINE_STATUS is clear there.
 *
 * Return: 0, -EINVAL (bad sge or lkey, a buffer outside data space without
 * GENZIO_CAP_RECV_ANY, or a staged receive over max_recv_staged),
 * -ENOMEM or -ENOSPC (no staging buffer: no memory, or the context's
 * segment ids used up), -EAGAIN (rq_depth receives outstanding, or every
 * staging slot in use).
 */
static inline int genzio_post_recv(struct genzio_qp *qp,
				   struct genzio_recv_wr *wr,
				   struct genzio_recv_wr **bad_wr)
{
	if (GENZIO_UNLIKELY(!qp || !wr || !bad_wr))
		return -EINVAL;
	return qp->post_recv(qp, wr, bad_wr);
}

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_QUEUE_H */
