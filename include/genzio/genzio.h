/* SPDX-License-Identifier: MIT */
/*
 * genzio: userspace kernel-bypass I/O for Gen-Z-style memory fabrics.
 *
 * Every call returns 0 or a negative errno (poll returns a count). New objects
 * come back through an out-parameter written only on success. errno does not
 * report errors (a success may leave it changed). A failed transfer is
 * reported in its completion (struct genzio_wc), never as a return code of
 * the post that started it.
 *
 * Thread safety: device, pd, mr, mem and ah calls are safe from any thread.
 * A qp or a cq is used by one thread at a time; that is a rule, not a lock.
 */
#ifndef GENZIO_GENZIO_H
#define GENZIO_GENZIO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GENZIO_EXPORT __attribute__((visibility("default")))
#define GENZIO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* GCID: 16-bit subnet ID and 12-bit component ID in 28 bits. */
#define GENZIO_GCID(sid, cid) ((((uint32_t)(sid) & 0xffffu) << 12) | ((uint32_t)(cid) & 0xfffu))
#define GENZIO_GCID_SID(gcid) (((uint32_t)(gcid) >> 12) & 0xffffu)
#define GENZIO_GCID_CID(gcid) ((uint32_t)(gcid) & 0xfffu)
#define GENZIO_NAME_MAX 32
#define GENZIO_MAX_INLINE 32	/* bytes carried inside a command entry */

struct genzio_context;
struct genzio_pd;
struct genzio_ah;

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
					 * BAD_RKEY, REM_BOUNDS or REM_ACCESS;
					 * without it all are REM_ACCESS (as
					 * verbs' IBV_WC_REM_ACCESS_ERR) */
#define GENZIO_CAP_ONE_SIDED_TARGET (1ull << 8) /* a target runs no library
					 * code for a peer to reach it, even a
					 * new one; without it, the target
					 * makes progress in its poll or its
					 * channel and event fds */
#define GENZIO_CAP_REG_CONVERT (1ull << 9) /* genzio_mr_reg() moves private
					 * memory into data space in place */
#define GENZIO_CAP_HUGE_PAGES (1ull << 10) /* huge pages were free at open */

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

/* ------------------------------------------------------ protection, memory */

/**
 * genzio_pd_alloc - Allocate a protection domain with its own R-Key domain
 *
 * R-Keys are honoured only on queue pairs of the same domain, lkeys only
 * in work requests posted to queue pairs of the same domain.
 *
 * Return: 0, -EINVAL, -ENOSPC (all 4095 key domains in use), -ENOMEM, or
 * the -errno of getrandom(2).
 */
GENZIO_EXPORT int genzio_pd_alloc(struct genzio_context *ctx,
				  struct genzio_pd **pd);
/** genzio_pd_free - Free @pd. Return: 0, -EINVAL, or -EBUSY while in use. */
GENZIO_EXPORT int genzio_pd_free(struct genzio_pd *pd);

enum genzio_mem_flags {
	GENZIO_MEM_NO_HUGE = 1u << 0,	  /* normal pages only */
	GENZIO_MEM_HUGE_1G = 1u << 1,	  /* 1 GiB pages in place of 2 MiB */
	GENZIO_MEM_REQUIRE_HUGE = 1u << 2, /* fail with -ENOMEM, no fallback */
	GENZIO_MEM_LOCK = 1u << 3,	  /* mlock the pages */
};
/* Bind to NUMA node n (default: the node of the calling CPU). */
#define GENZIO_MEM_NODE(n) ((((uint32_t)(n) + 1u) & 0xffu) << 16)

/**
 * struct genzio_mem - Data-space memory that peers can reach (read-only)
 */
struct genzio_mem {
	void *addr;		/* start, page aligned */
	uint64_t length;	/* bytes, rounded up to page_size */
	uint64_t page_size;	/* page size obtained */
	int32_t numa_node;	/* node the pages are bound to, or -1 */
	uint32_t flags;		/* flags given to genzio_mem_alloc() */
};

/**
 * genzio_mem_alloc - Allocate data space that peers can map one-sidedly
 * @ctx:   context
 * @len:   bytes (> 0); rounded up to the page size obtained
 * @flags: enum genzio_mem_flags | GENZIO_MEM_NODE(n)
 * @mem:   out
 *
 * Huge pages are used when reserved and within the budget; otherwise normal
 * pages, reported once. The page size obtained is @mem->page_size.
 *
 * Return: 0, -EINVAL, -ENOMEM (no memory, or no huge pages with
 * GENZIO_MEM_REQUIRE_HUGE), or another -errno naming the cause.
 */
GENZIO_EXPORT int genzio_mem_alloc(struct genzio_context *ctx, uint64_t len,
				   uint32_t flags, struct genzio_mem **mem);
/** genzio_mem_free - Free @mem. Return: 0, -EINVAL, -EBUSY while registered. */
GENZIO_EXPORT int genzio_mem_free(struct genzio_mem *mem);

enum genzio_access {
	GENZIO_ACCESS_LOCAL_WRITE = 1u << 0,
	GENZIO_ACCESS_REMOTE_WRITE = 1u << 1,
	GENZIO_ACCESS_REMOTE_READ = 1u << 2,
	GENZIO_ACCESS_REMOTE_ATOMIC = 1u << 3,
};

/**
 * struct genzio_mr - A registered region (read-only for the application)
 */
struct genzio_mr {
	void *addr;		/* start of the region */
	uint64_t length;	/* bytes */
	uint32_t lkey;		/* local key for genzio_sge.lkey */
	uint32_t rkey;		/* R-Key peers use; 0 without remote access */
	uint32_t access;	/* enum genzio_access bits */
	uint32_t reserved;
};

/**
 * genzio_mr_reg - Register a region for local use and remote access
 * @pd:     protection domain
 * @addr:   start
 * @len:    bytes (> 0)
 * @access: enum genzio_access; REMOTE_WRITE and REMOTE_ATOMIC need
 *          LOCAL_WRITE, as in verbs
 * @mr:     out
 *
 * Remote access needs memory peers can reach: genzio_mem_alloc() memory, or
 * (shm) a page-aligned region of private anonymous read-write memory (heap
 * or anonymous mmap), whose pages are moved into a shared file in place
 * until the last registration inside it is deregistered; file mappings,
 * shared and read-only memory are refused (-EINVAL).
 * Keys are the provider's: shm's layout is in genzio_shm(7).
 *
 * Return: 0, -EINVAL, -ENOSPC (registrations, key table or segment ids
 * used up), -ENOMEM, -EMFILE, or another -errno naming the cause.
 */
GENZIO_EXPORT int genzio_mr_reg(struct genzio_pd *pd, void *addr, uint64_t len,
				uint32_t access, struct genzio_mr **mr);
/**
 * genzio_mr_dereg - Revoke @mr and free it
 * @mr: registration
 *
 * As with ibv_dereg_mr(): when it returns 0, no remote access through the
 * R-Key of @mr is in flight or will start, and later uses of its lkey
 * fail. shm revokes the key first, then waits (a membarrier, then the
 * in-flight lanes of every requester) for accesses that passed the key
 * check before, at most $GENZIO_SETUP_TIMEOUT_MS (default 2000). Load/store
 * mappings peers made of the region (genzio_rmap_map()) are not revoked.
 * A converted region is moved back to private anonymous memory, with the
 * same bytes, when its last registration goes.
 *
 * Return: 0, -EINVAL, or -ETIMEDOUT (a requester stayed inside an access,
 * stopped or in a debugger: the key stays revoked, @mr stays registered and
 * its lkey usable; call again later); another -errno from membarrier(2)
 * has the same effect.
 */
GENZIO_EXPORT int genzio_mr_dereg(struct genzio_mr *mr);

/**
 * genzio_ah_create - Address a remote component by GCID
 * @pd:   protection domain
 * @gcid: 28-bit GCID of a live component of the same fabric
 * @ah:   out
 *
 * Return: 0, -EINVAL, -EHOSTUNREACH (no live component has @gcid),
 * -EAGAIN (its registry slot stayed mid-update: try again), -ENOENT (it
 * is still being set up), -EMFILE, -ENFILE or -ENOMEM (it cannot be
 * mapped, or its liveness checked, for want of fds or memory: never
 * reported as -EHOSTUNREACH), -EPERM (its files fail the checks), or
 * another -errno naming the cause.
 */
GENZIO_EXPORT int genzio_ah_create(struct genzio_pd *pd, uint32_t gcid,
				   struct genzio_ah **ah);
/**
 * genzio_ah_create_addr - Address the component of a queue-pair address
 * @pd:   protection domain
 * @addr: a genzio_qp_addr() of one of its queue pairs (RD work requests
 *        then name that queue pair, or another, in remote_qpn)
 * @len:  its length
 * @ah:   out
 *
 * As genzio_ah_create() for the address's GCID, but bound to the
 * component that published the address: one that left, whose GCID
 * another holds now, is -EHOSTUNREACH. The form network providers need.
 *
 * Return: as genzio_ah_create(), and -EAFNOSUPPORT (an address of another
 * provider).
 */
GENZIO_EXPORT int genzio_ah_create_addr(struct genzio_pd *pd,
					const void *addr, size_t len,
					struct genzio_ah **ah);
/** genzio_ah_destroy - Free @ah; no work request may still name it.
 *  Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_ah_destroy(struct genzio_ah *ah);

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
	GENZIO_WC_REM_OP = 0xc8,	/* receiver's completion queue overran */
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
	uint32_t reserved;
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
 * Return: 0, -EINVAL (bad depth or comp_mask), -ENOSPC (max_cq reached),
 * -ENOMEM.
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
 * Return: 0, -EINVAL, -ENOSPC (too many channels), -ENOMEM, or -errno.
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
 * -EINTR, or another -errno.
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
};

/** One unsolicited event (Gen-Z UEP). */
struct genzio_event {
	uint32_t type;		/* enum genzio_event_type */
	uint32_t gcid;		/* PEER_DEAD, COMPONENT_*: the component;
				 * QP_ERR: its peer's */
	struct genzio_cq *cq;	/* CQ_OVERRUN */
	uint32_t qp_num;	/* QP_ERR: the queue pair */
	uint32_t status;	/* QP_ERR: the completion status that did it */
	uint64_t reserved;
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
	uint32_t max_inline;	/* <= GENZIO_MAX_INLINE */
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
 * Return: 0, -EINVAL (bad type, depth, sge count, inline size, cq of another
 * context, comp_mask), -ENOSPC (no free queue pair number), -ENOMEM.
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
 * another completes with GENZIO_WC_REM_QP.
 *
 * Return: 0, -EINVAL (not RC, or a malformed address), -EISCONN (@qp is
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
 * Unlike verbs' move to RESET, which drops outstanding work silently,
 * every outstanding send and receive completes with GENZIO_WC_FLUSHED
 * (their completions go to the cqs, as on ERR); then @qp may connect
 * again, to the same peer or another one.
 *
 * Return: 0, -EINVAL (NULL or not RC).
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
 * Return: 0, -EINVAL (malformed request), -EAGAIN (no effect: the send cq
 * could not hold this completion besides those it holds and owes, or 256
 * requests already parked waiting for receive buffers: poll, then post
 * *bad_wr again), -ENOTCONN (RC not connected).
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
 * Receive buffers must lie in data space: genzio_mem_alloc() memory, or
 * a region registered with remote access (a sender writes into them).
 *
 * Return: 0, -EINVAL (bad sge, lkey, or a buffer outside data space),
 * -EAGAIN (rq_depth receives outstanding).
 */
static inline int genzio_post_recv(struct genzio_qp *qp,
				   struct genzio_recv_wr *wr,
				   struct genzio_recv_wr **bad_wr)
{
	if (GENZIO_UNLIKELY(!qp || !wr || !bad_wr))
		return -EINVAL;
	return qp->post_recv(qp, wr, bad_wr);
}

/* ------------------------------------------------------ load/store access */

enum genzio_rmap_mode {
	GENZIO_RMAP_WB = 0,	/* write-back: cached like local memory */
	GENZIO_RMAP_WC = 1,	/* write-combining: stores buffered, flush
				 * drains them (coherent memory: as WB) */
};

/** A remote region mapped for loads and stores (requester ZMMU entry). */
struct genzio_rmap {
	void *addr;		/* load and store here */
	uint64_t length;
	uint32_t mode;		/* enum genzio_rmap_mode obtained */
	uint32_t writable;	/* 0: the key is read-only, stores fault */
};

/**
 * genzio_rmap_map - Map a remote region for loads and stores
 * @ah:         the remote component
 * @remote_qpn: a queue pair of it: the key must be one its protection
 *              domain honours, the same rule as for RMA through it
 * @raddr:      remote address, inside a region of @rkey
 * @len:        bytes (> 0)
 * @rkey:       R-Key; REMOTE_WRITE maps read-write, else REMOTE_READ
 *              read-only
 * @mode:       enum genzio_rmap_mode
 * @rmap:       out
 *
 * A mapping has page granularity (the page size of the remote memory), so
 * the key's region must cover every page [@raddr, @raddr + @len) touches:
 * a load or store never reaches bytes the key does not grant.
 *
 * Stores become visible to the owner after genzio_flush(). If the owner
 * dies, the mapping stays valid memory that nobody else sees any more;
 * its PEER_DEAD event says so.
 *
 * Return: 0, -EINVAL (bad argument, or pages the key does not cover),
 * -EACCES (key lacks REMOTE_READ, bounds, or another protection domain),
 * -ENOENT (no such key), -EHOSTUNREACH (peer or its queue pair gone),
 * -ENOMEM, or -errno of mmap.
 */
GENZIO_EXPORT int genzio_rmap_map(struct genzio_ah *ah, uint32_t remote_qpn,
				  uint64_t raddr, uint64_t len, uint32_t rkey,
				  uint32_t mode, struct genzio_rmap **rmap);
/** genzio_rmap_unmap - Remove the mapping. Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_rmap_unmap(struct genzio_rmap *rmap);

/**
 * genzio_flush - Make stores to [@ptr, @ptr + @len) visible to the owner
 *
 * Uses the cheapest correct instruction for the memory behind the
 * mapping: a store fence on coherent memory, draining write-combining
 * buffers on WC mappings, cache-line write-back (clwb, clflushopt or
 * clflush, whichever the CPU has) plus a store fence on memory that is
 * not coherent.
 *
 * Return: 0, or -EINVAL (@ptr NULL with @len > 0).
 */
GENZIO_EXPORT int genzio_flush(const void *ptr, size_t len);

/**
 * genzio_fence - Order every earlier store before every later one
 *
 * Return: 0.
 */
static inline int genzio_fence(void)
{
#if defined(__x86_64__) || defined(__i386__)
	/* sfence also orders non-temporal and write-combining stores */
	__asm__ __volatile__("sfence" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
	return 0;
}

/* ------------------------------------------------------ out-of-band setup */

/**
 * struct genzio_conn_info - What two processes exchange to talk
 *
 * qp_addr is the queue pair's address, for genzio_qp_connect(); gcid and
 * qpn name it for RD work requests (genzio_ah_create() and remote_qpn).
 * addr, length and rkey describe one registered region the sender offers
 * (all 0 when it offers none).
 */
struct genzio_conn_info {
	uint32_t gcid;
	uint32_t qpn;
	uint32_t rkey;
	uint32_t qp_addr_len;		/* bytes of qp_addr used */
	uint64_t addr;
	uint64_t length;
	uint8_t qp_addr[GENZIO_ADDR_MAX];
};

/* Buffer for genzio_conn_info_str(). */
#define GENZIO_CONN_INFO_STRLEN (64 + GENZIO_ADDR_STRLEN)

/**
 * genzio_conn_info_init - Describe @qp and (if not NULL) region @mr
 * Return: 0, -EINVAL, or an error of genzio_qp_addr().
 */
GENZIO_EXPORT int genzio_conn_info_init(struct genzio_conn_info *info,
					struct genzio_qp *qp,
					const struct genzio_mr *mr);
/**
 * genzio_conn_info_str - Format @info as one line of text
 * Return: 0, -EINVAL (also for a GCID over 28 or a qpn over 24 bits, or
 * a malformed address), -ENOSPC (@len < GENZIO_CONN_INFO_STRLEN).
 */
GENZIO_EXPORT int genzio_conn_info_str(const struct genzio_conn_info *info,
				       char *buf, size_t len);
/** genzio_conn_info_parse - Read text from genzio_conn_info_str().
 *  Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_conn_info_parse(const char *str,
					 struct genzio_conn_info *info);
/**
 * genzio_conn_info_exchange - Send @mine over @fd and read the peer's
 * @fd: a connected stream socket (both sides call this)
 *
 * Each side sends its text form with its length first, so a peer's longer
 * line (up to 4 KiB) is read whole and the stream stays in step even when
 * that line is of a form this version does not parse (-EPROTO).
 *
 * Return: 0, -EINVAL, -EPIPE (peer closed early), -EPROTO (the peer sent
 * no line of this form), or the -errno of I/O.
 */
GENZIO_EXPORT int genzio_conn_info_exchange(int fd,
					    const struct genzio_conn_info *mine,
					    struct genzio_conn_info *peer);

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_GENZIO_H */
