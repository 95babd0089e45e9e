/* SPDX-License-Identifier: MIT */
/* bench/common: timing, statistics, baselines and output for genzio_perf. */
#ifndef GZB_COMMON_H
#define GZB_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

uint64_t gzb_now_ns(void);
int gzb_pin(int cpu);

/*
 * Busy waits on cores other work shares: with gzb_yield set (--yield),
 * every wait gives the core away between looks, so a ping-pong whose two
 * sides share a core still progresses (slower, and said so). gzb_spin()
 * is one look's pause; it also notices a wait that made no progress for
 * GZB_STALL_MS and warns once.
 */
#define GZB_STALL_MS 100
extern int gzb_yield;
/* The control connection to the other side, or -1: a wait that finds it
 * closed ends the program (the other side died), never spins on. */
extern int gzb_ctl_fd;
void gzb_spin(uint64_t *spins, uint64_t *since);
/* More runnable threads than online cores (/proc/stat procs_running):
 * then a busy-poll ping-pong measures the scheduler; 1 and a warning. */
int gzb_oversubscribed(void);

/* Percentile @p (0..100) of @n samples: the sample at 0-based rank
 * round(p / 100 * (n - 1)) of the sorted samples; sorts @v. */
double gzb_pct(double *v, size_t n, double p);

/*
 * How a latency row is sampled. A sample times gzb_batch(size) operations
 * between two clock reads (~30 ns together): 32 up to 4 KiB, 8 up to
 * 64 KiB, one above, so the reads stay a few percent of a sample. A row
 * takes -n operations, at most 256 MiB of payload; without -n, never
 * fewer than GZB_MIN_SAMPLES samples (the floor wins over the budget):
 * its p99 is then the 11th worst of at least 1000.
 */
#define GZB_MIN_SAMPLES 1000
uint32_t gzb_batch(size_t size);
uint64_t gzb_lat_iters(uint64_t n, int n_given, size_t size);

/* Bytes and time to GB/s and Mmsg/s (10^9 B/s, 10^6 messages/s). */
double gzb_gbps(uint64_t bytes, uint64_t ns);
double gzb_mmsgs(uint64_t msgs, uint64_t ns);
/* The last-level cache's size, or 0 if unknown. */
size_t gzb_llc_bytes(void);

struct gzb_lat {
	double min, median, p99, max;	/* ns */
};
void gzb_lat_stats(double *samples, size_t n, struct gzb_lat *out);

/*
 * Baselines measured on the same cores in the same run:
 * the one-way latency of a cache line bounced between two processes
 * pinned to @cpu_a and @cpu_b, and single-core memcpy bandwidth.
 */
double gzb_cacheline_oneway_ns(int cpu_a, int cpu_b, int iters);
double gzb_memcpy_gbps(size_t size, int iters);

/* One output row (latency or bandwidth columns, the other zero). */
struct gzb_row {
	const char *test;	/* "write_lat", "write_bw", ... */
	size_t bytes;
	uint64_t iters;
	uint64_t samples;	/* latency: timed samples (batches) */
	struct gzb_lat lat;	/* ns: half round trip or post-to-completion */
	double gbps;		/* bandwidth */
	double mmsgs;		/* message rate, 10^6 messages per second
				 * (JSON: msgrate_mpps, as before) */
	double base;		/* baseline: cache line ns or memcpy GB/s */
	double ratio;		/* lat / base or gbps / base */
	size_t footprint;	/* bandwidth: bytes the copies touch */
	int in_llc;		/* ... and whether they fit the LLC (-1:
				 * its size is unknown) */
};

enum gzb_fmt { GZB_TABLE, GZB_JSON, GZB_CSV };
void gzb_print_header(FILE *out, enum gzb_fmt f, int bw);
void gzb_print_row(FILE *out, enum gzb_fmt f, int bw, const struct gzb_row *r,
		   int first);
void gzb_print_footer(FILE *out, enum gzb_fmt f);

#endif /* GZB_COMMON_H */
