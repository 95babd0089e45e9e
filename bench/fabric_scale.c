// SPDX-License-Identifier: MIT
/*
 * fabric_scale: the fabric manager's cost as the fabric grows. For each
 * size, the generated fabric (lib/fabric/topo_gen.c: subnets of 32
 * components per edge switch on a torus of core switches), its GCIDs,
 * and every route, primary and alternate, between its switches; the
 * time (median of -r runs) and memory. Beside it OpenSM's routing of the
 * same fabric simulated by ibsim (bench/opensm-route, when opensm and
 * ibsim-utils are installed), measured in the same run, and the ratio.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fabric/route.h"
#include "fabric/topo.h"

#define MAX_SIZES 16

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static long maxrss_kb(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss;
}

/* OpenSM's route_ms for @n components, or a negative number (skipped,
 * with the reason in @why). */
static double opensm(const char *script, const char *engine, uint32_t n,
		     char *why, size_t len)
{
	char cmd[512], line[512];
	double ms = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "sh '%s' -R %s %u 2>/dev/null", script,
		 engine, n);
	p = popen(cmd, "r");
	snprintf(why, len, "bench/opensm-route did not run");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		char *r = strstr(line, "route_ms="), *s = strstr(line, "skipped: ");

		line[strcspn(line, "\n")] = 0;
		if (r)
			ms = strtod(r + 9, NULL);
		else if (s)
			snprintf(why, len, "%s", s + 9);
	}
	pclose(p);
	return ms;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fabric_scale [-n N[,N...]] [-r RUNS] [-o MAX] "
		"[-R ENGINE] [-s SCRIPT]\n"
		"  -n  component counts (default 256,1024,4096,16384,65536)\n"
		"  -r  runs per size, the median is shown (default 3)\n"
		"  -o  run OpenSM up to this many components (default 16384; "
		"0: never)\n"
		"  -R  OpenSM's routing engine (default minhop)\n"
		"  -s  the OpenSM script (default bench/opensm-route beside "
		"this program's source)\n");
}

int main(int argc, char **argv)
{
	uint32_t sizes[MAX_SIZES] = { 256, 1024, 4096, 16384, 65536 };
	uint32_t nsizes = 5, runs = 3, osm_max = 16384;
	const char *engine = "minhop", *script = BENCH_SRCDIR "/opensm-route";
	int c;

	while ((c = getopt(argc, argv, "n:r:o:R:s:h")) != -1) {
		switch (c) {
		case 'n':
			nsizes = 0;
			for (char *t = strtok(optarg, ","); t && nsizes < MAX_SIZES;
			     t = strtok(NULL, ","))
				sizes[nsizes++] = (uint32_t)strtoul(t, NULL, 10);
			break;
		case 'r':
			runs = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			osm_max = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			engine = optarg;
			break;
		case 's':
			script = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!runs || runs > 99 || optind < argc) {
		usage(stderr);
		return 2;
	}
	printf("# genzio: generate, assign GCIDs, route every switch pair "
	       "(primary + alternate); median of %u\n"
	       "# opensm: %s engine's route computation alone (bench/"
	       "opensm-route), one run\n", runs, engine);
	printf("%8s %8s %8s %12s %10s %10s %10s %12s %10s\n", "comps",
	       "switches", "links", "genzio_ms", "tables_MB", "rss_MB",
	       "explicit%", "opensm_ms", "osm/gz");
	for (uint32_t i = 0; i < nsizes; i++) {
		double t[100], osm;
		struct gz_topo topo;
		struct gz_routes r = { 0 };
		size_t bytes = 0;
		uint32_t nsw = 0, nlink = 0, expl = 0;
		long rss0 = maxrss_kb();
		char why[256] = "";

		for (uint32_t k = 0; k < runs; k++) {
			double a = now_ms();

			if (gz_topo_generate(sizes[i], &topo) ||
			    gz_route_build(&topo, &r)) {
				fprintf(stderr, "fabric_scale: %u components: "
					"cannot generate or route (a multiple "
					"of the subnet count?)\n", sizes[i]);
				return 1;
			}
			t[k] = now_ms() - a;
			bytes = r.bytes;
			nsw = topo.nsw;
			nlink = topo.nlink;
			expl = r.explicit_alts;
			gz_route_free(&r);
			gz_topo_free(&topo);
		}
		qsort(t, runs, sizeof(t[0]), cmp);
		osm = osm_max && sizes[i] <= osm_max ?
			      opensm(script, engine, sizes[i], why, sizeof(why)) :
			      -1;
		printf("%8u %8u %8u %12.3f %10.1f %10.1f %10.1f", sizes[i], nsw,
		       nlink, t[runs / 2], bytes / 1048576.0,
		       (maxrss_kb() - rss0) / 1024.0,
		       100.0 * expl / ((double)nsw * nsw));
		if (osm >= 0)
			printf(" %12.3f %10.1f\n", osm, osm / t[runs / 2]);
		else
			printf(" %12s %10s  # %s\n", "-", "-",
			       osm_max && sizes[i] <= osm_max ? why :
							       "beyond -o");
	}
	return 0;
}
