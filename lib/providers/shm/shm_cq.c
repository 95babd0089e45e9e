// SPDX-License-Identifier: MIT
/* Completion queues: a phase-bit ring of 64-byte entries in our memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "providers/shm/shm.h"

static int shm_poll_cq(struct genzio_cq *pub, int n, struct genzio_wc *wc)
{
	struct gz_shm_cq *cq = container_of(pub, struct gz_shm_cq, pub);
	uint32_t c = cq->cons;
	int i;

	for (i = 0; i < n; i++) {
		const struct gz_xdm_cqe *e = gz_ring_cqe_peek(&cq->ring, c);

		if (!e)
			break;
		wc[i].wr_id = e->context;
		wc[i].status = e->status;
		wc[i].opcode = e->opcode;
		wc[i].byte_len = e->byte_len;
		wc[i].qp_num = e->qp_num;
		wc[i].src_gcid = e->src_gcid;
		wc[i].imm_data = e->imm_data;
		wc[i].wc_flags = e->wc_flags;
		wc[i].reserved = 0;
		memcpy(&wc[i].result, e->result, sizeof(wc[i].result));
		c++;
	}
	if (i) {
		cq->cons = c;
		gz_ring_consume(&cq->ring, c);
	}
	return i;
}

int gz_shm_cq_create(struct genzio_context *ctx,
		     const struct genzio_cq_attr *attr, struct genzio_cq **out)
{
	uint32_t n = gz_roundup_pow2(attr->depth);
	struct gz_shm_cq *cq;

	if (posix_memalign((void **)&cq, GZ_CACHELINE, sizeof(*cq)))
		return -ENOMEM;
	memset(cq, 0, sizeof(*cq));
	if (posix_memalign((void **)&cq->ent, GZ_CACHELINE,
			   (size_t)n * sizeof(*cq->ent))) {
		free(cq);
		return -ENOMEM;
	}
	memset(cq->ent, 0, (size_t)n * sizeof(*cq->ent));
	gz_ring_init(&cq->ring, &cq->ctrl, cq->ent, n);
	cq->pub.poll = shm_poll_cq;
	cq->pub.user_context = attr->user_context;
	cq->pub.context = ctx;
	cq->pub.depth = n;
	*out = &cq->pub;
	return 0;
}

int gz_shm_cq_destroy(struct genzio_cq *pub)
{
	struct gz_shm_cq *cq = container_of(pub, struct gz_shm_cq, pub);

	if (cq->users)
		return gz_err(-EBUSY, "%u queue pairs still use this cq",
			      cq->users);
	free(cq->ent);
	free(cq);
	return 0;
}
