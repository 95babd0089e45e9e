/* SPDX-License-Identifier: MIT */
/*
 * genzio/ibverbs/devices.h: conversions; devices, ports, protection domains, registrations. A part of <genzio/ibverbs_compat.h>,
 * which includes the parts in order: include that.
 */
#ifndef GENZIO_IBVERBS_DEVICES_H
#define GENZIO_IBVERBS_DEVICES_H

#ifndef GENZIO_IBVERBS_COMPAT_H
#error "include <genzio/ibverbs_compat.h>, not its parts"
#endif

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

#endif /* GENZIO_IBVERBS_DEVICES_H */
