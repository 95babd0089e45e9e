/* SPDX-License-Identifier: MIT */
/*
 * genzio/ibverbs/absent.h: what genzio does not have, failing as on a device without it. A part of <genzio/ibverbs_compat.h>,
 * which includes the parts in order: include that.
 */
#ifndef GENZIO_IBVERBS_ABSENT_H
#define GENZIO_IBVERBS_ABSENT_H

#ifndef GENZIO_IBVERBS_COMPAT_H
#error "include <genzio/ibverbs_compat.h>, not its parts"
#endif

/* ------------------------------------- extensions genzio does not have
 *
 * Declared so verbs programs that test for them compile unchanged; each
 * fails as on a device without it (NULL and EOPNOTSUPP, or zero
 * capabilities), and no object of these types is ever made, so their
 * accessors are never reached with one.
 */
struct ibv_td;
struct ibv_xrcd;
struct ibv_rwq_ind_table;
struct ibv_mw;
struct ibv_mw_bind_info;

enum { IBV_ODP_SUPPORT_IMPLICIT = 1 << 1 };

struct ibv_rx_hash_conf {
	uint8_t rx_hash_function;
	uint8_t rx_hash_key_len;
	uint8_t *rx_hash_key;
	uint64_t rx_hash_fields_mask;
};

/* Shared receive queues: none of the user's (max_srq is 0). */
struct ibv_srq {
	struct ibv_context *context;
	void *srq_context;
	struct ibv_pd *pd;
	uint32_t handle;
	uint32_t events_completed;
};

struct ibv_srq_attr {
	uint32_t max_wr;
	uint32_t max_sge;
	uint32_t srq_limit;
};

struct ibv_srq_init_attr {
	void *srq_context;
	struct ibv_srq_attr attr;
};

enum ibv_srq_attr_mask { IBV_SRQ_MAX_WR = 1 << 0, IBV_SRQ_LIMIT = 1 << 1 };

static inline struct ibv_srq *ibv_create_srq(struct ibv_pd *pd,
					     struct ibv_srq_init_attr *attr)
{
	(void)pd, (void)attr;
	errno = EOPNOTSUPP;
	return NULL;
}

static inline int ibv_modify_srq(struct ibv_srq *srq,
				 struct ibv_srq_attr *attr, int mask)
{
	(void)srq, (void)attr, (void)mask;
	return EINVAL;	/* none was made */
}

static inline int ibv_query_srq(struct ibv_srq *srq, struct ibv_srq_attr *a)
{
	(void)srq, (void)a;
	return EINVAL;
}

static inline int ibv_destroy_srq(struct ibv_srq *srq)
{
	(void)srq;
	return EINVAL;
}

static inline int ibv_post_srq_recv(struct ibv_srq *srq,
				    struct ibv_recv_wr *wr,
				    struct ibv_recv_wr **bad_wr)
{
	(void)srq;
	if (bad_wr)
		*bad_wr = wr;
	return EINVAL;
}

/* UD address handles: no UD queue pair takes one (genzio's RD is no
 * datagram service: genzio_porting(7)). */
struct ibv_ah {
	struct ibv_context *context;
	struct ibv_pd *pd;
	uint32_t handle;
};

static inline struct ibv_ah *ibv_create_ah(struct ibv_pd *pd,
					   struct ibv_ah_attr *attr)
{
	(void)pd, (void)attr;
	errno = EOPNOTSUPP;
	return NULL;
}

static inline int ibv_destroy_ah(struct ibv_ah *ah)
{
	(void)ah;
	return EINVAL;
}

/* Device memory. */
struct ibv_alloc_dm_attr {
	size_t length;
	uint32_t log_align_req;
	uint32_t comp_mask;
};

struct ibv_dm {
	struct ibv_context *context;
	uint32_t comp_mask;
	uint32_t handle;
};

static inline struct ibv_dm *ibv_alloc_dm(struct ibv_context *context,
					  struct ibv_alloc_dm_attr *attr)
{
	(void)context, (void)attr;
	errno = EOPNOTSUPP;	/* max_dm_size is 0 */
	return NULL;
}

static inline int ibv_free_dm(struct ibv_dm *dm)
{
	(void)dm;
	return EINVAL;	/* none was allocated */
}

static inline int ibv_memcpy_to_dm(struct ibv_dm *dm, uint64_t off,
				   const void *host, size_t len)
{
	(void)dm, (void)off, (void)host, (void)len;
	return EOPNOTSUPP;
}

static inline int ibv_memcpy_from_dm(void *host, struct ibv_dm *dm,
				     uint64_t off, size_t len)
{
	(void)host, (void)dm, (void)off, (void)len;
	return EOPNOTSUPP;
}

static inline struct ibv_mr *ibv_reg_dm_mr(struct ibv_pd *pd,
					   struct ibv_dm *dm, uint64_t off,
					   size_t len, unsigned int access)
{
	(void)pd, (void)dm, (void)off, (void)len, (void)access;
	errno = EOPNOTSUPP;
	return NULL;
}

/* Prefetching an ODP registration: there is no ODP. */
enum ibv_advise_mr_advice {
	IBV_ADVISE_MR_ADVICE_PREFETCH, IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE,
	IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT,
};

enum { IB_UVERBS_ADVISE_MR_FLAG_FLUSH = 1 << 0 };

static inline int ibv_advise_mr(struct ibv_pd *pd,
				enum ibv_advise_mr_advice advice,
				uint32_t flags, struct ibv_sge *sg_list,
				uint32_t num_sge)
{
	(void)pd, (void)advice, (void)flags, (void)sg_list, (void)num_sge;
	return EOPNOTSUPP;
}

/* Parent and thread domains. */
struct ibv_td_init_attr {
	uint32_t comp_mask;
};

static inline struct ibv_td *ibv_alloc_td(struct ibv_context *context,
					  struct ibv_td_init_attr *attr)
{
	(void)context, (void)attr;
	errno = EOPNOTSUPP;
	return NULL;
}

static inline int ibv_dealloc_td(struct ibv_td *td)
{
	(void)td;
	return EINVAL;
}

static inline struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd,
					       uint64_t offset, size_t length,
					       uint64_t iova, int fd,
					       int access)
{
	(void)pd, (void)offset, (void)length, (void)iova, (void)fd;
	(void)access;
	errno = EOPNOTSUPP;
	return NULL;
}

enum ibv_parent_domain_init_attr_mask {
	IBV_PARENT_DOMAIN_INIT_ATTR_ALLOCATORS = 1 << 0,
	IBV_PARENT_DOMAIN_INIT_ATTR_PD_CONTEXT = 1 << 1,
	IBV_PARENT_DOMAIN_INIT_ATTR_ALLOW_CC_UNPROTECTED_ALLOC = 1 << 2,
};

struct ibv_parent_domain_init_attr {
	struct ibv_pd *pd;
	struct ibv_td *td;
	uint32_t comp_mask;
	void *(*alloc)(struct ibv_pd *pd, void *pd_context, size_t size,
		       size_t alignment, uint64_t resource_type);
	void (*free)(struct ibv_pd *pd, void *pd_context, void *ptr,
		     uint64_t resource_type);
	void *pd_context;
};

static inline struct ibv_pd *
ibv_alloc_parent_domain(struct ibv_context *context,
			struct ibv_parent_domain_init_attr *attr)
{
	(void)context, (void)attr;
	errno = EOPNOTSUPP;
	return NULL;
}

/* Buffers the provider allocates: genzio's data space, as
 * genzio_mem_alloc() gives it (page aligned, peers reach it in place). */
struct ibv_buf {
	struct genzio_mem *gz;
};

static inline void *ibv_alloc_buf(struct ibv_pd *pd, size_t size,
				  struct ibv_buf **buf)
{
	struct ibv_buf *b;
	int ret;

	if (!pd || !buf || !size) {
		errno = EINVAL;
		return NULL;
	}
	b = (struct ibv_buf *)gz_ibv_alloc(sizeof(*b));
	if (!b)
		return NULL;
	ret = genzio_mem_alloc(pd->context->gz, size, 0, &b->gz);
	if (ret)
		return (struct ibv_buf *)gz_ibv_undo(b, ret);
	*buf = b;
	return b->gz->addr;
}

static inline void ibv_free_buf(struct ibv_buf *buf)
{
	if (buf && !genzio_mem_free(buf->gz))
		free(buf);
}

static inline int ibv_export_buf_dmabuf_fd(struct ibv_buf *buf)
{
	(void)buf;
	errno = EOPNOTSUPP;
	return -1;
}

static inline struct ibv_mr *ibv_reg_buf_mr(struct ibv_pd *pd,
					    struct ibv_buf *buf, void *addr,
					    size_t length, int access)
{
	uint8_t *p = (uint8_t *)addr, *base;

	if (!buf) {
		errno = EINVAL;
		return NULL;
	}
	base = (uint8_t *)buf->gz->addr;
	if (p < base || length > buf->gz->length ||
	    (size_t)(p - base) > buf->gz->length - length) {
		errno = EINVAL;	/* not inside the buffer */
		return NULL;
	}
	return ibv_reg_mr(pd, addr, length, access);
}

/* Extended completion queues (timestamps, the poll-by-field API). */
enum ibv_create_cq_wc_flags {
	IBV_WC_EX_WITH_BYTE_LEN = 1 << 0, IBV_WC_EX_WITH_IMM = 1 << 1,
	IBV_WC_EX_WITH_QP_NUM = 1 << 2, IBV_WC_EX_WITH_SRC_QP = 1 << 3,
	IBV_WC_EX_WITH_SLID = 1 << 4, IBV_WC_EX_WITH_SL = 1 << 5,
	IBV_WC_EX_WITH_DLID_PATH_BITS = 1 << 6,
	IBV_WC_EX_WITH_COMPLETION_TIMESTAMP = 1 << 7,
	IBV_WC_EX_WITH_CVLAN = 1 << 8, IBV_WC_EX_WITH_FLOW_TAG = 1 << 9,
	IBV_WC_EX_WITH_TM_INFO = 1 << 10,
	IBV_WC_EX_WITH_COMPLETION_TIMESTAMP_WALLCLOCK = 1 << 11,
};

enum ibv_cq_init_attr_mask {
	IBV_CQ_INIT_ATTR_MASK_FLAGS = 1 << 0, IBV_CQ_INIT_ATTR_MASK_PD = 1 << 1,
};

struct ibv_cq_init_attr_ex {
	uint32_t cqe;
	void *cq_context;
	struct ibv_comp_channel *channel;
	uint32_t comp_vector;
	uint64_t wc_flags;
	uint32_t comp_mask;
	uint32_t flags;
	struct ibv_pd *parent_domain;
};

struct ibv_poll_cq_attr {
	uint32_t comp_mask;
};

struct ibv_cq_ex {
	struct ibv_context *context;
	struct ibv_comp_channel *channel;
	void *cq_context;
	uint32_t handle;
	int cqe;
	uint32_t comp_mask;
	enum ibv_wc_status status;
	uint64_t wr_id;
};

static inline struct ibv_cq_ex *
ibv_create_cq_ex(struct ibv_context *context, struct ibv_cq_init_attr_ex *a)
{
	(void)context, (void)a;
	errno = EOPNOTSUPP;	/* completion_timestamp_mask is 0 */
	return NULL;
}

static inline struct ibv_cq *ibv_cq_ex_to_cq(struct ibv_cq_ex *cq)
{
	(void)cq;
	return NULL;
}

static inline int ibv_start_poll(struct ibv_cq_ex *cq,
				 struct ibv_poll_cq_attr *attr)
{
	(void)cq, (void)attr;
	return EINVAL;
}

static inline int ibv_next_poll(struct ibv_cq_ex *cq)
{
	(void)cq;
	return EINVAL;
}

static inline void ibv_end_poll(struct ibv_cq_ex *cq)
{
	(void)cq;
}

static inline uint64_t ibv_wc_read_completion_ts(struct ibv_cq_ex *cq)
{
	(void)cq;
	return 0;
}

/* Extended queue pairs: created as plain ones when nothing extended is
 * asked; the ibv_wr_* API (send_ops_flags) is not there. */
enum ibv_qp_init_attr_mask {
	IBV_QP_INIT_ATTR_PD = 1 << 0, IBV_QP_INIT_ATTR_XRCD = 1 << 1,
	IBV_QP_INIT_ATTR_CREATE_FLAGS = 1 << 2,
	IBV_QP_INIT_ATTR_MAX_TSO_HEADER = 1 << 3,
	IBV_QP_INIT_ATTR_IND_TABLE = 1 << 4, IBV_QP_INIT_ATTR_RX_HASH = 1 << 5,
	IBV_QP_INIT_ATTR_SEND_OPS_FLAGS = 1 << 6,
};

enum ibv_qp_create_send_ops_flags {
	IBV_QP_EX_WITH_RDMA_WRITE = 1 << 0,
	IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM = 1 << 1,
	IBV_QP_EX_WITH_SEND = 1 << 2, IBV_QP_EX_WITH_SEND_WITH_IMM = 1 << 3,
	IBV_QP_EX_WITH_RDMA_READ = 1 << 4,
	IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP = 1 << 5,
	IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD = 1 << 6,
	IBV_QP_EX_WITH_LOCAL_INV = 1 << 7, IBV_QP_EX_WITH_BIND_MW = 1 << 8,
	IBV_QP_EX_WITH_SEND_WITH_INV = 1 << 9, IBV_QP_EX_WITH_TSO = 1 << 10,
};

struct ibv_qp_init_attr_ex {
	void *qp_context;
	struct ibv_cq *send_cq;
	struct ibv_cq *recv_cq;
	struct ibv_srq *srq;
	struct ibv_qp_cap cap;
	enum ibv_qp_type qp_type;
	int sq_sig_all;
	uint32_t comp_mask;
	struct ibv_pd *pd;
	struct ibv_xrcd *xrcd;
	uint32_t create_flags;
	uint16_t max_tso_header;
	struct ibv_rwq_ind_table *rwq_ind_tbl;
	struct ibv_rx_hash_conf rx_hash_conf;
	uint32_t source_qpn;
	uint64_t send_ops_flags;
};

static inline struct ibv_qp *
ibv_create_qp_ex(struct ibv_context *context, struct ibv_qp_init_attr_ex *a)
{
	struct ibv_qp_init_attr ia;

	if (!context || !a || !(a->comp_mask & IBV_QP_INIT_ATTR_PD) ||
	    !a->pd || a->pd->context != context) {
		errno = EINVAL;
		return NULL;
	}
	if (a->comp_mask != IBV_QP_INIT_ATTR_PD) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	memset(&ia, 0, sizeof(ia));
	ia.qp_context = a->qp_context;
	ia.send_cq = a->send_cq;
	ia.recv_cq = a->recv_cq;
	ia.srq = a->srq;
	ia.cap = a->cap;
	ia.qp_type = a->qp_type;
	ia.sq_sig_all = a->sq_sig_all;
	struct ibv_qp *qp = ibv_create_qp(a->pd, &ia);

	if (qp)
		a->cap = ia.cap;
	return qp;
}

struct ibv_qp_ex {
	struct ibv_qp qp_base;
	uint64_t comp_mask;
	uint64_t wr_id;
	unsigned int wr_flags;
};

static inline struct ibv_qp_ex *ibv_qp_to_qp_ex(struct ibv_qp *qp)
{
	(void)qp;
	return NULL;	/* none was made with send_ops_flags */
}

static inline void ibv_wr_start(struct ibv_qp_ex *qp) { (void)qp; }
static inline void ibv_wr_abort(struct ibv_qp_ex *qp) { (void)qp; }
static inline int ibv_wr_complete(struct ibv_qp_ex *qp)
{
	(void)qp;
	return EOPNOTSUPP;
}
static inline void ibv_wr_send(struct ibv_qp_ex *qp) { (void)qp; }
static inline void ibv_wr_send_imm(struct ibv_qp_ex *qp, __be32 imm)
{
	(void)qp, (void)imm;
}
static inline void ibv_wr_rdma_write(struct ibv_qp_ex *qp, uint32_t rkey,
				     uint64_t addr)
{
	(void)qp, (void)rkey, (void)addr;
}
static inline void ibv_wr_rdma_write_imm(struct ibv_qp_ex *qp, uint32_t rkey,
					 uint64_t addr, __be32 imm)
{
	(void)qp, (void)rkey, (void)addr, (void)imm;
}
static inline void ibv_wr_rdma_read(struct ibv_qp_ex *qp, uint32_t rkey,
				    uint64_t addr)
{
	(void)qp, (void)rkey, (void)addr;
}
static inline void ibv_wr_atomic_cmp_swp(struct ibv_qp_ex *qp, uint32_t rkey,
					 uint64_t addr, uint64_t compare,
					 uint64_t swap)
{
	(void)qp, (void)rkey, (void)addr, (void)compare, (void)swap;
}
static inline void ibv_wr_atomic_fetch_add(struct ibv_qp_ex *qp, uint32_t rkey,
					   uint64_t addr, uint64_t add)
{
	(void)qp, (void)rkey, (void)addr, (void)add;
}
static inline void ibv_wr_set_sge(struct ibv_qp_ex *qp, uint32_t lkey,
				  uint64_t addr, uint32_t length)
{
	(void)qp, (void)lkey, (void)addr, (void)length;
}
static inline void ibv_wr_set_sge_list(struct ibv_qp_ex *qp, size_t n,
				       const struct ibv_sge *sg)
{
	(void)qp, (void)n, (void)sg;
}
static inline void ibv_wr_set_inline_data(struct ibv_qp_ex *qp, void *addr,
					  size_t length)
{
	(void)qp, (void)addr, (void)length;
}

#endif /* GENZIO_IBVERBS_ABSENT_H */
