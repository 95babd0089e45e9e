// SPDX-License-Identifier: MIT
/* The forked target process of the conformance suite. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

static int all_zero(const char *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Until @fd is readable: a target that must make progress (RD over
 * verbs: connections on first use) waits on its event fd too, and
 * gzt_event_get() makes the progress, as an application's loop would. */
static void wait_making_progress(struct genzio_context *ctx, int fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
			       { .fd = genzio_event_fd(ctx), .events = POLLIN } };

	if (gzt_caps() & GENZIO_CAP_ONE_SIDED_TARGET)
		return;
	while (poll(p, 2, -1) >= 0 && !(p[0].revents & (POLLIN | POLLHUP)))
		gzt_progress(ctx);
}

void gzt_progress(struct genzio_context *ctx)
{
	struct genzio_event ev;

	while (ctx && !gzt_event_get(ctx, &ev))
		;	/* a target's own events: nobody asks */
}

int gzt_poll_progress(struct genzio_cq *cq, struct genzio_wc *wc,
		      struct genzio_context *t1, struct genzio_context *t2)
{
	for (int i = 0; i < 5000; i++) {
		int n = gzt_poll_one(cq, wc, 1);

		if (n)
			return n;
		gzt_progress(t1);
		gzt_progress(t2);
	}
	return 0;
}

static int target_main(int fd, void *arg)
{
	const struct gzt_target_cfg *cfg = arg;
	struct genzio_conn_info peer, mine;
	struct genzio_qp *more[8];
	int nmore = 0;
	struct gzt_ep ep;
	char *raw = NULL, *buf;
	char t;

	if (gzt_ep_open_type(&ep, cfg->len, cfg->access, cfg->qp_type))
		return 10;
	buf = ep.mem->addr;
	if (cfg->heap) {
		/* the same region, moved to memory no peer can map */
		raw = calloc(1, cfg->len + 8);
		buf = raw + 7;
		if (!raw || genzio_mr_dereg(ep.mr) ||
		    genzio_mr_reg(ep.pd, buf, cfg->len, cfg->access, &ep.mr))
			return 20;
		ep.info.addr = (uintptr_t)buf;
		ep.info.rkey = ep.mr->rkey;
	}
	if (cfg->fill_seed)
		gzt_fill(buf, cfg->len, cfg->fill_seed);
	if (genzio_conn_info_exchange(fd, &ep.info, &peer))
		return 11;
	/* RC pairs: connect back to the initiator that offered its queue
	 * pair (one without work to us offers none) */
	if (cfg->qp_type == GENZIO_QPT_RC && peer.qp_addr_len &&
	    gzt_connect(ep.qp, &peer))
		return 15;
	/* connected both ways: tell the initiator it may start (as a verbs
	 * program waits for its peer's RTR, so nothing it posts waits) */
	if (gzt_send_token(fd, 'k'))
		return 19;
	while (wait_making_progress(ep.ctx, fd), !gzt_recv_token(fd, &t)) {
		struct gzt_verify v;
		int ok;

		switch (t) {
		case 'v':
			if (read(fd, &v, sizeof(v)) != sizeof(v))
				return 12;
			if (v.off > cfg->len || v.len > cfg->len - v.off)
				ok = 0;
			else if (v.zero)
				ok = all_zero(buf + v.off, v.len);
			else
				ok = gzt_check(buf + v.off, v.len, v.seed) < 0;
			gzt_send_token(fd, ok ? 'y' : 'n');
			break;
		case 'd':
			ok = !genzio_qp_destroy(ep.qp);
			ep.qp = NULL;
			gzt_send_token(fd, ok ? 'y' : 'n');
			break;
		case 'r':
			ok = !genzio_mr_dereg(ep.mr);
			ep.mr = NULL;
			gzt_send_token(fd, ok ? 'y' : 'n');
			break;
		case 'c':	/* a queue pair for one more initiator */
			if (read(fd, &peer, sizeof(peer)) != sizeof(peer) ||
			    nmore == 8 ||
			    gzt_ep_qp_add(&ep, &more[nmore], &mine) ||
			    gzt_connect(more[nmore++], &peer))
				return 16;
			if (write(fd, &mine, sizeof(mine)) != sizeof(mine))
				return 17;	/* after the connect: ready */
			break;
		case 'q':
			while (nmore)
				if (genzio_qp_destroy(more[--nmore]))
					return 18;
			ok = !gzt_ep_close(&ep);
			free(raw);
			return ok ? 0 : 13;
		}
	}
	return 14;
}

void gzt_target_start(struct gzt_target *t, const struct gzt_target_cfg *cfg,
		      const struct gzt_ep *me)
{
	struct genzio_conn_info none = { 0 };
	struct gzt_target_cfg c = *cfg;

	if (!c.qp_type)
		c.qp_type = me ? me->qp_type : GENZIO_QPT_RC;
	/* the child inherits the answer: asked there, after it said 'k',
	 * it would open one more component while the test counts them */
	gzt_caps();
	/* the child has its own copy of c */
	cr_assert_eq(gzt_fork(&t->child, target_main, &c), 0);
	t->paired = me && me->qp_type == GENZIO_QPT_RC ? me->qp->qp_num : 0;
	char k = 0;

	cr_assert_eq(genzio_conn_info_exchange(t->child.fd,
					       me ? &me->info : &none,
					       &t->info),
		     0, "target did not start");
	cr_assert_eq(gzt_recv_token(t->child.fd, &k), 0);
	cr_assert_eq(k, 'k', "target did not connect back");
}

int gzt_target_verify(struct gzt_target *t, const struct gzt_verify *v)
{
	char r = 0;

	cr_assert_eq(gzt_send_token(t->child.fd, 'v'), 0);
	cr_assert_eq(write(t->child.fd, v, sizeof(*v)), (ssize_t)sizeof(*v));
	cr_assert_eq(gzt_recv_token(t->child.fd, &r), 0);
	return r == 'y';
}

static void simple_cmd(struct gzt_target *t, char cmd)
{
	char r = 0;

	cr_assert_eq(gzt_send_token(t->child.fd, cmd), 0);
	cr_assert_eq(gzt_recv_token(t->child.fd, &r), 0);
	cr_assert_eq(r, 'y', "target command %c failed", cmd);
}

void gzt_target_destroy_qp(struct gzt_target *t)
{
	simple_cmd(t, 'd');
}

void gzt_target_dereg(struct gzt_target *t)
{
	simple_cmd(t, 'r');
}

void gzt_target_stop(struct gzt_target *t)
{
	gzt_send_token(t->child.fd, 'q');
	cr_assert_eq(gzt_wait(&t->child), 0, "target exited with an error");
}

void gzt_target_pair(struct gzt_target *t, const struct genzio_conn_info *in,
		     struct genzio_conn_info *out)
{
	cr_assert_eq(gzt_send_token(t->child.fd, 'c'), 0);
	cr_assert_eq(write(t->child.fd, in, sizeof(*in)), (ssize_t)sizeof(*in));
	cr_assert_eq(read(t->child.fd, out, sizeof(*out)),
		     (ssize_t)sizeof(*out), "target made no queue pair");
}

void gzt_target_hand(struct gzt_target *t, int fd)
{
	struct genzio_conn_info none = { 0 }, in, out;

	cr_assert_eq(genzio_conn_info_exchange(fd, &none, &in), 0);
	gzt_target_pair(t, &in, &out);
	cr_assert_eq(genzio_conn_info_exchange(fd, &out, &in), 0);
}

int gzt_child_join(int fd, struct gzt_ep *ep, struct genzio_conn_info *peer)
{
	int ret = genzio_conn_info_exchange(fd, &ep->info, peer);

	if (!ret)
		ret = genzio_conn_info_exchange(fd, &ep->info, peer);
	return ret ? ret : gzt_connect(ep->qp, peer);
}

void gzt_connect_to(struct gzt_ep *ep, struct gzt_target *t)
{
	struct genzio_conn_info mine;

	if (t->paired == ep->qp->qp_num) {	/* its first one is ours */
		cr_assert_eq(gzt_connect(ep->qp, &t->info), 0);
		return;
	}
	gzt_target_pair(t, &ep->info, &mine);
	cr_assert_eq(gzt_connect(ep->qp, &mine), 0);
}

void gzt_write_imm_lands(struct gzt_ep *s, struct gzt_ep *r, uint64_t wr_id)
{
	struct genzio_sge sge = { s->info.addr, 100, s->mr->lkey };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE_IMM,
		.imm_data = 77, .rdma = { r->info.addr + 4096, r->info.rkey },
	};
	struct genzio_wc wc;

	gzt_fill(s->mem->addr, 100, 4);
	cr_assert_eq(gzt_post_wait(s, &wr, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(gzt_poll_one(r->cq, &wc, GZT_WAIT_MS), 1);
	cr_assert_eq(wc.opcode, GENZIO_WC_RECV_WRITE_IMM);
	cr_assert_eq(wc.imm_data, 77);
	cr_assert_eq(wc.byte_len, 100);
	cr_assert_eq(wc.wr_id, wr_id);
	cr_assert_eq(gzt_check((char *)r->mem->addr + 4096, 100, 4), -1);
}

/* Capability names as GZT_CAPS_HIDE spells them. */
static const struct {
	const char *name;
	uint64_t bit;
} caps_by_name[] = {
	{ "RMA", GENZIO_CAP_RMA }, { "ATOMIC", GENZIO_CAP_ATOMIC },
	{ "MSG", GENZIO_CAP_MSG }, { "WRITE_IMM", GENZIO_CAP_WRITE_IMM },
	{ "SYNC", GENZIO_CAP_SYNC }, { "RD", GENZIO_CAP_RD },
	{ "RMAP", GENZIO_CAP_RMAP }, { "FINE_STATUS", GENZIO_CAP_FINE_STATUS },
	{ "ONE_SIDED_TARGET", GENZIO_CAP_ONE_SIDED_TARGET },
	{ "REG_CONVERT", GENZIO_CAP_REG_CONVERT },
	{ "RECV_STAGED", GENZIO_CAP_RECV_STAGED },
	{ "REG_ANY", GENZIO_CAP_REG_ANY },
	{ "QP_SURVIVES_FAULT", GENZIO_CAP_QP_SURVIVES_FAULT },
	{ "PEER_WATCH", GENZIO_CAP_PEER_WATCH },
	{ "RECV_ANY", GENZIO_CAP_RECV_ANY },
	{ "RESET_FLUSHES", GENZIO_CAP_RESET_FLUSHES },
	{ "CQ_BACKPRESSURE", GENZIO_CAP_CQ_BACKPRESSURE },
	{ "DEATH_AT_ONCE", GENZIO_CAP_DEATH_AT_ONCE },
};

static uint64_t caps_hidden(void)
{
	const char *h = getenv("GZT_CAPS_HIDE");
	uint64_t bits = 0;

	for (size_t i = 0; h && i < sizeof(caps_by_name) / sizeof(caps_by_name[0]);
	     i++) {
		const char *p = strstr(h, caps_by_name[i].name);
		size_t n = strlen(caps_by_name[i].name);

		/* a whole name of the comma-separated list */
		while (p && ((p != h && p[-1] != ',') ||
			     (p[n] && p[n] != ',')))
			p = strstr(p + 1, caps_by_name[i].name);
		if (p)
			bits |= caps_by_name[i].bit;
	}
	return bits;
}

/* The default device's attributes. */
static void default_attr(struct genzio_device_attr *a)
{
	struct genzio_context *ctx;

	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(genzio_device_query(ctx, a), 0);
	cr_assert_eq(genzio_device_close(ctx), 0);
}

/* The default device, asked once in a process: a context opened later,
 * while a test watches its fabric, is one more component there, and
 * leaves a GCID its next joiner may get (a stale COMPONENT_ADD for a
 * target that has not joined yet). A target's child inherits it. */
static struct {
	int asked;
	struct genzio_device_attr a;
	uint64_t hidden;	/* what GZT_CAPS_HIDE hides of a.caps */
} dflt;

static void default_once(void)
{
	if (dflt.asked)
		return;
	default_attr(&dflt.a);
	dflt.hidden = caps_hidden() & dflt.a.caps;
	dflt.asked = 1;
}

uint64_t gzt_caps(void)
{
	default_once();
	return (dflt.a.caps & ~dflt.hidden) | 1ull << 63;
}

void gzt_watch_init(void)
{
	gzt_fabric_init();
	default_once();
}

int gzt_remote_fault_is(uint32_t got, uint32_t fine)
{
	/* verbs: every remote fault is one REM_ACCESS, and a remote queue
	 * pair that is gone is silence: RETRY_EXC */
	return got == fine ||
	       (!(gzt_caps() & GENZIO_CAP_FINE_STATUS) &&
		got == (fine == GENZIO_WC_REM_QP ? GENZIO_WC_RETRY_EXC :
			GENZIO_WC_REM_ACCESS));
}

int gzt_local_fault_is(uint32_t got)
{
	return got == GENZIO_WC_LOC_PROT ||
	       (!(gzt_caps() & GENZIO_CAP_FINE_STATUS) &&
		(got == GENZIO_WC_LOC_QP_OP || got == GENZIO_WC_LOC_ACCESS));
}

/* After a fault on a device where it kills the queue pair: a fresh
 * connection (our address changes with it). */
static int recover_needed(struct gzt_ep *ep)
{
	if (gzt_caps() & GENZIO_CAP_QP_SURVIVES_FAULT)
		return 0;
	cr_assert_eq(genzio_qp_reset(ep->qp), 0);
	cr_assert_eq(genzio_conn_info_init(&ep->info, ep->qp, ep->mr), 0);
	return 1;
}

void gzt_recover(struct gzt_ep *ep, struct gzt_target *t)
{
	if (!recover_needed(ep))
		return;
	t->paired = 0;		/* its queue pair is in ERR: ask for a new one */
	gzt_connect_to(ep, t);
}

void gzt_recover_pair(struct gzt_ep *a, struct gzt_ep *b)
{
	if (gzt_caps() & GENZIO_CAP_QP_SURVIVES_FAULT)
		return;
	cr_assert_eq(genzio_qp_reset(a->qp), 0);
	cr_assert_eq(genzio_qp_reset(b->qp), 0);
	cr_assert_eq(genzio_conn_info_init(&a->info, a->qp, a->mr), 0);
	cr_assert_eq(genzio_conn_info_init(&b->info, b->qp, b->mr), 0);
	cr_assert_eq(gzt_ep_pair(a, b), 0);
}

uint64_t gzt_dev_caps(struct genzio_context *ctx)
{
	struct genzio_device_attr a;

	cr_assert_eq(genzio_device_query(ctx, &a), 0);
	return a.caps;
}

int gzt_host_fabric(void)
{
	return genzio_member_list(NULL, NULL, NULL, 0) != -ENOTSUP;
}

void gzt_recover_self(struct gzt_ep *ep)
{
	if (recover_needed(ep))
		cr_assert_eq(gzt_connect(ep->qp, &ep->info), 0);
}

int gzt_registry(void)
{
	default_once();
	return strcmp(dflt.a.provider, "vfio") != 0;
}

void gzt_require_registry(void)
{
	if (!gzt_registry())
		cr_skip_test("%s: its GCIDs come from its bridge's engine, not "
			     "from a registry in the base directory",
			     dflt.a.name);
}

/* Skip unless the default device has @caps, all of them (@all) or any. */
static void require(uint64_t caps, int all, const char *names)
{
	uint64_t have = gzt_caps() & caps;

	if (all ? have != caps : !have)
		cr_skip_test("%s lacks GENZIO_CAP_%s%s", dflt.a.name, names,
			     dflt.hidden & caps ?
			     " (some hidden by GZT_CAPS_HIDE)" : "");
}

void gzt_require_any_caps(uint64_t caps, const char *names)
{
	require(caps, 0, names);
}

void gzt_require_caps(uint64_t caps, const char *names)
{
	require(caps, 1, names);
}
