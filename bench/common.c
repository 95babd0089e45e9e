// SPDX-License-Identifier: MIT
/* bench/common: see common.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

uint64_t gzb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int gzb_pin(int cpu)
{
	cpu_set_t s;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return sched_setaffinity(0, sizeof(s), &s);
}

int gzb_yield;
int gzb_ctl_fd = -1;
static int stall_told;

/* The other side closed the control connection: it died (or quit). */
static void ctl_check(void)
{
	struct pollfd p = { gzb_ctl_fd, POLLRDHUP, 0 };

	if (gzb_ctl_fd >= 0 && poll(&p, 1, 0) > 0 &&
	    (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
		fprintf(stderr, "genzio_perf: the peer went away in the middle "
			"of a row\n");
		exit(1);
	}
}

void gzb_spin(uint64_t *spins, uint64_t *since)
{
	if (gzb_yield) {
		sched_yield();
		if (!(++*spins & 0xff))
			ctl_check();
		return;
	}
	/* a clock read every 64 Ki looks: nothing on a busy wait that ends */
	if (++*spins & 0xffff)
		return;
	ctl_check();
	if (!*since) {
		*since = gzb_now_ns();
	} else if (!stall_told &&
		   gzb_now_ns() - *since > GZB_STALL_MS * 1000000ull) {
		stall_told = 1;
		fprintf(stderr, "# genzio_perf: a busy wait made no progress for "
			"%d ms: its peer has no core of its own (another job, or "
			"-c with one core twice?); numbers measure the scheduler; "
			"--yield gives the core away while waiting\n",
			GZB_STALL_MS);
	}
}

int gzb_oversubscribed(void)
{
	FILE *f = fopen("/proc/stat", "re");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char line[256];
	int running = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "procs_running %d", &running) == 1)
			break;
	fclose(f);
	/* ourselves included, the peer not started yet: as many as the
	 * cores leaves one too few for the two sides */
	if (cpus <= 0 || running < cpus)
		return 0;
	fprintf(stderr, "# genzio_perf: %d runnable threads on %ld cores: a "
		"busy-poll ping-pong shares its cores and measures the "
		"scheduler; --yield keeps it progressing (slower)\n", running,
		cpus);
	return 1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double gzb_pct(double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

void gzb_lat_stats(double *s, size_t n, struct gzb_lat *out)
{
	out->median = gzb_pct(s, n, 50);
	out->p99 = gzb_pct(s, n, 99);
	out->min = n ? s[0] : 0;
	out->max = n ? s[n - 1] : 0;
}

/* Two processes bounce one 64-bit word: the limit of any ping-pong. */
double gzb_cacheline_oneway_ns(int cpu_a, int cpu_b, int iters)
{
	volatile uint64_t *line = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double *samples, res;
	int batch = 64, nb = iters / batch;
	pid_t pid;

	struct sched_param prio;
	int policy;

	if (line == MAP_FAILED || nb < 1)
		return 0;
	*line = 0;
	line[8] = 0;
	/* A SCHED_FIFO parent spinning on its core would starve a child
	 * that has not left that core yet: fork as a normal task, wait
	 * (sleeping) until the child sits on its own core, then resume. */
	pthread_getschedparam(pthread_self(), &policy, &prio);
	if (policy != SCHED_OTHER) {
		struct sched_param zero = { 0 };

		pthread_setschedparam(pthread_self(), SCHED_OTHER, &zero);
	}
	pid = fork();
	if (!pid) {
		/* dies with its parent: an orphan would spin on the line for
		 * good, and hold the parent's sockets open */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		gzb_ctl_fd = -1;
		gzb_pin(cpu_b);
		line[8] = 1;
		for (uint64_t i = 1; i <= (uint64_t)nb * batch; i++) {
			uint64_t spins = 0, since = 0;

			while (*line != 2 * i - 1)
				gzb_spin(&spins, &since);
			*line = 2 * i;
		}
		_exit(0);
	}
	while (pid > 0 && !line[8])
		usleep(100);
	if (policy != SCHED_OTHER)
		pthread_setschedparam(pthread_self(), policy, &prio);
	gzb_pin(cpu_a);
	samples = calloc((size_t)nb, sizeof(*samples));
	for (int b = 0; b < nb; b++) {
		uint64_t t0 = gzb_now_ns();

		for (int k = 0; k < batch; k++) {
			uint64_t i = (uint64_t)b * batch + (uint64_t)k + 1;
			uint64_t spins = 0, since = 0;

			*line = 2 * i - 1;
			while (*line != 2 * i)
				gzb_spin(&spins, &since);
		}
		samples[b] = (double)(gzb_now_ns() - t0) / (2.0 * batch);
	}
	waitpid(pid, NULL, 0);
	res = gzb_pct(samples, (size_t)nb, 50);
	free(samples);
	munmap((void *)line, 4096);
	return res;
}

double gzb_memcpy_gbps(size_t size, int iters)
{
	/* dst 192 bytes off src's page offset: no 4 KiB aliasing, which
	 * would make the baseline look slower than a real copy */
	char *a0 = malloc(size + 4096), *b0 = malloc(size + 4096);
	char *a = a0, *b = b0 ? b0 + ((uintptr_t)a0 - (uintptr_t)b0 + 192) % 4096 :
				NULL;
	/* time batches of at least 1 MiB: a clock read costs ~30 ns */
	size_t inner = size < (1u << 20) ? (1u << 20) / size : 1;
	double *samples, res;
	int reps = iters;

	if (!a0 || !b0) {
		free(a0);
		free(b0);
		return 0;
	}
	memset(a, 1, size);
	memset(b, 2, size);
	samples = calloc((size_t)reps, sizeof(*samples));
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = gzb_now_ns();

		for (size_t k = 0; k < inner; k++) {
			memcpy(b, a, size);
			/* keep the copy from being optimised away */
			__asm__ __volatile__("" ::"r"(b) : "memory");
		}
		samples[r] = (double)(size * inner) /
			     (double)(gzb_now_ns() - t0 + 1);
	}
	res = gzb_pct(samples, (size_t)reps, 50);
	free(samples);
	free(a0);
	free(b0);
	return res;
}

uint32_t gzb_batch(size_t size)
{
	return size <= 4096 ? 32 : size <= 65536 ? 8 : 1;
}

uint64_t gzb_lat_iters(uint64_t n, int n_given, size_t size)
{
	uint64_t b = gzb_batch(size), cap = (256ull << 20) / size;

	if (n > cap)
		n = cap;
	if (!n_given && n < GZB_MIN_SAMPLES * b)
		n = GZB_MIN_SAMPLES * b;
	/* whole samples, at least two */
	n -= n % b;
	return n < 2 * b ? 2 * b : n;
}

double gzb_gbps(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / (double)ns : 0;
}

double gzb_mmsgs(uint64_t msgs, uint64_t ns)
{
	return ns ? (double)msgs * 1e3 / (double)ns : 0;
}

size_t gzb_llc_bytes(void)
{
	long v = sysconf(_SC_LEVEL3_CACHE_SIZE);

	if (v <= 0)
		v = sysconf(_SC_LEVEL2_CACHE_SIZE);
	return v > 0 ? (size_t)v : 0;
}

void gzb_print_header(FILE *out, enum gzb_fmt f, int bw)
{
	if (f == GZB_JSON) {
		fprintf(out, "[\n");
		return;
	}
	if (f == GZB_CSV) {
		fprintf(out, "test,bytes,iterations,samples,t_min_ns,t_median_ns,"
		       "t_p99_ns,t_max_ns,bw_gbps,msgrate_mpps,baseline,"
		       "baseline_kind,ratio,footprint_bytes,in_llc\n");
		return;
	}
	if (bw)
		fprintf(out, "# bandwidth: unsignaled requests, a completion every "
		       "--sig-th; footprint: bytes the copies touch (source and "
		       "destination, reused by every request), against the "
		       "last-level cache (%zu KiB here; LLC: an in-cache copy, "
		       "mem: beyond it, ?: its size unknown); ratio = BW / "
		       "memcpy of the same size on one core, measured right "
		       "after the row (higher is better)\n"
		       "%-10s %10s %10s %10s %10s %10s %4s %12s %8s\n",
		       gzb_llc_bytes() >> 10, "test",
		       "bytes", "iters", "BW[GB/s]", "Mmsg/s", "footprint", "",
		       "memcpy[GB/s]", "ratio");
	else
		fprintf(out, "# latency: one-way (half round trip) or post-to-"
		       "completion, ns per operation, each sample the mean of "
		       "%u ops up to 4 KiB, %u up to 64 KiB, %u above (t_p99 and "
		       "t_max are of those means); at least %u samples unless "
		       "-n is given; line[ns]: a cache-line ping-pong between the "
		       "same two cores right before the row; ratio = t_median / "
		       "line (lower is better)\n"
		       "%-10s %10s %10s %8s %9s %9s %9s %9s %10s %8s\n",
		       gzb_batch(4096), gzb_batch(65536), gzb_batch(65537),
		       GZB_MIN_SAMPLES, "test", "bytes", "iters", "samples",
		       "t_min", "t_median", "t_p99", "t_max", "line[ns]",
		       "ratio");
	/* rows take a while: the header shows at once, into a pipe too */
	fflush(out);
}

void gzb_print_row(FILE *out, enum gzb_fmt f, int bw, const struct gzb_row *r,
		   int first)
{
	if (f == GZB_JSON) {
		fprintf(out, "%s  {\"test\": \"%s\", \"bytes\": %zu, \"iterations\": %llu, "
		       "\"samples\": %llu, "
		       "\"t_min_ns\": %.1f, \"t_median_ns\": %.1f, "
		       "\"t_p99_ns\": %.1f, \"t_max_ns\": %.1f, "
		       "\"bw_gbps\": %.3f, \"msgrate_mpps\": %.6g, "
		       "\"baseline\": %.3f, \"baseline_kind\": \"%s\", "
		       "\"ratio\": %.3f, \"footprint_bytes\": %zu, "
		       "\"in_llc\": %s}",
		       first ? "" : ",\n", r->test, r->bytes,
		       (unsigned long long)r->iters,
		       (unsigned long long)r->samples, r->lat.min,
		       r->lat.median, r->lat.p99, r->lat.max, r->gbps, r->mmsgs,
		       r->base, bw ? "memcpy_gbps" : "line_ns", r->ratio,
		       r->footprint,
		       r->in_llc < 0 ? "null" : r->in_llc ? "true" : "false");
		return;
	}
	if (f == GZB_CSV) {
		fprintf(out, "%s,%zu,%llu,%llu,%.1f,%.1f,%.1f,%.1f,%.3f,%.6g,%.3f,%s,"
		       "%.3f,%zu,%d\n", r->test, r->bytes,
		       (unsigned long long)r->iters,
		       (unsigned long long)r->samples, r->lat.min,
		       r->lat.median, r->lat.p99, r->lat.max, r->gbps, r->mmsgs,
		       r->base, bw ? "memcpy_gbps" : "line_ns", r->ratio,
		       r->footprint, r->in_llc);
		return;
	}
	if (bw)
		fprintf(out, "%-10s %10zu %10llu %10.2f %#10.4g %10zu %4s %12.2f %8.2f\n",
		       r->test, r->bytes, (unsigned long long)r->iters, r->gbps,
		       r->mmsgs, r->footprint,
		       r->in_llc < 0 ? "?" : r->in_llc ? "LLC" : "mem", r->base,
		       r->ratio);
	else
		fprintf(out, "%-10s %10zu %10llu %8llu %9.1f %9.1f %9.1f %9.1f %10.1f "
		       "%8.2f\n",
		       r->test, r->bytes, (unsigned long long)r->iters,
		       (unsigned long long)r->samples, r->lat.min,
		       r->lat.median, r->lat.p99, r->lat.max, r->base, r->ratio);
}

void gzb_print_footer(FILE *out, enum gzb_fmt f)
{
	if (f == GZB_JSON)
		fprintf(out, "\n]\n");
	fflush(out);
}
