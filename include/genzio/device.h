/* SPDX-License-Identifier: MIT */
/* genzio: devices: find, open, describe; capabilities; fabric members.
 * Include <genzio/genzio.h>, which includes every part. */
#ifndef GENZIO_DEVICE_H
#define GENZIO_DEVICE_H

#include <genzio/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- devices */

/*
 * Structs the library fills for the caller grow at their end only. Each
 * call that fills one takes its size (the inline wrappers below pass
 * sizeof): a binary built against an older, shorter struct gets the
 * fields it knows, one built against a newer, longer one gets zeros in
 * the fields this library does not know (zero always means "absent").
 */

/** One entry of genzio_device_list(). */
struct genzio_device_desc {
	char name[GENZIO_NAME_MAX];	/* pass to genzio_device_open() */
	char provider[16];		/* "shm", ... */
	char detail[80];		/* where it is: a directory, a PCI
					 * address, an RDMA port */
};

/** One entry of genzio_provider_list(): a provider of this build. */
struct genzio_provider_desc {
	char name[16];		/* "shm", ... */
	int32_t ndevices;	/* devices it can open here */
	uint32_t reserved;
	char why[160];		/* with no device: why not */
};

/*
 * Capabilities: what a portable program tests before it relies on a
 * behaviour. The provider's documentation (genzio_shm(7), ...) says why
 * a bit is clear.
 */
#define GENZIO_CAP_RMA (1ull << 0)	/* one-sided WRITE and READ */
#define GENZIO_CAP_ATOMIC (1ull << 1)	/* remote atomics: which ones in
					 * atomic_ops32 / atomic_ops64 */
#define GENZIO_CAP_MSG (1ull << 2)	/* SEND / RECV (and SEND_IMM) */
#define GENZIO_CAP_WRITE_IMM (1ull << 3) /* WRITE_IMM */
#define GENZIO_CAP_SYNC (1ull << 4)	/* GENZIO_WR_SYNC */
#define GENZIO_CAP_RD (1ull << 5)	/* GENZIO_QPT_RD queue pairs */
#define GENZIO_CAP_RMAP (1ull << 6)	/* genzio_rmap_map(): load/store */
#define GENZIO_CAP_FINE_STATUS (1ull << 7) /* remote faults come back as
					 * BAD_RKEY, REM_BOUNDS, REM_ACCESS or
					 * REM_QP, local ones as LOC_PROT;
					 * without it (verbs) remote ones are
					 * REM_ACCESS, a gone remote queue pair
					 * RETRY_EXC, and local ones may be
					 * LOC_QP_OP or LOC_ACCESS */
#define GENZIO_CAP_ONE_SIDED_TARGET (1ull << 8) /* a target runs no library
					 * code for a peer to reach it, even a
					 * new one; without it, the target
					 * makes progress in its poll or its
					 * channel and event fds */
#define GENZIO_CAP_REG_CONVERT (1ull << 9) /* genzio_mr_reg() moves private
					 * memory into data space in place */
#define GENZIO_CAP_HUGE_PAGES (1ull << 10) /* huge pages were free at open */
#define GENZIO_CAP_RECV_STAGED (1ull << 11) /* genzio_post_recv() takes memory
					 * outside data space (any local-write
					 * registration): the provider receives
					 * into its own buffer and copies at
					 * poll; genzio_qp_query() says how
					 * much one may hold and counts them */
#define GENZIO_CAP_REG_ANY (1ull << 12)	/* genzio_mr_reg() gives remote READ
					 * and WRITE on any byte range of any
					 * memory, as ibv_reg_mr(); the
					 * provider's page says what else */
#define GENZIO_CAP_QP_SURVIVES_FAULT (1ull << 13) /* a request that fails
					 * (a bad key, bounds) leaves both queue
					 * pairs in RTS; without it, as in verbs,
					 * the failure moves the queue pair (and
					 * for a remote fault the remote one)
					 * to ERR: reset and connect again */
#define GENZIO_CAP_PEER_WATCH (1ull << 14) /* a peer's death raises
					 * PEER_DEAD even with no traffic to it;
					 * without it (verbs, which has no
					 * liveness signal) the next request to
					 * it fails RETRY_EXC and raises it */
#define GENZIO_CAP_RECV_ANY (1ull << 15) /* genzio_post_recv() takes any
					 * registration with local write (shm:
					 * by staging, RECV_STAGED; verbs: the
					 * device writes it directly) */
#define GENZIO_CAP_RESET_FLUSHES (1ull << 16) /* genzio_qp_reset() completes
					 * outstanding work FLUSHED; without it
					 * (verbs) that work is dropped */
#define GENZIO_CAP_CQ_BACKPRESSURE (1ull << 17) /* a post that a full cq could
					 * not complete fails -EAGAIN; without
					 * it (verbs) a cq overrun is fatal to
					 * the cq (CQ_OVERRUN): size cqs for
					 * every completion that may come */
#define GENZIO_CAP_DEATH_AT_ONCE (1ull << 18) /* a request to a peer whose
					 * process died fails RETRY_EXC,
					 * however soon after; without it
					 * (vfio in a QEMU guest: a bridge
					 * hears of its components by their
					 * heartbeat) requests within ten
					 * seconds of a death may still
					 * complete SUCCESS, their bytes
					 * landing where nobody reads */

/* Bit of an atomic opcode in atomic_ops32 / atomic_ops64. */
#define GENZIO_ATOMIC_OP(op) (1u << ((op) - GENZIO_WR_ATOMIC_SWAP))

/** What genzio_device_query() reports. */
struct genzio_device_attr {
	char name[GENZIO_NAME_MAX];
	char provider[16];
	uint64_t caps;		/* GENZIO_CAP_* bits */
	uint32_t gcid;		/* this context's component ID on the fabric */
	uint32_t atomic_ops32;	/* GENZIO_ATOMIC_OP() bits, 4-byte operands */
	uint32_t atomic_ops64;	/* ... 8-byte operands */
	uint32_t max_qp;	/* queue pairs per context */
	uint32_t max_cq;	/* completion queues per context */
	uint32_t max_qp_wr;	/* largest sq_depth / rq_depth */
	uint32_t max_cqe;	/* largest cq depth */
	uint32_t max_sge;	/* scatter entries per work request */
	uint32_t max_inline;	/* bytes accepted with GENZIO_SEND_INLINE */
	uint32_t max_mr;	/* registrations per context */
	uint64_t max_mr_size;	/* bytes one registration may cover */
	uint64_t page_size;	/* page size genzio_mem_alloc() got at open */
	uint64_t huge_budget;	/* bytes of huge pages this context may use */
	uint64_t huge_used;	/* bytes of huge pages it holds now */
	uint64_t max_recv_staged; /* GENZIO_CAP_RECV_STAGED: most bytes one
				 * receive outside data space may hold (a
				 * queue pair's own limit: genzio_qp_query) */
};

enum genzio_open_attr_mask {
	GENZIO_OPEN_ATTR_FABRIC = 1u << 0,
	GENZIO_OPEN_ATTR_SUBNET = 1u << 1,
	GENZIO_OPEN_ATTR_HUGE_BUDGET = 1u << 2,
};

/** Optional settings for genzio_device_open(); unset fields use defaults. */
struct genzio_open_attr {
	uint64_t comp_mask;	/* enum genzio_open_attr_mask: fields set */
	const char *fabric;	/* host fabric name ([A-Za-z0-9_], <= 24);
				 * default $GENZIO_FABRIC, else "default"
				 * (per user: each user's files are in
				 * its own directory) */
	uint32_t subnet;	/* 16-bit subnet ID of new GCIDs; default 1 */
	uint32_t reserved;
	uint64_t huge_budget;	/* max bytes of huge pages; default
				 * $GENZIO_HUGE_BUDGET or unlimited */
};

/**
 * genzio_device_list - Describe the devices that can be opened
 * @descs: array of @max entries, filled in order of preference
 * @max:   capacity of @descs (0 only counts)
 *
 * Return: number of devices available (may exceed @max), or -EINVAL.
 */
GENZIO_EXPORT int genzio_device_list_sz(struct genzio_device_desc *descs,
					int max, size_t size);
static inline int genzio_device_list(struct genzio_device_desc *descs, int max)
{
	return genzio_device_list_sz(descs, max, sizeof(*descs));
}

/**
 * genzio_provider_list - Describe the providers of this build
 * @descs: array of @max entries, in order of preference
 * @max:   capacity of @descs (0 only counts)
 *
 * Each entry says how many devices its provider can open here and, with
 * none, why not (no RDMA device, no vfio module, ...).
 *
 * Return: number of providers (may exceed @max), or -EINVAL.
 */
GENZIO_EXPORT int genzio_provider_list_sz(struct genzio_provider_desc *descs,
					  int max, size_t size);
static inline int genzio_provider_list(struct genzio_provider_desc *descs,
				       int max)
{
	return genzio_provider_list_sz(descs, max, sizeof(*descs));
}

/**
 * genzio_device_open - Open a device and join its fabric as a component
 * @name: a device name from genzio_device_list() ("shm0"), a provider
 *        name (its first device), or NULL: $GENZIO_DEVICE, else the
 *        first device of $GENZIO_PROVIDER, else the first device there
 *        is
 * @attr: optional settings, or NULL
 * @ctx:  out: the new context
 *
 * shm keeps every file in the private directory <base>/genzio-<euid>/
 * (base: $GENZIO_SHM_DIR, default /dev/shm), created 0700 and checked on
 * every open. Waits for another process's registry lock at most
 * $GENZIO_SETUP_TIMEOUT_MS (default 2000).
 *
 * Return: 0, -EINVAL (bad argument), -ENODEV (no such device), -ENOSPC (the
 * fabric has no free GCID), -ENOMEM, -EACCES (the private directory is
 * another user's, a symlink or not 0700), -ETIMEDOUT (the registry lock
 * stayed held), -EXDEV (registry of another PID namespace), -ENOTSUP (the
 * thread has no robust futex list for the life lock), -EDQUOT or -EFBIG
 * (the guard file cannot be created), or another -errno naming the cause.
 */
GENZIO_EXPORT int genzio_device_open(const char *name,
				     const struct genzio_open_attr *attr,
				     struct genzio_context **ctx);

/**
 * genzio_device_close - Leave the fabric and release everything of @ctx
 * @ctx: context with no pd, cq, qp, mr, mem or ah left
 *
 * Return: 0, -EINVAL, or -EBUSY while objects of @ctx remain.
 */
GENZIO_EXPORT int genzio_device_close(struct genzio_context *ctx);

/**
 * genzio_device_query - Report the GCID, provider, capabilities and limits
 *
 * Return: 0 or -EINVAL.
 */
GENZIO_EXPORT int genzio_device_query_sz(struct genzio_context *ctx,
					 struct genzio_device_attr *attr,
					 size_t size);
static inline int genzio_device_query(struct genzio_context *ctx,
				      struct genzio_device_attr *attr)
{
	return genzio_device_query_sz(ctx, attr, sizeof(*attr));
}

enum genzio_member_state {
	GENZIO_MEMBER_LIVE = 1,		/* its process runs */
	GENZIO_MEMBER_STALE,		/* it died without leaving; the next
					 * join reclaims its GCID and files */
	GENZIO_MEMBER_SELF,		/* a context of the calling process */
	GENZIO_MEMBER_CHANGING,		/* its slot stayed mid-update (a
					 * writer stopped in a join or leave) */
};

/** One component of a host fabric. */
struct genzio_member {
	uint32_t gcid;
	uint32_t state;		/* enum genzio_member_state */
	int32_t pid;		/* its process, on this host */
	uint32_t reserved;
	uint64_t incarnation;	/* distinct for every join of the fabric */
};

/**
 * genzio_member_list - List the components of a host fabric, by GCID
 * @name: device, as for genzio_device_open() (NULL: the default)
 * @attr: its fabric (GENZIO_OPEN_ATTR_FABRIC), as for
 *        genzio_device_open(); NULL: $GENZIO_FABRIC, else "default"
 * @m:    array of @max entries
 * @max:  capacity of @m (0 only counts)
 *
 * Does not join the fabric, so it sees components that died without
 * leaving (a join reclaims them). Reads the registry without its lock:
 * a component joining or leaving meanwhile may be missing or listed.
 *
 * Return: number of members (may exceed @max), -EINVAL, -ENODEV, -ENOTSUP
 * (the provider has no host fabric: its components are on a network),
 * or an error of genzio_device_open() about the fabric's files.
 */
GENZIO_EXPORT int genzio_member_list_sz(const char *name,
					const struct genzio_open_attr *attr,
					struct genzio_member *m, int max,
					size_t size);
static inline int genzio_member_list(const char *name,
				     const struct genzio_open_attr *attr,
				     struct genzio_member *m, int max)
{
	return genzio_member_list_sz(name, attr, m, max, sizeof(*m));
}

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_DEVICE_H */
