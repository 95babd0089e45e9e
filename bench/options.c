// SPDX-License-Identifier: MIT
/* bench/options: genzio_perf's command line. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

/* Usage on stderr (exit 2), after @why if there is one; -h: stdout, 0. */
static void usage_why(const char *why)
{
	FILE *f = why ? stderr : stdout;

	if (why && *why)
		fprintf(stderr, "genzio_perf: %s\n", why);
	fprintf(f,
		"usage: genzio_perf [-t write|read|fadd|cas|send|fence|all] "
		"[-a | -s BYTES]\n"
		"       [-n ITERS] [-w WARMUP] [-c CPU_A,CPU_B] [--lat | --bw] "
		"[--p2c]\n"
		"       [--rt] [--json | --csv] [--big] [-d DEVICE] [--yield]\n"
		"       [-S | HOST] [-p PORT] [--csv-out FILE]\n"
		"  -S: serve (wait on -p PORT, default 18515, for one client);\n"
		"  HOST: connect to the server there (as perftest); neither:\n"
		"  fork the peer\n"
		"  --yield: waits give the core away (cores shared with other\n"
		"  work)\n"
		"  --p2c: latency from post to completion instead of ping-pong\n"
		"  --peers N --mrs N: the target has N-1 more components "
		"connected and N more regions\n"
		"  --sig N: bandwidth rows request a completion every N-th "
		"(default 16)\n"
		"  --big: add 256 MiB (past the last-level cache) to -a\n"
		"  man 1 genzio_perf: every column and how it is computed\n");
	exit(why ? 2 : 0);
}

static void usage(void)
{
	usage_why("");
}

void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "lat", no_argument, NULL, 'L' },
		{ "bw", no_argument, NULL, 'B' },
		{ "rt", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'J' },
		{ "csv", no_argument, NULL, 'C' },
		{ "yield", no_argument, NULL, 'Y' },
		{ "csv-out", required_argument, NULL, 'O' },
		{ "big", no_argument, NULL, 'G' },
		{ "p2c", no_argument, NULL, 'P' },
		{ "peers", required_argument, NULL, 'E' },
		{ "mrs", required_argument, NULL, 'M' },
		{ "sig", required_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct opts){ .tests = 1u << T_WRITE, .iters = 20000,
			    .warmup = 1000, .sig = 16, .cpu = { 0, 1 },
			    .port = 18515 };
	opterr = 0;	/* our message, not one naming the libtool wrapper */
	while ((ch = getopt_long(argc, argv, "t:as:n:w:c:d:Sp:h", lo, NULL)) !=
	       -1) {
		switch (ch) {
		case 't':
			o->tests = 0;
			for (int i = 0; i < T_MAX; i++)
				if (!strcmp(optarg, names[i]) ||
				    !strcmp(optarg, "all"))
					o->tests |= 1u << i;
			if (!o->tests)
				usage();
			break;
		case 'a':
			o->size = 0;
			break;
		case 's':
			o->size = strtoull(optarg, NULL, 0);
			if (o->size < 8 || o->size > (1ull << 30))
				usage_why("-s: 8 bytes to 1 GiB");
			break;
		case 'n':
			o->iters = strtoull(optarg, NULL, 0);
			o->n_given = 1;
			break;
		case 'w':
			o->warmup = strtoull(optarg, NULL, 0);
			break;
		case 'P':
			o->p2c = 1;
			break;
		case 'E':
			o->peers = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'M':
			o->mrs = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'Q':
			o->sig = (uint32_t)strtoul(optarg, NULL, 0);
			if (!o->sig)
				usage();
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &o->cpu[0], &o->cpu[1]) != 2)
				usage();
			break;
		case 'd':
			o->dev = optarg;
			break;
		case 'L':
			o->lat = 1;
			break;
		case 'B':
			o->bw = 1;
			break;
		case 'R':
			o->rt = 1;
			break;
		case 'J':
			o->fmt = GZB_JSON;
			break;
		case 'C':
			o->fmt = GZB_CSV;
			break;
		case 'Y':
			o->yield = 1;
			break;
		case 'O':
			o->csv_out = optarg;
			break;
		case 'S':
			o->serve = 1;
			break;
		case 'p':
			o->port = (int)strtol(optarg, NULL, 0);
			if (o->port <= 0 || o->port > 65535)
				usage_why("-p: a TCP port, 1 to 65535");
			break;
		case 'G':
			o->big = 1;
			break;
		case 'h':
			usage_why(NULL);
			break;
		default:
			usage_why(optopt ? "an unknown option, or one without its "
					   "argument" :
					   "an unknown option");
		}
	}
	if (optind < argc)
		o->host = argv[optind++];
	if (optind < argc)
		usage_why("one HOST at most");
	if (o->host && o->serve)
		usage_why("-S serves; HOST connects: not both");
	/* one core for both: every round trip would cost a scheduler slice
	 * (the baseline's 200000 of them take hours) */
	if (o->cpu[0] == o->cpu[1] && !o->yield) {
		fprintf(stderr, "# genzio_perf: -c %d,%d puts both sides on one "
			"core: --yield\n", o->cpu[0], o->cpu[1]);
		o->yield = 1;
	}
	if (!o->lat && !o->bw)
		o->lat = o->bw = 1;
}
