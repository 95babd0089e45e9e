/* SPDX-License-Identifier: MIT */
/*
 * genzio/ibverbs_compat.h: verbs source on genzio, unchanged but for its
 * include line and its link flag (-lgenzio). Opt in by including this
 * instead of <infiniband/verbs.h>; never both.
 *
 * It defines its own ibv_* types with verbs' field names and nesting, and
 * verbs' names and values of flags, opcodes and statuses, and converts to
 * the native API inline. Verbs' conventions hold: NULL and errno from the
 * calls that make objects, a positive errno from the others and from post
 * calls. What genzio cannot honour fails as verbs fails on a device
 * without the feature (capability bits clear, EOPNOTSUPP or EINVAL), and
 * nothing silently behaves otherwise; the differences are in
 * genzio_porting(7).
 *
 * Connections: ibv_modify_qp() keeps the attributes of INIT and RTR and
 * connects at RTS (genzio_qp_connect_verbs), from the LID, GID, QPN and
 * PSN a verbs program swaps; ibv_query_port() and ibv_query_gid() answer
 * from genzio_verbs_port().
 */
#ifndef GENZIO_IBVERBS_COMPAT_H
#define GENZIO_IBVERBS_COMPAT_H

#if defined(INFINIBAND_VERBS_H) && !defined(GENZIO_IBVERBS_COMPAT_ONLY)
#error "genzio/ibverbs_compat.h replaces <infiniband/verbs.h>: include one"
#endif
/* and <infiniband/verbs.h> after us is refused by its own guard's name */
#define INFINIBAND_VERBS_H 1
#define GENZIO_IBVERBS_COMPAT_ONLY 1

#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>	/* __be32, as verbs' header gives */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <genzio/genzio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ enums */

enum ibv_wc_status {
	IBV_WC_SUCCESS, IBV_WC_LOC_LEN_ERR, IBV_WC_LOC_QP_OP_ERR,
	IBV_WC_LOC_EEC_OP_ERR, IBV_WC_LOC_PROT_ERR, IBV_WC_WR_FLUSH_ERR,
	IBV_WC_MW_BIND_ERR, IBV_WC_BAD_RESP_ERR, IBV_WC_LOC_ACCESS_ERR,
	IBV_WC_REM_INV_REQ_ERR, IBV_WC_REM_ACCESS_ERR, IBV_WC_REM_OP_ERR,
	IBV_WC_RETRY_EXC_ERR, IBV_WC_RNR_RETRY_EXC_ERR,
	IBV_WC_LOC_RDD_VIOL_ERR, IBV_WC_REM_INV_RD_REQ_ERR,
	IBV_WC_REM_ABORT_ERR, IBV_WC_INV_EECN_ERR, IBV_WC_INV_EEC_STATE_ERR,
	IBV_WC_FATAL_ERR, IBV_WC_RESP_TIMEOUT_ERR, IBV_WC_GENERAL_ERR,
	IBV_WC_TM_ERR, IBV_WC_TM_RNDV_INCOMPLETE,
};

enum ibv_wc_opcode {
	IBV_WC_SEND, IBV_WC_RDMA_WRITE, IBV_WC_RDMA_READ, IBV_WC_COMP_SWAP,
	IBV_WC_FETCH_ADD, IBV_WC_BIND_MW, IBV_WC_LOCAL_INV, IBV_WC_TSO,
	IBV_WC_RECV = 1 << 7, IBV_WC_RECV_RDMA_WITH_IMM,
};

enum ibv_wc_flags {
	IBV_WC_GRH = 1 << 0, IBV_WC_WITH_IMM = 1 << 1,
	IBV_WC_IP_CSUM_OK = 1 << 2, IBV_WC_WITH_INV = 1 << 3,
};

enum ibv_wr_opcode {
	IBV_WR_RDMA_WRITE, IBV_WR_RDMA_WRITE_WITH_IMM, IBV_WR_SEND,
	IBV_WR_SEND_WITH_IMM, IBV_WR_RDMA_READ, IBV_WR_ATOMIC_CMP_AND_SWP,
	IBV_WR_ATOMIC_FETCH_AND_ADD, IBV_WR_LOCAL_INV, IBV_WR_BIND_MW,
	IBV_WR_SEND_WITH_INV, IBV_WR_TSO, IBV_WR_DRIVER1,
};

enum ibv_send_flags {
	IBV_SEND_FENCE = 1 << 0, IBV_SEND_SIGNALED = 1 << 1,
	IBV_SEND_SOLICITED = 1 << 2, IBV_SEND_INLINE = 1 << 3,
	IBV_SEND_IP_CSUM = 1 << 4,
};

enum ibv_access_flags {
	IBV_ACCESS_LOCAL_WRITE = 1, IBV_ACCESS_REMOTE_WRITE = 1 << 1,
	IBV_ACCESS_REMOTE_READ = 1 << 2, IBV_ACCESS_REMOTE_ATOMIC = 1 << 3,
	IBV_ACCESS_MW_BIND = 1 << 4, IBV_ACCESS_ZERO_BASED = 1 << 5,
	IBV_ACCESS_ON_DEMAND = 1 << 6, IBV_ACCESS_HUGETLB = 1 << 7,
	IBV_ACCESS_RELAXED_ORDERING = 1 << 20,
	IBV_ACCESS_OPTIONAL_RANGE = 0x3ff00000,
};

enum ibv_qp_type {
	IBV_QPT_RC = 2, IBV_QPT_UC, IBV_QPT_UD, IBV_QPT_RAW_PACKET = 8,
	IBV_QPT_XRC_SEND, IBV_QPT_XRC_RECV, IBV_QPT_DRIVER = 0xff,
};

enum ibv_qp_state {
	IBV_QPS_RESET, IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS, IBV_QPS_SQD,
	IBV_QPS_SQE, IBV_QPS_ERR, IBV_QPS_UNKNOWN,
};

enum ibv_qp_attr_mask {
	IBV_QP_STATE = 1 << 0, IBV_QP_CUR_STATE = 1 << 1,
	IBV_QP_EN_SQD_ASYNC_NOTIFY = 1 << 2, IBV_QP_ACCESS_FLAGS = 1 << 3,
	IBV_QP_PKEY_INDEX = 1 << 4, IBV_QP_PORT = 1 << 5,
	IBV_QP_QKEY = 1 << 6, IBV_QP_AV = 1 << 7, IBV_QP_PATH_MTU = 1 << 8,
	IBV_QP_TIMEOUT = 1 << 9, IBV_QP_RETRY_CNT = 1 << 10,
	IBV_QP_RNR_RETRY = 1 << 11, IBV_QP_RQ_PSN = 1 << 12,
	IBV_QP_MAX_QP_RD_ATOMIC = 1 << 13, IBV_QP_ALT_PATH = 1 << 14,
	IBV_QP_MIN_RNR_TIMER = 1 << 15, IBV_QP_SQ_PSN = 1 << 16,
	IBV_QP_MAX_DEST_RD_ATOMIC = 1 << 17, IBV_QP_PATH_MIG_STATE = 1 << 18,
	IBV_QP_CAP = 1 << 19, IBV_QP_DEST_QPN = 1 << 20,
};

enum ibv_mtu {
	IBV_MTU_256 = 1, IBV_MTU_512, IBV_MTU_1024, IBV_MTU_2048,
	IBV_MTU_4096,
};

enum ibv_port_state {
	IBV_PORT_NOP, IBV_PORT_DOWN, IBV_PORT_INIT, IBV_PORT_ARMED,
	IBV_PORT_ACTIVE, IBV_PORT_ACTIVE_DEFER,
};

enum {
	IBV_LINK_LAYER_UNSPECIFIED, IBV_LINK_LAYER_INFINIBAND,
	IBV_LINK_LAYER_ETHERNET,
};

enum ibv_atomic_cap { IBV_ATOMIC_NONE, IBV_ATOMIC_HCA, IBV_ATOMIC_GLOB };

enum ibv_node_type {
	IBV_NODE_UNKNOWN = -1, IBV_NODE_CA = 1, IBV_NODE_SWITCH,
	IBV_NODE_ROUTER, IBV_NODE_RNIC, IBV_NODE_USNIC, IBV_NODE_USNIC_UDP,
	IBV_NODE_UNSPECIFIED,
};

enum ibv_transport_type {
	IBV_TRANSPORT_UNKNOWN = -1, IBV_TRANSPORT_IB = 0,
	IBV_TRANSPORT_IWARP, IBV_TRANSPORT_USNIC, IBV_TRANSPORT_USNIC_UDP,
	IBV_TRANSPORT_UNSPECIFIED,
};

enum ibv_event_type {
	IBV_EVENT_CQ_ERR, IBV_EVENT_QP_FATAL, IBV_EVENT_QP_REQ_ERR,
	IBV_EVENT_QP_ACCESS_ERR, IBV_EVENT_COMM_EST, IBV_EVENT_SQ_DRAINED,
	IBV_EVENT_PATH_MIG, IBV_EVENT_PATH_MIG_ERR, IBV_EVENT_DEVICE_FATAL,
	IBV_EVENT_PORT_ACTIVE, IBV_EVENT_PORT_ERR, IBV_EVENT_LID_CHANGE,
	IBV_EVENT_PKEY_CHANGE, IBV_EVENT_SM_CHANGE, IBV_EVENT_SRQ_ERR,
	IBV_EVENT_SRQ_LIMIT_REACHED, IBV_EVENT_QP_LAST_WQE_REACHED,
	IBV_EVENT_CLIENT_REREGISTER, IBV_EVENT_GID_CHANGE, IBV_EVENT_WQ_FATAL,
};

/* ---------------------------------------------------- objects, data */

union ibv_gid {
	uint8_t raw[16];
	struct {
		uint64_t subnet_prefix;
		uint64_t interface_id;
	} global;
};

struct ibv_device {
	char name[64];
	char dev_name[64];
	enum ibv_node_type node_type;
	enum ibv_transport_type transport_type;
};

struct ibv_context {
	struct ibv_device *device;
	int cmd_fd;
	int async_fd;		/* readable when an async event waits */
	int num_comp_vectors;
	struct genzio_context *gz;
	struct ibv_device gz_dev;
	pthread_mutex_t gz_lock;	/* the lists, refcnt, event counts */
	struct ibv_qp *gz_qps;		/* for async events: live ones */
	struct ibv_cq *gz_cqs;
};

struct ibv_pd {
	struct ibv_context *context;
	uint32_t handle;
	struct genzio_pd *gz;
};

struct ibv_mr {
	struct ibv_context *context;
	struct ibv_pd *pd;
	void *addr;
	size_t length;
	uint32_t handle;
	uint32_t lkey;
	uint32_t rkey;
	struct genzio_mr *gz;
};

struct ibv_comp_channel {
	struct ibv_context *context;
	int fd;
	int refcnt;
	struct genzio_comp_channel *gz;
};

struct ibv_cq {
	struct ibv_context *context;
	struct ibv_comp_channel *channel;
	void *cq_context;
	uint32_t handle;
	int cqe;
	uint32_t comp_events_completed;
	uint32_t async_events_completed;
	struct genzio_cq *gz;
	struct ibv_cq *gz_next;		/* context->gz_cqs */
	uint32_t gz_async_out;		/* async events given, not acked */
};

struct ibv_srq;	/* below, with what genzio lacks */

struct ibv_qp_cap {
	uint32_t max_send_wr;
	uint32_t max_recv_wr;
	uint32_t max_send_sge;
	uint32_t max_recv_sge;
	uint32_t max_inline_data;
};

struct ibv_global_route {
	union ibv_gid dgid;
	uint32_t flow_label;
	uint8_t sgid_index;
	uint8_t hop_limit;
	uint8_t traffic_class;
};

struct ibv_ah_attr {
	struct ibv_global_route grh;
	uint16_t dlid;
	uint8_t sl;
	uint8_t src_path_bits;
	uint8_t static_rate;
	uint8_t is_global;
	uint8_t port_num;
};

struct ibv_qp {
	struct ibv_context *context;
	void *qp_context;
	struct ibv_pd *pd;
	struct ibv_cq *send_cq;
	struct ibv_cq *recv_cq;
	struct ibv_srq *srq;
	uint32_t handle;
	uint32_t qp_num;
	enum ibv_qp_state state;
	enum ibv_qp_type qp_type;
	uint32_t events_completed;
	/* the port's own: the native queue pair, what its INIT and RTR
	 * said until RTS connects it */
	struct genzio_qp *gz;
	struct ibv_qp_cap gz_cap;
	struct genzio_verbs_dest gz_peer;
	struct ibv_qp *gz_next;		/* context->gz_qps */
	uint32_t gz_async_out;		/* async events given, not acked */
	int gz_sig_all;			/* sq_sig_all */
	int gz_recvs;			/* receives posted since RESET */
};

struct ibv_qp_init_attr {
	void *qp_context;
	struct ibv_cq *send_cq;
	struct ibv_cq *recv_cq;
	struct ibv_srq *srq;
	struct ibv_qp_cap cap;
	enum ibv_qp_type qp_type;
	int sq_sig_all;
};

struct ibv_qp_attr {
	enum ibv_qp_state qp_state;
	enum ibv_qp_state cur_qp_state;
	enum ibv_mtu path_mtu;
	int path_mig_state;
	uint32_t qkey;
	uint32_t rq_psn;
	uint32_t sq_psn;
	uint32_t dest_qp_num;
	unsigned int qp_access_flags;
	struct ibv_qp_cap cap;
	struct ibv_ah_attr ah_attr;
	struct ibv_ah_attr alt_ah_attr;
	uint16_t pkey_index;
	uint16_t alt_pkey_index;
	uint8_t en_sqd_async_notify;
	uint8_t sq_draining;
	uint8_t max_rd_atomic;
	uint8_t max_dest_rd_atomic;
	uint8_t min_rnr_timer;
	uint8_t port_num;
	uint8_t timeout;
	uint8_t retry_cnt;
	uint8_t rnr_retry;
	uint8_t alt_port_num;
	uint8_t alt_timeout;
	uint32_t rate_limit;
};

struct ibv_sge {
	uint64_t addr;
	uint32_t length;
	uint32_t lkey;
};

struct ibv_ah;		/* below, with what genzio lacks */

struct ibv_send_wr {
	uint64_t wr_id;
	struct ibv_send_wr *next;
	struct ibv_sge *sg_list;
	int num_sge;
	enum ibv_wr_opcode opcode;
	unsigned int send_flags;
	__be32 imm_data;		/* network byte order */
	union {
		struct {
			uint64_t remote_addr;
			uint32_t rkey;
		} rdma;
		struct {
			uint64_t remote_addr;
			uint64_t compare_add;
			uint64_t swap;
			uint32_t rkey;
		} atomic;
		struct {
			struct ibv_ah *ah;
			uint32_t remote_qpn;
			uint32_t remote_qkey;
		} ud;
	} wr;
};

struct ibv_recv_wr {
	uint64_t wr_id;
	struct ibv_recv_wr *next;
	struct ibv_sge *sg_list;
	int num_sge;
};

struct ibv_wc {
	uint64_t wr_id;
	enum ibv_wc_status status;
	enum ibv_wc_opcode opcode;
	uint32_t vendor_err;
	uint32_t byte_len;
	__be32 imm_data;		/* network byte order */
	uint32_t qp_num;
	uint32_t src_qp;
	unsigned int wc_flags;
	uint16_t pkey_index;
	uint16_t slid;
	uint8_t sl;
	uint8_t dlid_path_bits;
};

struct ibv_device_attr {
	char fw_ver[64];
	uint64_t node_guid;
	uint64_t sys_image_guid;
	uint64_t max_mr_size;
	uint64_t page_size_cap;
	uint32_t vendor_id;
	uint32_t vendor_part_id;
	uint32_t hw_ver;
	int max_qp;
	int max_qp_wr;
	unsigned int device_cap_flags;
	int max_sge;
	int max_sge_rd;
	int max_cq;
	int max_cqe;
	int max_mr;
	int max_pd;
	int max_qp_rd_atom;
	int max_ee_rd_atom;
	int max_res_rd_atom;
	int max_qp_init_rd_atom;
	int max_ee_init_rd_atom;
	enum ibv_atomic_cap atomic_cap;
	int max_ee;
	int max_rdd;
	int max_mw;
	int max_raw_ipv6_qp;
	int max_raw_ethy_qp;
	int max_mcast_grp;
	int max_mcast_qp_attach;
	int max_total_mcast_qp_attach;
	int max_ah;
	int max_fmr;
	int max_map_per_fmr;
	int max_srq;
	int max_srq_wr;
	int max_srq_sge;
	uint16_t max_pkeys;
	uint8_t local_ca_ack_delay;
	uint8_t phys_port_cnt;
};

/* What genzio has none of reads as absent: zero capabilities. */
struct ibv_odp_caps {
	uint64_t general_caps;
	struct {
		uint32_t rc_odp_caps;
		uint32_t uc_odp_caps;
		uint32_t ud_odp_caps;
	} per_transport_caps;
};

enum { IBV_ODP_SUPPORT = 1 << 0 };
enum ibv_odp_transport_cap_bits {
	IBV_ODP_SUPPORT_SEND = 1 << 0, IBV_ODP_SUPPORT_RECV = 1 << 1,
	IBV_ODP_SUPPORT_WRITE = 1 << 2, IBV_ODP_SUPPORT_READ = 1 << 3,
	IBV_ODP_SUPPORT_ATOMIC = 1 << 4, IBV_ODP_SUPPORT_SRQ_RECV = 1 << 5,
};

struct ibv_query_device_ex_input {
	uint32_t comp_mask;
};

struct ibv_device_attr_ex {
	struct ibv_device_attr orig_attr;
	uint32_t comp_mask;
	struct ibv_odp_caps odp_caps;
	uint64_t completion_timestamp_mask;
	uint64_t hca_core_clock;
	uint64_t device_cap_flags_ex;
	uint32_t max_dm_size;
};

struct ibv_port_attr {
	enum ibv_port_state state;
	enum ibv_mtu max_mtu;
	enum ibv_mtu active_mtu;
	int gid_tbl_len;
	uint32_t port_cap_flags;
	uint32_t max_msg_sz;
	uint32_t bad_pkey_cntr;
	uint32_t qkey_viol_cntr;
	uint16_t pkey_tbl_len;
	uint16_t lid;
	uint16_t sm_lid;
	uint8_t lmc;
	uint8_t max_vl_num;
	uint8_t sm_sl;
	uint8_t subnet_timeout;
	uint8_t init_type_reply;
	uint8_t active_width;
	uint8_t active_speed;
	uint8_t phys_state;
	uint8_t link_layer;
	uint8_t flags;
	uint16_t port_cap_flags2;
};

struct ibv_async_event {
	union {
		struct ibv_cq *cq;
		struct ibv_qp *qp;
		struct ibv_srq *srq;
		int port_num;
	} element;
	enum ibv_event_type event_type;
};

/* ------------------------------------------------------ conversions */

/* Network byte order, as verbs keeps imm_data (its own swap: no libc
 * extension needed under strict C). */
static inline uint32_t gz_ibv_be32(uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(v);
#else
	return v;
#endif
}

/* A genzio -errno as the positive errno verbs returns. */
static inline int gz_ibv_err(int ret)
{
	return ret < 0 ? -ret : ret;
}

static inline enum ibv_wc_status gz_ibv_status(uint32_t s)
{
	switch (s) {
	case GENZIO_WC_SUCCESS:		return IBV_WC_SUCCESS;
	case GENZIO_WC_LOC_LEN:		return IBV_WC_LOC_LEN_ERR;
	case GENZIO_WC_LOC_QP_OP:	return IBV_WC_LOC_QP_OP_ERR;
	case GENZIO_WC_LOC_EEC_OP:	return IBV_WC_LOC_EEC_OP_ERR;
	case GENZIO_WC_LOC_PROT:	return IBV_WC_LOC_PROT_ERR;
	case GENZIO_WC_FLUSHED:		return IBV_WC_WR_FLUSH_ERR;
	case GENZIO_WC_MW_BIND:		return IBV_WC_MW_BIND_ERR;
	case GENZIO_WC_BAD_RESP:	return IBV_WC_BAD_RESP_ERR;
	case GENZIO_WC_LOC_ACCESS:	return IBV_WC_LOC_ACCESS_ERR;
	case GENZIO_WC_REM_INV_REQ:	return IBV_WC_REM_INV_REQ_ERR;
	/* Gen-Z's finer remote faults are one verbs status */
	case GENZIO_WC_BAD_RKEY:
	case GENZIO_WC_REM_BOUNDS:
	case GENZIO_WC_REM_ACCESS:	return IBV_WC_REM_ACCESS_ERR;
	case GENZIO_WC_REM_OP:		return IBV_WC_REM_OP_ERR;
	/* a remote queue pair that is gone is silence to verbs */
	case GENZIO_WC_REM_QP:
	case GENZIO_WC_RETRY_EXC:	return IBV_WC_RETRY_EXC_ERR;
	case GENZIO_WC_RDM_FULL:	return IBV_WC_RNR_RETRY_EXC_ERR;
	case GENZIO_WC_LOC_RDD_VIOL:	return IBV_WC_LOC_RDD_VIOL_ERR;
	case GENZIO_WC_REM_INV_RD_REQ:	return IBV_WC_REM_INV_RD_REQ_ERR;
	case GENZIO_WC_REM_ABORT:	return IBV_WC_REM_ABORT_ERR;
	case GENZIO_WC_INV_EECN:	return IBV_WC_INV_EECN_ERR;
	case GENZIO_WC_INV_EEC_STATE:	return IBV_WC_INV_EEC_STATE_ERR;
	case GENZIO_WC_FATAL:		return IBV_WC_FATAL_ERR;
	case GENZIO_WC_RESP_TIMEOUT:	return IBV_WC_RESP_TIMEOUT_ERR;
	case GENZIO_WC_TM:		return IBV_WC_TM_ERR;
	case GENZIO_WC_TM_RNDV:		return IBV_WC_TM_RNDV_INCOMPLETE;
	default:			return IBV_WC_GENERAL_ERR;
	}
}

static inline const char *ibv_wc_status_str(enum ibv_wc_status s)
{
	static const char *const str[] = {
		"success", "local length error", "local QP operation error",
		"local EE context operation error", "local protection error",
		"Work Request Flushed Error", "memory management operation "
		"error", "bad response error", "local access error",
		"remote invalid request error", "remote access error",
		"remote operation error", "transport retry counter exceeded",
		"RNR retry counter exceeded", "local RDD violation error",
		"remote invalid RD request", "aborted error",
		"invalid EE context number", "invalid EE context state",
		"fatal error", "response timeout error", "general error",
		"TM error", "TM software rendezvous",
	};

	return (unsigned)s < sizeof(str) / sizeof(str[0]) ? str[s] :
							    "unknown";
}

static inline const char *ibv_port_state_str(enum ibv_port_state s)
{
	static const char *const str[] = {
		"PORT_NOP", "PORT_DOWN", "PORT_INIT", "PORT_ARMED",
		"PORT_ACTIVE", "PORT_ACTIVE_DEFER",
	};

	return (unsigned)s < sizeof(str) / sizeof(str[0]) ? str[s] :
							    "unknown";
}

static inline const char *ibv_event_type_str(enum ibv_event_type e)
{
	static const char *const str[] = {
		"CQ error", "local work queue catastrophic error",
		"invalid request local work queue error",
		"local access violation work queue error",
		"communication established", "send queue drained",
		"path migrated", "path migration request error",
		"local catastrophic error", "port active", "port error",
		"LID change", "P_Key change", "SM change", "SRQ catastrophic "
		"error", "SRQ limit reached", "last WQE reached",
		"client reregistration", "GID table change", "WQ fatal",
	};

	return (unsigned)e < sizeof(str) / sizeof(str[0]) ? str[e] :
							    "unknown";
}

static inline int ibv_mtu_to_num(enum ibv_mtu mtu)
{
	return mtu >= IBV_MTU_256 && mtu <= IBV_MTU_4096 ? 128 << mtu : -1;
}

/* A wrapper object, zeroed: NULL and ENOMEM without memory. */
static inline void *gz_ibv_alloc(size_t size)
{
	void *p = calloc(1, size);

	if (!p)
		errno = ENOMEM;
	return p;
}

/* The native call behind @obj failed with @ret: NULL and verbs' errno. */
static inline void *gz_ibv_undo(void *obj, int ret)
{
	free(obj);
	errno = gz_ibv_err(ret);
	return NULL;
}

/* ---------------------------------------------------------- devices */

/* Whether @d is the device genzio_device_open(NULL) takes first. */
static inline int gz_ibv_preferred(const struct genzio_device_desc *d)
{
	const char *dev = getenv("GENZIO_DEVICE"), *prov;

	if (dev && *dev)
		return !strcmp(d->name, dev);
	prov = getenv("GENZIO_PROVIDER");
	return prov && *prov && (!strcmp(d->provider, prov) ||
				 !strcmp(d->name, prov));
}

/* One allocation: the NULL-ended array, then the devices. The one
 * genzio opens by default ($GENZIO_DEVICE, $GENZIO_PROVIDER) first: verbs
 * programs take the first. */
static inline struct ibv_device **ibv_get_device_list(int *num_devices)
{
	struct genzio_device_desc d[16];
	int n = genzio_device_list(d, 16);
	struct ibv_device **list, *dev;

	if (n < 0) {
		errno = -n;
		return NULL;
	}
	n = n > 16 ? 16 : n;
	for (int i = 1; i < n; i++)
		if (gz_ibv_preferred(&d[i]) && !gz_ibv_preferred(&d[0])) {
			struct genzio_device_desc t = d[0];

			d[0] = d[i];
			d[i] = t;
			break;
		}
	list = (struct ibv_device **)calloc(1, (size_t)(n + 1) *
					    (sizeof(*list) + sizeof(*dev)));
	if (!list) {
		errno = ENOMEM;
		return NULL;
	}
	dev = (struct ibv_device *)(list + n + 1);
	for (int i = 0; i < n; i++) {
		/* genzio's names are short ("shm0", "rxe0"): verbs' 64 hold
		 * them; a longer one is cut, and then opens nothing */
		size_t len = 0;

		while (len < sizeof(dev[i].name) - 1 && d[i].name[len])
			len++;

		memcpy(dev[i].name, d[i].name, len);
		memcpy(dev[i].dev_name, d[i].name, len);
		dev[i].node_type = IBV_NODE_CA;
		dev[i].transport_type = IBV_TRANSPORT_IB;
		list[i] = &dev[i];
	}
	if (num_devices)
		*num_devices = n;
	return list;
}

static inline void ibv_free_device_list(struct ibv_device **list)
{
	free(list);
}

static inline const char *ibv_get_device_name(struct ibv_device *device)
{
	return device ? device->name : NULL;
}

static inline uint64_t ibv_get_device_guid(struct ibv_device *device)
{
	(void)device;
	return 0;	/* genzio devices have no GUID: a GCID names them */
}

static inline int ibv_fork_init(void)
{
	return 0;	/* fork() is defined for genzio (genzio(7)) */
}

static inline struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	struct ibv_context *c;
	int ret;

	if (!device) {
		errno = EINVAL;
		return NULL;
	}
	c = (struct ibv_context *)gz_ibv_alloc(sizeof(*c));
	if (!c)
		return NULL;
	ret = genzio_device_open(device->name, NULL, &c->gz);
	if (ret)
		return (struct ibv_context *)gz_ibv_undo(c, ret);
	c->gz_dev = *device;
	c->device = &c->gz_dev;
	pthread_mutex_init(&c->gz_lock, NULL);
	c->cmd_fd = -1;
	c->async_fd = genzio_event_fd(c->gz);
	c->num_comp_vectors = 1;
	return c;
}

static inline int ibv_close_device(struct ibv_context *context)
{
	int ret;

	if (!context)
		return EINVAL;
	ret = genzio_device_close(context->gz);
	if (ret)
		return gz_ibv_err(ret);
	pthread_mutex_destroy(&context->gz_lock);
	free(context);
	return 0;
}

static inline int ibv_query_device(struct ibv_context *context,
				   struct ibv_device_attr *a)
{
	struct genzio_device_attr d;
	uint32_t both = GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_CAS) |
			GENZIO_ATOMIC_OP(GENZIO_WR_ATOMIC_FADD);
	int ret;

	if (!context || !a)
		return EINVAL;
	ret = genzio_device_query(context->gz, &d);
	if (ret)
		return gz_ibv_err(ret);
	memset(a, 0, sizeof(*a));
	snprintf(a->fw_ver, sizeof(a->fw_ver), "genzio %s", d.provider);
	a->max_mr_size = d.max_mr_size;
	a->page_size_cap = d.page_size;
	a->max_qp = (int)d.max_qp;
	a->max_qp_wr = (int)d.max_qp_wr;
	a->max_sge = a->max_sge_rd = (int)d.max_sge;
	a->max_cq = (int)d.max_cq;
	a->max_cqe = (int)d.max_cqe;
	a->max_mr = (int)d.max_mr;
	a->max_pd = 4095;
	a->max_qp_rd_atom = a->max_qp_init_rd_atom = 16;
	a->max_res_rd_atom = 16 * a->max_qp;
	a->atomic_cap = (d.atomic_ops64 & both) == both ? IBV_ATOMIC_HCA :
							   IBV_ATOMIC_NONE;
	a->max_ah = d.caps & GENZIO_CAP_RD ? a->max_qp : 0;
	a->max_pkeys = 1;
	a->phys_port_cnt = 1;
	return 0;
}

static inline int ibv_query_device_ex(struct ibv_context *context,
				      const struct ibv_query_device_ex_input *in,
				      struct ibv_device_attr_ex *a)
{
	int ret;

	if (!context || !a || (in && in->comp_mask))
		return EINVAL;
	memset(a, 0, sizeof(*a));	/* no ODP, no timestamps, no DM */
	ret = ibv_query_device(context, &a->orig_attr);
	return ret;
}

static inline int ibv_query_port(struct ibv_context *context,
				 uint8_t port_num, struct ibv_port_attr *a)
{
	struct genzio_verbs_port p;
	int ret;

	if (!context || !a || port_num != 1)
		return EINVAL;
	ret = genzio_verbs_port(context->gz, &p);
	if (ret)
		return gz_ibv_err(ret);
	memset(a, 0, sizeof(*a));
	a->state = IBV_PORT_ACTIVE;
	a->max_mtu = a->active_mtu = (enum ibv_mtu)p.mtu;
	a->gid_tbl_len = 1;
	a->max_msg_sz = 1u << 31;
	a->pkey_tbl_len = 1;
	a->lid = p.lid;
	a->phys_state = 5;	/* LinkUp */
	a->link_layer = p.link_layer;	/* verbs' values; shm: unspecified */
	return 0;
}

static inline int ibv_query_gid(struct ibv_context *context,
				uint8_t port_num, int index, union ibv_gid *gid)
{
	struct genzio_verbs_port p;
	int ret;

	if (!context || !gid || port_num != 1 || index != 0)
		return EINVAL;	/* one GID: index 0 */
	ret = genzio_verbs_port(context->gz, &p);
	if (!ret)
		memcpy(gid->raw, p.gid, 16);
	return gz_ibv_err(ret);
}

static inline int ibv_query_pkey(struct ibv_context *context,
				 uint8_t port_num, int index, __be16 *pkey)
{
	if (!context || !pkey || port_num != 1 || index != 0)
		return EINVAL;	/* one partition, the default */
	*pkey = (__be16)0xffff;
	return 0;
}

/* ------------------------------------------------ protection, memory */

static inline struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	struct ibv_pd *pd;
	int ret;

	if (!context) {
		errno = EINVAL;
		return NULL;
	}
	pd = (struct ibv_pd *)gz_ibv_alloc(sizeof(*pd));
	if (!pd)
		return NULL;
	ret = genzio_pd_alloc(context->gz, &pd->gz);
	if (ret)
		return (struct ibv_pd *)gz_ibv_undo(pd, ret);
	pd->context = context;
	return pd;
}

static inline int ibv_dealloc_pd(struct ibv_pd *pd)
{
	int ret;

	if (!pd)
		return EINVAL;
	ret = genzio_pd_free(pd->gz);
	if (ret)
		return gz_ibv_err(ret);
	free(pd);
	return 0;
}

static inline struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr,
					size_t length, int access)
{
	const int known = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			  IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC |
			  IBV_ACCESS_OPTIONAL_RANGE;
	struct ibv_mr *mr;
	int ret;

	/* ODP, zero-based, memory windows, hugetlb hints: none here; a
	 * device without them refuses them so (EINVAL) */
	if (!pd || (access & ~known)) {
		errno = EINVAL;
		return NULL;
	}
	mr = (struct ibv_mr *)gz_ibv_alloc(sizeof(*mr));
	if (!mr)
		return NULL;
	/* the access bits are genzio's; the optional ones (relaxed
	 * ordering among them: genzio is unordered anyway) a device may
	 * ignore, as verbs says */
	ret = genzio_mr_reg(pd->gz, addr, length,
			    (uint32_t)(access & ~IBV_ACCESS_OPTIONAL_RANGE),
			    &mr->gz);
	if (ret)
		return (struct ibv_mr *)gz_ibv_undo(mr, ret);
	mr->context = pd->context;
	mr->pd = pd;
	mr->addr = mr->gz->addr;
	mr->length = (size_t)mr->gz->length;
	mr->lkey = mr->gz->lkey;
	mr->rkey = mr->gz->rkey;
	return mr;
}

static inline int ibv_dereg_mr(struct ibv_mr *mr)
{
	int ret;

	if (!mr)
		return EINVAL;
	ret = genzio_mr_dereg(mr->gz);
	if (ret)
		return gz_ibv_err(ret);
	free(mr);
	return 0;
}

/* ------------------------------------------- completions, channels */

static inline struct ibv_comp_channel *
ibv_create_comp_channel(struct ibv_context *context)
{
	struct ibv_comp_channel *ch;
	int ret;

	if (!context) {
		errno = EINVAL;
		return NULL;
	}
	ch = (struct ibv_comp_channel *)gz_ibv_alloc(sizeof(*ch));
	if (!ch)
		return NULL;
	ret = genzio_comp_channel_create(context->gz, &ch->gz);
	if (ret)
		return (struct ibv_comp_channel *)gz_ibv_undo(ch, ret);
	ch->context = context;
	ch->fd = ch->gz->fd;
	return ch;
}

static inline int ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	int ret;

	if (!ch)
		return EINVAL;
	pthread_mutex_lock(&ch->context->gz_lock);
	ret = ch->refcnt;
	pthread_mutex_unlock(&ch->context->gz_lock);
	if (ret)
		return EBUSY;	/* a cq still uses it, as in verbs */
	ret = genzio_comp_channel_destroy(ch->gz);
	if (ret)
		return gz_ibv_err(ret);
	free(ch);
	return 0;
}

static inline struct ibv_cq *ibv_create_cq(struct ibv_context *context,
					   int cqe, void *cq_context,
					   struct ibv_comp_channel *channel,
					   int comp_vector)
{
	struct genzio_cq_attr a;
	struct ibv_cq *cq;
	int ret;

	memset(&a, 0, sizeof(a));
	a.depth = (uint32_t)cqe;
	if (!context || cqe < 1 || comp_vector != 0 ||
	    (channel && channel->context != context)) {
		errno = EINVAL;
		return NULL;
	}
	cq = (struct ibv_cq *)gz_ibv_alloc(sizeof(*cq));
	if (!cq)
		return NULL;
	a.user_context = cq;
	if (channel) {
		a.comp_mask = GENZIO_CQ_ATTR_CHANNEL;
		a.channel = channel->gz;
	}
	ret = genzio_cq_create(context->gz, &a, &cq->gz);
	if (ret)
		return (struct ibv_cq *)gz_ibv_undo(cq, ret);
	cq->context = context;
	cq->channel = channel;
	cq->cq_context = cq_context;
	cq->cqe = cqe;
	pthread_mutex_lock(&context->gz_lock);
	if (channel)
		channel->refcnt++;
	cq->gz_next = context->gz_cqs;
	context->gz_cqs = cq;
	pthread_mutex_unlock(&context->gz_lock);
	return cq;
}

static inline int ibv_destroy_cq(struct ibv_cq *cq)
{
	int ret;

	if (!cq)
		return EINVAL;
	/* verbs waits for its async events to be acked; one that is not
	 * would name freed memory: refused until it is. Out of the list
	 * under the lock, destroyed outside it (a destroy may wait). */
	pthread_mutex_lock(&cq->context->gz_lock);
	ret = cq->gz_async_out ? -EBUSY : 0;
	for (struct ibv_cq **pp = &cq->context->gz_cqs; !ret && *pp;
	     pp = &(*pp)->gz_next)
		if (*pp == cq) {
			*pp = cq->gz_next;
			break;
		}
	pthread_mutex_unlock(&cq->context->gz_lock);
	if (!ret)
		ret = genzio_cq_destroy(cq->gz);
	pthread_mutex_lock(&cq->context->gz_lock);
	if (ret) {	/* it stays: back in the list (if it left it) */
		struct ibv_cq *x = cq->context->gz_cqs;

		while (x && x != cq)
			x = x->gz_next;
		if (!x) {
			cq->gz_next = cq->context->gz_cqs;
			cq->context->gz_cqs = cq;
		}
	} else if (cq->channel) {
		cq->channel->refcnt--;
	}
	pthread_mutex_unlock(&cq->context->gz_lock);
	if (ret)
		return gz_ibv_err(ret);
	free(cq);
	return 0;
}

static inline int ibv_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	/* every completion wakes: a solicited-only arm cannot be honoured
	 * as verbs means it, so it is refused, not widened */
	if (!cq || solicited_only)
		return EINVAL;
	return gz_ibv_err(genzio_cq_req_notify(cq->gz));
}

static inline int ibv_get_cq_event(struct ibv_comp_channel *channel,
				   struct ibv_cq **cq, void **cq_context)
{
	struct genzio_cq *g;
	int ret, fl;

	if (!channel || !cq || !cq_context) {
		errno = EINVAL;
		return -1;
	}
	/* verbs blocks, unless the fd is non-blocking (EAGAIN); its read
	 * restarts after a signal handler, so the wait does too */
	fl = fcntl(channel->fd, F_GETFL);
	do
		ret = genzio_comp_channel_get_event(channel->gz, fl >= 0 &&
						    (fl & O_NONBLOCK) ? 0 : -1,
						    &g);
	while (ret == -EINTR);
	if (ret) {
		errno = -ret;
		return -1;
	}
	*cq = (struct ibv_cq *)g->user_context;
	*cq_context = (*cq)->cq_context;
	return 0;
}

static inline void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	pthread_mutex_t *lock;

	if (!cq)
		return;
	/* under the lock: once acked, a destroy may free @cq */
	lock = &cq->context->gz_lock;
	pthread_mutex_lock(lock);
	if (!genzio_cq_ack_events(cq->gz, nevents))
		cq->comp_events_completed += nevents;
	pthread_mutex_unlock(lock);
}

/* A completion as verbs tells it (src_qp and slid are UD's: 0). An
 * atomic is reported IBV_WC_FETCH_ADD, compare-and-swap too: genzio's
 * completion does not say which (genzio_porting(7)). */
static inline void gz_ibv_wc(const struct genzio_wc *g, struct ibv_wc *w)
{
	memset(w, 0, sizeof(*w));
	w->wr_id = g->wr_id;
	w->status = gz_ibv_status(g->status);
	w->vendor_err = g->vendor_err;
	w->byte_len = g->byte_len;
	w->qp_num = g->qp_num;
	switch (g->opcode) {
	case GENZIO_WC_WRITE:	w->opcode = IBV_WC_RDMA_WRITE; break;
	case GENZIO_WC_READ:	w->opcode = IBV_WC_RDMA_READ; break;
	case GENZIO_WC_ATOMIC:	w->opcode = IBV_WC_FETCH_ADD; break;
	case GENZIO_WC_RECV_WRITE_IMM:
		w->opcode = IBV_WC_RECV_RDMA_WITH_IMM;
		break;
	case GENZIO_WC_RECV:	w->opcode = IBV_WC_RECV; break;
	default:		w->opcode = IBV_WC_SEND; break;
	}
	if (g->wc_flags & GENZIO_WC_WITH_IMM) {
		w->wc_flags = IBV_WC_WITH_IMM;
		w->imm_data = gz_ibv_be32(g->imm_data);
	}
}

static inline int ibv_poll_cq(struct ibv_cq *cq, int num_entries,
			      struct ibv_wc *wc)
{
	struct genzio_wc g[16];
	int got = 0;

	if (!cq || num_entries < 0 || (num_entries && !wc))
		return -1;
	while (got < num_entries) {
		int want = num_entries - got < 16 ? num_entries - got : 16;
		int n = genzio_poll_cq(cq->gz, want, g);

		if (n < 0)
			return got ? got : -1;
		for (int i = 0; i < n; i++)
			gz_ibv_wc(&g[i], &wc[got + i]);
		got += n;
		if (n < want)
			break;
	}
	return got;
}

/* ------------------------------------------------------ queue pairs */

static inline struct ibv_qp *ibv_create_qp(struct ibv_pd *pd,
					   struct ibv_qp_init_attr *a)
{
	struct genzio_device_attr d;
	struct genzio_qp_attr q;
	struct ibv_qp *qp;
	int ret;

	if (!pd || !a || !a->send_cq || !a->recv_cq) {
		errno = EINVAL;
		return NULL;
	}
	/* RC only; SRQs, UD, XRC and raw packets: a device without them */
	if (a->qp_type != IBV_QPT_RC || a->srq) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	ret = genzio_device_query(pd->context->gz, &d);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	if (a->cap.max_inline_data > d.max_inline) {
		errno = EINVAL;	/* verbs: more inline than the device has */
		return NULL;
	}
	qp = (struct ibv_qp *)gz_ibv_alloc(sizeof(*qp));
	if (!qp)
		return NULL;
	memset(&q, 0, sizeof(q));
	q.qp_type = GENZIO_QPT_RC;
	q.sq_depth = a->cap.max_send_wr ? a->cap.max_send_wr : 1;
	q.rq_depth = a->cap.max_recv_wr;
	q.max_send_sge = a->cap.max_send_sge;
	q.max_recv_sge = a->cap.max_recv_sge;
	/* verbs gives at least what is asked, and says what it gave: a 0
	 * gets what devices commonly give (up to 64 bytes), not the most a
	 * device can, which costs per-request room */
	q.max_inline = a->cap.max_inline_data ? a->cap.max_inline_data :
		       d.max_inline < 64 ? d.max_inline : 64;
	q.send_cq = a->send_cq->gz;
	q.recv_cq = a->recv_cq->gz;
	q.user_context = qp;
	ret = genzio_qp_create(pd->gz, &q, &qp->gz);
	if (ret)
		return (struct ibv_qp *)gz_ibv_undo(qp, ret);
	qp->context = pd->context;
	qp->qp_context = a->qp_context;
	qp->pd = pd;
	qp->send_cq = a->send_cq;
	qp->recv_cq = a->recv_cq;
	qp->qp_num = qp->gz->qp_num;
	qp->state = IBV_QPS_RESET;
	qp->qp_type = IBV_QPT_RC;
	qp->gz_cap = a->cap;
	qp->gz_cap.max_send_wr = q.sq_depth;
	qp->gz_cap.max_inline_data = q.max_inline;
	qp->gz_sig_all = a->sq_sig_all;
	a->cap = qp->gz_cap;	/* verbs: what it gave */
	pthread_mutex_lock(&pd->context->gz_lock);
	qp->gz_next = pd->context->gz_qps;
	pd->context->gz_qps = qp;
	pthread_mutex_unlock(&pd->context->gz_lock);
	return qp;
}

static inline int ibv_destroy_qp(struct ibv_qp *qp)
{
	int ret;

	if (!qp)
		return EINVAL;
	/* as ibv_destroy_cq: refused while an async event names it; out of
	 * the list under the lock, destroyed outside it */
	pthread_mutex_lock(&qp->context->gz_lock);
	ret = qp->gz_async_out ? -EBUSY : 0;
	for (struct ibv_qp **pp = &qp->context->gz_qps; !ret && *pp;
	     pp = &(*pp)->gz_next)
		if (*pp == qp) {
			*pp = qp->gz_next;
			break;
		}
	pthread_mutex_unlock(&qp->context->gz_lock);
	if (!ret)
		ret = genzio_qp_destroy(qp->gz);
	if (ret && !qp->gz_async_out) {	/* it stays: back in the list */
		pthread_mutex_lock(&qp->context->gz_lock);
		qp->gz_next = qp->context->gz_qps;
		qp->context->gz_qps = qp;
		pthread_mutex_unlock(&qp->context->gz_lock);
	}
	if (ret)
		return gz_ibv_err(ret);
	free(qp);
	return 0;
}

/* Each transition needs what verbs needs, and nothing unknown. */
static inline int gz_ibv_mask_ok(int mask, int need, int may)
{
	return (mask & need) == need && !(mask & ~(need | may));
}

static inline int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *a,
				int mask)
{
	const int init = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			 IBV_QP_ACCESS_FLAGS;
	const int rtr = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
	const int rts = IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			IBV_QP_MAX_QP_RD_ATOMIC;
	int ret;

	if (!qp || !a || !(mask & IBV_QP_STATE))
		return EINVAL;
	switch (a->qp_state) {
	case IBV_QPS_RESET:
		if (mask & ~(IBV_QP_STATE | IBV_QP_CUR_STATE))
			return EINVAL;
		/* verbs drops what was posted: connected or not */
		if ((qp->state != IBV_QPS_RESET || qp->gz_recvs) &&
		    (ret = genzio_qp_reset(qp->gz)))
			return gz_ibv_err(ret);
		qp->gz_recvs = 0;
		qp->state = IBV_QPS_RESET;
		return 0;
	case IBV_QPS_INIT:
		if ((qp->state != IBV_QPS_RESET && qp->state != IBV_QPS_INIT) ||
		    !gz_ibv_mask_ok(mask, qp->state == IBV_QPS_RESET ? init :
				    IBV_QP_STATE, init) ||
		    ((mask & IBV_QP_PORT) && a->port_num != 1) ||
		    ((mask & IBV_QP_PKEY_INDEX) && a->pkey_index))
			return EINVAL;
		qp->state = IBV_QPS_INIT;
		return 0;
	case IBV_QPS_RTR:
		if (qp->state != IBV_QPS_INIT ||
		    !gz_ibv_mask_ok(mask, rtr, IBV_QP_ALT_PATH |
				    IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX) ||
		    a->path_mtu < IBV_MTU_256 || a->path_mtu > IBV_MTU_4096 ||
		    !a->dest_qp_num || a->dest_qp_num >> 24 || a->rq_psn >> 24)
			return EINVAL;
		/* the peer, until RTS says our PSN: by GID when global */
		memset(&qp->gz_peer, 0, sizeof(qp->gz_peer));
		if (a->ah_attr.is_global)
			memcpy(qp->gz_peer.gid, a->ah_attr.grh.dgid.raw, 16);
		qp->gz_peer.lid = a->ah_attr.dlid;
		qp->gz_peer.qpn = a->dest_qp_num;
		qp->gz_peer.psn = a->rq_psn;
		qp->gz_peer.mtu = (uint8_t)a->path_mtu;
		qp->state = IBV_QPS_RTR;
		return 0;
	case IBV_QPS_RTS:
		if (qp->state == IBV_QPS_RTS &&	/* RTS to RTS: nothing here */
		    !(mask & ~(IBV_QP_STATE | IBV_QP_CUR_STATE |
			       IBV_QP_ACCESS_FLAGS | IBV_QP_MIN_RNR_TIMER |
			       IBV_QP_ALT_PATH | IBV_QP_PATH_MIG_STATE)))
			return 0;
		if (qp->state != IBV_QPS_RTR ||
		    !gz_ibv_mask_ok(mask, rts, IBV_QP_ALT_PATH |
				    IBV_QP_PATH_MIG_STATE | IBV_QP_CUR_STATE |
				    IBV_QP_ACCESS_FLAGS |
				    IBV_QP_MIN_RNR_TIMER) ||
		    a->sq_psn >> 24 || a->max_rd_atomic > 16)
			return EINVAL;
		/* the connection is made here: a queue pair left at RTR
		 * receives nothing (genzio_porting(7)) */
		qp->gz_peer.rd_atomic = a->max_rd_atomic;
		ret = genzio_qp_connect_verbs(qp->gz, &qp->gz_peer,
					      a->sq_psn);
		if (ret)
			return gz_ibv_err(ret);
		qp->state = IBV_QPS_RTS;
		return 0;
	default:
		/* SQD, SQE, ERR by request: genzio has no such moves */
		return EINVAL;
	}
}

static inline int ibv_query_qp(struct ibv_qp *qp, struct ibv_qp_attr *a,
			       int mask, struct ibv_qp_init_attr *init)
{
	struct genzio_qp_info i;
	int ret;

	(void)mask;
	if (!qp || !a || !init)
		return EINVAL;
	ret = genzio_qp_query(qp->gz, &i);
	if (ret)
		return gz_ibv_err(ret);
	memset(a, 0, sizeof(*a));
	memset(init, 0, sizeof(*init));
	/* genzio's RTS and ERR are verbs' (verbs moves a failed one too) */
	if (i.state == GENZIO_QPS_ERR)
		qp->state = IBV_QPS_ERR;
	a->qp_state = a->cur_qp_state = qp->state;
	a->path_mtu = qp->gz_peer.mtu ? (enum ibv_mtu)qp->gz_peer.mtu :
				      IBV_MTU_4096;
	a->dest_qp_num = qp->gz_peer.qpn;
	a->rq_psn = qp->gz_peer.psn;
	a->cap = qp->gz_cap;
	a->port_num = 1;
	init->qp_context = qp->qp_context;
	init->send_cq = qp->send_cq;
	init->recv_cq = qp->recv_cq;
	init->cap = qp->gz_cap;
	init->qp_type = qp->qp_type;
	return 0;
}

/* ------------------------------------------------------------- posts */

static inline int gz_ibv_send_wr(const struct ibv_send_wr *w,
				 struct genzio_send_wr *g, int sig_all)
{
	const unsigned int known = IBV_SEND_FENCE | IBV_SEND_SIGNALED |
				   IBV_SEND_SOLICITED | IBV_SEND_INLINE;

	memset(g, 0, sizeof(*g));
	if (w->send_flags & ~known)
		return EINVAL;	/* IP checksums: no Ethernet here */
	g->wr_id = w->wr_id;
	g->sg_list = (struct genzio_sge *)w->sg_list;
	g->num_sge = w->num_sge;
	/* a solicited event needs a receiver's solicited-only arm, which
	 * ibv_req_notify_cq refuses: SOLICITED changes nothing */
	g->send_flags = (sig_all || (w->send_flags & IBV_SEND_SIGNALED) ?
			 GENZIO_SEND_SIGNALED : 0) |
			(w->send_flags & IBV_SEND_FENCE ?
			 GENZIO_SEND_FENCE : 0) |
			(w->send_flags & IBV_SEND_INLINE ?
			 GENZIO_SEND_INLINE : 0);
	g->imm_data = gz_ibv_be32(w->imm_data);
	switch (w->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_RDMA_READ:
		g->opcode = w->opcode == IBV_WR_RDMA_WRITE ? GENZIO_WR_WRITE :
			    w->opcode == IBV_WR_RDMA_READ ? GENZIO_WR_READ :
			    GENZIO_WR_WRITE_IMM;
		g->rdma.remote_addr = w->wr.rdma.remote_addr;
		g->rdma.rkey = w->wr.rdma.rkey;
		return 0;
	case IBV_WR_SEND:
		g->opcode = GENZIO_WR_SEND;
		return 0;
	case IBV_WR_SEND_WITH_IMM:
		g->opcode = GENZIO_WR_SEND_IMM;
		return 0;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		g->opcode = w->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ?
			    GENZIO_WR_ATOMIC_CAS : GENZIO_WR_ATOMIC_FADD;
		g->atomic.remote_addr = w->wr.atomic.remote_addr;
		g->atomic.rkey = w->wr.atomic.rkey;
		g->atomic.size = 8;
		g->atomic.compare = w->wr.atomic.compare_add;
		g->atomic.operand = w->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ?
				    w->wr.atomic.swap :
				    w->wr.atomic.compare_add;
		return 0;
	default:
		return EINVAL;	/* memory windows, invalidation, TSO */
	}
}

/* A post's -errno as verbs': a full queue is ENOMEM, a queue pair not
 * yet at RTS EINVAL. */
static inline int gz_ibv_post_err(int err)
{
	return err == -EAGAIN ? ENOMEM : err == -ENOTCONN ? EINVAL :
	       gz_ibv_err(err);
}

/* Up to 16 requests at a time; *bad_wr is the verbs request that failed
 * (those before it were posted). */
static inline int ibv_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
				struct ibv_send_wr **bad_wr)
{
	struct genzio_send_wr g[16], *gbad = NULL;
	struct ibv_send_wr *w[16];

	if (!qp || !wr || !bad_wr) {
		if (bad_wr)
			*bad_wr = wr;
		return EINVAL;
	}
	while (wr) {
		int n = 0, ret = 0;

		for (; wr && n < 16; wr = wr->next, n++) {
			ret = gz_ibv_send_wr(wr, &g[n], qp->gz_sig_all);
			if (ret)
				break;
			if (n)
				g[n - 1].next = &g[n];
			w[n] = wr;
		}
		if (n) {
			int err = genzio_post_send(qp->gz, g, &gbad);

			if (err) {
				*bad_wr = gbad >= g && gbad < g + n ?
					  w[gbad - g] : w[0];
				return gz_ibv_post_err(err);
			}
		}
		if (ret) {
			*bad_wr = wr;
			return ret;
		}
	}
	return 0;
}

static inline int ibv_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
				struct ibv_recv_wr **bad_wr)
{
	struct genzio_recv_wr g[16], *gbad = NULL;
	struct ibv_recv_wr *w[16];

	if (!qp || !wr || !bad_wr) {
		if (bad_wr)
			*bad_wr = wr;
		return EINVAL;
	}
	while (wr) {
		int n = 0, err;

		for (; wr && n < 16; wr = wr->next, n++) {
			memset(&g[n], 0, sizeof(g[n]));
			g[n].wr_id = wr->wr_id;
			g[n].sg_list = (struct genzio_sge *)wr->sg_list;
			g[n].num_sge = wr->num_sge;
			if (n)
				g[n - 1].next = &g[n];
			w[n] = wr;
		}
		err = genzio_post_recv(qp->gz, g, &gbad);
		qp->gz_recvs = 1;
		if (err) {
			*bad_wr = gbad >= g && gbad < g + n ? w[gbad - g] : w[0];
			return gz_ibv_post_err(err);
		}
	}
	return 0;
}

/* ------------------------------------------------------ async events */

/* Under gz_lock: the live queue pair @qpn, or cq @g, counted as named
 * by an event until its ack (destroy refuses meanwhile, EBUSY). */
static inline struct ibv_qp *gz_ibv_qp_by_num(struct ibv_context *c,
					      uint32_t qpn)
{
	struct ibv_qp *qp;

	for (qp = c->gz_qps; qp && qp->qp_num != qpn; qp = qp->gz_next)
		;
	if (qp)
		qp->gz_async_out++;
	return qp;
}

static inline struct ibv_cq *gz_ibv_cq_of(struct ibv_context *c,
					  const struct genzio_cq *g)
{
	struct ibv_cq *cq;

	for (cq = c->gz_cqs; cq && cq->gz != g; cq = cq->gz_next)
		;
	if (cq)
		cq->gz_async_out++;
	return cq;
}

/* Blocks as verbs does (unless async_fd was made non-blocking: then -1
 * and EAGAIN). QP_ERR is QP_FATAL (of a queue pair still there),
 * CQ_OVERRUN is CQ_ERR, LINK_DOWN / LINK_UP are PORT_ERR / PORT_ACTIVE of
 * port 1, DEVICE_FATAL is DEVICE_FATAL; PEER_DEAD and COMPONENT_* have no
 * verbs name and are not delivered here (genzio_porting(7)). The queue
 * pair or cq an event names stays until ibv_ack_async_event(). */
static inline int ibv_get_async_event(struct ibv_context *context,
				      struct ibv_async_event *event)
{
	struct genzio_event ev;

	if (!context || !event) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		struct pollfd p = { context->async_fd, POLLIN, 0 };
		int ret = genzio_event_get(context->gz, &ev);

		if (ret == -EAGAIN) {
			int fl = fcntl(context->async_fd, F_GETFL);

			if (fl >= 0 && (fl & O_NONBLOCK)) {
				errno = EAGAIN;
				return -1;
			}
			/* verbs' read restarts after a handler: so here */
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		if (ret) {
			errno = -ret;
			return -1;
		}
		memset(event, 0, sizeof(*event));
		switch (ev.type) {
		case GENZIO_EVENT_QP_ERR:
			pthread_mutex_lock(&context->gz_lock);
			event->element.qp = gz_ibv_qp_by_num(context,
							     ev.qp_num);
			pthread_mutex_unlock(&context->gz_lock);
			if (!event->element.qp)
				continue;	/* destroyed since */
			event->event_type = IBV_EVENT_QP_FATAL;
			return 0;
		case GENZIO_EVENT_CQ_OVERRUN:
			pthread_mutex_lock(&context->gz_lock);
			event->element.cq = gz_ibv_cq_of(context, ev.cq);
			pthread_mutex_unlock(&context->gz_lock);
			if (!event->element.cq)
				continue;
			event->event_type = IBV_EVENT_CQ_ERR;
			return 0;
		case GENZIO_EVENT_LINK_DOWN:
		case GENZIO_EVENT_LINK_UP:
			event->event_type = ev.type == GENZIO_EVENT_LINK_UP ?
					    IBV_EVENT_PORT_ACTIVE :
					    IBV_EVENT_PORT_ERR;
			event->element.port_num = 1;
			return 0;
		case GENZIO_EVENT_DEVICE_FATAL:
			event->event_type = IBV_EVENT_DEVICE_FATAL;
			return 0;
		default:
			continue;	/* no verbs name */
		}
	}
}

static inline void ibv_ack_async_event(struct ibv_async_event *e)
{
	struct ibv_context *c = NULL;

	if (!e)
		return;
	if (e->event_type == IBV_EVENT_QP_FATAL && e->element.qp)
		c = e->element.qp->context;
	else if (e->event_type == IBV_EVENT_CQ_ERR && e->element.cq)
		c = e->element.cq->context;
	if (!c)
		return;
	pthread_mutex_lock(&c->gz_lock);
	if (e->event_type == IBV_EVENT_QP_FATAL) {
		if (e->element.qp->gz_async_out)
			e->element.qp->gz_async_out--;
		e->element.qp->events_completed++;
	} else {
		if (e->element.cq->gz_async_out)
			e->element.cq->gz_async_out--;
		e->element.cq->async_events_completed++;
	}
	pthread_mutex_unlock(&c->gz_lock);
}

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

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_IBVERBS_COMPAT_H */
