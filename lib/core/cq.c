// SPDX-License-Identifier: MIT
/* genzio_cq_*: completion queues, and the names of completion statuses. */
#include <errno.h>

#include "provider.h"

GENZIO_EXPORT int genzio_cq_create(struct genzio_context *ctx,
				   const struct genzio_cq_attr *attr,
				   struct genzio_cq **out)
{
	GZ_API();
	struct genzio_comp_channel *ch = NULL;
	struct gz_cq *cq;
	int ret;

	if (!ctx || !attr || !out)
		return gz_err(-EINVAL, "ctx %p, attr %p, cq %p", (void *)ctx,
			      (const void *)attr, (void *)out);
	if (attr->comp_mask & ~(uint64_t)GENZIO_CQ_ATTR_CHANNEL)
		return gz_err(-EINVAL, "unknown comp_mask bits %#llx",
			      (unsigned long long)attr->comp_mask);
	if (attr->comp_mask & GENZIO_CQ_ATTR_CHANNEL) {
		ch = attr->channel;
		if (!ch || ch->context != ctx)
			return gz_err(-EINVAL, "channel %p is not of this context",
				      (void *)ch);
	}
	if (!attr->depth || attr->depth > ctx->attr.max_cqe)
		return gz_err(-EINVAL, "depth %u (1..%u)", attr->depth,
			      ctx->attr.max_cqe);
	ret = gz_ctx_gone(ctx);
	if (ret)
		return ret;
	gz_ctx_lock(ctx);
	if (ctx->ncq >= ctx->attr.max_cq) {
		gz_ctx_unlock(ctx);
		return gz_err(-ENOSPC, "all %u completion queues in use",
			      ctx->attr.max_cq);
	}
	ret = ctx->prov->cq_create(ctx, attr, &cq);
	if (!ret) {
		cq->channel = ch;
		if (ch)
			container_of(ch, struct gz_channel, pub)->users++;
		ctx->ncq++;
		*out = &cq->pub;
	}
	gz_ctx_unlock(ctx);
	return ret;
}

int gz_cq_busy(uint32_t users)
{
	return gz_err(-EBUSY, "%u work queues still complete into this cq (a "
		      "queue pair's send and receive queues count apart)",
		      users);
}

GENZIO_EXPORT int genzio_cq_destroy(struct genzio_cq *pub)
{
	GZ_API();
	struct genzio_context *ctx;
	struct genzio_comp_channel *ch;
	int ret;

	if (!pub)
		return gz_err(-EINVAL, "cq is NULL");
	ctx = pub->context;
	ch = container_of(pub, struct gz_cq, pub)->channel;
	if (container_of(pub, struct gz_cq, pub)->events !=
	    container_of(pub, struct gz_cq, pub)->acked)
		return gz_err(-EBUSY, "channel events of this cq are not "
			      "acknowledged (genzio_cq_ack_events)");
	gz_ctx_lock(ctx);
	ret = ctx->prov->cq_destroy(container_of(pub, struct gz_cq, pub));
	if (!ret) {
		if (ch)
			container_of(ch, struct gz_channel, pub)->users--;
		ctx->ncq--;
	}
	gz_ctx_unlock(ctx);
	return ret;
}

GENZIO_EXPORT const char *genzio_wc_status_str(uint32_t status)
{
	switch (status) {
	case GENZIO_WC_SUCCESS:
		return "success";
	case GENZIO_WC_BAD_RKEY:
		return "invalid permission: no such R-Key";
	case GENZIO_WC_RDM_FULL:
		return "no receive posted within rdm_timeout_us";
	case GENZIO_WC_RETRY_EXC:
		return "retries exceeded: peer lost, or it did not connect back";
	case GENZIO_WC_REM_BOUNDS:
		return "remote range outside the region";
	case GENZIO_WC_LOC_PROT:
		return "local protection error";
	case GENZIO_WC_LOC_LEN:
		return "local length error";
	case GENZIO_WC_REM_ACCESS:
		return "remote access not granted by the key";
	case GENZIO_WC_REM_QP:
		return "remote queue pair gone, or not connected to this one";
	case GENZIO_WC_FLUSHED:
		return "flushed: queue pair destroyed, reset or in error";
	case GENZIO_WC_REM_INV_REQ:
		return "receive buffer too small";
	case GENZIO_WC_REM_OP:
		return "receiver's completion queue overran";
	case GENZIO_WC_LOC_QP_OP:
		return "local queue pair operation error";
	case GENZIO_WC_LOC_EEC_OP:
		return "local EE context operation error";
	case GENZIO_WC_MW_BIND:
		return "memory window bind error";
	case GENZIO_WC_BAD_RESP:
		return "bad response from the peer";
	case GENZIO_WC_LOC_ACCESS:
		return "local access error";
	case GENZIO_WC_LOC_RDD_VIOL:
		return "local RDD violation";
	case GENZIO_WC_REM_INV_RD_REQ:
		return "remote invalid RD request";
	case GENZIO_WC_REM_ABORT:
		return "remote operation aborted";
	case GENZIO_WC_INV_EECN:
		return "invalid EE context number";
	case GENZIO_WC_INV_EEC_STATE:
		return "invalid EE context state";
	case GENZIO_WC_FATAL:
		return "fatal device error";
	case GENZIO_WC_RESP_TIMEOUT:
		return "response timeout";
	case GENZIO_WC_TM:
		return "tag matching error";
	case GENZIO_WC_TM_RNDV:
		return "tag matching rendezvous incomplete";
	case GENZIO_WC_GENERAL_ERR:
		return "general error";
	default:
		return "unknown status";
	}
}
