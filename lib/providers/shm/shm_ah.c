// SPDX-License-Identifier: MIT
/* Address handles: a GCID resolved to a mapped peer. */
#include <errno.h>
#include <stdlib.h>

#include "core/addr.h"
#include "providers/shm/shm.h"

int gz_shm_ah_create(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
		     size_t len, struct genzio_ah **out)
{
	struct gz_shm_ah *ah;
	int ret;

	if (a && len != GZ_SHM_ADDR_LEN)
		return gz_err(-EINVAL, "an shm address has %d bytes after its "
			      "header, not %zu", GZ_SHM_ADDR_LEN, len);
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
	if (a && ah->peer->incarnation != gz_le64_get(a + 4)) {
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
