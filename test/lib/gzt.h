/* SPDX-License-Identifier: MIT */
/*
 * gzt: helpers for genzio tests, on the public API only. Functions return
 * 0 or -errno instead of asserting, so forked peers can use them too (a
 * peer reports failure through its exit status).
 */
#ifndef GZT_GZT_H
#define GZT_GZT_H

#include <stdint.h>
#include <sys/types.h>

#include <genzio/genzio.h>

/* Everything one side of a test needs: an RC queue pair on its own cq,
 * and (if mem_len) one data-space region registered with @access. */
struct gzt_ep {
	struct genzio_context *ctx;
	struct genzio_pd *pd;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct genzio_conn_info info;	/* what we offer the peer */
	uint32_t qp_type;
};

#define GZT_ACCESS_ALL (GENZIO_ACCESS_LOCAL_WRITE | \
			GENZIO_ACCESS_REMOTE_WRITE | \
			GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_ATOMIC)

/* genzio_event_get(), past the fabric's topology news (COMPONENT_*,
 * LINK_*) that the tests' own joins and leaves raise; the tests of those
 * events (fabric.c) read them with genzio_event_get(). */
int gzt_event_get(struct genzio_context *ctx, struct genzio_event *ev);
int gzt_ep_open(struct gzt_ep *ep, uint64_t mem_len, uint32_t access);
int gzt_ep_open_type(struct gzt_ep *ep, uint64_t mem_len, uint32_t access,
		     uint32_t qp_type);
int gzt_ep_close(struct gzt_ep *ep);
/* Another queue pair of @ep's kind, on its pd and cq; *@info describes
 * it and @ep's region. */
int gzt_ep_qp_add(struct gzt_ep *ep, struct genzio_qp **qp,
		  struct genzio_conn_info *info);
/* Connect @qp to the queue pair @peer describes (one end of a pair). */
int gzt_connect(struct genzio_qp *qp, const struct genzio_conn_info *peer);
/* Connect @a and @b to each other. */
int gzt_ep_pair(struct gzt_ep *a, struct gzt_ep *b);
/* Connect queue pair @qp to @to, of this process (one end). */
int gzt_qp_connect_to(struct genzio_qp *qp, struct genzio_qp *to);
/* Connect @a and @b, of this process, to each other (@a == @b: loop). */
int gzt_qp_pair(struct genzio_qp *a, struct genzio_qp *b);
/* Give @ep a queue pair made with @qa instead of its own, and @peer a new
 * one of its kind (an RC queue pair pairs once), connected to it. */
int gzt_qp_replace(struct gzt_ep *ep, const struct genzio_qp_attr *qa,
		   struct gzt_ep *peer);

/* Post one signaled request and wait (bounded) for its completion. */
int gzt_post_wait(struct gzt_ep *ep, struct genzio_send_wr *wr,
		  struct genzio_wc *wc);
int gzt_write(struct gzt_ep *ep, const void *buf, uint32_t len, uint32_t lkey,
	      uint64_t raddr, uint32_t rkey, struct genzio_wc *wc);
int gzt_read(struct gzt_ep *ep, void *buf, uint32_t len, uint32_t lkey,
	     uint64_t raddr, uint32_t rkey, struct genzio_wc *wc);
/* Inline, signaled 8-byte write of @v: the smallest remote store. */
int gzt_put64(struct gzt_ep *ep, uint64_t raddr, uint32_t rkey, uint64_t v,
	      struct genzio_wc *wc);
int gzt_atomic(struct gzt_ep *ep, uint32_t opcode, uint32_t size,
	       uint64_t raddr, uint32_t rkey, uint64_t operand,
	       uint64_t compare, struct genzio_wc *wc);
/* How long a completion that must come may take: long, as only a bug
 * waits it out (a loaded machine's engine or peer may be off the cores
 * for seconds; the wait ends at the completion). */
#define GZT_WAIT_MS 20000
/* Poll until one completion arrives or @ms pass: 1, 0 (timeout), -errno. */
int gzt_poll_one(struct genzio_cq *cq, struct genzio_wc *wc, int ms);

/* A forked peer: runs fn(fd, arg) and exits with its return value. */
struct gzt_child {
	pid_t pid;
	int fd;		/* our end of a socketpair with the child */
};

int gzt_fork(struct gzt_child *c, int (*fn)(int fd, void *arg), void *arg);
/* Wait for the child; its exit code, or 128 + signal. */
int gzt_wait(struct gzt_child *c);
void gzt_kill(struct gzt_child *c);

/* One-byte tokens to step peers in lockstep (never sleep to sync). */
int gzt_send_token(int fd, char t);
int gzt_recv_token(int fd, char *t);

/* Give this test process (and the peers it forks) a fabric of its own,
 * and remove its files afterwards: tests run in parallel. fini also kills
 * any child of gzt_fork() a failed assertion left running. */
void gzt_fabric_init(void);
void gzt_fabric_fini(void);

/* Deterministic test patterns. */
void gzt_fill(void *buf, uint64_t len, uint32_t seed);
/* Offset of the first byte that differs from the pattern, or -1. */
int64_t gzt_check(const void *buf, uint64_t len, uint32_t seed);

#endif /* GZT_GZT_H */
