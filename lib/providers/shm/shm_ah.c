// SPDX-License-Identifier: MIT
/* Address handles: a GCID resolved to a mapped peer. */
#include <errno.h>
#include <stdlib.h>

#include "providers/shm/shm.h"

int gz_shm_ah_create(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
		     size_t len, struct genzio_ah **out)
{
	struct gz_shm_ah *ah;
	uint64_t inc = 0;
	uint32_t qpn;
	int ret;

	if (a) {
		ret = gz_shm_addr_get(a, len, &qpn, &inc);
		if (ret)
			return ret;
	}
	ah = calloc(1, sizeof(*ah));
	if (!ah)
		return -ENOMEM;
	/* its errors say what went wrong: no such component, or no fd or
	 * memory to reach it (-EMFILE, -ENOMEM) */
	ret = gz_shm_peer_get(to_shm_ctx(pd->ctx), gcid, &ah->peer);
	if (ret) {
		free(ah);
		return ret;
	}
	/* an address names one incarnation: not whoever has its GCID now */
	if (a && ah->peer->incarnation != inc) {
		gz_shm_peer_put(ah->peer);
		free(ah);
		return gz_err(-EHOSTUNREACH, "the address is of an earlier "
			      "component with GCID %#x", gcid);
	}
	*out = &ah->base;
	return 0;
}

void gz_shm_ah_destroy(struct genzio_ah *base)
{
	struct gz_shm_ah *ah = container_of(base, struct gz_shm_ah, base);

	gz_shm_peer_put(ah->peer);
	free(ah);
}
