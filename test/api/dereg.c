// SPDX-License-Identifier: MIT
/*
 * What deregistration promises, as ibv_dereg_mr() does: when it returns no
 * access through the key is in flight or will start; a stale lkey never
 * comes back; memory converted for remote access is the caller's private
 * memory again afterwards, and conversion refuses what it cannot undo.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"

TestSuite(dereg, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 120);

#define BIG (32u << 20)		/* a copy long enough to race with */
#define PAGES (BIG / 4096)
#define ROUNDS 8

/* One word per page says which write put it there. */
static void stamp(uint8_t *p, uint64_t seed)
{
	for (uint64_t i = 0; i < PAGES; i++)
		((uint64_t *)(void *)(p + i * 4096))[0] = seed << 20 | i;
}

/* The words, read from the last page back: a copy still running moves
 * forwards, so it reaches the pages read first only after we read them. */
static void markers(const uint8_t *p, uint64_t *out)
{
	for (uint64_t i = PAGES; i-- > 0;)
		out[i] = ((const volatile uint64_t *)(const void *)
			  (p + i * 4096))[0];
}

/* The requester: each round, streams BIG writes at the region it is
 * given, each with another pattern, saying 'w' before each; once one
 * fails (the key was revoked) it says 'x'. */
static int streamer_main(int fd, void *arg)
{
	const uint64_t *caps = arg;
	struct genzio_conn_info t;
	struct gzt_ep ep;
	uint32_t seed = 1;
	char c;

	if (gzt_ep_open(&ep, BIG, GZT_ACCESS_ALL) ||
	    genzio_conn_info_exchange(fd, &ep.info, &t) ||
	    gzt_connect(ep.qp, &t))
		return 40;
	while (!gzt_recv_token(fd, &c) && c == 'r') {
		struct genzio_wc wc = { 0 };

		if (read(fd, &t, sizeof(t)) != sizeof(t))
			return 41;
		while (!wc.status) {
			stamp(ep.mem->addr, seed++);
			if (gzt_send_token(fd, 'w') ||
			    gzt_write(&ep, ep.mem->addr, BIG, ep.mr->lkey,
				      t.addr, t.rkey, &wc))
				return 42;
		}
		if (!gzt_remote_fault_is(wc.status, GENZIO_WC_BAD_RKEY) ||
		    gzt_send_token(fd, 'x'))
			return 43;
		/* the fault moved both queue pairs to ERR: connect afresh */
		if (!(*caps & GENZIO_CAP_QP_SURVIVES_FAULT) &&
		    (genzio_qp_reset(ep.qp) ||
		     genzio_conn_info_init(&ep.info, ep.qp, ep.mr) ||
		     genzio_conn_info_exchange(fd, &ep.info, &t) ||
		     gzt_connect(ep.qp, &t)))
			return 45;
	}
	return gzt_ep_close(&ep) ? 44 : 0;
}

Test(dereg, when_it_returns_no_access_through_the_key_is_in_flight)
{
	struct genzio_conn_info peer;
	struct gzt_child c;
	struct gzt_ep t;
	uint64_t *snap = malloc(PAGES * 8), *now = malloc(PAGES * 8);
	uint64_t caps = gzt_caps();	/* before the fork: the child's too */
	char tok;

	cr_assert_eq(gzt_ep_open(&t, BIG, 0), 0);
	cr_assert_eq(genzio_mr_dereg(t.mr), 0);	/* one per round instead */
	cr_assert_eq(gzt_fork(&c, streamer_main, &caps), 0);
	cr_assert_eq(genzio_conn_info_exchange(c.fd, &t.info, &peer), 0);
	cr_assert_eq(gzt_connect(t.qp, &peer), 0);
	for (int r = 0; r < ROUNDS; r++) {
		struct genzio_conn_info me = t.info;

		cr_assert_eq(genzio_mr_reg(t.pd, t.mem->addr, BIG,
					   GZT_ACCESS_ALL, &t.mr), 0);
		me.rkey = t.mr->rkey;
		me.addr = (uintptr_t)t.mem->addr;
		cr_assert_eq(gzt_send_token(c.fd, 'r'), 0);
		cr_assert_eq(write(c.fd, &me, sizeof(me)), (ssize_t)sizeof(me));
		/* a few writes land, then one is (very likely) mid-copy */
		for (int w = 0; w < 2 + r % 3; w++)
			cr_assert_eq(gzt_recv_token(c.fd, &tok), 0);
		cr_assert_eq(genzio_mr_dereg(t.mr), 0);
		t.mr = NULL;
		/* from here on, nothing may change the region */
		markers(t.mem->addr, snap);
		do
			cr_assert_eq(gzt_recv_token(c.fd, &tok), 0);
		while (tok != 'x');
		markers(t.mem->addr, now);
		cr_assert_eq(memcmp(snap, now, PAGES * 8), 0,
			     "round %d: written after mr_dereg returned", r);
		if (!(caps & GENZIO_CAP_QP_SURVIVES_FAULT)) {
			/* ours is in ERR too (a remote fault): afresh, before
			 * the next 'r' lets the streamer post */
			cr_assert_eq(genzio_qp_reset(t.qp), 0);
			cr_assert_eq(genzio_conn_info_init(&t.info, t.qp, NULL),
				     0);
			cr_assert_eq(genzio_conn_info_exchange(c.fd, &t.info,
							       &peer), 0);
			cr_assert_eq(gzt_connect(t.qp, &peer), 0);
		}
	}
	cr_assert_eq(gzt_send_token(c.fd, 'q'), 0);
	cr_assert_eq(gzt_wait(&c), 0);
	cr_assert_eq(gzt_ep_close(&t), 0);
	free(snap);
	free(now);
}

Test(dereg, a_stale_lkey_never_comes_back)
{
	static uint8_t buf[64];
	struct genzio_mr *mr;
	struct genzio_wc wc;
	struct gzt_ep ep;
	uint32_t stale;

	cr_assert_eq(gzt_ep_open(&ep, 8192, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(ep.qp, &ep.info), 0);
	cr_assert_eq(genzio_mr_reg(ep.pd, buf, sizeof(buf),
				   GENZIO_ACCESS_LOCAL_WRITE, &mr), 0);
	stale = mr->lkey;
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	/* more reuses than a 16-bit generation survives */
	for (int i = 0; i < 70000; i++) {
		cr_assert_eq(genzio_mr_reg(ep.pd, buf, sizeof(buf),
					   GENZIO_ACCESS_LOCAL_WRITE, &mr), 0);
		cr_assert_neq(mr->lkey, stale, "reg %d got the stale lkey", i);
		cr_assert_eq(genzio_mr_dereg(mr), 0);
	}
	cr_assert_eq(gzt_write(&ep, buf, sizeof(buf), stale, ep.info.addr,
			       ep.info.rkey, &wc), 0);
	cr_assert(gzt_local_fault_is(wc.status), "got %s",
		  genzio_wc_status_str(wc.status));
	cr_assert_eq(gzt_ep_close(&ep), 0);
}

/* Whether [p, p + len) shows in /proc/self/maps as private anonymous. */
static int private_anon(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	char line[512], perm[8];
	unsigned long lo, hi, ino;
	FILE *f = fopen("/proc/self/maps", "re");
	int ok = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &lo, &hi, perm,
			   &ino) == 4 && lo <= a && a + len <= hi)
			ok = !strcmp(perm, "rw-p") && !ino;
	if (f)
		fclose(f);
	return ok;
}

Test(dereg, converted_memory_is_private_and_inherited_again_afterwards)
{
	GZT_REQUIRE(REG_CONVERT);
	uint8_t *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct genzio_mr *mr;
	struct gzt_ep ep;
	pid_t pid;
	int st;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	gzt_fill(p, 8192, 21);
	cr_assert_eq(genzio_mr_reg(ep.pd, p, 8192, GZT_ACCESS_ALL, &mr), 0);
	cr_assert_not(private_anon(p, 8192), "shared file while registered");
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	cr_assert(private_anon(p, 8192), "private anonymous again");
	cr_assert_eq(gzt_check(p, 8192, 21), -1, "with the same bytes");
	/* and no longer MADV_DONTFORK: a child sees it */
	pid = fork();
	if (!pid)
		_exit(gzt_check(p, 8192, 21) == -1 ? 0 : 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && !WEXITSTATUS(st), "child could read it");
	munmap(p, 8192);
	cr_assert_eq(gzt_ep_close(&ep), 0);
}

Test(dereg, conversion_leaves_alone_what_it_could_not_put_back)
{
	GZT_REQUIRE(REG_CONVERT);
	char path[] = "/tmp/genzio-dereg-XXXXXX";
	int fd = mkstemp(path);
	void *m[3];
	const char *what[3] = { "a file mapping", "shared memory",
				"read-only memory" };
	struct genzio_device_attr a;
	struct genzio_mr *mr;
	struct gzt_ep ep;

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(ftruncate(fd, 8192), 0);
	m[0] = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	m[1] = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	m[2] = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gzt_fill(m[0], 8192, 1);
	gzt_fill(m[1], 8192, 2);
	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(genzio_device_query(ep.ctx, &a), 0);
	for (int i = 0; i < 3; i++) {
		/* atomics need the conversion: refused */
		cr_assert_eq(genzio_mr_reg(ep.pd, m[i], 8192, GZT_ACCESS_ALL,
					   &mr), -EOPNOTSUPP, "%s", what[i]);
		/* READ and WRITE: through the kernel, the memory as it is */
		cr_assert_eq(genzio_mr_reg(ep.pd, m[i], 8192,
					   GENZIO_ACCESS_REMOTE_READ, &mr),
			     a.caps & GENZIO_CAP_REG_ANY ? 0 : -EOPNOTSUPP,
			     "%s", what[i]);
		if (a.caps & GENZIO_CAP_REG_ANY)
			cr_assert_eq(genzio_mr_dereg(mr), 0);
	}
	cr_assert_eq(gzt_check(m[0], 8192, 1), -1, "the file mapping's bytes");
	cr_assert_eq(gzt_check(m[1], 8192, 2), -1, "the shared bytes");
	cr_assert_eq(gzt_ep_close(&ep), 0);
	for (int i = 0; i < 3; i++)
		munmap(m[i], 8192);
	close(fd);
}

Test(dereg, converted_memory_the_application_replaced_is_left_alone)
{
	GZT_REQUIRE_ANY(REG_CONVERT, REG_ANY);
	uint8_t *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct genzio_mr *mr;
	struct gzt_ep ep;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(genzio_mr_reg(ep.pd, p, 8192, GZT_ACCESS_ALL, &mr), 0);
	/* against the rules: the application replaces registered memory */
	cr_assert_eq(mmap(p, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), p);
	gzt_fill(p, 8192, 33);
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	/* the move back did not map the old bytes over the new memory */
	cr_assert_eq(gzt_check(p, 8192, 33), -1);
	munmap(p, 8192);
	cr_assert_eq(gzt_ep_close(&ep), 0);
}
