// SPDX-License-Identifier: MIT
/*
 * genzio-info: the devices of every provider, their GCID, capabilities
 * and limits, the huge-page state, and (-l) the components of a host
 * fabric. In the manner of ibv_devinfo, fi_info and ucx_info.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <genzio/genzio.h>

enum { EXIT_NODEV = 1, EXIT_USAGE = 2, EXIT_OPEN = 3 };

struct opts {
	const char *device;	/* -d: only this one */
	const char *fabric;	/* -f */
	const char *from;	/* where device came from, for messages */
	int verbose;		/* -v */
	int members;		/* -l */
	uint32_t gcid;		/* -g: whose control space */
};

static const char *const cap_names[] = {
	"RMA", "ATOMIC", "MSG", "WRITE_IMM", "SYNC", "RD", "RMAP",
	"FINE_STATUS", "ONE_SIDED_TARGET", "REG_CONVERT", "HUGE_PAGES",
	"RECV_STAGED", "REG_ANY", "QP_SURVIVES_FAULT", "PEER_WATCH",
	"RECV_ANY", "RESET_FLUSHES", "CQ_BACKPRESSURE", "DEATH_AT_ONCE",
};
#define GZ_CAP_NAMES (sizeof(cap_names) / sizeof(cap_names[0]))

static const char *const atomic_names[] = {
	"SWAP", "CAS", "FADD", "AND", "OR", "XOR", "SMIN", "SMAX", "UMIN",
	"UMAX",
};

static void print_bits(const char *label, uint64_t bits,
		       const char *const *names, unsigned n)
{
	printf("\t%-18s", label);
	if (!bits)
		printf(" (none)");
	for (unsigned i = 0; i < 64; i++) {
		if (!(bits >> i & 1))
			continue;
		if (i < n)
			printf(" %s", names[i]);
		else
			printf(" bit%u", i);
	}
	putchar('\n');
}

static void print_size(const char *label, uint64_t v)
{
	if (v == UINT64_MAX)
		printf("\t%-18s unlimited\n", label);
	else if (v >= (1u << 30) && !(v % (1u << 30)))
		printf("\t%-18s %" PRIu64 " GiB\n", label, v >> 30);
	else if (v >= (1u << 20) && !(v % (1u << 20)))
		printf("\t%-18s %" PRIu64 " MiB\n", label, v >> 20);
	else if (v >= 1024 && !(v % 1024))
		printf("\t%-18s %" PRIu64 " KiB\n", label, v >> 10);
	else
		printf("\t%-18s %" PRIu64 " B\n", label, v);
}

/* One number from a sysfs file, or -1. */
static long sysfs_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* What the kernel has reserved and free, per huge page size. */
static void print_huge(int verbose)
{
	static const char *const sizes[] = { "2048kB", "1048576kB" };
	char path[128];
	FILE *m;

	for (unsigned i = 0; i < 2; i++) {
		long nr, fr;

		snprintf(path, sizeof(path),
			 "/sys/kernel/mm/hugepages/hugepages-%s/nr_hugepages",
			 sizes[i]);
		nr = sysfs_long(path);
		snprintf(path, sizeof(path),
			 "/sys/kernel/mm/hugepages/hugepages-%s/free_hugepages",
			 sizes[i]);
		fr = sysfs_long(path);
		if (nr < 0)
			printf("\thuge pages %-7s not supported by this kernel\n",
			       i ? "1 GiB" : "2 MiB");
		else
			printf("\thuge pages %-7s %ld reserved, %ld free\n",
			       i ? "1 GiB" : "2 MiB", nr, fr);
	}
	if (!verbose)
		return;
	m = setmntent("/proc/mounts", "r");
	if (!m)
		return;
	for (struct mntent *e; (e = getmntent(m));)
		if (!strcmp(e->mnt_type, "hugetlbfs"))
			printf("\thugetlbfs mount    %s (%s)\n", e->mnt_dir,
			       e->mnt_opts);
	endmntent(m);
}

static void print_attr(const struct genzio_device_attr *a, int verbose)
{
	printf("\t%-18s %#x (subnet %#x, component %#x; this "
	       "genzio-info's own)\n", "gcid", a->gcid, GENZIO_GCID_SID(a->gcid),
	       GENZIO_GCID_CID(a->gcid));
	print_bits("caps", a->caps, cap_names,
		   sizeof(cap_names) / sizeof(cap_names[0]));
	print_size("page_size", a->page_size);
	printf("\t%-18s %u\n", "max_inline", a->max_inline);
	printf("\t%-18s %u\n", "max_sge", a->max_sge);
	if (!verbose)
		return;
	print_bits("atomic_ops32", a->atomic_ops32, atomic_names, 10);
	print_bits("atomic_ops64", a->atomic_ops64, atomic_names, 10);
	printf("\t%-18s %u\n", "max_qp", a->max_qp);
	printf("\t%-18s %u\n", "max_cq", a->max_cq);
	printf("\t%-18s %u\n", "max_qp_wr", a->max_qp_wr);
	printf("\t%-18s %u\n", "max_cqe", a->max_cqe);
	printf("\t%-18s %u\n", "max_mr", a->max_mr);
	print_size("max_mr_size", a->max_mr_size);
	print_size("huge_budget", a->huge_budget);
	print_size("huge_used", a->huge_used);
	if (a->caps & GENZIO_CAP_RECV_STAGED)
		print_size("max_recv_staged", a->max_recv_staged);
}

static const char *state_name(uint32_t s)
{
	switch (s) {
	case GENZIO_MEMBER_LIVE:
		return "live";
	case GENZIO_MEMBER_STALE:
		return "stale";
	case GENZIO_MEMBER_SELF:
		return "live (this process)";
	case GENZIO_MEMBER_CHANGING:
		return "changing (stayed mid-join or mid-leave)";
	}
	return "?";
}

static const char *gcid_str(uint32_t gcid, char *buf, size_t len)
{
	snprintf(buf, len, "%#x", gcid);
	return buf;
}

/* Before the open joins: a join reclaims the stale components. */
static int print_members(const struct genzio_device_desc *d,
			 const struct genzio_open_attr *oa)
{
	struct genzio_member *m;
	char g[16];
	int n = genzio_member_list(d->name, oa, NULL, 0);

	if (n == -ENOTSUP) {
		printf("\tmembers            no host registry (a network, or "
		       "a bridge's engine: its provider's page)\n");
		return 0;
	}
	if (n < 0)
		return n;
	int cap = n + 16;	/* room for some that join meanwhile */

	m = calloc((size_t)cap, sizeof(*m));
	if (!m)
		return -ENOMEM;
	n = genzio_member_list(d->name, oa, m, cap);
	if (n > cap)
		n = cap;
	printf("\t%-9s %-8s %s\n", "GCID", "pid", "state (before this "
	       "genzio-info joined)");
	for (int i = 0; i < n; i++)
		printf("\t%-9s %-8d %s\n", gcid_str(m[i].gcid, g, sizeof(g)), m[i].pid,
		       state_name(m[i].state));
	if (!n)
		printf("\t(no component)\n");
	free(m);
	return n < 0 ? n : 0;
}

/* Component @gcid's control space: its core structure, its interfaces. */
static int print_control(struct genzio_context *ctx, uint32_t gcid)
{
	struct genzio_component c;
	int ret = genzio_component_query(ctx, gcid, &c);

	if (ret == -ENOTSUP) {
		printf("\t%-18s none (no fabric manager's: a network, or a "
		       "bridge)\n",
		       "control space");
		return 0;
	}
	if (ret) {
		fprintf(stderr, "genzio-info: control space of %#x: %s\n", gcid,
			strerror(-ret));
		return ret;
	}
	printf("\t%-18s GCID %#x (%s), class %s\n", "control space", c.gcid,
	       c.name, c.cclass == GENZIO_CCLASS_BRIDGE ? "bridge" : "?");
	print_bits("  caps", c.caps, cap_names, GZ_CAP_NAMES);
	print_size("  data_size", c.data_size);
	printf("\t%-18s %u\n\t%-18s %u\n", "  max_qp", c.max_qp, "  max_cq",
	       c.max_cq);
	for (uint32_t i = 0; i < c.niface; i++)
		printf("\t  interface %-7u %s, to switch %s\n", c.iface[i].id,
		       c.iface[i].state == GENZIO_STATE_UP ? "up" : "down",
		       c.iface[i].peer);
	return 0;
}

static int show_device(const struct genzio_device_desc *d,
		       const struct opts *o)
{
	struct genzio_open_attr oa = { 0 };
	struct genzio_context *ctx;
	struct genzio_device_attr a;
	int ret;

	printf("device %s (provider %s)\n", d->name, d->provider);
	if (d->detail[0])
		printf("\t%-18s %s\n", "where", d->detail);
	if (o->fabric) {
		oa.comp_mask = GENZIO_OPEN_ATTR_FABRIC;
		oa.fabric = o->fabric;
	}
	if (o->members) {
		ret = print_members(d, &oa);
		if (ret) {
			fprintf(stderr, "genzio-info: %s: members: %s\n",
				d->name, strerror(-ret));
			return ret;
		}
	}
	ret = genzio_device_open(d->name, &oa, &ctx);
	if (ret) {
		fprintf(stderr, "genzio-info: %s: cannot open: %s%s\n",
			d->name, strerror(-ret),
			getenv("GENZIO_DEBUG") ? "" :
			" (set GENZIO_DEBUG=1 for the cause)");
		return ret;
	}
	ret = genzio_device_query(ctx, &a);
	if (!ret) {
		print_attr(&a, o->verbose);
		print_huge(o->verbose);
	}
	if (!ret && (o->verbose || o->gcid))
		ret = print_control(ctx, o->gcid ? o->gcid : a.gcid);
	genzio_device_close(ctx);
	if (ret)
		fprintf(stderr, "genzio-info: %s: %s\n", d->name,
			strerror(-ret));
	return ret;
}

/* The providers, and why those without a device have none. */
static int show_providers(int verbose)
{
	struct genzio_provider_desc p[16];
	int n = genzio_provider_list(p, 16), devs = 0;

	for (int i = 0; i < n && i < 16; i++) {
		devs += p[i].ndevices;
		if (p[i].ndevices > 0 && !verbose)
			continue;
		printf("provider %s: %d device%s%s%s\n", p[i].name,
		       p[i].ndevices, p[i].ndevices == 1 ? "" : "s",
		       p[i].why[0] ? ": " : "", p[i].why);
	}
	if (!devs) {
		fprintf(stderr, "genzio-info: no device:");
		for (int i = 0; i < n && i < 16; i++)
			fprintf(stderr, " %s: %s;", p[i].name, p[i].why);
		fprintf(stderr, " see genzio-info(1)\n");
	}
	return devs;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: genzio-info [-v] [-l] [-d DEVICE] [-f FABRIC] "
		"[-g GCID]\n"
		"  -v         detail: every limit, atomic operations, mounts, "
		"control space\n"
		"  -l         list the live and stale components of the fabric\n"
		"  -d DEVICE  only this device (a name or a provider name)\n"
		"  -f FABRIC  host fabric to join (default $GENZIO_FABRIC, "
		"else default)\n"
		"  -g GCID    the control space of this component (default: "
		"its own)\n"
		"exit: 0, 1 no device, 2 usage, 3 a device failed to open\n");
}

int main(int argc, char **argv)
{
	struct genzio_device_desc d[64];
	struct opts o = { 0 };
	int c, n, shown = 0, failed = 0;

	opterr = 0;	/* our message, not one naming the libtool wrapper */
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	while ((c = getopt(argc, argv, "vld:f:g:h")) != -1) {
		switch (c) {
		case 'v':
			o.verbose = 1;
			break;
		case 'l':
			o.members = 1;
			break;
		case 'd':
			o.device = optarg;
			break;
		case 'f':
			o.fabric = optarg;
			break;
		case 'g': {
			char *end;
			unsigned long g = strtoul(optarg, &end, 0);

			if (*end || !g || g > 0xfffffff) {
				fprintf(stderr, "genzio-info: -g %s: not a "
					"GCID (0x1002)\n", optarg);
				return EXIT_USAGE;
			}
			o.gcid = (uint32_t)g;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (optopt == '-')	/* "--name" */
				fprintf(stderr, "genzio-info: long options "
					"are not taken\n");
			else
				fprintf(stderr, "genzio-info: -%c: %s\n", optopt,
					strchr("dfg", optopt) ?
						"needs an argument" :
						"unknown option");
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "genzio-info: %s: unexpected argument\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	o.from = "";
	/* no -d: what genzio_device_open(NULL) would choose from */
	if (!o.device) {
		o.device = getenv("GENZIO_DEVICE");
		o.from = "GENZIO_DEVICE=";
		if (!o.device || !*o.device) {
			o.device = getenv("GENZIO_PROVIDER");
			o.from = "GENZIO_PROVIDER=";
		}
		if (o.device && !*o.device)
			o.device = NULL;
	}
	if (!o.device)
		o.from = "";
	printf("fabric %s\n", o.fabric ? o.fabric :
	       getenv("GENZIO_FABRIC") && *getenv("GENZIO_FABRIC") ?
					  getenv("GENZIO_FABRIC") : "default");
	if (!show_providers(o.verbose))
		return EXIT_NODEV;
	n = genzio_device_list(d, 64);
	for (int i = 0; i < n && i < 64; i++) {
		if (o.device && strcmp(o.device, d[i].name) &&
		    strcmp(o.device, d[i].provider))
			continue;
		shown++;
		failed += show_device(&d[i], &o) != 0;
	}
	if (!shown) {
		struct genzio_provider_desc p[16];
		int np = genzio_provider_list(p, 16);

		for (int i = 0; o.device && i < np && i < 16; i++)
			if (!strcmp(o.device, p[i].name)) {
				fprintf(stderr, "genzio-info: %s%s: this provider "
					"has no device here: %s\n", o.from,
					o.device, p[i].why);
				return EXIT_NODEV;
			}
		fprintf(stderr, "genzio-info: %s%s: no such device or provider "
			"here\n", o.from, o.device ? o.device : "(any)");
		return EXIT_NODEV;
	}
	return failed ? EXIT_OPEN : 0;
}
