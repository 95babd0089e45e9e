// SPDX-License-Identifier: MIT
/*
 * vfio provider: finding and opening a bridge, what it can do, and how
 * a context shows it lives. Devices: each ivshmem-plain function
 * (1af4:1110) on the PCI bus by its address ("0000:00:04.0"), opened
 * through VFIO, its BAR2 the bridge; and, in the host-only mode, the
 * file GENZIO_BRIDGE names ("bridge0"), the one genzio-bridged serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/addr.h"
#include "providers/vfio/vfio.h"
#include "sys/sys.h"

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_PLAIN 0x1110
#define BRIDGE_BAR 2
#define FILE_DEV "bridge0"

static int vf_probe(struct genzio_device_desc *devs, int max, char *why,
		    size_t len)
{
	const char *file = getenv("GENZIO_BRIDGE");
	char bdf[GENZIO_NAME_MAX];
	int n = 0;

	for (int i = 0;
	     !gz_vfio_find(IVSHMEM_VENDOR, IVSHMEM_PLAIN, i, bdf, sizeof(bdf));
	     i++, n++)
		if (n < max) {
			snprintf(devs[n].name, sizeof(devs[n].name), "%s", bdf);
			snprintf(devs[n].detail, sizeof(devs[n].detail),
				 "ivshmem %s (a genzio bridge in BAR2?)", bdf);
		}
	if (file && *file) {
		if (n < max) {
			snprintf(devs[n].name, sizeof(devs[n].name), FILE_DEV);
			snprintf(devs[n].detail, sizeof(devs[n].detail), "%s",
				 file);
		}
		n++;
	}
	if (!n)
		snprintf(why, len,
			 "no ivshmem function (%04x:%04x) on the PCI "
			 "bus, and GENZIO_BRIDGE names no bridge file "
			 "(genzio-bridged(1))",
			 IVSHMEM_VENDOR, IVSHMEM_PLAIN);
	return n;
}

/* The page size the kernel maps @addr with (KernelPageSize in smaps). */
static uint64_t page_of(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	uint64_t page = GZ_PAGE_4K, lo, hi;
	uintptr_t a = (uintptr_t)addr;
	char line[256];
	int in = 0;

	if (!f)
		return page;
	while (fgets(line, sizeof(line), f)) {
		unsigned long kb;

		/* a mapping's line, then its fields ("Name: value") */
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &lo, &hi) == 2)
			in = a >= lo && a < hi;
		else if (in &&
			 sscanf(line, "KernelPageSize: %lu kB", &kb) == 1) {
			page = (uint64_t)kb << 10;
			break;
		}
	}
	fclose(f);
	return page;
}

/* [@off, +@len) of the bridge file mapped (@on), or address space only. */
static int file_reach(void *arg, uint64_t off, uint64_t len, int on)
{
	struct gz_vf_ctx *ctx = arg;
	uint8_t *at = (uint8_t *)ctx->map + off;
	void *p;

	if (off > ctx->map_len || len > ctx->map_len - off)
		return -EINVAL;
	p = on ? mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		      ctx->fd, (off_t)off)
	       : mmap(at, len, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		      -1, 0);
	return p == MAP_FAILED
		   ? gz_err(-errno, "bridge file at %" PRIu64 ": mmap: %s", off,
			    strerror(errno))
		   : 0;
}

/* The bridge file of the host-only mode: its header mapped, room for the
 * rest. */
static int map_file(struct gz_vf_ctx *ctx, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return gz_err(-errno,
			      "GENZIO_BRIDGE=%s: %s (start "
			      "genzio-bridged %s)",
			      path, strerror(errno), path);
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return gz_err(-ENODEV,
			      "GENZIO_BRIDGE=%s: an empty file, no "
			      "bridge",
			      path);
	}
	/* address space for all of it, but only its header reachable: a
	 * slot is mapped when it is ours (file_reach) */
	p = mmap(NULL, (size_t)st.st_size, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED &&
	    mmap(p, GZ_PAGE_4K, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0) == MAP_FAILED) {
		munmap(p, (size_t)st.st_size);
		p = MAP_FAILED;
	}
	if (p == MAP_FAILED) {
		close(fd);
		return gz_err(-errno, "GENZIO_BRIDGE=%s: mmap: %s", path,
			      strerror(errno));
	}
	ctx->fd = fd; /* for the lock that says we live */
	ctx->map = p;
	ctx->map_len = (uint64_t)st.st_size;
	return 0;
}

static void unmap(struct gz_vf_ctx *ctx)
{
	if (ctx->pci)
		gz_vfio_close(&ctx->dev);
	else if (ctx->map)
		munmap(ctx->map, ctx->map_len);
	if (ctx->fd >= 0)
		close(ctx->fd);
}

/*
 * A host process holds a lock on its slot's first byte, which the kernel
 * drops when it dies: the engine then frees the slot at once, and work
 * to it fails, as a verbs peer's does when its process dies. A guest
 * cannot (its fd is a device's): its heartbeat says it lives.
 */
static void lock_slot(struct gz_vf_ctx *ctx)
{
	struct flock fl = {.l_type = F_WRLCK,
			   .l_whence = SEEK_SET,
			   .l_start = (off_t)(ctx->slot.base - ctx->m.base),
			   .l_len = 1};

	if (ctx->fd < 0)
		return;
	if (fcntl(ctx->fd, F_OFD_SETLK, &fl)) {
		gz_err(-errno,
		       "lock on our slot: %s (the engine sees us dead "
		       "by our heartbeat only)",
		       strerror(errno));
		return;
	}
	ctx->slot.s->caps |= GZ_BRIDGE_COMP_LOCK;
	ctx->locked = 1;
}

static void fill_attr(struct gz_vf_ctx *ctx, const char *dev, uint64_t page)
{
	struct genzio_device_attr *a = &ctx->base.attr;
	uint32_t ops = 0;

	for (uint32_t op = GENZIO_WR_ATOMIC_SWAP; op <= GENZIO_WR_ATOMIC_UMAX;
	     op++)
		ops |= GENZIO_ATOMIC_OP(op);
	snprintf(a->name, sizeof(a->name), "%s", dev);
	snprintf(a->provider, sizeof(a->provider), "vfio");
	/* the engine's software data mover: Gen-Z's atomics and statuses,
	 * a failed request leaves the queue pair in RTS. Not yet: messages,
	 * RD; never on this bridge: load/store of other components (no
	 * isolation to give it), DMA (REG_ANY), interrupts. */
	a->caps = GENZIO_CAP_RMA | GENZIO_CAP_ATOMIC | GENZIO_CAP_SYNC |
		  GENZIO_CAP_FINE_STATUS | GENZIO_CAP_QP_SURVIVES_FAULT |
		  (page >= GZ_PAGE_2M ? GENZIO_CAP_HUGE_PAGES : 0);
	/* a host process whose lock the engine honours lives without
	 * beating; a guest beats (poll, waits, the event fd) */
	if (ctx->locked && (ctx->m.caps & GZ_BRIDGE_CAP_LOCKS))
		a->caps |= GENZIO_CAP_ONE_SIDED_TARGET;
	a->gcid = ctx->slot.gcid;
	a->atomic_ops32 = ops;
	a->atomic_ops64 = ops;
	a->max_qp = GZ_BRIDGE_MAX_QP;
	a->max_cq = GZ_BRIDGE_MAX_CQ;
	a->max_qp_wr = GZ_VF_MAX_DEPTH;
	a->max_cqe = GZ_BRIDGE_MAX_RING;
	a->max_sge = GZ_VF_MAX_SGE;
	a->max_inline = GZ_XDM_IMM_MAX;
	a->max_mr = GZ_BRIDGE_KEYS;
	a->max_mr_size = 1ull << 40;
	a->page_size = page;
}

static int vf_device_open(const char *dev, const struct genzio_open_attr *attr,
			  struct genzio_context **out)
{
	const char *file = getenv("GENZIO_BRIDGE");
	struct gz_open_opts o;
	struct gz_vf_ctx *ctx;
	uint8_t *base;
	uint64_t len;
	int ret;

	ret = gz_open_opts_get(attr, &o);
	if (ret)
		return ret;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->timerfd = ctx->fd = -1;
	if (!strcmp(dev, FILE_DEV)) {
		ret = file && *file ? map_file(ctx, file) : -ENODEV;
		base = ctx->map;
		len = ctx->map_len;
	} else {
		ctx->pci = 1;
		ret = gz_vfio_open(dev, UINT64_MAX, &ctx->dev);
		if (!ret)
			ret = gz_vfio_bar_map(&ctx->dev, BRIDGE_BAR,
					      2 * GZ_BRIDGE_SLOT_ALIGN);
		if (ret)
			ctx->pci = 0; /* gz_vfio_open undid itself */
		base = ctx->pci ? ctx->dev.bar[BRIDGE_BAR].map : NULL;
		len = ctx->pci ? ctx->dev.bar[BRIDGE_BAR].size : 0;
	}
	if (ret)
		goto free_ctx;
	ret = gz_bridge_map_check(base, len, &ctx->m);
	if (ret == -ENODEV)
		ret = gz_err(-ENODEV,
			     "%s holds no genzio bridge (no magic "
			     "%#x: genzio-bridged does not serve its file, or "
			     "stopped)",
			     dev, GZ_BRIDGE_MAGIC);
	if (ret)
		goto unmap;
	if (!ctx->pci) {
		ctx->m.reach = file_reach;
		ctx->m.reach_arg = ctx;
	}
	if (o.subnet_set && o.subnet != ctx->m.subnet) {
		ret = gz_err(-EINVAL,
			     "subnet %#x asked, but the bridge's "
			     "fabric is subnet %#x",
			     o.subnet, ctx->m.subnet);
		goto unmap;
	}
	ret = gz_vslot_claim(&ctx->m, &ctx->slot, gz_sys_now_ns,
			     gz_vf_setup_ns());
	if (ret)
		goto unmap;
	lock_slot(ctx);
	ctx->timerfd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ctx->timerfd < 0 ||
	    timerfd_settime(
		ctx->timerfd, 0,
		&(struct itimerspec){{0, GZ_VF_BEAT_NS}, {0, GZ_VF_BEAT_NS}},
		NULL)) {
		ret = gz_err(-errno, "timerfd: %s", strerror(errno));
		goto release;
	}
	fill_attr(ctx, dev, page_of(ctx->slot.window));
	atomic_store(&ctx->beat_ns, gz_sys_now_ns());
	*out = &ctx->base;
	return 0;

release:
	gz_vslot_release(&ctx->slot);
unmap:
	unmap(ctx);
free_ctx:
	free(ctx);
	return ret;
}

static void vf_device_close(struct genzio_context *base)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);

	for (struct gz_vf_mem *m = ctx->mems, *next; m; m = next) {
		next = m->next;
		free(m); /* bounce areas of destroyed queue pairs: none */
	}
	/* only if it is still ours (vfio_slot.c) */
	gz_vslot_release(&ctx->slot);
	if (ctx->timerfd >= 0)
		close(ctx->timerfd);
	unmap(ctx);
}

void gz_vf_liveness(struct gz_vf_ctx *ctx, int force)
{
	uint64_t now = gz_sys_now_ns(), last = atomic_load(&ctx->beat_ns);
	const char *why = NULL;

	if (!force && now - last < GZ_VF_BEAT_NS)
		return;
	/* one looker at a time: the winner of the clock */
	if (!atomic_compare_exchange_strong(&ctx->beat_ns, &last, now) ||
	    atomic_load_explicit(&ctx->base.fatal, memory_order_relaxed))
		return;
	if (gz_vslot_beat(&ctx->slot))
		why = "the bridge's engine reaped our slot (we did not beat "
		      "for a while: stopped?)";
	else if (gz_bridge_alive(&ctx->m, &ctx->hb_seen, &ctx->hb_since, now,
				 GZ_VF_ALIVE_NS))
		why = "the bridge's engine stopped (genzio-bridged killed, "
		      "stopped or restarted)";
	if (!why)
		return;
	gz_ctx_lock(&ctx->base);
	gz_device_fatal(&ctx->base, GENZIO_WC_FATAL, why);
	gz_ctx_unlock(&ctx->base);
}

static void vf_event_watch(struct genzio_context *base)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1};

	if (epoll_ctl(base->ev.epfd, EPOLL_CTL_ADD, ctx->timerfd, &e))
		gz_err(-errno,
		       "the beat timer in the event set: %s (beat by "
		       "polling)",
		       strerror(errno));
}

static void vf_event_harvest(struct genzio_context *base)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);
	uint64_t ticks;

	if (read(ctx->timerfd, &ticks, sizeof(ticks)) == sizeof(ticks))
		gz_vf_liveness(ctx, 1);
	else
		gz_vf_liveness(ctx, 0);
}

static void vf_device_fatal(struct genzio_context *base, uint8_t status)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(base);

	for (uint32_t i = 0; i < GZ_BRIDGE_MAX_QP; i++) {
		struct gz_vf_qp *qp = atomic_load(&ctx->qp[i]);

		if (!qp)
			continue;
		qp->err_status = status;
		atomic_store(&qp->state, GENZIO_QPS_ERR);
		atomic_store(&qp->flush, 1);
	}
	gz_vf_channels_wake(ctx);
}

static int vf_ah_create(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
			size_t len, struct genzio_ah **out)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(pd->ctx);

	(void)a, (void)len, (void)out;
	/* an address handle names an RD peer, and there are no RD queue
	 * pairs yet */
	return gz_err(-EOPNOTSUPP,
		      "address handles are for RD queue pairs, "
		      "which the bridge has not (GCID %#x, subnet %#x)",
		      gcid, ctx->m.subnet);
}

static int vf_fabric_open(const char *dev, const struct genzio_open_attr *attr,
			  struct gz_fabric *f)
{
	struct gz_open_opts o;
	int ret = gz_open_opts_get(attr, &o);

	(void)f;
	return ret ? ret
		   : gz_err(-ENOTSUP,
			    "%s: the bridge's engine keeps "
			    "its members (genzio-bridged), no host "
			    "fabric",
			    dev);
}

static void vf_ah_destroy(struct genzio_ah *ah)
{
	free(ah);
}

static int vf_rmap_map(struct genzio_ah *ah, uint32_t qpn, uint64_t raddr,
		       uint64_t len, uint32_t rkey, uint32_t mode,
		       struct genzio_rmap **out)
{
	(void)ah, (void)qpn, (void)raddr, (void)len, (void)rkey, (void)mode;
	(void)out;
	return gz_err(-EOPNOTSUPP,
		      "load/store of another component: not on "
		      "the vfio bridge (GENZIO_CAP_RMAP is clear)");
}

static void vf_rmap_unmap(struct genzio_rmap *rmap)
{
	(void)rmap;
}

const struct gz_provider gz_vfio_provider = {
    .name = "vfio",
    .addr_id = 3,
    .probe = vf_probe,
    .ah_create = vf_ah_create,
    .ah_destroy = vf_ah_destroy,
    .channel_create = gz_vf_channel_create,
    .channel_destroy = gz_vf_channel_destroy,
    .channel_get_event = gz_vf_channel_get_event,
    .cq_create = gz_vf_cq_create,
    .cq_destroy = gz_vf_cq_destroy,
    .cq_req_notify = gz_vf_cq_req_notify,
    .device_close = vf_device_close,
    .device_open = vf_device_open,
    .event_watch = vf_event_watch,
    .event_harvest = vf_event_harvest,
    .fabric_open = vf_fabric_open,
    .device_fatal = vf_device_fatal,
    .mem_alloc = gz_vf_mem_alloc,
    .mem_free = gz_vf_mem_free,
    .mr_dereg = gz_vf_mr_dereg,
    .mr_revoke = gz_vf_mr_revoke,
    .quiesce = gz_vf_quiesce,
    .mr_reg = gz_vf_mr_reg,
    .qp_addr = gz_vf_qp_addr,
    .qp_connect = gz_vf_qp_connect,
    .qp_create = gz_vf_qp_create,
    .qp_query = gz_vf_qp_query,
    .qp_reset = gz_vf_qp_reset,
    .qp_destroy = gz_vf_qp_destroy,
    .rmap_map = vf_rmap_map,
    .rmap_unmap = vf_rmap_unmap,
    .verbs_port = gz_vf_verbs_port,
    .verbs_addr = gz_vf_verbs_addr,
};
