// SPDX-License-Identifier: MIT
/*
 * 04_loadstore: map a counter in another process's data space and
 * increment it with plain loads and stores (Gen-Z requester ZMMU), making
 * each store visible with genzio_flush(). No work request is posted.
 *   cc 04_loadstore.c $(pkg-config --cflags --libs genzio)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>

#define INCREMENTS 100000

static void ok(int ret, const char *what)
{
	if (ret) {
		fprintf(stderr, "%s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

/* The owner: exposes one counter, then waits until told to check it. */
static int owner(int fd)
{
	struct genzio_cq_attr ca = { .depth = 1 };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RD, .sq_depth = 1 };
	struct genzio_context *ctx;
	struct genzio_device_attr da;
	struct genzio_conn_info me, peer;
	struct genzio_mem *mem;
	struct genzio_mr *mr;
	struct genzio_pd *pd;
	struct genzio_cq *cq;
	struct genzio_qp *qp;
	uint64_t total;
	char done;

	ok(genzio_device_open(NULL, NULL, &ctx), "device_open");
	ok(genzio_device_query(ctx, &da), "device_query");
	ok(genzio_pd_alloc(ctx, &pd), "pd_alloc");
	/* Its queue pair names the protection domain the key belongs to
	 * (load/store follows the rules of RMA); it carries no traffic. */
	ok(genzio_cq_create(ctx, &ca, &cq), "cq_create");
	qa.send_cq = qa.recv_cq = cq;
	ok(genzio_qp_create(pd, &qa, &qp), "qp_create");
	/* A mapping has page granularity (2 MiB with huge pages), so the
	 * key must cover whole pages: register all of the allocation. */
	ok(genzio_mem_alloc(ctx, 4096, 0, &mem), "mem_alloc");
	ok(genzio_mr_reg(pd, mem->addr, mem->length, GENZIO_ACCESS_LOCAL_WRITE |
			 GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_WRITE,
			 &mr), "mr_reg");
	ok(genzio_conn_info_init(&me, qp, mr), "conn_info_init");
	ok(genzio_conn_info_exchange(fd, &me, &peer), "exchange");
	if (read(fd, &done, 1) != 1)
		return 1;
	total = *(volatile uint64_t *)mem->addr;
	printf("owner (GCID %#x) sees counter = %llu\n", da.gcid,
	       (unsigned long long)total);
	ok(genzio_mr_dereg(mr), "mr_dereg");
	ok(genzio_mem_free(mem), "mem_free");
	ok(genzio_qp_destroy(qp), "qp_destroy");
	ok(genzio_cq_destroy(cq), "cq_destroy");
	ok(genzio_pd_free(pd), "pd_free");
	ok(genzio_device_close(ctx), "device_close");
	return total == INCREMENTS ? 0 : 1;
}

static int user(int fd)
{
	struct genzio_conn_info me = { .qp_addr_len = 0 }, peer;
	struct genzio_context *ctx;
	struct genzio_rmap *map;
	struct genzio_ah *ah;
	struct genzio_pd *pd;
	volatile uint64_t *counter;

	ok(genzio_device_open(NULL, NULL, &ctx), "device_open");
	ok(genzio_pd_alloc(ctx, &pd), "pd_alloc");
	ok(genzio_conn_info_exchange(fd, &me, &peer), "exchange");
	ok(genzio_ah_create(pd, peer.gcid, &ah), "ah_create");
	/* through the owner's queue pair: its protection domain honours
	 * the key, as it would for RMA */
	ok(genzio_rmap_map(ah, peer.qpn, peer.addr, 8, peer.rkey,
			   GENZIO_RMAP_WB, &map), "rmap_map");
	counter = map->addr;
	for (int i = 0; i < INCREMENTS; i++) {
		*counter = *counter + 1;	/* a load and a store */
		ok(genzio_flush((const void *)counter, 8), "flush");
	}
	printf("user stored %d increments through the mapping\n", INCREMENTS);
	fflush(stdout);
	if (write(fd, "d", 1) != 1)
		return 1;
	ok(genzio_rmap_unmap(map), "rmap_unmap");
	ok(genzio_ah_destroy(ah), "ah_destroy");
	ok(genzio_pd_free(pd), "pd_free");
	ok(genzio_device_close(ctx), "device_close");
	return 0;
}

/* Load/store needs a provider that maps remote memory (shm does, verbs
 * cannot): say so and exit 77, "skipped", as test harnesses read it. */
static int can_map(void)
{
	struct genzio_context *ctx;
	struct genzio_device_attr da;
	int yes;

	ok(genzio_device_open(NULL, NULL, &ctx), "device_open");
	ok(genzio_device_query(ctx, &da), "device_query");
	yes = !!(da.caps & GENZIO_CAP_RMAP);
	if (!yes)
		printf("skipped: %s (provider %s) has no load/store mapping "
		       "(GENZIO_CAP_RMAP)\n", da.name, da.provider);
	ok(genzio_device_close(ctx), "device_close");
	return yes;
}

int main(int argc, char **argv)
{
	int sv[2], st, ret;
	pid_t pid;

	if (argc > 1) {	/* load/store reaches this host's memory only */
		fprintf(stderr, "usage: %s (no arguments: one host)\n", argv[0]);
		return 2;
	}
	if (!can_map())
		return 77;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || (pid = fork()) < 0)
		return 1;
	if (!pid) {
		close(sv[0]);
		ret = user(sv[1]);
		fflush(stdout);
		_exit(ret);
	}
	close(sv[1]);	/* so a child that fails ends our reads */
	ret = owner(sv[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		ret = 1;
	printf("%s\n", ret ? "FAILED" : "ok");
	return ret;
}
