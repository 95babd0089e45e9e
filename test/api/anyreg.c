// SPDX-License-Identifier: MIT
/*
 * Remote access to any byte range of any memory (GENZIO_CAP_REG_ANY), as
 * ibv_reg_mr() gives it: a heap buffer at an odd address, read-only data,
 * a range that straddles data space. Bounds stay byte exact, and a region
 * that went away under a live key fails the access, not the requester (or,
 * where registration pinned the pages, as verbs', the access goes on
 * into them).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "api.h"

TestSuite(anyreg, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

#define CANARY 0x3c
#define RW (GENZIO_ACCESS_LOCAL_WRITE | GENZIO_ACCESS_REMOTE_WRITE | \
	    GENZIO_ACCESS_REMOTE_READ)

/* Initiator i and target r, connected both ways. */
static void pair(struct gzt_ep *i, struct gzt_ep *r)
{
	cr_assert_eq(gzt_ep_open(i, 1u << 20, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_open(r, 1u << 20, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_ep_pair(i, r), 0);
}

static void close_pair(struct gzt_ep *i, struct gzt_ep *r)
{
	gzt_ep_close(i);
	gzt_ep_close(r);
}

Test(anyreg, an_odd_heap_range_takes_writes_and_reads_byte_for_byte)
{
	GZT_REQUIRE2(RMA, REG_ANY);
	static const uint32_t sizes[] = { 1, 7, 8, 999, 1000 };
	struct gzt_ep i, r;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	uint8_t *raw = malloc(1000 + 64);

	cr_assert_not_null(raw);
	pair(&i, &r);
	memset(raw, CANARY, 1000 + 64);
	cr_assert_eq(genzio_mr_reg(r.pd, raw + 13, 1000, RW, &mr), 0);
	cr_assert_neq(mr->rkey, 0);
	for (size_t n = 0; n < sizeof(sizes) / sizeof(sizes[0]); n++) {
		uint32_t len = sizes[n], off = 1000 - len, seed = 40 + n;

		gzt_fill(i.mem->addr, len, seed);
		cr_assert_eq(gzt_write(&i, i.mem->addr, len, i.mr->lkey,
				       (uintptr_t)raw + 13 + off, mr->rkey,
				       &wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(wc.byte_len, len);
		cr_assert_eq(gzt_check(raw + 13 + off, len, seed), -1,
			     "size %u", len);
		memset((char *)i.mem->addr + 4096, 0, len);
		cr_assert_eq(gzt_read(&i, (char *)i.mem->addr + 4096, len,
				      i.mr->lkey, (uintptr_t)raw + 13 + off,
				      mr->rkey, &wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		cr_assert_eq(gzt_check((char *)i.mem->addr + 4096, len, seed),
			     -1, "read back, size %u", len);
	}
	for (int b = 0; b < 13; b++)
		cr_assert_eq(raw[b], CANARY, "byte %d before the region", b);
	for (int b = 13 + 1000; b < 1000 + 64; b++)
		cr_assert_eq(raw[b], CANARY, "byte %d after the region", b);
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	free(raw);
	close_pair(&i, &r);
}

Test(anyreg, bounds_are_byte_exact_and_a_fault_writes_nothing)
{
	GZT_REQUIRE2(RMA, REG_ANY);
	struct gzt_ep i, r;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	uint8_t *raw = malloc(200);
	uint64_t base = (uintptr_t)raw + 50;
	const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = { { base - 1, 1 }, { base + 100, 1 }, { base, 101 },
		    { base + 99, 2 }, { base - 8, 16 } };

	cr_assert_not_null(raw);
	pair(&i, &r);
	memset(raw, CANARY, 200);
	cr_assert_eq(genzio_mr_reg(r.pd, raw + 50, 100, RW, &mr), 0);
	gzt_fill(i.mem->addr, 200, 3);
	for (size_t n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
		cr_assert_eq(gzt_write(&i, i.mem->addr, bad[n].len,
				       i.mr->lkey, bad[n].addr, mr->rkey, &wc),
			     0);
		cr_assert(gzt_remote_fault_is(wc.status,
					      GENZIO_WC_REM_BOUNDS),
			  "case %zu: %s", n, genzio_wc_status_str(wc.status));
		gzt_recover_pair(&i, &r);
	}
	for (int b = 0; b < 200; b++)
		cr_assert_eq(raw[b], CANARY, "byte %d written", b);
	/* the key grants what was asked: read-only is read-only */
	struct genzio_mr *ro;
	cr_assert_eq(genzio_mr_reg(r.pd, raw + 1, 20, GENZIO_ACCESS_REMOTE_READ,
				   &ro), 0);
	cr_assert_eq(gzt_write(&i, i.mem->addr, 4, i.mr->lkey,
			       (uintptr_t)raw + 1, ro->rkey, &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_ACCESS), "%s",
		  genzio_wc_status_str(wc.status));
	gzt_recover_pair(&i, &r);
	cr_assert_eq(raw[1], CANARY);
	cr_assert_eq(genzio_mr_dereg(ro), 0);
	uint32_t rkey = mr->rkey;
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	/* and a deregistered one is gone */
	cr_assert_eq(gzt_write(&i, i.mem->addr, 4, i.mr->lkey, base, rkey,
			       &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_BAD_RKEY), "%s",
		  genzio_wc_status_str(wc.status));
	cr_assert_eq(raw[50], CANARY);
	free(raw);
	close_pair(&i, &r);
}

static const char rodata[64] = "read-only data, remotely readable";

Test(anyreg, read_only_data_and_a_range_across_data_space_are_readable)
{
	GZT_REQUIRE2(RMA, REG_ANY);
	struct gzt_ep i, r;
	struct genzio_mr *mr, *across;
	struct genzio_wc wc;
	uint8_t *end;

	pair(&i, &r);
	cr_assert_eq(genzio_mr_reg(r.pd, (void *)rodata, sizeof(rodata),
				   GENZIO_ACCESS_REMOTE_READ, &mr), 0);
	cr_assert_eq(gzt_read(&i, i.mem->addr, sizeof(rodata), i.mr->lkey,
			      (uintptr_t)rodata, mr->rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(memcmp(i.mem->addr, rodata, sizeof(rodata)), 0);
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	/* the last 100 bytes of data space and 100 past its end: not inside
	 * one allocation, yet registered; the part inside reads */
	end = (uint8_t *)r.mem->addr + r.mem->length - 100;
	gzt_fill(end, 100, 5);
	cr_assert_eq(genzio_mr_reg(r.pd, end, 200, GENZIO_ACCESS_REMOTE_READ,
				   &across), 0);
	cr_assert_eq(gzt_read(&i, i.mem->addr, 100, i.mr->lkey,
			      (uintptr_t)end, across->rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert_eq(gzt_check(i.mem->addr, 100, 5), -1);
	cr_assert_eq(genzio_mr_dereg(across), 0);
	close_pair(&i, &r);
}

Test(anyreg, memory_unmapped_under_a_live_key_fails_the_access_only)
{
	GZT_REQUIRE2(RMA, REG_ANY);
	struct gzt_ep i, r;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	uint8_t *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	pair(&i, &r);
	/* not page aligned: stays where it is, reached through the kernel */
	cr_assert_eq(genzio_mr_reg(r.pd, p + 1, 8000, RW, &mr), 0);
	cr_assert_eq(munmap(p, 8192), 0);
	gzt_fill(i.mem->addr, 64, 21);
	cr_assert_eq(gzt_write(&i, i.mem->addr, 64, i.mr->lkey,
			       (uintptr_t)p + 1, mr->rkey, &wc), 0);
	if (wc.status == GENZIO_WC_SUCCESS) {
		/* a device that pinned the pages at registration (verbs,
		 * ibv_reg_mr) still owns them: the bytes land there and
		 * read back, and nothing else is harmed */
		memset((char *)i.mem->addr + 4096, 0, 64);
		cr_assert_eq(gzt_read(&i, (char *)i.mem->addr + 4096, 64,
				      i.mr->lkey, (uintptr_t)p + 1, mr->rkey,
				      &wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
			     genzio_wc_status_str(wc.status));
		cr_assert_eq(gzt_check((char *)i.mem->addr + 4096, 64, 21),
			     -1, "the pinned pages kept the write");
	} else {
		/* one that reaches the pages through the address space
		 * (shm) finds none: the access fails, not the requester */
		cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_ACCESS),
			  "%s", genzio_wc_status_str(wc.status));
		gzt_recover_pair(&i, &r);
		cr_assert_eq(gzt_read(&i, i.mem->addr, 64, i.mr->lkey,
				      (uintptr_t)p + 1, mr->rkey, &wc), 0);
		cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_ACCESS),
			  "%s", genzio_wc_status_str(wc.status));
		gzt_recover_pair(&i, &r);
	}
	/* either way both queue pairs work on */
	cr_assert_eq(gzt_write(&i, i.mem->addr, 64, i.mr->lkey, r.info.addr,
			       r.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(gzt_check(r.mem->addr, 64, 21), -1);
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	close_pair(&i, &r);
}

Test(anyreg, atomics_and_write_imm_outside_data_space_work_or_say_no)
{
	GZT_REQUIRE2(RMA, REG_ANY);
	struct gzt_ep i, r;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	uint64_t *raw = calloc(4, sizeof(uint64_t));
	int ret;

	cr_assert_not_null(raw);
	pair(&i, &r);
	/* atomics: a registration the provider can serve, or -EOPNOTSUPP */
	ret = genzio_mr_reg(r.pd, raw + 1, 8,
			    RW | GENZIO_ACCESS_REMOTE_ATOMIC, &mr);
	cr_assert(ret == 0 || ret == -EOPNOTSUPP, "%d", ret);
	if (!ret) {
		cr_assert_eq(gzt_atomic(&i, GENZIO_WR_ATOMIC_FADD, 8,
					(uintptr_t)(raw + 1), mr->rkey, 5, 0,
					&wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		cr_assert_eq(raw[1], 5);
		cr_assert_eq(genzio_mr_dereg(mr), 0);
	}
	/* WRITE_IMM: lands and consumes the receive, or fails with
	 * REM_ACCESS and consumes nothing */
	cr_assert_eq(genzio_mr_reg(r.pd, raw + 2, 8, RW, &mr), 0);
	struct genzio_sge rs = { r.info.addr, 64, r.mr->lkey };
	struct genzio_recv_wr rw = { .wr_id = 77, .sg_list = &rs,
				     .num_sge = 1 }, *rbad;
	cr_assert_eq(genzio_post_recv(r.qp, &rw, &rbad), 0);
	*(uint64_t *)i.mem->addr = 0x1122334455667788ull;
	struct genzio_sge sge = { i.info.addr, 8, i.mr->lkey };
	struct genzio_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = GENZIO_WR_WRITE_IMM,
		.imm_data = 9, .rdma = { (uintptr_t)(raw + 2), mr->rkey },
	};
	cr_assert_eq(gzt_post_wait(&i, &wr, &wc), 0);
	if (wc.status == GENZIO_WC_SUCCESS) {
		cr_assert_eq(raw[2], 0x1122334455667788ull);
		cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.opcode, GENZIO_WC_RECV_WRITE_IMM);
	} else {
		cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_ACCESS),
			  "%s", genzio_wc_status_str(wc.status));
		cr_assert_eq(raw[2], 0);
		cr_assert_eq(gzt_poll_one(r.cq, &wc, 0), 0);
		/* the receive is still there: the next SEND takes it */
		sge.length = 8;
		wr.opcode = GENZIO_WR_SEND;
		cr_assert_eq(gzt_post_wait(&i, &wr, &wc), 0);
		cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
		cr_assert_eq(gzt_poll_one(r.cq, &wc, GZT_WAIT_MS), 1);
		cr_assert_eq(wc.opcode, GENZIO_WC_RECV);
		cr_assert_eq(wc.wr_id, 77, "no receive consumed");
	}
	cr_assert_eq(genzio_mr_dereg(mr), 0);
	free(raw);
	close_pair(&i, &r);
}

Test(anyreg, a_heap_region_of_another_process_takes_rma)
{
	GZT_REQUIRE2(RMA, REG_ANY);
	struct gzt_target_cfg cfg = { .len = 5000, .access = RW,
				      .fill_seed = 8, .heap = 1 };
	struct gzt_verify v = { 1, 4000, 9, 0 };
	struct gzt_target t;
	struct gzt_ep ep;
	struct genzio_wc wc;

	cr_assert_eq(gzt_ep_open(&ep, 1u << 20, GZT_ACCESS_ALL), 0);
	gzt_target_start(&t, &cfg, &ep);
	gzt_connect_to(&ep, &t);
	cr_assert_neq(t.info.addr & 4095, 0, "an odd address");
	/* what the target filled reads back */
	cr_assert_eq(gzt_read(&ep, ep.mem->addr, 5000, ep.mr->lkey,
			      t.info.addr, t.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(gzt_check(ep.mem->addr, 5000, 8), -1);
	/* a write lands where it was aimed, the rest stays */
	gzt_fill(ep.mem->addr, 4000, 9);
	cr_assert_eq(gzt_write(&ep, ep.mem->addr, 4000, ep.mr->lkey,
			       t.info.addr + 1, t.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS);
	cr_assert(gzt_target_verify(&t, &v));
	/* one past the end is out of bounds */
	cr_assert_eq(gzt_write(&ep, ep.mem->addr, 2, ep.mr->lkey,
			       t.info.addr + 4999, t.info.rkey, &wc), 0);
	cr_assert(gzt_remote_fault_is(wc.status, GENZIO_WC_REM_BOUNDS));
	gzt_target_stop(&t);
	cr_assert_eq(gzt_ep_close(&ep), 0);
}
