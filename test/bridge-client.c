// SPDX-License-Identifier: MIT
/*
 * Components of a genzio bridge served by a live genzio-bridged, through
 * the component side of the vfio provider (vfio_slot.c), on the host (the
 * bridge's file mapped) or in a QEMU guest (ivshmem's BAR2 through VFIO).
 *   bridge-client rma FILE         two slots of one process: writes,
 *                                  reads and atomics between them
 *   bridge-client peer WHERE N     component N (1 or 2) of a pair of
 *                                  processes, each writing the other's
 *                                  window and raising its flag
 *   bridge-client gone WHERE       a slot, until the bridge is gone
 * WHERE is a file, or a PCI address (DDDD:BB:DD.F) of ivshmem bound to
 * vfio-pci. Prints "ok NAME" / "not ok NAME" lines; exit 0 iff all ok.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "providers/vfio/vfio_pci.h"
#include "providers/vfio/vfio_slot.h"

#define SEC 1000000000ull
#define VA 0x100000000ull /* the address each names its window by */
#define RKEY 0xabc
#define PD 1
#define FLAG 65536 /* a word after the 4 KiB written */
#define XFER 4096

static int failed;
static struct gz_vfio_dev dev;

static void report(const char *name, int ok)
{
	printf("%s %s\n", ok ? "ok" : "not ok", name);
	fflush(stdout); /* a peer's script waits on these lines */
	failed |= !ok;
}

static uint64_t mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec;
}

/* The bridge's memory: a file mapped, or BAR2 of a PCI function. */
static int open_bridge(const char *where, struct gz_bridge_map *m)
{
	uint8_t *p;
	uint64_t len;
	struct stat st;
	int fd, ret;

	if (where[0] != '/' && strchr(where, ':')) {
		if ((ret = gz_vfio_open(where, UINT64_MAX, &dev)) ||
		    (ret = gz_vfio_bar_map(&dev, 2, 4 << 20)))
			return ret;
		p = dev.bar[2].map;
		len = dev.bar[2].size;
	} else {
		/* its engine may be making it now */
		for (uint64_t t0 = mono();
		     (fd = open(where, O_RDWR | O_CLOEXEC)) < 0 &&
		     errno == ENOENT && mono() - t0 < 10 * SEC;)
			usleep(10000);
		if (fd < 0)
			return -errno;
		/* and may not have sized it yet */
		for (uint64_t t0 = mono();
		     !fstat(fd, &st) && !st.st_size && mono() - t0 < 10 * SEC;)
			usleep(10000);
		if (fstat(fd, &st) || !st.st_size) {
			close(fd);
			return -ENODEV;
		}
		len = (uint64_t)st.st_size;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return -errno;
	}
	/* the engine formats it at start: wait for it a little */
	for (uint64_t t0 = mono(); mono() - t0 < 10 * SEC; usleep(10000))
		if ((ret = gz_bridge_map_check(p, len, m)) != -ENODEV)
			return ret;
	return -ENODEV;
}

static struct gz_xdm_cmd cmd(uint16_t op, uint32_t gcid, uint64_t laddr,
			     uint32_t len, uint64_t raddr, uint64_t operand)
{
	return (struct gz_xdm_cmd){.opflags = op | GZ_XDM_FLAG_SIGNAL,
				   .gcid = gcid,
				   .rkey = RKEY,
				   .length = len,
				   .raddr = raddr,
				   .context = op,
				   .op.laddr = laddr,
				   .op.operand = operand};
}

/* Post and wait (10 s, beating) for the completion: its status, or
 * -ETIMEDOUT. */
static int run(struct gz_vslot *v, struct gz_xdm_cmd c, struct gz_xdm_cqe *x)
{
	uint64_t t0 = mono();

	if (gz_vslot_post(v, 0, &c))
		return -EAGAIN;
	while (!gz_vslot_poll(v, 0, x)) {
		if (mono() - t0 > 10 * SEC)
			return -ETIMEDOUT;
		gz_vslot_beat(v);
	}
	return x->status;
}

/* Queue pair 0 and cq 0 of @v paired with @peer's queue pair 0, a key
 * over the first 128 KiB of its window; then wait for RTS. */
static int ready(struct gz_vslot *v, uint32_t peer)
{
	uint64_t t0 = mono();

	if (gz_vslot_cq_create(v, 0, 64) ||
	    gz_vslot_qp_create(v, 0, 64, 0, 0, PD, peer, 0, 0) ||
	    gz_vslot_key_add(v, RKEY, PD, 0, 131072, VA,
			     GENZIO_ACCESS_REMOTE_WRITE |
				 GENZIO_ACCESS_REMOTE_READ |
				 GENZIO_ACCESS_REMOTE_ATOMIC))
		return -EINVAL;
	while (gz_vslot_qp_state(v, 0) != GZ_BRIDGE_QP_RTS) {
		if (mono() - t0 > 10 * SEC)
			return -ETIMEDOUT;
		gz_vslot_beat(v);
	}
	return 0;
}

static void fill(uint8_t *p, uint32_t seed)
{
	for (uint32_t i = 0; i < XFER; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

static int rma(struct gz_bridge_map *m)
{
	struct gz_xdm_cmd bad;
	struct gz_vslot a, b;
	int ret;
	struct gz_xdm_cqe x;
	uint64_t old = 0;

	ret = gz_vslot_claim(m, &a, mono, 10 * SEC);
	if (!ret)
		ret = gz_vslot_claim(m, &b, mono, 10 * SEC);
	if (ret)
		printf("# claim: %s\n", strerror(-ret));
	report("claim_two_slots", !ret);
	if (failed)
		return 1;
	memset(b.window + FLAG, 0, 8); /* the file may hold a last run's */
	report("queue_pairs_rts", !ready(&a, b.gcid) && !ready(&b, a.gcid));
	if (failed)
		return 1;
	fill(a.window, 7);
	report("put_lands",
	       !run(&a, cmd(GZ_XDM_PUT, b.gcid, 0, XFER, VA, 0), &x) &&
		   !memcmp(b.window, a.window, XFER));
	report("get_reads_back",
	       !run(&a, cmd(GZ_XDM_GET, b.gcid, 8192, XFER, VA, 0), &x) &&
		   !memcmp(a.window + 8192, a.window, XFER));
	report("fetch_add_returns_the_old_value",
	       !run(&a, cmd(GZ_XDM_ADD, b.gcid, 0, 0, VA + FLAG, 5), &x) &&
		   !run(&a, cmd(GZ_XDM_ADD, b.gcid, 0, 0, VA + FLAG, 5), &x) &&
		   (memcpy(&old, x.result, 8), old == 5));
	/* a bad key: its status, and not a byte written */
	bad = (struct gz_xdm_cmd){.opflags = GZ_XDM_PUT | GZ_XDM_FLAG_SIGNAL,
				  .gcid = b.gcid,
				  .rkey = 0x999,
				  .length = 8,
				  .raddr = VA + 4 * XFER};
	memset(b.window + 4 * XFER, 0x77, 8);
	report("bad_rkey_is_its_status_and_writes_nothing",
	       run(&a, bad, &x) == GZ_XDM_ST_BAD_RKEY &&
		   b.window[4 * XFER] == 0x77 &&
		   b.window[4 * XFER + 7] == 0x77);
	gz_vslot_release(&a);
	gz_vslot_release(&b);
	return failed;
}

/* Entries of garbage on @v's ring: an unknown opcode, a local range
 * outside the window, then random bytes (their completion asked for, to
 * no peer of ours): each completes, its index echoed, and the engine
 * goes on (a good write to @peer after them lands: the caller's). */
static int corrupt(struct gz_vslot *v, uint32_t peer)
{
	struct gz_xdm_cmd c = cmd(0x7e, peer, 0, 8, VA, 0);
	struct gz_xdm_cqe x;
	uint64_t r = 0x9e3779b97f4a7c15ull;

	if (run(v, c, &x) != GZ_XDM_ST_GENERAL_ERR)
		return 0;
	c = cmd(GZ_XDM_PUT, peer, v->window_len - 4, 8, VA, 0);
	if (run(v, c, &x) != GZ_XDM_ST_LOC_PROT)
		return 0;
	for (uint16_t i = 0; i < 8; i++) {
		uint64_t w[8];

		for (int k = 0; k < 8; k++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			w[k] = r;
		}
		memcpy(&c, w, sizeof(c));
		c.opflags |= GZ_XDM_FLAG_SIGNAL;
		c.cidx = i;
		if (c.gcid == peer)
			c.gcid ^= 1;
		if (run(v, c, &x) < 0 || x.cidx != i) {
			printf("# random entry %u: no completion\n", i);
			return 0;
		}
	}
	return 1;
}

/* Component @n of two processes: the first waits for the second to
 * write its window and raise its flag, then does the same back. */
static int peer(struct gz_bridge_map *m, int n)
{
	struct gz_vslot v;
	struct gz_xdm_cqe x;
	uint32_t other = m->subnet << 12 | (uint32_t)(3 - n);
	_Atomic uint64_t *flag;
	uint8_t want[XFER];
	uint64_t t0;
	int ret;

	/* slot N-1: another may still be closing (a last run's) */
	for (uint64_t t1 = mono();
	     !(ret = gz_vslot_claim(m, &v, mono, 10 * SEC)) &&
	     (v.gcid & 0xfff) != (uint32_t)n && mono() - t1 < 10 * SEC;
	     usleep(10000))
		gz_vslot_release(&v);
	if (ret || (v.gcid & 0xfff) != (uint32_t)n)
		printf("# claimed: %d, GCID %#x\n", ret, ret ? 0 : v.gcid);
	report(n == 1 ? "first_claims_cid_1" : "second_claims_cid_2",
	       !ret && (v.gcid & 0xfff) == (uint32_t)n);
	if (failed)
		return 1;
	flag = (_Atomic uint64_t *)(void *)(v.window + FLAG);
	atomic_store(flag, 0); /* the file may hold a last run's */
	report("paired", !ready(&v, other));
	fill(want, (uint32_t)(3 - n));
	fill(v.window + 8192, (uint32_t)n);
	if (n == 2)
		report("corrupted_entries_complete_in_error_and_it_goes_on",
		       corrupt(&v, other));
	if (n == 2)
		report(
		    "writes_and_raises_the_first",
		    !run(&v, cmd(GZ_XDM_PUT, other, 8192, XFER, VA, 0), &x) &&
			!run(&v, cmd(GZ_XDM_ADD, other, 0, 0, VA + FLAG, 1),
			     &x));
	/* long enough for a guest to boot under TCG */
	for (t0 = mono(); !atomic_load(flag) && mono() - t0 < 200 * SEC;)
		gz_vslot_beat(&v);
	report("its_flag_raised_and_every_byte_landed",
	       atomic_load(flag) == 1 && !memcmp(v.window, want, XFER));
	if (n == 1)
		report(
		    "writes_and_raises_the_second",
		    !run(&v, cmd(GZ_XDM_PUT, other, 8192, XFER, VA, 0), &x) &&
			!run(&v, cmd(GZ_XDM_ADD, other, 0, 0, VA + FLAG, 1),
			     &x));
	/* stay until the other has read its completions: the engine
	 * fails work to a closed slot */
	for (t0 = mono(); mono() - t0 < SEC / 2;)
		gz_vslot_beat(&v);
	gz_vslot_release(&v);
	return failed;
}

static int gone(struct gz_bridge_map *m)
{
	struct gz_vslot v;
	uint64_t seen = 0, since = 0, t0 = mono();
	int ret = gz_vslot_claim(m, &v, mono, 10 * SEC);

	report("claims_a_slot", !ret);
	if (ret)
		return 1;
	printf("ready\n");
	fflush(stdout);
	while (!(ret = gz_bridge_alive(m, &seen, &since, mono(), SEC)) &&
	       mono() - t0 < 60 * SEC) {
		gz_vslot_beat(&v);
		usleep(1000);
	}
	report("sees_the_bridge_gone", ret == -ENODEV);
	return failed;
}

int main(int argc, char **argv)
{
	struct gz_bridge_map m;
	int ret;

	if (argc < 3) {
		fprintf(stderr,
			"usage: bridge-client rma|peer|gone WHERE [N]\n");
		return 2;
	}
	ret = open_bridge(argv[2], &m);
	report("bridge_found", !ret);
	if (ret) {
		fprintf(stderr, "bridge-client: %s: %s\n", argv[2],
			strerror(-ret));
		return 1;
	}
	if (!strcmp(argv[1], "rma"))
		return rma(&m);
	if (!strcmp(argv[1], "peer") && argc == 4)
		return peer(&m, atoi(argv[3]) == 2 ? 2 : 1);
	if (!strcmp(argv[1], "gone"))
		return gone(&m);
	fprintf(stderr, "usage: bridge-client rma|peer|gone WHERE [N]\n");
	return 2;
}
