/* SPDX-License-Identifier: MIT */
/* bench/common: timing, statistics, baselines and output for genzio_perf. */
#ifndef GZB_COMMON_H
#define GZB_COMMON_H

#include <stddef.h>
#include <stdint.h>

uint64_t gzb_now_ns(void);
int gzb_pin(int cpu);

/* Percentile @p (0..100) of @n samples; sorts @v. */
double gzb_pct(double *v, size_t n, double p);

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
	struct gzb_lat lat;	/* ns: half round trip or post-to-completion */
	double gbps;		/* bandwidth */
	double mpps;		/* message rate */
	double base;		/* baseline: cache line ns or memcpy GB/s */
	double ratio;		/* lat / base or gbps / base */
};

void gzb_print_header(int json, int bw);
void gzb_print_row(int json, int bw, const struct gzb_row *r, int first);
void gzb_print_footer(int json);

#endif /* GZB_COMMON_H */
