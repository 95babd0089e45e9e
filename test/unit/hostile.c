// SPDX-License-Identifier: MIT
/*
 * lib/providers/shm as seen by a hostile (or just buggy) process of the
 * same user: it writes garbage, random and aimed at each field, into every
 * shared file of two components while they run legitimate traffic. They
 * must never crash, hang, or write outside what was aimed at (canaries);
 * what they get instead is error completions, -errno, or PEER_DEAD.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/gzt.h"
#include "providers/shm/shm.h"

TestSuite(hostile, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 120);

#define LEN 65536u
#define CANARY (256u << 10)
#define ROUNDS 20000
#define GARBAGE 100000

static int dir_fd(void)
{
	char why[256];
	int fd;

	cr_assert_eq(gz_sys_privdir_open("/dev/shm", &fd, why, sizeof(why)),
		     0, "%s", why);
	return fd;
}

/* xorshift: garbage that a seed reproduces */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Values that break bounds: all ones, a bit past a power of two, odd
 * masks, zero, and plain noise. */
static uint64_t nasty(uint64_t *s)
{
	static const uint64_t v[] = { 0, 1, ~0ull, 0xffffffffull, 0x80000000ull,
				      0x10000ull, 0x10001ull, 0xfffeull, 63, 65,
				      1ull << 40, 0x7fffffffffffffffull };
	uint64_t r = rnd(s);

	return r & 1 ? v[(r >> 1) % GZ_ARRAY_SIZE(v)] : rnd(s);
}

/* What is live in a component file: the entries worth aiming at. */
struct live {
	uint32_t qp[8], seg[16], key[16];
	int nqp, nseg, nkey;
};

static void find_live(const struct gz_shm_comp *c, struct live *l)
{
	memset(l, 0, sizeof(*l));
	for (uint32_t i = 0; i < GZ_SHM_MAX_QP && l->nqp < 8; i++)
		if (atomic_load(&c->qp[i].id))
			l->qp[l->nqp++] = i;
	for (uint32_t i = 0; i < 64 && l->nseg < 16; i++)
		if (atomic_load(&c->seg[i].live))
			l->seg[l->nseg++] = i;
	for (uint32_t i = 0; i < GZ_SHM_KEYS && l->nkey < 16; i++)
		if (atomic_load(&c->keys[i].rkey) >= GZ_KEY_MIN)
			l->key[l->nkey++] = i;
}

#define QP_AT(q) (offsetof(struct gz_shm_comp, qp) + \
		  (q) * sizeof(struct gz_shm_qpent))
#define SEG_AT(g) (offsetof(struct gz_shm_comp, seg) + \
		   (g) * sizeof(struct gz_shm_segdesc))
#define KEY_AT(k) (offsetof(struct gz_shm_comp, keys) + \
		   (k) * sizeof(struct gz_key_entry))

/* A field of a live entry of a component file, by offset. */
static size_t comp_target(uint64_t *s, const struct live *l, size_t *len)
{
	uint32_t q = l->nqp ? l->qp[rnd(s) % l->nqp] : 0;
	uint32_t g = l->nseg ? l->seg[rnd(s) % l->nseg] : 0;
	uint32_t k = l->nkey ? l->key[rnd(s) % l->nkey] : 0;

	*len = 4;
	switch (rnd(s) % 8) {
	case 0: *len = 8;
		return offsetof(struct gz_shm_comp, life.node) + 8 * (rnd(s) % 7);
	case 1:	case 2:
		return QP_AT(q) + 4 * (rnd(s) % 8);
	case 3:	return SEG_AT(g) + 4 * (rnd(s) % 4);
	case 4:	case 5:
		return KEY_AT(k) + 4 * (rnd(s) % 10);
	case 6:	return offsetof(struct gz_shm_comp, closed);
	default: *len = 8;
		return rnd(s) % (sizeof(struct gz_shm_comp) - 8) & ~7ull;
	}
}

/* A cq or rq segment: header words, then entries. */
static size_t queue_target(uint64_t *s, size_t size, size_t *len)
{
	*len = rnd(s) & 1 ? 8 : 4;
	switch (rnd(s) % 4) {
	case 0:	return offsetof(struct gz_shm_cqhdr, ring.prod);
	case 1:	return offsetof(struct gz_shm_cqhdr, ring.cons);
	case 2:	return offsetof(struct gz_shm_cqhdr, notify) + 4 * (rnd(s) % 4);
	default: return (GZ_SHM_QHDR + rnd(s) % (size - GZ_SHM_QHDR - 8)) & ~3ull;
	}
}

struct victim_file {
	char name[256];
	size_t size;
	int kind;		/* 0 comp, 1 queue segment, 2 registry */
};

/* The files the attacker aims at: components, registry, and queue
 * segments (small); never the canary segments or data space it is told
 * to leave alone (@avoid: names). */
static int list_targets(int dfd, struct victim_file *v, int max,
			const char *const *avoid, int navoid)
{
	const char *fab = getenv("GENZIO_FABRIC");
	struct dirent *de;
	DIR *d = fdopendir(dup(dfd));
	int n = 0;

	while (d && (de = readdir(d)) && n < max) {
		struct stat st;
		int skip = 0;

		if (strncmp(de->d_name, fab, strlen(fab)) ||
		    fstatat(dfd, de->d_name, &st, 0) || !S_ISREG(st.st_mode) ||
		    strstr(de->d_name, ".guard"))
			continue;
		for (int i = 0; i < navoid; i++)
			skip |= !strcmp(de->d_name, avoid[i]);
		if (skip)
			continue;
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n].size = (size_t)st.st_size;
		v[n].kind = strstr(de->d_name, ".comp") ? 0 :
			    strstr(de->d_name, ".reg") ? 2 : 1;
		if (v[n].kind == 1 && v[n].size > LEN)
			continue;	/* data space, not a queue */
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

struct attack {
	const char *const *avoid;
	int navoid;
	uint64_t seed;
};

/* Write @val over @len bytes of target @i; the old bytes go to @old. */
static void poke(void *map, size_t off, size_t len, uint64_t val,
		 uint64_t *old)
{
	memcpy(old, (char *)map + off, len);
	memcpy((char *)map + off, &val, len);
}

/*
 * The hostile process. Most garbage is put back after a moment, so the
 * traffic keeps running into fresh garbage (a field that changes between
 * two reads is exactly what a double fetch trips on); the last burst
 * stays, so teardown meets it too.
 */
static int attacker_main(int fd, void *arg)
{
	const struct attack *a = arg;
	struct victim_file v[64];
	static struct live live[64];
	uint64_t s = a->seed;
	void *map[64] = { 0 };
	int dfd = dir_fd(), n;
	char go;

	if (gzt_recv_token(fd, &go))
		return 70;
	n = list_targets(dfd, v, 64, a->avoid, a->navoid);
	for (int i = 0; i < n; i++) {
		int f = openat(dfd, v[i].name, O_RDWR);

		map[i] = f < 0 ? MAP_FAILED :
				 mmap(NULL, v[i].size, PROT_READ | PROT_WRITE,
				      MAP_SHARED, f, 0);
		if (f >= 0)
			close(f);
		if (map[i] != MAP_FAILED && !v[i].kind)
			find_live(map[i], &live[i]);
	}
	for (int w = 0; w < GARBAGE && n; w++) {
		int i = (int)(rnd(&s) % (uint64_t)n);
		size_t off, len = 4;
		uint64_t old = 0;

		if (map[i] == MAP_FAILED)
			continue;
		off = v[i].kind == 0 ? comp_target(&s, &live[i], &len) :
		      v[i].kind == 1 ? queue_target(&s, v[i].size, &len) :
				       (rnd(&s) % (v[i].size - 8)) & ~3ull;
		if (v[i].kind == 2)
			len = 4;
		if (off + len > v[i].size)
			continue;
		poke(map[i], off, len, nasty(&s), &old);
		if (w >= GARBAGE - 64)
			continue;	/* the last ones stay */
		/* let the victims meet it, then put it back */
		for (volatile uint32_t spin = rnd(&s) % 4096; spin; spin--)
			;
		memcpy((char *)map[i] + off, &old, len);
	}
	gzt_send_token(fd, 'd');
	return 0;
}

/* One side's traffic: writes, reads, atomics and sends to the peer,
 * receives reposted; every status tolerated, every loop bounded. */
static void traffic(struct gzt_ep *ep, const struct genzio_conn_info *peer,
		    uint64_t *ok_ops)
{
	uint8_t *buf = ep->mem->addr;
	struct genzio_wc wc[16];

	for (int r = 0; r < ROUNDS; r++) {
		struct genzio_sge ls = { (uintptr_t)buf + 4096, 64,
					 ep->mr->lkey };
		struct genzio_sge rs = { (uintptr_t)buf + 8192, 256,
					 ep->mr->lkey };
		struct genzio_recv_wr rw = { .sg_list = &rs, .num_sge = 1 };
		struct genzio_send_wr w[4] = {
			{ .opcode = GENZIO_WR_WRITE, .sg_list = &ls,
			  .num_sge = 1, .send_flags = GENZIO_SEND_SIGNALED,
			  .rdma = { peer->addr + 64 * (r % 16), peer->rkey } },
			{ .opcode = GENZIO_WR_READ, .sg_list = &ls,
			  .num_sge = 1, .send_flags = GENZIO_SEND_SIGNALED,
			  .rdma = { peer->addr, peer->rkey } },
			{ .opcode = GENZIO_WR_ATOMIC_FADD,
			  .send_flags = GENZIO_SEND_SIGNALED,
			  .atomic = { .remote_addr = peer->addr + 2048,
				      .rkey = peer->rkey, .size = 8,
				      .operand = 1 } },
			{ .opcode = GENZIO_WR_SEND, .sg_list = &ls,
			  .num_sge = 1, .send_flags = GENZIO_SEND_SIGNALED },
		};
		struct genzio_recv_wr *rbad;
		struct genzio_send_wr *bad;
		int n;

		genzio_post_recv(ep->qp, &rw, &rbad);
		for (int i = 0; i < 4; i++)
			genzio_post_send(ep->qp, &w[i], &bad);
		n = genzio_poll_cq(ep->cq, 16, wc);
		for (int i = 0; i < n; i++)
			*ok_ops += !wc[i].status;
	}
}

/* Open an endpoint with a canary segment nobody may touch; its file name
 * goes to @name (for the attacker to leave alone). 0 or -errno. */
static int ep_with_canary(struct gzt_ep *ep, struct genzio_mem **canary,
			  char *name, size_t len)
{
	struct gz_shm_mem *m;
	struct gz_shm_ctx *ctx;
	int ret = gzt_ep_open(ep, LEN, GZT_ACCESS_ALL);

	if (!ret)
		ret = genzio_mem_alloc(ep->ctx, CANARY, GENZIO_MEM_NO_HUGE,
				       canary);
	if (ret)
		return ret;
	gzt_fill((*canary)->addr, CANARY, 99);
	m = container_of(*canary, struct gz_shm_mem, base.pub);
	ctx = to_shm_ctx(ep->ctx);
	gz_shm_seg_name(ctx, name, len, ctx->cid, ctx->incarnation, m->seg);
	return 0;
}

/* The peer: clean traffic, then traffic under attack, then its canary. */
static int peer_main(int fd, void *arg)
{
	struct genzio_conn_info them;
	struct genzio_mem *canary;
	uint64_t ok_ops = 0;
	struct gzt_ep ep;
	char cname[80], t;

	(void)arg;
	if (ep_with_canary(&ep, &canary, cname, sizeof(cname)) ||
	    genzio_conn_info_exchange(fd, &ep.info, &them) ||
	    gzt_connect(ep.qp, &them) ||
	    write(fd, cname, sizeof(cname)) != sizeof(cname) ||
	    gzt_recv_token(fd, &t))	/* 'k': connected back */
		return 80;
	traffic(&ep, &them, &ok_ops);
	if (!ok_ops)
		return 81;	/* clean traffic must work */
	if (gzt_send_token(fd, 'c') || gzt_recv_token(fd, &t))
		return 82;
	traffic(&ep, &them, &ok_ops);
	/* the attacker is done: whatever it broke, we leave cleanly */
	if (gzt_send_token(fd, 't') || gzt_recv_token(fd, &t))
		return 83;
	if (gzt_check(canary->addr, CANARY, 99) >= 0)
		return 84;
	genzio_mem_free(canary);
	gzt_ep_close(&ep);	/* may fail: its files are garbage */
	return 0;
}

static void attack_run(uint64_t seed)
{
	static char names[2][80];
	static const char *avoid[2] = { names[0], names[1] };
	struct attack atk = { avoid, 2, seed };
	struct genzio_conn_info them;
	struct genzio_mem *canary;
	struct gzt_child peer, bad;
	uint8_t *heap = malloc(CANARY);
	uint64_t ok_ops = 0;
	struct gzt_ep ep;
	char t;

	/* a wait a stuck lane (garbage) may cause stays short */
	setenv("GENZIO_SETUP_TIMEOUT_MS", "200", 1);
	gzt_fill(heap, CANARY, 98);
	cr_assert_eq(ep_with_canary(&ep, &canary, names[0], sizeof(names[0])),
		     0);
	cr_assert_eq(gzt_fork(&peer, peer_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(peer.fd, &ep.info, &them), 0);
	cr_assert_eq(gzt_connect(ep.qp, &them), 0);
	cr_assert_eq(read(peer.fd, names[1], sizeof(names[1])),
		     (ssize_t)sizeof(names[1]));
	/* both ends connected: its traffic, which polls only a little,
	 * must not start waiting for us */
	cr_assert_eq(gzt_send_token(peer.fd, 'k'), 0);
	traffic(&ep, &them, &ok_ops);
	cr_assert_gt(ok_ops, 0, "clean traffic works");
	cr_assert_eq(gzt_recv_token(peer.fd, &t), 0, "the peer's too");
	/* now the attack, while both sides keep going */
	cr_assert_eq(gzt_fork(&bad, attacker_main, &atk), 0);
	cr_assert_eq(gzt_send_token(bad.fd, 'g'), 0);
	cr_assert_eq(gzt_send_token(peer.fd, 'g'), 0);
	traffic(&ep, &them, &ok_ops);
	cr_assert_eq(gzt_recv_token(bad.fd, &t), 0);
	cr_assert_eq(gzt_wait(&bad), 0, "the attacker ran to its end");
	cr_assert_eq(gzt_recv_token(peer.fd, &t), 0, "the peer finished");
	cr_assert_eq(gzt_send_token(peer.fd, 'q'), 0);
	cr_assert_eq(gzt_wait(&peer), 0, "the peer survived, canary intact");
	cr_assert_lt(gzt_check(canary->addr, CANARY, 99), 0, "our canary");
	cr_assert_lt(gzt_check(heap, CANARY, 98), 0, "our heap");
	/* whatever state the garbage left, teardown returns */
	genzio_mem_free(canary);
	gzt_ep_close(&ep);
	unsetenv("GENZIO_SETUP_TIMEOUT_MS");
	free(heap);
}

Test(hostile, garbage_in_every_shared_file_during_traffic_breaks_nothing_else)
{
	/* a few seeds: each one another sequence of aimed garbage */
	static const uint64_t seeds[] = { 0x9e3779b97f4a7c15ull, 0x2545f491,
					  0xdeadbeefcafeull, 7 };

	for (size_t i = 0; i < GZ_ARRAY_SIZE(seeds); i++)
		attack_run(seeds[i]);
}

/* A second endpoint in this process, connected both ways to @a. */
static void pair(struct gzt_ep *a, struct gzt_ep *b)
{
	cr_assert_eq(gzt_ep_open(a, LEN, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(b, LEN, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(a->qp, &b->info), 0);
	cr_assert_eq(gzt_connect(b->qp, &a->info), 0);
}

static struct gz_shm_qpent *qpent_of(struct gzt_ep *ep)
{
	return &to_shm_ctx(ep->ctx)->comp->qp[ep->qp->qp_num &
					      (GZ_SHM_MAX_QP - 1)];
}

static struct gz_shm_qp *qp_of(struct gzt_ep *ep)
{
	return container_of(ep->qp, struct gz_shm_qp, base.pub);
}

Test(hostile, receiver_entry_describing_an_impossible_ring_completes_rem_qp)
{
	struct gzt_ep a, b;
	struct genzio_wc wc;
	struct genzio_sge s;
	struct genzio_send_wr w = { .opcode = GENZIO_WR_SEND, .num_sge = 1,
				    .sg_list = &s };
	struct gz_shm_qpent *e;

	pair(&a, &b);
	s = (struct genzio_sge){ a.info.addr, 8, a.mr->lkey };
	e = qpent_of(&b);
	/* a ring far larger than its segment, claimed far from its start:
	 * used unchecked, the sender would read and write gigabytes away */
	e->rq_mask = 0xffff;
	e->rq_stride = 0xffffffc0u;
	atomic_store(&qp_of(&b)->rq->prod, 60000);
	atomic_store(&qp_of(&b)->rq->cons, 59999);
	cr_assert_eq(gzt_post_wait(&a, &w, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_REM_QP, "%s",
		     genzio_wc_status_str(wc.status));
	/* a protocol violation is fatal: a's queue pair is in ERR */
	struct genzio_qp_info qi;

	cr_assert_eq(genzio_qp_query(a.qp, &qi), 0);
	cr_assert_eq(qi.state, GENZIO_QPS_ERR);
	cr_assert_eq(qi.err_status, GENZIO_WC_REM_QP);
	/* the same for its receive cq, each time on a fresh connection:
	 * the entry made sane again, a reset and connected, then broken */
	uint32_t rcq_mask = e->rcq_mask;
	uint32_t bad[2] = { 0xfffff, 0x7fffffff };

	e->rq_mask = qp_of(&b)->rq_mask;
	e->rq_stride = qp_of(&b)->rq_stride;
	for (int i = 0; i < 2; i++) {
		e->rcq_mask = rcq_mask;
		cr_assert_eq(genzio_qp_reset(a.qp), 0);
		cr_assert_eq(gzt_connect(a.qp, &b.info), 0);
		e->rcq_mask = bad[i];
		cr_assert_eq(gzt_post_wait(&a, &w, &wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_REM_QP);
	}
	e->rcq_mask = rcq_mask;
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(hostile, a_scribbled_receive_ring_makes_an_err_flush_invent_nothing)
{
	struct gzt_ep a, b;
	struct genzio_wc wc;
	struct genzio_sge sge;
	uint32_t bad[3];

	pair(&a, &b);
	sge = (struct genzio_sge){ a.info.addr, 64, a.mr->lkey };
	for (int i = 0; i < 2; i++) {
		struct genzio_recv_wr w = { .wr_id = 10 + (uint64_t)i,
					    .sg_list = &sge, .num_sge = 1 },
				      *rb;

		cr_assert_eq(genzio_post_recv(a.qp, &w, &rb), 0);
	}
	/* a peer may write our receive ring's cons: beyond what we posted,
	 * below what we reaped, far away */
	bad[0] = qp_of(&a)->rq_posted + 1000;
	bad[1] = qp_of(&a)->rq_done - 1;
	bad[2] = 0x80000000u;
	atomic_store(&qp_of(&a)->rq->cons, bad[0]);
	cr_assert_eq(genzio_qp_destroy(b.qp), 0);
	b.qp = NULL;
	cr_assert_eq(gzt_put64(&a, b.info.addr, b.info.rkey, 1, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_REM_QP);
	/* the flush finds nothing it could have posted: no completion made
	 * up, no hang; the same for every kind of garbage */
	for (int k = 0; k < 3; k++) {
		atomic_store(&qp_of(&a)->rq->cons, bad[k]);
		for (int n = 0; n < 100; n++)
			cr_assert_eq(genzio_poll_cq(a.cq, 1, &wc), 0);
	}
	/* put right again: the two receives are flushed, as posted */
	atomic_store(&qp_of(&a)->rq->cons, qp_of(&a)->rq_done);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(gzt_poll_one(a.cq, &wc, 1000), 1);
		cr_assert_eq(wc.status, GENZIO_WC_FLUSHED);
		cr_assert_eq(wc.wr_id, 10 + (uint64_t)i);
	}
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

/* Path of @ep's data-space segment, for a test that abuses it. */
static void seg_path(struct gzt_ep *ep, char *buf, size_t len)
{
	struct gz_shm_mem *m = container_of(ep->mem, struct gz_shm_mem,
					    base.pub);
	struct gz_shm_ctx *ctx = to_shm_ctx(ep->ctx);
	char name[80];

	gz_shm_seg_name(ctx, name, sizeof(name), ctx->cid, ctx->incarnation,
			m->seg);
	snprintf(buf, len, "/proc/self/fd/%d/%s", ctx->dirfd[m->dir], name);
}

Test(hostile, segment_shorter_than_its_owner_says_completes_in_error)
{
	struct gzt_ep a, b;
	struct genzio_wc wc;
	uint8_t src[64] = { 1 };
	char path[256];

	pair(&a, &b);
	/* truncated before the requester ever mapped it: refused at map
	 * time, so the write is an error completion, never a SIGBUS */
	seg_path(&b, path, sizeof(path));
	cr_assert_eq(truncate(path, 0), 0);
	cr_assert_eq(genzio_mr_reg(a.pd, src, sizeof(src),
				   GENZIO_ACCESS_LOCAL_WRITE, &a.mr), 0);
	cr_assert_eq(gzt_write(&a, src, sizeof(src), a.mr->lkey,
			       b.info.addr + 8192, b.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_BAD_RKEY, "%s",
		     genzio_wc_status_str(wc.status));
	genzio_mr_dereg(a.mr);
	a.mr = NULL;
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

static int write_after_truncate_main(int fd, void *arg)
{
	struct gzt_ep a, b;
	struct genzio_wc wc;
	char path[256], t;

	(void)arg;
	if (gzt_ep_open(&a, LEN, GZT_ACCESS_ALL) ||
	    gzt_ep_open(&b, LEN, GZT_ACCESS_ALL) ||
	    gzt_ep_pair(&a, &b) ||
	    gzt_put64(&a, b.info.addr + 8192, b.info.rkey, 1, &wc) ||
	    wc.status)
		return 90;
	/* mapped now; a same-user process truncates it after that */
	seg_path(&b, path, sizeof(path));
	if (truncate(path, 0) || gzt_send_token(fd, 'm') ||
	    gzt_recv_token(fd, &t))
		return 91;
	signal(SIGBUS, SIG_DFL);	/* not a sanitizer's handler */
	gzt_put64(&a, b.info.addr + 8192, b.info.rkey, 2, &wc);
	return 92;
}

Test(hostile, truncation_after_mapping_is_a_sigbus_as_the_man_page_says)
{
	struct gzt_child c;
	char t;

	/* genzio_shm(7): a segment truncated by a same-user process after a
	 * peer mapped it makes that peer's next access to the lost pages
	 * raise SIGBUS; genzio installs no signal handlers to hide it */
	cr_assert_eq(gzt_fork(&c, write_after_truncate_main, NULL), 0);
	cr_assert_eq(gzt_recv_token(c.fd, &t), 0);
	cr_assert_eq(gzt_send_token(c.fd, 'g'), 0);
	cr_assert_eq(gzt_wait(&c), 128 + SIGBUS);
}

Test(hostile, garbage_in_its_own_files_never_crashes_its_owner)
{
	struct genzio_comp_channel *ch;
	struct genzio_cq_attr ca = { .comp_mask = GENZIO_CQ_ATTR_CHANNEL,
				     .depth = 8 };
	struct genzio_event ev;
	struct genzio_cq *cq, *woke;
	struct genzio_wc wc[4];
	struct gz_shm_cq *scq;
	struct gz_shm_ctx *ctx;
	struct gzt_ep ep;

	cr_assert_eq(gzt_ep_open(&ep, LEN, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_comp_channel_create(ep.ctx, &ch), 0);
	ca.channel = ch;
	cr_assert_eq(genzio_cq_create(ep.ctx, &ca, &cq), 0);
	ctx = to_shm_ctx(ep.ctx);
	scq = container_of(cq, struct gz_shm_cq, base.pub);
	/* every shared word the owner once trusted: channel and cq ids,
	 * segment directories, queue-pair entries, life-lock links */
	scq->hdr->notify.chan = 0x7fffffff;
	scq->hdr->notify.id = 0xdeadbeef;
	atomic_store(&scq->hdr->notify.armed, 1);
	for (uint32_t i = 0; i < 16; i++) {
		ctx->comp->seg[i].dir = 0xabcd1234;
		ctx->comp->seg[i].len = ~0ull;
	}
	gzt_fill(ctx->comp->qp, sizeof(ctx->comp->qp), 5);
	gzt_fill(ctx->comp->life.node, sizeof(ctx->comp->life.node), 6);
	/* a peer's wake-up naming nothing of ours */
	uint32_t junk = 0x12345678;
	cr_assert_eq(write(ctx->chan[0]->rfd, &junk, sizeof(junk)), 4);
	cr_assert_eq(genzio_comp_channel_get_event(ch, 0, &woke), -EAGAIN);
	cr_assert_geq(genzio_poll_cq(cq, 4, wc), 0);
	cr_assert_eq(genzio_cq_req_notify(cq), 0);
	while (genzio_event_get(ep.ctx, &ev) == 0)
		;
	cr_assert_eq(genzio_cq_destroy(cq), 0);
	cr_assert_eq(genzio_comp_channel_destroy(ch), 0);
	cr_assert_eq(gzt_ep_close(&ep), 0, "teardown of everything works");
}

/* A thread that opens and closes a context whose life-lock links were
 * scribbled over, then proves its robust list still works: it dies
 * holding a glibc robust mutex, which the kernel must mark owner-dead. */
static void *scribbled_life(void *arg)
{
	pthread_mutex_t *m = arg;
	struct genzio_context *ctx;

	if (genzio_device_open(NULL, NULL, &ctx))
		return (void *)1;
	gzt_fill(to_shm_ctx(ctx)->comp->life.node,
		 sizeof(to_shm_ctx(ctx)->comp->life.node), 7);
	if (genzio_device_close(ctx) || pthread_mutex_lock(m))
		return (void *)2;
	return NULL;	/* exits holding m */
}

Test(hostile, life_lock_links_scribbled_over_are_never_followed)
{
	pthread_mutexattr_t a;
	pthread_mutex_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_t t;
	void *r;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(m, &a);
	cr_assert_eq(pthread_create(&t, NULL, scribbled_life, m), 0);
	cr_assert_eq(pthread_join(t, &r), 0);
	cr_assert_null(r, "close survived and the list took a new mutex");
	cr_assert_eq(pthread_mutex_lock(m), EOWNERDEAD,
		     "the thread's robust list was intact at its exit");
	pthread_mutex_consistent(m);
	pthread_mutex_unlock(m);
	munmap(m, 4096);
}

struct flipper {
	struct gz_shm_qpent *e;
	uint32_t qpn[2];
	_Atomic uint32_t reads[2];	/* consistent copies, by queue pair */
	_Atomic int done;
};

#define FLIPS 20000
#define READS_PER_STATE 8

/* Rewrite one entry between two queue pairs, as destroy + create would
 * (number 0 first, then the fields, then the new number), each time the
 * reader has made a few copies of the current one: the reader meets both,
 * and many rewrites in the middle of a copy. */
static void *flip(void *arg)
{
	struct flipper *f = arg;

	for (uint32_t i = 0; i < FLIPS; i++) {
		uint32_t v = i & 1, want = atomic_load(&f->reads[v]) +
					   READS_PER_STATE;

		atomic_store_explicit(&f->e->id, 0, memory_order_release);
		f->e->domain = 100 + v;
		f->e->type = GENZIO_QPT_RC;
		f->e->rq_mask = v ? 7 : 15;
		f->e->rq_stride = v ? 64 : 128;
		f->e->rcq_mask = v ? 31 : 63;
		f->e->peer_qpn = 200 + v;
		atomic_store_explicit(&f->e->id, GZ_SHM_ID(f->qpn[v], 2 * i),
				      memory_order_release);
		while (atomic_load(&f->reads[v]) < want)
			;
	}
	atomic_store(&f->done, 1);
	return NULL;
}

Test(hostile, a_snapshot_of_a_queue_pair_entry_is_one_queue_pairs)
{
	struct gz_shm_peer p = { 0 };
	struct gz_shm_comp *c = calloc(1, sizeof(*c));
	struct flipper f = { &c->qp[5], { 1 << 10 | 5, 2 << 10 | 5 },
			     { 0, 0 }, 0 };
	uint32_t got[2] = { 0 };
	pthread_t t;

	p.comp = c;
	cr_assert_eq(pthread_create(&t, NULL, flip, &f), 0);
	for (uint32_t i = 0; !atomic_load(&f.done); i++) {
		struct gz_shm_qpsnap s;
		uint32_t v = i & 1;

		if (gz_shm_qpent_read(&p, f.qpn[v], &s))
			continue;
		/* every field of the copy belongs to that one queue pair */
		cr_assert_eq(s.domain, 100 + v);
		cr_assert_eq(s.rq_mask, v ? 7u : 15u);
		cr_assert_eq(s.rq_stride, v ? 64u : 128u);
		cr_assert_eq(s.rcq_mask, v ? 31u : 63u);
		cr_assert_eq(s.peer_qpn, 200 + v);
		got[v]++;
		atomic_fetch_add(&f.reads[v], 1);
	}
	pthread_join(t, NULL);
	/* each state stood until it had been read READS_PER_STATE times */
	cr_assert_geq(got[0], FLIPS / 2 * READS_PER_STATE);
	cr_assert_geq(got[1], FLIPS / 2 * READS_PER_STATE);
	free(c);
}

Test(hostile, a_queue_pair_entry_mid_rewrite_or_malformed_is_no_queue_pair)
{
	struct gz_shm_peer p = { 0 };
	struct gz_shm_comp *c = calloc(1, sizeof(*c));
	struct gz_shm_qpent *e = &c->qp[3];
	struct gz_shm_qpsnap s;

	p.comp = c;
	*e = (struct gz_shm_qpent){ .domain = 7, .type = GENZIO_QPT_RC,
				    .rq_seg = 1, .rq_mask = 15, .rq_stride = 64,
				    .rcq_seg = 2, .rcq_mask = 31 };
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), GENZIO_WC_REM_QP,
		     "number 0: being rewritten");
	atomic_store(&e->id, GZ_SHM_ID(1 << 10 | 3, 3));
	cr_assert_eq(gz_shm_qpent_peek(&p, 1 << 10 | 3, &s), GZ_SHM_CHANGING,
		     "an odd sequence: its connection is changing");
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), GENZIO_WC_REM_QP);
	atomic_store(&e->id, GZ_SHM_ID(1 << 10 | 3, 4));
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), 0);
	e->type = 3;	/* neither RC nor RD */
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), GENZIO_WC_REM_QP);
	e->type = GENZIO_QPT_RD;
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), 0);
	cr_assert_eq(gz_shm_qpent_read(&p, 2 << 10 | 3, &s), GENZIO_WC_REM_QP,
		     "another generation in that slot");
	cr_assert_eq(gz_shm_qpent_read(&p, 0, &s), GENZIO_WC_REM_QP);
	e->rq_mask = 14;	/* not 2^k - 1 */
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), GENZIO_WC_REM_QP);
	e->rq_mask = 15;
	e->rcq_mask = GZ_SHM_MAX_DEPTH * 2 - 1;
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), GENZIO_WC_REM_QP);
	e->rcq_mask = 31;
	e->rq_stride = 65;	/* not whole lines */
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), GENZIO_WC_REM_QP);
	e->rq_stride = 1u << 20;	/* bigger than any receive entry */
	cr_assert_eq(gz_shm_qpent_read(&p, 1 << 10 | 3, &s), GENZIO_WC_REM_QP);
	free(c);
}

/* In a mount namespace of its own: a tmpfs just big enough for two
 * components, filled up, then one reaches the other. */
static int full_tmpfs_main(int fd, void *arg)
{
	char dir[] = "/tmp/genzio-full-XXXXXX", path[96];
	struct genzio_context *a, *b;
	struct genzio_device_attr bd;
	struct genzio_pd *pd;
	struct genzio_ah *ah;
	int r, f;

	(void)arg;
	if (unshare(CLONE_NEWNS) ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    !mkdtemp(dir) || mount("tmpfs", dir, "tmpfs", 0, "size=16m"))
		return 77;
	setenv("GENZIO_SHM_DIR", dir, 1);
	if (genzio_device_open(NULL, NULL, &a) ||
	    genzio_device_open(NULL, NULL, &b) ||
	    genzio_device_query(b, &bd) || genzio_pd_alloc(a, &pd))
		return 101;
	/* every byte of it taken: a store into a hole would be a SIGBUS */
	snprintf(path, sizeof(path), "%s/filler", dir);
	f = open(path, O_CREAT | O_WRONLY, 0600);
	while (f >= 0 && write(f, path, sizeof(path)) > 0)
		;
	r = genzio_ah_create(pd, bd.gcid, &ah);
	return write(fd, &r, sizeof(r)) == sizeof(r) ? 0 : 102;
}

Test(hostile, a_full_tmpfs_is_an_error_never_a_sigbus)
{
	struct gzt_child c;
	int r = 0, st;

	if (geteuid())
		cr_skip_test("needs root (a tmpfs of its own)");
	cr_assert_eq(gzt_fork(&c, full_tmpfs_main, NULL), 0);
	st = read(c.fd, &r, sizeof(r)) == sizeof(r) ? 0 : -1;
	switch (gzt_wait(&c)) {
	case 77:
		cr_skip_test("no mount namespace here");
		break;
	case 0:
		cr_assert_eq(st, 0);
		cr_assert_eq(r, -ENOSPC, "ah_create on a full tmpfs: %d", r);
		break;
	default:
		cr_assert_fail("the child died or failed (SIGBUS is 128+7)");
	}
}

/* A thread that holds a glibc robust mutex from before it opens a
 * context whose life-lock links are then scribbled over: close, then the
 * unlock of that mutex, must touch no freed page, and the list must still
 * work (a mutex the thread dies holding is marked owner-dead). */
struct held {
	pthread_mutex_t *before, *after;
};

static void *held_across(void *arg)
{
	struct held *h = arg;
	struct genzio_context *ctx;

	if (pthread_mutex_lock(h->before) ||
	    genzio_device_open(NULL, NULL, &ctx))
		return (void *)1;
	gzt_fill(to_shm_ctx(ctx)->comp->life.node,
		 sizeof(to_shm_ctx(ctx)->comp->life.node), 8);
	if (genzio_device_close(ctx) || pthread_mutex_unlock(h->before) ||
	    pthread_mutex_lock(h->after))
		return (void *)2;
	return NULL;	/* exits holding after */
}

static pthread_mutex_t *robust_mutex(void *mem)
{
	pthread_mutexattr_t a;
	pthread_mutex_t *m = mem;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(m, &a);
	return m;
}

Test(hostile, a_robust_mutex_held_across_open_and_close_survives_scribbles)
{
	uint8_t *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct held h = { robust_mutex(mem), robust_mutex(mem + 256) };
	pthread_t t;
	void *r;

	cr_assert_eq(pthread_create(&t, NULL, held_across, &h), 0);
	cr_assert_eq(pthread_join(t, &r), 0);
	cr_assert_null(r, "close and the later unlock survived");
	cr_assert_eq(pthread_mutex_lock(h.after), EOWNERDEAD,
		     "the thread's robust list still worked at its exit");
	pthread_mutex_consistent(h.after);
	pthread_mutex_unlock(h.after);
	munmap(mem, 4096);
}

Test(hostile, an_atomic_the_key_table_would_misalign_completes_rem_bounds)
{
	struct gz_key_snap k;
	struct gzt_ep a, b;
	struct genzio_wc wc;
	uint8_t *mem;

	pair(&a, &b);
	mem = b.mem->addr;
	memset(mem, 0, 128);
	cr_assert(gz_keytab_find(to_shm_ctx(b.ctx)->comp->keys,
				 GZ_SHM_KEYS - 1, b.info.rkey, &k));
	/* the owner's entry claims a base off by 4: raddr is aligned, the
	 * pointer it resolves to is not (a split lock, or SIGBUS) */
	((struct gz_key_entry *)k.e)->base -= 4;
	cr_assert_eq(gzt_atomic(&a, GENZIO_WR_ATOMIC_FADD, 8, b.info.addr + 56,
				b.info.rkey, 1, 0, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_REM_BOUNDS, "%s",
		     genzio_wc_status_str(wc.status));
	for (int i = 0; i < 128; i++)
		cr_assert_eq(mem[i], 0, "byte %d changed", i);
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

Test(hostile, a_receive_entry_rewritten_after_posting_is_reported_as_posted)
{
	struct gz_shm_qp *bq;
	struct gz_xdm_rqe *e;
	struct genzio_recv_wr rw, *rb;
	struct genzio_send_wr sw;
	struct genzio_sge rs, ss;
	struct genzio_wc wc;
	struct gzt_ep a, b;

	pair(&a, &b);
	bq = qp_of(&b);
	rs = (struct genzio_sge){ b.info.addr, 16, b.mr->lkey };
	rw = (struct genzio_recv_wr){ .wr_id = 7, .sg_list = &rs,
				      .num_sge = 1 };
	cr_assert_eq(genzio_post_recv(b.qp, &rw, &rb), 0);
	/* after posting, the shared entry is rewritten: another wr_id, a
	 * buffer longer than the one posted */
	e = (struct gz_xdm_rqe *)(void *)((uint8_t *)bq->rq + GZ_SHM_QHDR);
	e->wr_id = 0xdeadbeefcafeull;
	e->sge[0].len = 1000;
	ss = (struct genzio_sge){ a.info.addr, 100, a.mr->lkey };
	sw = (struct genzio_send_wr){ .opcode = GENZIO_WR_SEND, .sg_list = &ss,
				      .num_sge = 1 };
	cr_assert_eq(gzt_post_wait(&a, &sw, &wc), 0);
	cr_assert_eq(gzt_poll_one(b.cq, &wc, 2000), 1);
	cr_assert_eq(wc.wr_id, 7, "the wr_id we posted, not the ring's");
	cr_assert_eq(wc.status, GENZIO_WC_LOC_LEN,
		     "100 bytes for a 16-byte receive: %s",
		     genzio_wc_status_str(wc.status));
	gzt_ep_close(&b);
	gzt_ep_close(&a);
}

/* Writes ids into a channel's FIFO without end, until killed. */
static int flood_main(int fd, void *arg)
{
	const char *name = arg;
	uint32_t junk[256];
	int dfd = dir_fd(), f;
	char go;

	memset(junk, 0x5a, sizeof(junk));
	f = openat(dfd, name, O_WRONLY | O_NONBLOCK);
	if (f < 0 || gzt_send_token(fd, 'f'))
		return 1;
	for (;;)
		if (write(f, junk, sizeof(junk)) < 0 && errno != EAGAIN)
			return 2;
	(void)go;
}

Test(hostile, a_flood_of_wake_ups_cannot_keep_a_timed_wait_from_ending)
{
	struct genzio_comp_channel *ch;
	struct gz_shm_channel *sch;
	struct genzio_cq *woke;
	struct gzt_child c;
	struct gzt_ep ep;
	uint64_t t0;
	char t;

	cr_assert_eq(gzt_ep_open(&ep, 0, 0), 0);
	cr_assert_eq(genzio_comp_channel_create(ep.ctx, &ch), 0);
	sch = container_of(ch, struct gz_shm_channel, base.pub);
	cr_assert_eq(gzt_fork(&c, flood_main, sch->name), 0);
	cr_assert_eq(gzt_recv_token(c.fd, &t), 0);
	t0 = gz_shm_now_ns();
	cr_assert_eq(genzio_comp_channel_get_event(ch, 200, &woke), -ETIMEDOUT);
	cr_assert_lt(gz_shm_now_ns() - t0, 10000000000ull, "it ended");
	gzt_kill(&c);
	gzt_wait(&c);
	cr_assert_eq(genzio_comp_channel_destroy(ch), 0);
	gzt_ep_close(&ep);
}
