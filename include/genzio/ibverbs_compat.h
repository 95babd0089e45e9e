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

#include <genzio/ibverbs/types.h>
#include <genzio/ibverbs/devices.h>
#include <genzio/ibverbs/cq.h>
#include <genzio/ibverbs/qp.h>
#include <genzio/ibverbs/absent.h>

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_IBVERBS_COMPAT_H */
