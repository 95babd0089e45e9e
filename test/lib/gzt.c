// SPDX-License-Identifier: MIT
/* gzt: see gzt.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include "gzt.h"

/* What every queue pair of an endpoint is made with. */
#define ep_qp_attr(ep) ((struct genzio_qp_attr){ \
	.qp_type = (ep)->qp_type, .sq_depth = 256, .rq_depth = 256, \
	.max_send_sge = 4, .max_recv_sge = 4, \
	.max_inline = GENZIO_MAX_INLINE, .send_cq = (ep)->cq, \
	.recv_cq = (ep)->cq })

int gzt_ep_open_type(struct gzt_ep *ep, uint64_t mem_len, uint32_t access,
		     uint32_t qp_type)
{
	struct genzio_device_attr da;
	struct genzio_cq_attr ca = { .depth = 256 };
	int ret;

	memset(ep, 0, sizeof(*ep));
	ret = genzio_device_open(NULL, NULL, &ep->ctx);
	if (ret)
		return ret;
	ret = genzio_device_query(ep->ctx, &da);
	if (!ret)
		ret = genzio_pd_alloc(ep->ctx, &ep->pd);
	if (!ret)
		ret = genzio_cq_create(ep->ctx, &ca, &ep->cq);
	if (ret)
		return ret;
	ep->qp_type = qp_type;
	ret = genzio_qp_create(ep->pd, &ep_qp_attr(ep), &ep->qp);
	if (ret)
		return ret;
	ret = genzio_conn_info_init(&ep->info, ep->qp, NULL);
	if (ret || !mem_len)
		return ret;
	ret = genzio_mem_alloc(ep->ctx, mem_len, 0, &ep->mem);
	if (!ret)
		ret = genzio_mr_reg(ep->pd, ep->mem->addr, mem_len, access,
				    &ep->mr);
	if (ret)
		return ret;
	ep->info.addr = (uintptr_t)ep->mem->addr;
	ep->info.length = mem_len;
	ep->info.rkey = ep->mr->rkey;
	return 0;
}

int gzt_ep_qp_add(struct gzt_ep *ep, struct genzio_qp **qp,
		  struct genzio_conn_info *info)
{
	int ret = genzio_qp_create(ep->pd, &ep_qp_attr(ep), qp);

	if (!ret)
		ret = genzio_conn_info_init(info, *qp, ep->mr);
	return ret;
}

int gzt_connect(struct genzio_qp *qp, const struct genzio_conn_info *peer)
{
	return genzio_qp_connect(qp, peer->qp_addr, peer->qp_addr_len);
}

int gzt_ep_pair(struct gzt_ep *a, struct gzt_ep *b)
{
	int ret = gzt_connect(a->qp, &b->info);

	return ret ? ret : a == b ? 0 : gzt_connect(b->qp, &a->info);
}

int gzt_qp_connect_to(struct genzio_qp *qp, struct genzio_qp *to)
{
	uint8_t addr[GENZIO_ADDR_MAX];
	size_t len = sizeof(addr);
	int ret = genzio_qp_addr(to, addr, &len);

	return ret ? ret : genzio_qp_connect(qp, addr, len);
}

int gzt_qp_pair(struct genzio_qp *a, struct genzio_qp *b)
{
	int ret = gzt_qp_connect_to(a, b);

	return ret ? ret : a == b ? 0 : gzt_qp_connect_to(b, a);
}

int gzt_qp_replace(struct gzt_ep *ep, const struct genzio_qp_attr *qa,
		   struct gzt_ep *peer)
{
	int ret = genzio_qp_destroy(ep->qp);

	ep->qp = NULL;
	if (!ret)
		ret = genzio_qp_create(ep->pd, qa, &ep->qp);
	if (!ret)
		ret = genzio_qp_destroy(peer->qp);
	if (!ret)
		ret = gzt_ep_qp_add(peer, &peer->qp, &peer->info);
	return ret ? ret : gzt_qp_pair(ep->qp, peer->qp);
}

int gzt_ep_open(struct gzt_ep *ep, uint64_t mem_len, uint32_t access)
{
	return gzt_ep_open_type(ep, mem_len, access, GENZIO_QPT_RC);
}

int gzt_ep_close(struct gzt_ep *ep)
{
	int ret = 0;

	if (ep->mr)
		ret = ret ? ret : genzio_mr_dereg(ep->mr);
	if (ep->mem)
		ret = ret ? ret : genzio_mem_free(ep->mem);
	if (ep->qp)
		ret = ret ? ret : genzio_qp_destroy(ep->qp);
	if (ep->cq)
		ret = ret ? ret : genzio_cq_destroy(ep->cq);
	if (ep->pd)
		ret = ret ? ret : genzio_pd_free(ep->pd);
	if (ep->ctx)
		ret = ret ? ret : genzio_device_close(ep->ctx);
	memset(ep, 0, sizeof(*ep));
	return ret;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int gzt_poll_one(struct genzio_cq *cq, struct genzio_wc *wc, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do {
		int n = genzio_poll_cq(cq, 1, wc);

		if (n)
			return n;
	} while (now_ms() < end);
	return 0;
}

int gzt_post_wait(struct gzt_ep *ep, struct genzio_send_wr *wr,
		  struct genzio_wc *wc)
{
	struct genzio_send_wr *bad = NULL;
	int ret;

	wr->send_flags |= GENZIO_SEND_SIGNALED;
	ret = genzio_post_send(ep->qp, wr, &bad);
	if (ret)
		return ret;
	ret = gzt_poll_one(ep->cq, wc, GZT_WAIT_MS);
	if (ret < 0)
		return ret;
	return ret ? 0 : -ETIMEDOUT;
}

int gzt_write(struct gzt_ep *ep, const void *buf, uint32_t len, uint32_t lkey,
	      uint64_t raddr, uint32_t rkey, struct genzio_wc *wc)
{
	struct genzio_sge sge = { (uintptr_t)buf, len, lkey };
	struct genzio_send_wr wr = {
		.wr_id = 0x1234,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = GENZIO_WR_WRITE,
		.rdma = { .remote_addr = raddr, .rkey = rkey },
	};

	return gzt_post_wait(ep, &wr, wc);
}

int gzt_read(struct gzt_ep *ep, void *buf, uint32_t len, uint32_t lkey,
	     uint64_t raddr, uint32_t rkey, struct genzio_wc *wc)
{
	struct genzio_sge sge = { (uintptr_t)buf, len, lkey };
	struct genzio_send_wr wr = {
		.wr_id = 0x5678,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = GENZIO_WR_READ,
		.rdma = { .remote_addr = raddr, .rkey = rkey },
	};

	return gzt_post_wait(ep, &wr, wc);
}

int gzt_put64(struct gzt_ep *ep, uint64_t raddr, uint32_t rkey, uint64_t v,
	      struct genzio_wc *wc)
{
	struct genzio_sge sge = { (uintptr_t)&v, 8, 0 };
	struct genzio_send_wr wr = {
		.wr_id = 0x64, .sg_list = &sge, .num_sge = 1,
		.opcode = GENZIO_WR_WRITE, .send_flags = GENZIO_SEND_INLINE,
		.rdma = { .remote_addr = raddr, .rkey = rkey },
	};

	return gzt_post_wait(ep, &wr, wc);
}

int gzt_atomic(struct gzt_ep *ep, uint32_t opcode, uint32_t size,
	       uint64_t raddr, uint32_t rkey, uint64_t operand,
	       uint64_t compare, struct genzio_wc *wc)
{
	struct genzio_send_wr wr = {
		.wr_id = 0x9abc,
		.opcode = opcode,
		.atomic = { .remote_addr = raddr, .rkey = rkey, .size = size,
			    .operand = operand, .compare = compare },
	};

	return gzt_post_wait(ep, &wr, wc);
}

/* Children still running: a failed assertion must not leave one behind
 * (stopped, it would keep the test driver's pipe open for ever). */
static pid_t kids[64];

static void kid_track(pid_t pid, pid_t now)
{
	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++)
		if (kids[i] == pid) {
			kids[i] = now;
			return;
		}
}

int gzt_fork(struct gzt_child *c, int (*fn)(int fd, void *arg), void *arg)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	c->pid = fork();
	if (c->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (!c->pid) {
		close(sv[0]);
		_exit(fn(sv[1], arg) & 0xff);
	}
	close(sv[1]);
	c->fd = sv[0];
	kid_track(0, c->pid);
	return 0;
}

int gzt_wait(struct gzt_child *c)
{
	int st;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	while (waitpid(c->pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	kid_track(c->pid, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void gzt_kill(struct gzt_child *c)
{
	kill(c->pid, SIGKILL);
}

int gzt_send_token(int fd, char t)
{
	return write(fd, &t, 1) == 1 ? 0 : -EPIPE;
}

int gzt_recv_token(int fd, char *t)
{
	ssize_t n;

	do
		n = read(fd, t, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -EPIPE;
}

/* Remove this fabric's files from one genzio directory (never one
 * behind a symlink: another user may plant genzio-<uid> -> anywhere). */
static void fini_dir(const char *path, const char *fabric)
{
	size_t n = strlen(fabric);
	struct dirent *de;
	DIR *d;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		const char *e = de->d_name;

		/* ".gzt12.reg.<pid>.<rand>": a registry being built */
		if (*e == '.')
			e++;
		/* "gzt12.reg", "gzt12-...", "gzt12_fresh..." */
		if (!strncmp(e, fabric, n) &&
		    (e[n] == '.' || e[n] == '-' || e[n] == '_'))
			unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
}

/* ... from every user's genzio directory under @base: a test's child
 * that ran as nobody left its own (root may remove them) */
static void fini_base(const char *base, const char *fabric)
{
	char pattern[4096];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/genzio-*", base);
	if (glob(pattern, GLOB_ONLYDIR, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		fini_dir(g.gl_pathv[i], fabric);
	globfree(&g);
}

/* Remove the files of fabric @f (a test's: "gzt...") everywhere: the
 * default base, the one GENZIO_SHM_DIR names now (a test may move it)
 * and every hugetlbfs mount. */
static void fabric_clean(const char *f)
{
	const char *shm = getenv("GENZIO_SHM_DIR");
	char line[4096], mnt[4096], type[64];
	FILE *m;

	if (!f || strncmp(f, "gzt", 3))
		return;
	fini_base("/dev/shm", f);
	if (shm && *shm && strcmp(shm, "/dev/shm"))
		fini_base(shm, f);
	m = fopen("/proc/mounts", "re");
	if (!m)
		return;
	while (fgets(line, sizeof(line), m))
		if (sscanf(line, "%*s %4095s %63s", mnt, type) == 2 &&
		    !strcmp(type, "hugetlbfs"))
			fini_base(mnt, f);
	fclose(m);
}

/* This test process's fabric, kept here: a test may change the
 * environment. 24: the longest name the library takes. */
static char fabric_name[24 + 1];

static void fabric_gone(void)
{
	fabric_clean(fabric_name);
}

void gzt_fabric_init(void)
{
	const char *run = getenv("GENZIO_FABRIC");

	/* under make check, inside the test's own "gzt<pid>"
	 * (test/lib/fabric-run.sh), so whatever a worker that crashed
	 * left goes with the test; the worker's pid, unique among those
	 * alive, in 6 hex digits (pid_max is at most 4194304): the name
	 * and a test's "_fresh" on it stay within the 24 a fabric's name
	 * may have */
	if (!run || strncmp(run, "gzt", 3) || strlen(run) > 10 ||
	    strchr(run, '_'))
		run = "gztc";
	snprintf(fabric_name, sizeof(fabric_name), "%s_%06x", run,
		 (unsigned)getpid());
	/* that pid's earlier worker of this run may have crashed */
	fabric_clean(fabric_name);
	setenv("GENZIO_FABRIC", fabric_name, 1);
	/* a test that skips (cr_skip_test) exits without its fini */
	atexit(fabric_gone);
}

void gzt_fabric_fini(void)
{
	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	fabric_clean(fabric_name);
}

static uint8_t pat(uint64_t i, uint32_t seed)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed;

	return (uint8_t)(x >> 29 ^ x >> 7);
}

void gzt_fill(void *buf, uint64_t len, uint32_t seed)
{
	uint8_t *p = buf;

	for (uint64_t i = 0; i < len; i++)
		p[i] = pat(i, seed);
}

int64_t gzt_check(const void *buf, uint64_t len, uint32_t seed)
{
	const uint8_t *p = buf;

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != pat(i, seed))
			return (int64_t)i;
	return -1;
}

int gzt_event_get(struct genzio_context *ctx, struct genzio_event *ev)
{
	int ret;

	while (!(ret = genzio_event_get(ctx, ev)) &&
	       (ev->type == GENZIO_EVENT_COMPONENT_ADD ||
		ev->type == GENZIO_EVENT_COMPONENT_REMOVE ||
		ev->type == GENZIO_EVENT_LINK_UP ||
		ev->type == GENZIO_EVENT_LINK_DOWN))
		;
	return ret;
}
