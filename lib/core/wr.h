/* SPDX-License-Identifier: MIT */
/* Checks of a send work request every provider makes at post time. */
#ifndef GZ_CORE_WR_H
#define GZ_CORE_WR_H

#include <errno.h>

#include "gz.h"

#define GZ_SEND_FLAGS_ALL (GENZIO_SEND_SIGNALED | GENZIO_SEND_FENCE | \
			   GENZIO_SEND_INLINE)

/* What needs no lookup: fails the post, not the transfer. */
GZ_INLINE int gz_wr_check(const struct genzio_send_wr *wr, uint32_t max_sge,
			uint32_t max_inline)
{
	if (GZ_UNLIKELY(wr->opcode >= GENZIO_WR_OPCODE_MAX ||
			(uint32_t)wr->num_sge > max_sge ||
			(wr->num_sge && !wr->sg_list) ||
			(wr->send_flags & ~GZ_SEND_FLAGS_ALL)))
		return -EINVAL;
	switch (wr->opcode) {
	case GENZIO_WR_WRITE:
	case GENZIO_WR_READ:
	case GENZIO_WR_WRITE_IMM:
	case GENZIO_WR_SEND:
	case GENZIO_WR_SEND_IMM:
		/* inline: PUTIMM/GETIMM, <= max_inline bytes in the entry */
		if (GZ_UNLIKELY((wr->send_flags & GENZIO_SEND_INLINE) &&
				(wr->num_sge > 1 ||
				 (wr->num_sge &&
				  wr->sg_list[0].length > max_inline))))
			return -EINVAL;
		return 0;
	case GENZIO_WR_SYNC:
		/* it moves nothing: no data, nothing inline */
		if (GZ_UNLIKELY(wr->num_sge ||
				(wr->send_flags & GENZIO_SEND_INLINE)))
			return -EINVAL;
		return 0;
	default: /* atomics */
		if (GZ_UNLIKELY((wr->atomic.size != 4 && wr->atomic.size != 8) ||
				(wr->atomic.remote_addr & (wr->atomic.size - 1)) ||
				wr->num_sge > 1 ||
				(wr->num_sge &&
				 wr->sg_list[0].length != wr->atomic.size) ||
				(wr->send_flags & GENZIO_SEND_INLINE)))
			return -EINVAL;
		return 0;
	}
}

#endif /* GZ_CORE_WR_H */
