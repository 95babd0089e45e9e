// SPDX-License-Identifier: MIT
/*
 * lib/providers/shm against a peer that lies about who it is, or reads
 * what it should not: a component file that names another process (ours),
 * so that our own cross-memory-attach writes would land in our own memory
 * at addresses it chose (the pid is checked against the kernel's maps
 * before any use); receive entries that would show private addresses.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/gzt.h"
#include "providers/shm/shm.h"

TestSuite(liar, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

#define LEN 256

/* Ours; the liar registers the same address of its copy. */
static uint8_t *victim;

static int liar_main(int fd, void *arg)
{
	struct genzio_conn_info peer;
	struct gz_shm_ctx *ctx;
	struct genzio_mr *mr;
	struct gzt_ep ep;
	char t;

	(void)arg;
	if (gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL))
		return 10;
	/* memory no peer maps (odd address): reached through the kernel */
	if (genzio_mr_reg(ep.pd, victim, LEN,
			  GENZIO_ACCESS_LOCAL_WRITE |
				  GENZIO_ACCESS_REMOTE_WRITE |
				  GENZIO_ACCESS_REMOTE_READ,
			  &mr))
		return 11;
	ep.info.addr = (uintptr_t)victim;
	ep.info.rkey = mr->rkey;
	/* the lie: the parent's pid and start time, alive and well */
	ctx = to_shm_ctx(ep.ctx);
	ctx->comp->pid = getppid();
	if (gz_sys_proc_starttime(getppid(), &ctx->comp->starttime))
		return 12;
	if (genzio_conn_info_exchange(fd, &ep.info, &peer) ||
	    gzt_connect(ep.qp, &peer) || gzt_send_token(fd, 'k'))
		return 13;
	gzt_recv_token(fd, &t);
	genzio_mr_dereg(mr);
	return gzt_ep_close(&ep) ? 14 : 0;
}

Test(liar, a_peer_that_gives_our_pid_is_never_written_through)
{
	struct genzio_conn_info peer;
	struct gzt_child c;
	struct gzt_ep ep;
	struct genzio_wc wc;
	struct genzio_device_attr a;
	char k = 0;

	victim = malloc(LEN + 1);
	cr_assert_not_null(victim);
	victim++;		/* odd: never converted */
	memset(victim, 0x5a, LEN);
	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_device_query(ep.ctx, &a), 0);
	if (!(a.caps & GENZIO_CAP_REG_ANY))
		cr_skip_test("no GENZIO_CAP_REG_ANY here (ptrace_scope?)");
	cr_assert_eq(gzt_fork(&c, liar_main, NULL), 0);
	cr_assert_eq(genzio_conn_info_exchange(c.fd, &ep.info, &peer), 0);
	cr_assert_eq(gzt_connect(ep.qp, &peer), 0);
	cr_assert_eq(gzt_recv_token(c.fd, &k), 0);
	cr_assert_eq(k, 'k');
	memset(ep.mem->addr, 0xee, LEN);
	cr_assert_eq(gzt_write(&ep, ep.mem->addr, LEN, ep.mr->lkey, peer.addr,
			       peer.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_REM_ACCESS, "%s",
		     genzio_wc_status_str(wc.status));
	for (int i = 0; i < LEN; i++)
		cr_assert_eq(victim[i], 0x5a, "our byte %d written", i);
	/* nor read: nothing of ours comes back as the liar's */
	memset(ep.mem->addr, 0, LEN);
	victim[0] = 0x77;
	cr_assert_eq(gzt_read(&ep, ep.mem->addr, LEN, ep.mr->lkey, peer.addr,
			      peer.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_REM_ACCESS);
	cr_assert_eq(((uint8_t *)ep.mem->addr)[0], 0);
	gzt_send_token(c.fd, 'q');
	cr_assert_eq(gzt_wait(&c), 0);
	cr_assert_eq(gzt_ep_close(&ep), 0);
	free(victim - 1);
}

/* What a peer reads of a staged receive: the staging slot, never where
 * the bytes go afterwards (an address of private memory), nor the
 * wr_id (often a pointer). */
Test(liar, a_staged_receive_entry_shows_peers_no_private_address)
{
	struct gzt_ep ep;
	struct genzio_mr *mr;
	uint8_t *heap = malloc(4096);
	struct genzio_sge sg[3];
	struct genzio_recv_wr wr = { .wr_id = (uintptr_t)heap + 8,
				     .sg_list = sg, .num_sge = 3 },
			      *bad;

	cr_assert_not_null(heap);
	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_mr_reg(ep.pd, heap, 4096,
				   GENZIO_ACCESS_LOCAL_WRITE, &mr), 0);
	for (int i = 0; i < 3; i++)
		sg[i] = (struct genzio_sge){ (uintptr_t)heap + 1000 * i, 100,
					     mr->lkey };
	cr_assert_eq(genzio_post_recv(ep.qp, &wr, &bad), 0);
	struct gz_shm_qp *qp = container_of(ep.qp, struct gz_shm_qp,
					    base.pub);
	const struct gz_xdm_rqe *e =
		(const void *)((uint8_t *)qp->rq + GZ_SHM_QHDR);
	cr_assert_eq(e->num_sge, 1, "one staging slot");
	cr_assert_eq(e->sge[0].seg, qp->stage_seg, "the staging segment");
	cr_assert_eq(e->sge[0].len, 300);
	/* nothing in the entry a peer reads holds the heap's address */
	const uint8_t *b = (const uint8_t *)e;
	for (size_t o = 0; o + 8 <= qp->rq_stride; o++) {
		uint64_t v;

		memcpy(&v, b + o, 8);
		cr_assert(v < (uintptr_t)heap || v >= (uintptr_t)heap + 4096,
			  "offset %zu holds %#llx", o, (unsigned long long)v);
	}
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	cr_assert_eq(gzt_ep_close(&ep), 0);
	free(heap);
}

/* A peer that cuts our guard file short hides its lanes: a wait must not
 * take what it cannot read for idle. */
Test(liar, a_guard_file_cut_short_makes_dereg_fail_not_lie)
{
	struct gzt_ep a, b;
	struct genzio_mr *mr;
	struct genzio_wc wc;

	cr_assert_eq(gzt_ep_open(&a, 1u << 16, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(&b, 1u << 16, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_pair(&a, &b), 0);
	/* a reaches b: a's window in b's guard file is in use */
	cr_assert_eq(gzt_write(&a, a.mem->addr, 8, a.mr->lkey, b.info.addr,
			       b.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(genzio_mr_reg(b.pd, b.mem->addr, 4096, GZT_ACCESS_ALL,
				   &mr), 0);
	/* (a's own stores to its window would now be a SIGBUS, as
	 * genzio_shm(7) says of files cut short: a does no more work) */
	cr_assert_eq(ftruncate(to_shm_ctx(b.ctx)->guard_fd, 4096), 0);
	cr_assert_eq(genzio_mr_dereg(mr), -EIO);
	cr_assert_eq(ftruncate(to_shm_ctx(b.ctx)->guard_fd,
			       (off_t)GZ_SHM_GUARD_WIN * (GZ_SHM_MAX_CID + 1)),
		     0);
	gzt_ep_close(&a);
	gzt_ep_close(&b);
}
