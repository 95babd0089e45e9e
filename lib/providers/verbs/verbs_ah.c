// SPDX-License-Identifier: MIT
/*
 * verbs provider: address handles. An RD work request names a port (the
 * ah: GID and LID) and an RD queue pair there (remote_qpn, the number of
 * its wire-up UD queue pair); the RC child that carries it is found or
 * made from the two (verbs_rd.c), so an ah holds no verbs object.
 *
 * By address: the address's port. By GCID alone: only a component of
 * this host (our subnet, a live slot of our registry) can be found, on
 * our own port; one elsewhere is -EHOSTUNREACH, naming the fix (a GCID
 * does not say where a host is: its address does).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "providers/verbs/verbs.h"

int gz_vb_ah_create(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
		    size_t len, struct genzio_ah **out)
{
	struct gz_vb_ctx *ctx = gz_vb_ctx_of(pd->ctx);
	struct gz_vb_peer p;
	struct gz_vb_ah *ah;
	int ret;

	if (a) {
		ret = gz_vb_peer_parse(ctx, a, len, &p);
		if (ret)
			return ret;
	} else {
		struct gz_fabric_member m;

		if (GENZIO_GCID_SID(gcid) != GENZIO_GCID_SID(ctx->base.attr.gcid))
			return gz_err(-EHOSTUNREACH, "verbs: GCID %#x is not "
				      "on this host (subnet %#x): address it "
				      "by a queue-pair address "
				      "(genzio_ah_create_addr)", gcid,
				      GENZIO_GCID_SID(ctx->base.attr.gcid));
		ret = gz_fabric_lookup(&ctx->fabric, GENZIO_GCID_CID(gcid), &m);
		if (ret)
			return ret;
		p.gid = ctx->gid;
		p.lid = ctx->lid;
	}
	ah = calloc(1, sizeof(*ah));
	if (!ah)
		return -ENOMEM;
	/* on InfiniBand a peer is its LID (wire-up cannot check a GID) */
	if (ctx->link_layer == IBV_LINK_LAYER_ETHERNET)
		ah->gid = p.gid;
	ah->lid = p.lid;
	*out = &ah->base;
	return 0;
}

void gz_vb_ah_destroy(struct genzio_ah *ah)
{
	free(container_of(ah, struct gz_vb_ah, base));
}
