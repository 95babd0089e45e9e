// SPDX-License-Identifier: MIT
/*
 * The bridge's engine killed under a stream of work (test/vm/vfio.sh, in
 * a guest): two contexts of the vfio provider write each other's window
 * with every byte checked, until the host kills genzio-bridged. Then,
 * within bounds and without a hang: outstanding work completes in error
 * (FLUSHED), DEVICE_FATAL comes on the event fd, later work completes
 * FLUSHED, setup calls fail -ENODEV, and everything closes. GZVM lines;
 * "ok vfio_fatal_streaming" tells the host when to kill.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <genzio/genzio.h>

#include "lib/gzt.h"

#define LEN 4096

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static int write_all(struct gzt_ep *a, struct gzt_ep *b, uint64_t id)
{
	struct genzio_sge s = {(uintptr_t)a->mem->addr, LEN, a->mr->lkey};
	struct genzio_send_wr wr = {.wr_id = id,
				    .sg_list = &s,
				    .num_sge = 1,
				    .opcode = GENZIO_WR_WRITE,
				    .send_flags = GENZIO_SEND_SIGNALED,
				    .rdma = {b->info.addr, b->info.rkey}},
			      *bad;

	memset(a->mem->addr, (int)(id & 0xff), LEN);
	return genzio_post_send(a->qp, &wr, &bad);
}

/* A guest's result line (guest-lib.sh's format), at once: the host
 * reads the console as it goes, to know when to kill. */
static void report(const char *name, int ok, const char *why)
{
	printf("GZVM: %s vfio_fatal_%s%s%s\n", ok ? "ok" : "not ok", name,
	       ok ? "" : " ", ok ? "" : why);
	fflush(stdout);
}

int main(void)
{
	struct gzt_ep a, b;
	struct genzio_wc wc;
	struct genzio_event ev;
	uint64_t id = 0, t0;
	int flushed = 0, fatal = 0, n, bad = 0;

	if (gzt_ep_open(&a, LEN, GZT_ACCESS_ALL) ||
	    gzt_ep_open(&b, LEN, GZT_ACCESS_ALL) || gzt_ep_pair(&a, &b)) {
		report("setup", 0, "open or connect failed (GENZIO_DEBUG=1)");
		return 1;
	}
	/* the stream: each write's bytes checked before the next */
	for (t0 = now_ms(); now_ms() - t0 < 120000; id++) {
		if (write_all(&a, &b, id))
			break;
		/* b polls too: a guest's context beats in its polls */
		while (!(n = genzio_poll_cq(a.cq, 1, &wc)) &&
		       genzio_poll_cq(b.cq, 1, &(struct genzio_wc){0}) >= 0 &&
		       now_ms() - t0 < 120000)
			;
		if (n != 1 || wc.status)
			break; /* the engine is gone */
		for (int i = 0; i < LEN; i++)
			bad += ((uint8_t *)b.mem->addr)[i] != (uint8_t)id;
		if (id == 200)
			report("streaming", !bad, "bytes did not land");
	}
	report("stream_every_byte_landed", id > 200 && !bad,
	       "too short, or bytes lost");
	fprintf(stderr, "the stream ended at request %llu: %s\n",
		(unsigned long long)id,
		n == 1 ? genzio_wc_status_str(wc.status) : "no completion");
	if (n == 1 && wc.status)
		flushed = wc.status == GENZIO_WC_FLUSHED;
	/* the rest: within 10 s, DEVICE_FATAL and flushes */
	for (t0 = now_ms(); now_ms() - t0 < 10000 && !(fatal && flushed);) {
		struct pollfd p = {genzio_event_fd(a.ctx), POLLIN, 0};

		n = genzio_poll_cq(a.cq, 1, &wc);
		if (n == 1)
			flushed |= wc.status == GENZIO_WC_FLUSHED;
		if (poll(&p, 1, 10) > 0 && !genzio_event_get(a.ctx, &ev))
			fatal |= ev.type == GENZIO_EVENT_DEVICE_FATAL;
	}
	report("engine_killed_flushes_outstanding_work", flushed,
	       "no FLUSHED completion");
	report("engine_killed_raises_device_fatal", fatal, "no DEVICE_FATAL");
	n = write_all(&a, &b, ++id) ? -1 : 0;
	for (t0 = now_ms(); !n && now_ms() - t0 < 5000;)
		n = genzio_poll_cq(a.cq, 1, &wc);
	report("after_it_work_completes_flushed",
	       n == 1 && wc.status == GENZIO_WC_FLUSHED, "not FLUSHED");
	report("after_it_setup_fails_enodev",
	       genzio_pd_alloc(a.ctx, &(struct genzio_pd *){0}) == -ENODEV,
	       "not -ENODEV");
	n = gzt_ep_close(&a) || gzt_ep_close(&b);
	report("after_it_everything_closes", !n, "a close failed");
	return 0;
}
