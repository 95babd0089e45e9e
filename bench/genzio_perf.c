// SPDX-License-Identifier: MIT
/*
 * genzio_perf: perftest-style latency and bandwidth of genzio operations
 * between two processes, with baselines measured on the same cores in the
 * same run (cache-line ping-pong, memcpy) and the ratios to them. The
 * peer is forked, or, as perftest's, a server (-S) the client reaches
 * over TCP (HOST, -p PORT).
 *
 *   genzio_perf [-t write|read|fadd|cas|send|fence|all] [-a | -s BYTES]
 *               [-n ITERS] [-w WARMUP] [-c CPU_A,CPU_B] [--lat | --bw]
 *               [--p2c] [--rt] [--json | --csv] [--big] [-d DEVICE]
 *               [--yield] [-S | HOST] [-p PORT]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>
#include <genzio/rt.h>

#include "perf.h"
#include "rendezvous.h"

/* Give the peer @c and wait for its go-ahead. */
static void command(int fd, const struct cmd *c)
{
	char ack;

	if (gzb_write_full(fd, c, sizeof(*c)) || gzb_read_full(fd, &ack, 1))
		die(-EPIPE, "peer");
}

/* Wait for the peer's word that it has done its part of a command. */
static void command_done(int fd)
{
	char ack;

	if (gzb_read_full(fd, &ack, 1))
		die(-EPIPE, "peer");
}

static double oneway_ns(struct ep *e, enum test t, size_t size,
			uint64_t iters, uint64_t warm, int p2c, int fd,
			struct gzb_lat *lat)
{
	uint32_t batch = gzb_batch(size);
	size_t nb = iters / batch, k = 0;
	/* the peer answers exactly as many as we send: whole batches */
	struct cmd c = { CMD_LAT, t, size,
			 t == T_READ || p2c ? 0 : nb * batch + warm };
	double *s = calloc(nb ? nb : 1, sizeof(*s));
	uint64_t seq = 0;

	memset(e->buf, 0, size + 128 < e->half ? size + 128 : e->half);
	if (t == T_SEND)
		recvs_once(e);
	command(fd, &c);
	prepare(e, t, size);
	/* warm-up: the same loop, untimed (caches, TLB, the peer's key) */
	for (uint64_t w = 0; w < warm && t != T_READ && !p2c; w++) {
		post(e, ++seq, 0);
		wait_seq(e, t, size, seq);
	}
	if (t == T_READ || p2c) {
		/* one-sided: post-to-completion of each request */
		for (; k < nb; k++) {
			uint64_t t0 = gzb_now_ns();

			for (uint32_t j = 0; j < batch; j++) {
				uint64_t spins = 0, since = 0;
				struct genzio_wc wc;

				post(e, ++seq, 1);
				while (!genzio_poll_cq(e->cq, 1, &wc))
					gzb_spin(&spins, &since);
				die(wc.status ? -EIO : 0,
				    genzio_wc_status_str(wc.status));
			}
			s[k] = (double)(gzb_now_ns() - t0) / batch;
		}
	} else {
		for (; k < nb; k++) {
			uint64_t t0 = gzb_now_ns();

			for (uint32_t j = 0; j < batch; j++) {
				post(e, ++seq, 0);
				wait_seq(e, t, size, seq);
			}
			s[k] = (double)(gzb_now_ns() - t0) / (2.0 * batch);
		}
	}
	command_done(fd);
	gzb_lat_stats(s, nb, lat);
	free(s);
	return lat->median;
}

static void bandwidth(struct ep *e, enum test t, size_t size, uint64_t n,
		      uint32_t sig, int fd, double *gbps, double *mpps)
{
	struct cmd c = { CMD_RECV, t, size, n };
	struct genzio_wc wc[64];
	uint64_t t0, ns;

	if (t == T_SEND)
		command(fd, &c);
	prepare(e, t, size);
	t0 = gzb_now_ns();
	for (uint64_t i = 1; i <= n; i++) {
		/* a completion every sig-th (16: what lifts the rate) */
		post(e, i, i % sig == 0);
		if (i % sig == 0)
			die(genzio_poll_cq(e->cq, 64, wc) < 0 ? -EIO : 0, "poll");
	}
	while (genzio_poll_cq(e->cq, 64, wc) > 0)
		;
	if (t == T_SEND)
		command_done(fd);
	ns = gzb_now_ns() - t0;
	*gbps = gzb_gbps(n * size, ns);
	*mpps = gzb_mmsgs(n, ns);
}

/*
 * Round trips of a cache-line baseline: @times what a row gets (-n), at
 * most @cap (with the default -n: 200000 first, 20000 before each row),
 * at least one sample of 64. A fixed count made -n 16 runs on cores
 * another job shares take over ten minutes: each round trip may cost a
 * scheduler slice there.
 */
static int line_iters(const struct opts *o, uint64_t times, int cap)
{
	uint64_t n;

	if (o->iters >= (uint64_t)cap / times)
		return cap;
	n = o->iters * times;
	return n < 64 ? 64 : (int)n;
}

static uint64_t iters_for(const struct opts *o, size_t size, int bw)
{
	uint64_t n = o->iters * 100, cap = (4ull << 30) / size;

	if (!bw)
		return gzb_lat_iters(o->iters, o->n_given, size);
	if (n > cap)
		n = cap;
	return n < 64 ? 64 : n;
}

/* --rt: idle-sibling cores from hwloc, pinned, SCHED_FIFO, mlocked. */
static void rt_pick(struct opts *o)
{
	struct genzio_rt_topo *topo;
	uint32_t cpus[2];

	die(genzio_rt_topo_load(NULL, NULL, &topo), "rt_topo_load");
	die(genzio_rt_cores_pick(topo, -1, NULL, 0, 2, cpus), "rt_cores_pick");
	o->cpu[0] = (int)cpus[0];
	o->cpu[1] = (int)cpus[1];
	genzio_rt_topo_free(topo);
}

static void rt_apply(const struct opts *o, int side)
{
	struct genzio_rt_report rep;
	uint32_t steps = GENZIO_RT_PIN | GENZIO_RT_FIFO | GENZIO_RT_CORE_SCHED;
	struct rlimit rl;

	/* mlockall(MCL_FUTURE) under a finite RLIMIT_MEMLOCK makes every
	 * later mapping (data space, queues, baselines) fail once the
	 * limit is reached: lock memory only when nothing limits it. */
	if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur == RLIM_INFINITY)
		steps |= GENZIO_RT_MLOCK;
	else if (!side)
		fprintf(stderr, "# --rt: mlockall skipped: RLIMIT_MEMLOCK is "
			"%llu KiB (ulimit -l unlimited to lock)\n",
			(unsigned long long)rl.rlim_cur >> 10);

	die(genzio_rt_thread_setup((uint32_t)o->cpu[side], 50, steps,
				   GENZIO_RT_PIN, &rep), "rt_thread_setup");
	for (int i = 0; i < GENZIO_RT_STEPS && !side; i++)
		if (rep.failed & (1u << i))
			fprintf(stderr, "# --rt: %s not applied: %s\n",
				genzio_rt_step_str(1u << i), strerror(-rep.err[i]));
}

/* What a client tells a server (-S) before anything else. */
struct hello {
	uint32_t magic, version;
	uint64_t max;			/* the largest size it will use */
	uint32_t peers, mrs;		/* --peers, --mrs */
	int32_t cpu;			/* the core the server takes: the
					 * client's -c B, the pair its
					 * baselines were measured on */
	uint32_t pad;
};
#define HELLO_MAGIC 0x677a7066u	/* "gzpf" */

/* -S: wait for one client on -p, then be its peer. */
static int serve_main(struct opts *o)
{
	struct hello h;
	int fd;

	fprintf(stderr, "# genzio_perf: waiting for a client on port %d\n",
		o->port);
	fd = gzb_serve(o->port);
	die(fd < 0 ? fd : 0, "listen/accept");
	fprintf(stderr, "# genzio_perf: a client connected\n");
	die(gzb_read_full(fd, &h, sizeof(h)), "hello");
	if (h.magic != HELLO_MAGIC || h.version != 1) {
		fprintf(stderr, "genzio_perf: the client is not a genzio_perf of "
			"this version\n");
		return 1;
	}
	if (h.max < 8 || h.max > (1ull << 30)) {
		fprintf(stderr, "genzio_perf: the client asks for %llu bytes\n",
			(unsigned long long)h.max);
		return 1;
	}
	o->peers = h.peers;
	o->mrs = h.mrs;
	o->cpu[1] = h.cpu;
	if (o->rt)
		rt_apply(o, 1);
	gzb_ctl_fd = fd;
	return peer_main(fd, o, h.max);
}

/* The initiator's side of a run, over @fd to the peer: every row. */
static int run(const struct opts *o, int fd, const size_t *sizes,
	       size_t nsizes, size_t max, double line)
{
	size_t llc = gzb_llc_bytes();
	struct cmd q = { CMD_QUIT, 0, 0, 0 };
	FILE *csv = NULL;
	struct ep e;
	int first = 1;

	if (o->csv_out && !(csv = fopen(o->csv_out, "w")))
		die(-errno, o->csv_out);
	if (csv)
		gzb_print_header(csv, GZB_CSV, 0);

	die(gzb_pin(o->cpu[0]) ? -errno : 0, "pin to the first -c core");
	if (o->rt)
		rt_apply(o, 0);
	ep_open(&e, o->dev, max);
	die(genzio_conn_info_exchange(fd, &e.me, &e.peer), "exchange");
	die(genzio_qp_connect(e.qp, e.peer.qp_addr, e.peer.qp_addr_len),
	    "qp_connect");
	scale_initiator(&e, o, fd);
	struct genzio_device_attr da;

	die(genzio_device_query(e.ctx, &da), "device_query");
	if (o->fmt == GZB_TABLE)
		printf("# genzio_perf: cores %d,%d; cache-line one-way %.1f ns "
		       "before all rows (the latency limit); each row's ratio is "
		       "to its own line[ns], measured right before it, or "
		       "memcpy, right after it%s%s\n",
		       o->cpu[0], o->cpu[1], line,
		       o->peers || o->mrs ? "; scale: --peers/--mrs in effect" :
					    "",
		       o->host ? "; peer: a server over TCP" : "");
	for (int bw = 0; bw < 2; bw++) {
		if (!(bw ? o->bw : o->lat))
			continue;
		if (o->fmt == GZB_TABLE || first)
			gzb_print_header(stdout, o->fmt, bw);
		for (int t = 0; t < T_MAX; t++) {
			char name[16];

			if (!(o->tests & (1u << t)))
				continue;
			/* sends need the peer's receives reposted: ping-pong */
			int p2c = o->p2c && t != T_SEND;

			snprintf(name, sizeof(name), "%s_%s", names[t],
				 bw ? "bw" : p2c ? "p2c" : "lat");
			for (size_t i = 0; i < nsizes; i++) {
				size_t sz = sizes[i];
				struct gzb_row r = { .test = name, .bytes = sz };

				/* atomics, fences: 8 bytes; sends: a receive of
				 * at most 1 MiB; latency up to 8 MiB */
				const char *skip =
					(t == T_FADD || t == T_CAS ||
					 t == T_FENCE) && sz != 8 ?
						"8 bytes only" :
					t == T_SEND && sz > 1u << 20 ?
						"1 MiB at most" :
					!bw && sz > (8u << 20) ?
						"latency up to 8 MiB" :
					t == T_SEND &&
						!(da.caps & GENZIO_CAP_MSG) ?
						"the device has no messages "
						"(GENZIO_CAP_MSG)" : NULL;

				if (skip) {
					if (o->size)
						fprintf(stderr, "# genzio_perf: "
							"%s at %zu B skipped: "
							"%s\n", name, sz, skip);
					continue;
				}
				r.iters = iters_for(o, sz, bw);
				if (bw) {
					bandwidth(&e, (enum test)t, sz, r.iters,
						  o->sig, fd, &r.gbps,
						  &r.mmsgs);
					/* source and destination, each
					 * reused by every request */
					r.footprint = 2 * sz;
					r.in_llc = !llc ? -1 : r.footprint <= llc;
					r.base = gzb_memcpy_gbps(
						sz, sz > (64u << 20) ? 5 : 50);
					r.ratio = r.gbps / r.base;
				} else {
					/* the baseline again, right before:
					 * cross-core latency drifts here */
					r.base = gzb_cacheline_oneway_ns(
						o->cpu[0], o->cpu[1],
						line_iters(o, 1, 20000));
					oneway_ns(&e, (enum test)t, sz, r.iters,
						  o->warmup, p2c, fd, &r.lat);
					r.samples = r.iters / gzb_batch(sz);
					r.ratio = r.lat.median / r.base;
				}
				gzb_print_row(stdout, o->fmt, bw, &r, first);
				if (csv)
					gzb_print_row(csv, GZB_CSV, bw, &r, 0);
				first = 0;
			}
		}
		if (o->fmt == GZB_TABLE)
			printf("\n");
	}
	gzb_print_footer(stdout, o->fmt);
	if (csv && fclose(csv))
		die(-errno, o->csv_out);
	if (gzb_write_full(fd, &q, sizeof(q)))
		return 1;
	ep_close(&e);
	return 0;
}

int main(int argc, char **argv)
{
	static const size_t all[] = { 8, 64, 256, 1024, 4096, 16384, 65536,
				      262144, 1u << 20, 4u << 20, 8u << 20 };
	size_t sizes[16], nsizes = 0, max = 0;
	struct opts o;
	int sv[2], st, ret;
	double line;
	pid_t pid = 0;

	parse(argc, argv, &o);
	gzb_yield = o.yield;
	if (!o.yield)
		gzb_oversubscribed();
	if (o.rt)
		rt_pick(&o);
	if (o.serve)
		return serve_main(&o);
	if (o.size)
		sizes[nsizes++] = o.size;
	else
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			sizes[nsizes++] = all[i];
	if (o.big && !o.size)
		sizes[nsizes++] = 256u << 20;
	for (size_t i = 0; i < nsizes; i++)
		max = sizes[i] > max ? sizes[i] : max;
	if (o.host) {
		struct hello h = { HELLO_MAGIC, 1, max, o.peers, o.mrs,
				   o.cpu[1], 0 };

		/* connected first: a server (or a script) waiting for us
		 * need not wait out our baseline */
		sv[0] = gzb_dial(o.host, o.port, 5000);
		if (sv[0] < 0) {
			fprintf(stderr, "genzio_perf: %s port %d: %s\n", o.host,
				o.port, sv[0] == -ENOENT ? "no such host" :
				strerror(-sv[0]));
			return 1;
		}
		die(gzb_write_full(sv[0], &h, sizeof(h)), "hello");
	}
	/* the baseline before anything else runs on the two cores (the
	 * server, if any, sets up and then waits in a read) */
	line = gzb_cacheline_oneway_ns(o.cpu[0], o.cpu[1],
				       line_iters(&o, 10, 200000));
	if (!o.host) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (!pid) {
			close(sv[0]);
			if (o.rt)
				rt_apply(&o, 1);
			gzb_ctl_fd = sv[1];
			_exit(peer_main(sv[1], &o, max));
		}
		close(sv[1]);
	}
	gzb_ctl_fd = sv[0];
	ret = run(&o, sv[0], sizes, nsizes, max, line);
	close(sv[0]);
	if (pid && (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st)))
		return 1;
	return ret;
}
