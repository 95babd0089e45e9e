/* SPDX-License-Identifier: MIT */
/*
 * bench/perf: what genzio_perf's parts share: the tests, the commands the
 * two sides exchange, the options, and one side's genzio objects (ep.c),
 * with the two calls its timed loops make inline (post, wait_seq).
 */
#ifndef GZB_PERF_H
#define GZB_PERF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <genzio/genzio.h>

#include "common.h"

enum test { T_WRITE, T_READ, T_FADD, T_CAS, T_SEND, T_FENCE, T_MAX };
extern const char *const names[T_MAX];	/* -t's spelling */

enum { CMD_LAT = 1, CMD_RECV = 2, CMD_QUIT = 3 };
struct cmd {
	uint32_t op, test;
	uint64_t size, iters;
};

struct opts {
	uint32_t tests;		/* bit per enum test */
	int lat, bw, rt, big, p2c;
	enum gzb_fmt fmt;
	int n_given;		/* -n asked: fewer samples if it says so */
	int serve, port;	/* -S, -p: client/server mode */
	const char *host;	/* the server to reach, or NULL: fork */
	int yield;		/* --yield: waits give the core away */
	const char *csv_out;	/* --csv-out FILE: the rows as CSV too */
	uint64_t warmup;
	uint32_t peers, mrs;	/* scale: extra components and regions */
	uint32_t sig;		/* bandwidth: a completion every sig-th */
	size_t size;		/* 0: -a */
	uint64_t iters;
	int cpu[2];
	const char *dev;
};

struct ep {
	struct genzio_context *ctx;
	struct genzio_pd *pd;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct genzio_conn_info me, peer;
	uint8_t *buf;		/* [0, half): peers write here; then ours */
	size_t half;
	struct genzio_send_wr wr[2];	/* prepared by prepare() */
	struct genzio_send_wr *last;
	struct genzio_sge sge;
	uint64_t *seqp;
	enum test test;
	/* the device lacks GENZIO_CAP_ONE_SIDED_TARGET: a wait on memory
	 * makes progress (polls) now and then, as the target must */
	int progress;
};

#define RQ 1024

/* Exit 1 with @what and the errno, if @ret is one. */
void die(int ret, const char *what);

/* ep.c: one side's objects, requests and the peer's loop */
void ep_open(struct ep *e, const char *dev, size_t max);
void ep_close(struct ep *e);
void post_recvs(struct ep *e, int n);
void recvs_once(struct ep *e);
void prepare(struct ep *e, enum test t, size_t size);
void scale_initiator(struct ep *e, const struct opts *o, int fd);
int peer_main(int fd, const struct opts *o, size_t max);

/* options.c */
void parse(int argc, char **argv, struct opts *o);

/* Post the prepared request(s) carrying @seq; unsignaled unless @sig. */
static inline void post(struct ep *e, uint64_t seq, int sig)
{
	struct genzio_send_wr *next = e->wr, *bad, *last = e->last;
	int ret;

	/* the last 8 bytes carry the sequence number the peer waits for */
	*e->seqp = seq;
	if (e->test == T_CAS) {
		e->wr[0].atomic.operand = seq;
		e->wr[0].atomic.compare = seq - 1;
	}
	last->send_flags = sig ? last->send_flags | GENZIO_SEND_SIGNALED :
				 last->send_flags & ~GENZIO_SEND_SIGNALED;
	/* -EAGAIN: the requests before *bad are posted; resume at it */
	while ((ret = genzio_post_send(e->qp, next, &bad)) == -EAGAIN) {
		struct genzio_wc wc[64];

		next = bad;
		die(genzio_poll_cq(e->cq, 64, wc) < 0 ? -EIO : 0, "poll_cq");
	}
	if (GENZIO_UNLIKELY(ret))
		die(ret, "post_send");
}

/* Die if @e's device or its peer is gone (an event says so). */
static inline void gone_check(struct ep *e)
{
	struct genzio_event ev;

	while (!genzio_event_get(e->ctx, &ev))
		if (ev.type == GENZIO_EVENT_DEVICE_FATAL ||
		    ev.type == GENZIO_EVENT_PEER_DEAD)
			die(-ENODEV, ev.type == GENZIO_EVENT_DEVICE_FATAL ?
					     "the device is gone" :
					     "the peer is gone");
}

/* Wait for the peer's request number @seq to land here. */
static inline void wait_seq(struct ep *e, enum test t, size_t size, uint64_t seq)
{
	uint64_t spins = 0, since = 0;

	if (t == T_SEND) {
		struct genzio_wc wc;
		int n;

		while (!(n = genzio_poll_cq(e->cq, 1, &wc)) ||
		       wc.opcode != GENZIO_WC_RECV) {
			die(n < 0 ? n : 0, "poll_cq");
			gzb_spin(&spins, &since);
		}
		die(wc.status ? -EIO : 0, genzio_wc_status_str(wc.status));
		post_recvs(e, 1);
		return;
	}
	volatile uint64_t *p = (volatile uint64_t *)
		(e->buf + (t == T_FENCE ? 64 : t == T_WRITE ? size - 8 : 0));

	while (*p != seq) {
		/* not at once: a wait that ends soon costs nothing */
		if (e->progress && spins && !(spins & 255))
			genzio_poll_cq(e->cq, 0, NULL);
		/* a peer or device that is gone ends the wait (no write of
		 * theirs will come) */
		if (spins && !(spins & 0xffff))
			gone_check(e);
		gzb_spin(&spins, &since);
	}
}

#endif /* GZB_PERF_H */
