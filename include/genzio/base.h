/* SPDX-License-Identifier: MIT */
/* genzio: what every part of the API shares (macros, GCIDs, the opaque
 * types). Include <genzio/genzio.h>, which includes every part. */
#ifndef GENZIO_BASE_H
#define GENZIO_BASE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define GENZIO_EXPORT __attribute__((visibility("default")))
#define GENZIO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* GCID: 16-bit subnet ID and 12-bit component ID in 28 bits. */
#define GENZIO_GCID(sid, cid) ((((uint32_t)(sid) & 0xffffu) << 12) | ((uint32_t)(cid) & 0xfffu))
#define GENZIO_GCID_SID(gcid) (((uint32_t)(gcid) >> 12) & 0xffffu)
#define GENZIO_GCID_CID(gcid) ((uint32_t)(gcid) & 0xfffu)
#define GENZIO_NAME_MAX 32
#define GENZIO_MAX_INLINE 32	/* bytes carried inside a command entry */

struct genzio_context;
struct genzio_pd;
struct genzio_ah;
struct genzio_cq;
struct genzio_qp;
struct genzio_mr;
struct genzio_mem;
struct genzio_comp_channel;

#endif /* GENZIO_BASE_H */
