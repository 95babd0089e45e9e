/* SPDX-License-Identifier: MIT */
/*
 * genzio: userspace kernel-bypass I/O for Gen-Z-style memory fabrics.
 *
 * Every call returns 0 or a negative errno (poll returns a count). New objects
 * come back through an out-parameter written only on success. errno does not
 * report errors (a success may leave it changed). A failed transfer is
 * reported in its completion (struct genzio_wc), never as a return code of
 * the post that started it.
 *
 * Thread safety: device, pd, mr, mem and ah calls are safe from any thread.
 * A qp or a cq is used by one thread at a time; that is a rule, not a lock.
 */
#ifndef GENZIO_GENZIO_H
#define GENZIO_GENZIO_H

/* The API in parts, each of one concern; programs include this one. */
#include <genzio/base.h>
#include <genzio/device.h>
#include <genzio/memory.h>
#include <genzio/queue.h>
#include <genzio/loadstore.h>
#include <genzio/conn.h>
#include <genzio/fm.h>

#endif /* GENZIO_GENZIO_H */
