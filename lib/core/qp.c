// SPDX-License-Identifier: MIT
/* genzio_qp_*: create, connect and destroy queue pairs. */
#include <errno.h>
#include <string.h>

#include "core/addr.h"
#include "provider.h"

static int check_attr(struct genzio_context *ctx,
		      const struct genzio_qp_attr *a)
{
	const struct genzio_device_attr *d = &ctx->attr;

	if (a->comp_mask & ~(uint64_t)GENZIO_QP_ATTR_RDM_TIMEOUT)
		return gz_err(-EINVAL, "unknown comp_mask bits %#llx",
			      (unsigned long long)a->comp_mask);
	if (a->qp_type != GENZIO_QPT_RC && a->qp_type != GENZIO_QPT_RD)
		return gz_err(-EINVAL, "qp_type %u", a->qp_type);
	if (!a->sq_depth || a->sq_depth > d->max_qp_wr ||
	    a->rq_depth > d->max_qp_wr)
		return gz_err(-EINVAL, "sq_depth %u, rq_depth %u (1..%u)",
			      a->sq_depth, a->rq_depth, d->max_qp_wr);
	if (a->max_send_sge > d->max_sge || a->max_recv_sge > d->max_sge)
		return gz_err(-EINVAL, "max_send_sge %u, max_recv_sge %u (max %u)",
			      a->max_send_sge, a->max_recv_sge, d->max_sge);
	if (a->max_inline > d->max_inline)
		return gz_err(-EINVAL, "max_inline %u (max %u)", a->max_inline,
			      d->max_inline);
	if (!a->send_cq || !a->recv_cq)
		return gz_err(-EINVAL, "send_cq and recv_cq are required");
	if (a->send_cq->context != ctx || a->recv_cq->context != ctx)
		return gz_err(-EINVAL, "a cq belongs to another context");
	return 0;
}

GENZIO_EXPORT int genzio_qp_create(struct genzio_pd *pd,
				   const struct genzio_qp_attr *attr,
				   struct genzio_qp **out)
{
	GZ_API();
	struct genzio_context *ctx;
	int ret;

	if (!pd || !attr || !out)
		return gz_err(-EINVAL, "pd %p, attr %p, qp %p", (void *)pd,
			      (const void *)attr, (void *)out);
	ctx = pd->ctx;
	ret = check_attr(ctx, attr);
	if (ret)
		return ret;
	gz_ctx_lock(ctx);
	/* under the lock, as the fatal error that moves every queue pair
	 * to ERR: none is created after it */
	ret = gz_ctx_gone(ctx);
	if (!ret)
		ret = ctx->prov->qp_create(pd, attr, out);
	if (!ret) {
		container_of(*out, struct gz_qp, pub)->pd = pd;
		pd->users++;
		ctx->nqp++;
	}
	gz_ctx_unlock(ctx);
	return ret;
}

GENZIO_EXPORT int genzio_qp_connect(struct genzio_qp *qp, const void *addr,
				    size_t len)
{
	GZ_API();
	struct genzio_context *ctx;
	struct gz_addr a;
	int ret;

	if (!qp)
		return gz_err(-EINVAL, "qp is NULL");
	if (qp->qp_type != GENZIO_QPT_RC)
		return gz_err(-EINVAL, "only RC queue pairs connect");
	ctx = qp->context;
	ret = gz_addr_split_for(ctx->prov, addr, len, &a);
	if (ret)
		return ret;
	gz_ctx_lock(ctx);
	ret = gz_ctx_gone(ctx);
	if (!ret)
		ret = ctx->prov->qp_connect(qp, a.gcid, a.payload, a.len);
	gz_ctx_unlock(ctx);
	return ret;
}

GENZIO_EXPORT int genzio_qp_query_sz(struct genzio_qp *qp,
				     struct genzio_qp_info *info, size_t size)
{
	GZ_API_AS("genzio_qp_query");
	struct genzio_qp_info i = { 0 };

	if (!qp || !info)
		return gz_err(-EINVAL, "qp %p, info %p", (void *)qp,
			      (void *)info);
	/* the first layout: 24 bytes of fields, then the address */
	if (gz_out_size_ok(size, 24 + GENZIO_ADDR_MAX, "genzio_qp_info"))
		return -EINVAL;
	i.qp_type = qp->qp_type;
	i.qp_num = qp->qp_num;
	/* against a reset on another thread, which drops the peer */
	gz_ctx_lock(qp->context);
	qp->context->prov->qp_query(qp, &i);
	gz_ctx_unlock(qp->context);
	gz_out_copy(info, size, &i, sizeof(i));
	return 0;
}

GENZIO_EXPORT int genzio_qp_reset(struct genzio_qp *qp)
{
	GZ_API();
	struct genzio_context *ctx;
	int ret;

	if (!qp)
		return gz_err(-EINVAL, "qp is NULL");
	if (qp->qp_type != GENZIO_QPT_RC)
		return gz_err(-EINVAL, "only RC queue pairs reset");
	ctx = qp->context;
	gz_ctx_lock(ctx);
	/* checked under the lock: a fatal error moves queue pairs to ERR
	 * under it too, and a reset must not undo that */
	ret = gz_ctx_gone(ctx);
	if (!ret)
		ret = ctx->prov->qp_reset(qp);
	gz_ctx_unlock(ctx);
	return ret;
}

GENZIO_EXPORT int genzio_qp_destroy(struct genzio_qp *qp)
{
	GZ_API();
	struct genzio_context *ctx;
	int wait = 0;

	if (!qp)
		return gz_err(-EINVAL, "qp is NULL");
	ctx = qp->context;
	/* Unreachable first, under the lock; deliveries already under way
	 * (other processes') are waited for without it; then freed. */
	if (ctx->prov->qp_stop) {
		gz_ctx_lock(ctx);
		wait = ctx->prov->qp_stop(qp);
		gz_ctx_unlock(ctx);
	}
	if (wait) {
		int ret = ctx->prov->quiesce(ctx, 1);

		if (ret)
			gz_err(ret, "a delivery to queue pair %#x did not end "
			       "(%s): destroying it anyway", qp->qp_num,
			       strerror(-ret));
	}
	gz_ctx_lock(ctx);
	container_of(qp, struct gz_qp, pub)->pd->users--;
	ctx->prov->qp_destroy(qp);
	ctx->nqp--;
	gz_ctx_unlock(ctx);
	return 0;
}
