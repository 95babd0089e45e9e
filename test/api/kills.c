// SPDX-License-Identifier: MIT
/*
 * Peers killed (SIGKILL) or stopped (SIGSTOP) at random points of their
 * traffic: the survivor never crashes or hangs, every request it posted
 * completes (in error once the peer is gone), what completed before the
 * kill is there, and a new process takes the dead one's GCID and works.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "api.h"

TestSuite(kills, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 240);

#define KILLS 40
#define STOPS 20
#define LEN 65536u

/* The peer: writes, atomics and sends at the survivor, forever. */
static int busy_main(int fd, void *arg)
{
	struct genzio_conn_info them;
	struct gzt_ep ep;
	uint64_t n = 0;

	(void)arg;
	if (gzt_ep_open(&ep, LEN, GZT_ACCESS_ALL) ||
	    genzio_conn_info_exchange(fd, &ep.info, &them) ||
	    gzt_connect(ep.qp, &them))
		return 50;
	gzt_send_token(fd, 'g');
	for (;; n++) {
		struct genzio_wc wc;

		gzt_put64(&ep, them.addr + 8 * (n % 64), them.rkey, n, &wc);
		gzt_atomic(&ep, GENZIO_WR_ATOMIC_FADD, 8, them.addr + 1024,
			   them.rkey, 1, 0, &wc);
	}
	return 0;
}

/* Our side of a round: traffic at the peer until @ops requests
 * completed, whatever their status; 1 if every one completed. */
static int traffic(struct gzt_ep *ep, const struct genzio_conn_info *peer,
		   int ops, int *errors)
{
	for (int i = 0; i < ops; i++) {
		struct genzio_wc wc;
		int r = i % 2 ?
			gzt_put64(ep, peer->addr + 2048, peer->rkey, i, &wc) :
			gzt_atomic(ep, GENZIO_WR_ATOMIC_FADD, 8,
				   peer->addr + 4096, peer->rkey, 1, 0, &wc);

		if (r)
			return 0;	/* a post or a wait that failed */
		*errors += wc.status != GENZIO_WC_SUCCESS;
	}
	return 1;
}

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* A round: our endpoint, and a busy peer connected to it. */
static void round_start(struct gzt_ep *ep, struct gzt_child *c,
			struct genzio_conn_info *peer)
{
	char t;

	cr_assert_eq(gzt_ep_open(ep, LEN, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_fork(c, busy_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c->fd, &ep->info, peer), 0);
	cr_assert_eq(gzt_connect(ep->qp, peer), 0);
	cr_assert_eq(gzt_recv_token(c->fd, &t), 0);
}

Test(kills, a_peer_killed_at_random_points_never_hurts_the_survivor)
{
	GZT_REQUIRE(DEATH_AT_ONCE);
	uint32_t seed = 20261201, gcid = 0;
	int retry_exc = 0;

	for (int k = 0; k < KILLS; k++) {
		struct genzio_conn_info peer;
		struct gzt_child c;
		struct gzt_ep ep;
		int errors = 0;

		round_start(&ep, &c, &peer);
		/* a registry gives the lowest free GCID (a bridge's engine
		 * the first slot it has freed) */
		if (k && gzt_registry())
			cr_assert_eq(peer.gcid, gcid, "the dead one's GCID");
		gcid = peer.gcid;
		/* a random point of the two-way traffic */
		cr_assert(traffic(&ep, &peer, (int)(rnd(&seed) % 2000), &errors));
		cr_assert_eq(errors, 0, "errors while the peer lived");
		gzt_kill(&c);
		cr_assert_eq(gzt_wait(&c), 128 + SIGKILL);
		/* afterwards, every request completes: in error */
		cr_assert(traffic(&ep, &peer, 100, &errors), "a request hung");
		cr_assert_eq(errors, 100, "success to a dead peer");
		retry_exc += errors;
		cr_assert_eq(gzt_ep_close(&ep), 0);
	}
	cr_assert_eq(retry_exc, KILLS * 100);
}

Test(kills, a_peer_stopped_at_random_points_blocks_nothing_of_ours)
{
	uint32_t seed = 7;

	for (int k = 0; k < STOPS; k++) {
		struct genzio_conn_info peer;
		struct gzt_child c;
		struct gzt_ep ep;
		int errors = 0;

		round_start(&ep, &c, &peer);
		cr_assert(traffic(&ep, &peer, (int)(rnd(&seed) % 2000), &errors));
		/* stopped wherever it was, maybe mid-atomic on our memory */
		kill(c.pid, SIGSTOP);
		cr_assert(traffic(&ep, &peer, 500, &errors), "a request hung");
		cr_assert_eq(errors, 0, "a stopped peer is alive: no errors");
		kill(c.pid, SIGKILL);
		cr_assert_eq(gzt_wait(&c), 128 + SIGKILL);
		cr_assert_eq(gzt_ep_close(&ep), 0);
	}
}

/* A member that allocates data space, says its GCID, and waits. */
static int member_main(int fd, void *arg)
{
	struct genzio_conn_info us;
	struct gzt_ep ep;
	char t;

	(void)arg;
	if (gzt_ep_open(&ep, 1u << 20, GZT_ACCESS_ALL) ||
	    genzio_conn_info_exchange(fd, &ep.info, &us))
		return 60;
	gzt_recv_token(fd, &t);
	return 0;
}

/* Files of fabric GENZIO_FABRIC that name CID @cid, in any of our genzio
 * directories (tmpfs and hugetlbfs). */
static int files_of(uint32_t cid)
{
	char prefix[64], line[512], mnt[256], type[64], dir[320];
	const char *bases[8] = { "/dev/shm" };
	int nb = 1, n = 0;
	FILE *m = fopen("/proc/mounts", "re");

	while (m && nb < 8 && fgets(line, sizeof(line), m))
		if (sscanf(line, "%*s %255s %63s", mnt, type) == 2 &&
		    !strcmp(type, "hugetlbfs"))
			bases[nb++] = strdup(mnt);
	if (m)
		fclose(m);
	snprintf(prefix, sizeof(prefix), "%s-%u-", getenv("GENZIO_FABRIC"),
		 cid);
	for (int b = 0; b < nb; b++) {
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/genzio-%u", bases[b],
			 (unsigned)geteuid());
		d = opendir(dir);
		while (d && (de = readdir(d)))
			n += !strncmp(de->d_name, prefix, strlen(prefix));
		if (d)
			closedir(d);
	}
	return n;
}

/* A member's files are its queues and data space, which its peers map to
 * reach it with no code of its own running: where a device reaches a
 * target through the network instead, a member has none to sweep. */
Test(kills, the_next_join_sweeps_every_dead_members_files)
{
	GZT_REQUIRE(ONE_SIDED_TARGET);
	struct genzio_conn_info info[3];
	struct gzt_child c[3];
	struct gzt_ep us, next;

	gzt_require_registry(); /* the members' files are the registry's */
	cr_assert_eq(gzt_ep_open(&us, 0, 0), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(gzt_fork(&c[i], member_main, NULL), 0);
		cr_assert_eq(genzio_conn_info_exchange(c[i].fd, &us.info,
						       &info[i]), 0);
		cr_assert_gt(files_of(GENZIO_GCID_CID(info[i].gcid)), 0);
	}
	for (int i = 0; i < 3; i++) {
		gzt_kill(&c[i]);
		cr_assert_eq(gzt_wait(&c[i]), 128 + SIGKILL);
	}
	/* one join reclaims the three GCIDs: all three leave no file (the
	 * joiner takes the lowest, whose files are its own now) */
	cr_assert_eq(gzt_ep_open(&next, 0, 0), 0);
	for (int i = 0; i < 3; i++)
		if (info[i].gcid != next.info.gcid)
			cr_assert_eq(files_of(GENZIO_GCID_CID(info[i].gcid)), 0,
				     "GCID %#x left files", info[i].gcid);
	cr_assert_eq(gzt_ep_close(&next), 0);
	cr_assert_eq(gzt_ep_close(&us), 0);
}
