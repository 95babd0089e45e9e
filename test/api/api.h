/* SPDX-License-Identifier: MIT */
/* Shared pieces of the conformance suite (public API only). */
#ifndef GZT_API_H
#define GZT_API_H

#include <criterion/criterion.h>
#include <stdint.h>

#include "lib/gzt.h"

/* shm's R-Key layout (genzio_shm(7)); the API promises none. */
#define GZT_SHM_RKEY_DOMAIN(rkey) ((uint32_t)(rkey) >> 20)
#define GZT_SHM_RKEY_KEY(rkey) ((uint32_t)(rkey) & 0xfffffu)

/* A forked target: exposes @len bytes of data space with @access, sends
 * its conn info, then serves requests from the test until 'q'. It runs no
 * genzio code while the test's RMA is in flight. */
struct gzt_target {
	struct gzt_child child;
	struct genzio_conn_info info;	/* the target's */
	uint32_t paired;	/* the qpn its queue pair connected to, or 0 */
};

struct gzt_target_cfg {
	uint64_t len;
	uint32_t access;
	uint32_t fill_seed;	/* fill memory with this pattern (0: zero) */
	uint32_t qp_type;	/* 0: that of the ep given at start, or RC */
	uint32_t heap;		/* 1: expose len bytes of the heap at an odd
				 * address instead of data space */
};

/* Verify request: target checks [off, off + len) against pattern seed. */
struct gzt_verify {
	uint64_t off;
	uint64_t len;
	uint32_t seed;
	uint32_t zero;		/* 1: expect zeros instead of a pattern */
};

void gzt_target_start(struct gzt_target *t, const struct gzt_target_cfg *cfg,
		      const struct gzt_ep *me);
/* Ask the target to check its own bytes; returns 1 if they match. */
int gzt_target_verify(struct gzt_target *t, const struct gzt_verify *v);
/* Ask the target to destroy its queue pair ('d'). */
void gzt_target_destroy_qp(struct gzt_target *t);
/* Ask the target to deregister its region ('r'). */
void gzt_target_dereg(struct gzt_target *t);
void gzt_target_stop(struct gzt_target *t);

/* @s WRITE_IMMs 100 bytes (pattern 4, immediate 77) to @r's region at
 * 4096; both ends see it complete, @r's taking the receive @wr_id, and the
 * bytes land. */
void gzt_write_imm_lands(struct gzt_ep *s, struct gzt_ep *r, uint64_t wr_id);

/* Connect @ep to @t: to its first queue pair if that one connected back
 * to @ep at start, else to one it makes for @ep (RC pairs one to one). */
void gzt_connect_to(struct gzt_ep *ep, struct gzt_target *t);
/* Ask @t for a queue pair connected to the one @in describes; *@out
 * describes it (for initiators in other processes). */
void gzt_target_pair(struct gzt_target *t, const struct genzio_conn_info *in,
		     struct genzio_conn_info *out);
/* An initiator process on @fd (gzt_child_join() there) gets a queue pair
 * of @t of its own, connected both ways. */
void gzt_target_hand(struct gzt_target *t, int fd);
/* In that process: offer @ep, learn and connect to its target queue
 * pair (*@peer). Return: 0 or -errno. */
int gzt_child_join(int fd, struct gzt_ep *ep, struct genzio_conn_info *peer);

/*
 * The conformance suite runs against whatever device genzio_device_open()
 * chooses (GENZIO_PROVIDER, GENZIO_DEVICE); a test that relies on a
 * capability skips, saying which, where the device lacks it.
 * GZT_CAPS_HIDE=RMAP,RD,... hides capabilities the device has, so the
 * skips themselves are tested (test/api/run-caps.sh).
 */
void gzt_require_caps(uint64_t caps, const char *names);
/* Whether remote-fault status @got is @fine (BAD_RKEY, REM_BOUNDS), or
 * REM_ACCESS on a device without GENZIO_CAP_FINE_STATUS (verbs reports
 * all three as one remote access error). */
/* RD targets in this process make the progress a target must where it
 * is not one-sided (verbs: RD connections on first use), as a program's
 * loop would: through their event fds' work (their events dropped). */
void gzt_progress(struct genzio_context *ctx);
/* One completion on @cq within 5 s, @t1 and @t2 (either NULL) making
 * progress meanwhile: 1, or 0. */
int gzt_poll_progress(struct genzio_cq *cq, struct genzio_wc *wc,
		      struct genzio_context *t1, struct genzio_context *t2);
int gzt_remote_fault_is(uint32_t got, uint32_t fine);
/* Whether @got is a local protection fault: LOC_PROT, or on a device
 * without GENZIO_CAP_FINE_STATUS verbs' own (Soft-RoCE reports a bad lkey
 * as LOC_QP_OP). */
int gzt_local_fault_is(uint32_t got);
/* The default device's capabilities, less the hidden ones, asked once:
 * a test that watches its fabric asks first (the question opens a
 * context), and a target's child inherits the answer. */
uint64_t gzt_caps(void);
/* A suite's init when its tests watch their fabric (events, counts of
 * components): gzt_fabric_init(), and the default device asked before a
 * test opens its first context. */
void gzt_watch_init(void);
/* After a request failed: on a device without
 * GENZIO_CAP_QP_SURVIVES_FAULT, reset @ep's queue pair and connect it
 * afresh to @t (a new queue pair of it) or to itself; else nothing. */
void gzt_recover(struct gzt_ep *ep, struct gzt_target *t);
void gzt_recover_self(struct gzt_ep *ep);
/* The same for two endpoints of this process connected to each other. */
void gzt_recover_pair(struct gzt_ep *a, struct gzt_ep *b);
/* What @ctx's device really has, for a test's behaviour (gzt_caps() and
 * GZT_CAPS_HIDE are for skips: hiding a capability does not change what
 * the device does). */
uint64_t gzt_dev_caps(struct genzio_context *ctx);
/* Whether the default device's components sit on a host fabric: a
 * registry of members, files in the base directory (shm); without one
 * (verbs: genzio_member_list() is -ENOTSUP) they are on a network. */
int gzt_host_fabric(void);
/* Skip unless the default device's GCIDs come from the host registry in
 * the base directory (shm, verbs): a bridge's engine gives its own
 * (vfio), and that device keeps nothing in the directory. */
void gzt_require_registry(void);
int gzt_registry(void);
/* Skip unless the device has one of @caps at least. */
void gzt_require_any_caps(uint64_t caps, const char *names);
#define GZT_REQUIRE_ANY(a, b) \
	gzt_require_any_caps(GENZIO_CAP_##a | GENZIO_CAP_##b, #a " or " #b)
#define GZT_REQUIRE(cap) gzt_require_caps(GENZIO_CAP_##cap, #cap)
#define GZT_REQUIRE2(a, b) \
	gzt_require_caps(GENZIO_CAP_##a | GENZIO_CAP_##b, #a ", " #b)

#endif /* GZT_API_H */
