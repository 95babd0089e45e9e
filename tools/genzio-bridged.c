// SPDX-License-Identifier: MIT
/*
 * genzio-bridged: the genzio bridge, emulated. It formats a file as the
 * bridge's memory (lib/providers/vfio/bridge.h) and runs the bridge's
 * engine over it until it is told to stop: QEMU guests see the file as
 * ivshmem's BAR2, host processes map it directly. The engine's work is
 * bridge_engine.c's; this is the process around it: the file, the clock,
 * idling without burning a core, a clean stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "providers/vfio/bridge_engine.h"
#include "sys/sys.h"

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define MIB (1ull << 20)
#define IDLE_MAX_NS 1000000u /* the heartbeat's period at most */
#define SPIN_NS 200000u	     /* no sleep this soon after work */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* The stop signals are held from the first line and let in at the loop:
 * one that comes while the file is being set up (a component may claim a
 * slot as soon as the magic is written, and stop the engine at once)
 * then ends in a clean stop, not in the default action's death. */
static void stop_signals(sigset_t *set)
{
	struct sigaction sa = {.sa_handler = on_signal};
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaddset(set, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: genzio-bridged [-n SLOTS] [-s SUBNET] [-S MIB] "
		"[-f FABRIC] [-F DESCRIPTION] [-q] FILE\n"
		"  FILE       the bridge's memory (made, or resized, to -S): "
		"give it to\n"
		"             QEMU as -object memory-backend-file,mem-path="
		"FILE,share=on\n"
		"  -n SLOTS   components it serves, 1 to 64 (default: as many "
		"as fit, 4 MiB each at least)\n"
		"  -s SUBNET  the fabric's subnet, 1 to 0xffff (default 1)\n"
		"  -S MIB     its size in MiB, a multiple of 2 from 6 to "
		"1048576 (default 64)\n"
		"  -f FABRIC  the host fabric whose manager gives the GCIDs "
		"(genzio-fabric -f\n"
		"             FABRIC shows it; default: FILE's name and a "
		"hash of its path;\n"
		"             -: none, slot i is CID i + 1)\n"
		"  -F DESCRIPTION  switches, links, components of that "
		"fabric\n"
		"             (genzio_fabric(5); its subnet replaces -s)\n"
		"  -q         no line at start\n"
		"  -h         this\n"
		"runs until SIGTERM, SIGINT, SIGHUP or SIGQUIT; exit: 0 "
		"stopped, 1 failure (said), 2 usage\n");
}

/* A number of @what, or -1 with a message. */
static long long number(const char *s, const char *what, long long lo,
			long long hi)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "genzio-bridged: %s '%s': want %lld to %lld\n",
			what, s, lo, hi);
		return -1;
	}
	return v;
}

/* GENZIO_ROUTE_TIMEOUT_MS, as shm's posters take it: how long a command
 * waits for a path, in ms (default -2: the engine's, 1000); -1 said. */
static long long route_timeout(void)
{
	const char *v = getenv("GENZIO_ROUTE_TIMEOUT_MS");

	return v && *v ? number(v, "GENZIO_ROUTE_TIMEOUT_MS", 0, 3600000) : -2;
}

/* The default fabric of the bridge at @path, into @name: its file's
 * name (what is no [A-Za-z0-9_] as _, 15 at most) and a hash of its path,
 * so two bridges' files of one name in two directories differ. */
static const char *default_name(const char *path, char *name)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *real = realpath(path, NULL);
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t n = 0;

	for (const char *c = real ? real : path; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	free(real);
	for (; base[n] && n < 15; n++)
		name[n] = (base[n] >= 'a' && base[n] <= 'z') ||
				  (base[n] >= 'A' && base[n] <= 'Z') ||
				  (base[n] >= '0' && base[n] <= '9')
			      ? base[n]
			      : '_';
	snprintf(name + n, GZ_FABRIC_NAME_MAX + 1 - n, "%s%08x", n ? "_" : "b",
		 h);
	return name;
}

/* Whether a component holds the lock on the byte at @off of the file on
 * fd *@arg: F_OFD_GETLK shows another open file's lock (ours holds
 * none): 1 held, 0 not, -1 cannot tell (the heartbeat decides). */
static int lock_held(void *arg, uint64_t off)
{
	struct flock fl = {.l_type = F_WRLCK,
			   .l_whence = SEEK_SET,
			   .l_start = (off_t)off,
			   .l_len = 1};

	/* @off 0 asks for the whole file */
	fl.l_len = off ? 1 : 0;
	if (fcntl(*(int *)arg, F_OFD_GETLK, &fl))
		return -1;
	return fl.l_type != F_UNLCK;
}

/* Open @path (made when missing) and take its lock: the fd, or -1 with a
 * message. */
static int lock_file(const char *path)
{
	const char *why = NULL;
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || fstat(fd, &st))
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (flock(fd, LOCK_EX | LOCK_NB))
		why = errno == EWOULDBLOCK ? "another genzio-bridged serves it"
					   : strerror(errno);
	if (why) {
		fprintf(stderr, "genzio-bridged: %s: %s\n", path, why);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Map @len bytes of @path (locked, on @fd), resized to it. NULL with a
 * message. The lock is the open file's: @fd stays open, for the
 * engine's life. */
static void *map(const char *path, int fd, uint64_t len)
{
	const char *why = NULL;
	struct stat st;
	void *p;

	if (fstat(fd, &st))
		why = strerror(errno);
	else if ((uint64_t)st.st_size != len && lock_held(&fd, 0) == 1)
		/* resizing a file live components map would kill them
		 * (SIGBUS), not tell them */
		why = "host components still hold it (their locks): close "
		      "them, or serve another file";
	else if ((uint64_t)st.st_size != len && ftruncate(fd, (off_t)len))
		why = strerror(errno);
	if (why) {
		fprintf(stderr, "genzio-bridged: %s: %s\n", path, why);
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "genzio-bridged: mmap of %s: %s%s\n", path,
			strerror(errno),
			errno == ENOMEM ? " (on hugetlbfs: not enough free "
					  "huge pages for -S; or use /dev/shm)"
					: "");
		return NULL;
	}
	return p;
}

int main(int argc, char **argv)
{
	static struct gz_bridge_engine e;
	static struct gz_bridge_fab fab = {.log = NULL};
	const char *fabric = NULL, *desc = NULL;
	char name[GZ_FABRIC_NAME_MAX + 1];
	uint32_t sub;
	int has_fab;
	long long slots = 0, subnet = 1, mib = 64, route_ms;
	sigset_t held;
	uint32_t idle = 1000;
	uint64_t busy_ns = 0;
	uint64_t size;
	int opt, quiet = 0, fd = -1;
	void *mem;

	stop_signals(&held);
	while ((opt = getopt(argc, argv, "n:s:S:f:F:qh")) != -1)
		switch (opt) {
		case 'f':
			fabric = optarg;
			break;
		case 'F':
			desc = optarg;
			break;
		case 'n':
			slots = number(optarg, "slots", 1, GZ_BRIDGE_MAX_SLOTS);
			break;
		case 's':
			subnet = number(optarg, "subnet", 1, 0xffff);
			break;
		case 'S':
			mib = number(optarg, "size in MiB", 6, 1 << 20);
			if (mib > 0 && mib % 2) {
				fprintf(stderr,
					"genzio-bridged: size %lld MiB: "
					"not a multiple of 2\n",
					mib);
				mib = -1;
			}
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	route_ms = route_timeout();
	if (slots < 0 || subnet < 0 || mib < 0 || route_ms == -1)
		return EXIT_USAGE;
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* before the file is touched: a refused start leaves it alone */
	if (!gz_bridge_engine_fit((uint64_t)mib * MIB, (uint32_t)slots,
				  &size)) {
		fprintf(stderr,
			"genzio-bridged: %lld MiB cannot hold %lld slots of "
			"4 MiB at least after the header's 2 MiB\n",
			mib, slots);
		return EXIT_FAIL;
	}
	if (desc && fabric && !strcmp(fabric, "-")) {
		fprintf(stderr, "genzio-bridged: -F describes a fabric: not "
				"with -f -\n");
		return EXIT_USAGE;
	}
	if ((fd = lock_file(argv[optind])) < 0)
		return EXIT_FAIL;
	/* the file exists, so its real path names it; the fabric before
	 * the file grows: a component that sees it sized finds it
	 * formatted a moment later, not after the fabric's setup */
	if (!fabric)
		fabric = default_name(argv[optind], name);
	has_fab = strcmp(fabric, "-") != 0;
	sub = (uint32_t)subnet;
	fab.log = stderr;
	if (has_fab && gz_bridge_fab_open(&fab, fabric, desc, &sub)) {
		gz_bridge_fab_close(&fab);
		return EXIT_FAIL;
	}
	if (!(mem = map(argv[optind], fd, (uint64_t)mib * MIB))) {
		if (has_fab)
			gz_bridge_fab_close(&fab);
		return EXIT_FAIL;
	}
	if (gz_bridge_engine_init(&e, mem, (uint64_t)mib * MIB, (uint32_t)slots,
				  sub, has_fab ? fab.name : NULL) ||
	    (has_fab &&
	     gz_bridge_fab_start(&fab, e.hdr, e.nslots,
				 e.slot_size - GZ_BRIDGE_SLOT_ALIGN))) {
		if (has_fab)
			gz_bridge_fab_close(&fab);
		return EXIT_FAIL;
	}
	if (has_fab)
		e.fab = &fab;
	if (route_ms >= 0)
		e.route_ns = (uint64_t)route_ms * 1000000u;
	/* host components are seen dead when the kernel drops their lock */
	e.lock_held = lock_held;
	e.lock_arg = &fd;
	e.hdr->caps |= GZ_BRIDGE_CAP_LOCKS;
	/* last: a component that sees the magic sees all of the above */
	gz_bridge_engine_publish(&e);
	if (!quiet)
		fprintf(
		    stderr,
		    "genzio-bridged: %s: %u slots of %llu MiB (data "
		    "windows of %llu MiB), subnet %#x, fabric %s\n",
		    argv[optind], e.nslots,
		    (unsigned long long)(e.slot_size / MIB),
		    (unsigned long long)((e.slot_size - GZ_BRIDGE_SLOT_ALIGN) /
					 MIB),
		    e.subnet, e.fab ? fab.name : "none");
	pthread_sigmask(SIG_UNBLOCK, &held, NULL); /* one held runs here */
	while (!stop) {
		uint64_t now = gz_sys_now_ns();

		/* spin while there is work and SPIN_NS after it (a reply
		 * to a request comes soon); then sleep in growing steps up
		 * to the heartbeat's period */
		if (gz_bridge_engine_step(&e, now, 64)) {
			idle = 1000;
			busy_ns = now;
			continue;
		}
		if (now - busy_ns < SPIN_NS) {
			sched_yield(); /* a core shared with the components */
			continue;
		}
		nanosleep(&(struct timespec){0, idle}, NULL);
		idle = idle * 2 < IDLE_MAX_NS ? idle * 2 : IDLE_MAX_NS;
	}
	/* components see the magic go at once, not the heartbeat stop a
	 * second later */
	atomic_store_explicit((_Atomic uint32_t *)&e.hdr->magic, 0,
			      memory_order_release);
	/* then its components leave the fabric: COMPONENT_REMOVE */
	if (has_fab)
		gz_bridge_fab_close(&fab);
	munmap(mem, (size_t)mib * MIB);
	return 0;
}
