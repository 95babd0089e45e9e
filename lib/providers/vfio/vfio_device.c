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
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/addr.h"
#include "providers/vfio/vfio.h"
#include "sys/sys.h"

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_PLAIN 0x1110
#define BRIDGE_BAR 2

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
			snprintf(devs[n].name, sizeof(devs[n].name),
				 GZ_VF_FILE_DEV);
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

/*
 * Contexts of the host-only mode, for fork(): a child closes its copy of
 * their files, and inherits none of their mappings (MADV_DONTFORK), so a
 * parent that dies lets its slot's lock go even while its child lives.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t live_once = PTHREAD_ONCE_INIT;
static struct gz_vf_ctx *live;

/* the list whole across a fork: no add or delete half done */
static void live_prepare(void)
{
	pthread_mutex_lock(&live_lock);
}

static void live_parent(void)
{
	pthread_mutex_unlock(&live_lock);
}

static void live_child(void)
{
	/* the parent's contexts are not the child's: gone, and nothing of
	 * them writes the bridge (a BAR's mapping is inherited) */
	for (struct gz_vf_ctx *c = live; c; c = c->next_live) {
		c->slot.lost = 1;
		atomic_store(&c->base.fatal, 1);
		/* a channel's thread is not ours, nor the ctx lock it may
		 * have held for a look at the fork */
		gz_vf_channels_forked(c);
		pthread_mutex_init(&c->base.lock, NULL);
		/* (no wake: a channel's eventfd is the parent's too) */
		if (c->fd >= 0) {
			close(c->fd);
			c->fd = -1;
		}
	}
	pthread_mutex_unlock(&live_lock);
}

static void live_at_fork(void)
{
	pthread_atfork(live_prepare, live_parent, live_child);
}

static void live_add(struct gz_vf_ctx *ctx)
{
	pthread_once(&live_once, live_at_fork);
	pthread_mutex_lock(&live_lock);
	ctx->next_live = live;
	live = ctx;
	pthread_mutex_unlock(&live_lock);
}

static void live_del(struct gz_vf_ctx *ctx)
{
	pthread_mutex_lock(&live_lock);
	for (struct gz_vf_ctx **at = &live; *at; at = &(*at)->next_live)
		if (*at == ctx) {
			*at = ctx->next_live;
			break;
		}
	pthread_mutex_unlock(&live_lock);
}

/* Address space only at [@at, +@len): 0, or -1 (a hole is left). */
static int reserve(void *at, uint64_t len)
{
	return mmap(at, len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
		    0) == MAP_FAILED
		   ? -1
		   : 0;
}

/* [@off, +@len) of the bridge file mapped (@on), or address space only;
 * whole pages of the file's. */
static int file_reach(void *arg, uint64_t off, uint64_t len, int on)
{
	struct gz_vf_ctx *ctx = arg;
	uint64_t end = gz_align_up(off + len, ctx->page);
	uint8_t *at;

	off &= ~(ctx->page - 1);
	if (off > ctx->map_len || end > ctx->map_len || end < off)
		return -EINVAL;
	len = end - off;
	at = (uint8_t *)ctx->map + off;
	if (!on) {
		if (reserve(at, len))
			ctx->holed = 1;
		return 0;
	}
	if (mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 ctx->fd, (off_t)off) == MAP_FAILED) {
		int err = errno;

		/* a failed MAP_FIXED may have taken the reservation */
		if (reserve(at, len))
			ctx->holed = 1;
		return gz_err(-err, "bridge file at %" PRIu64 ": mmap: %s", off,
			      strerror(err));
	}
	madvise(at, len, MADV_DONTFORK);
	return 0;
}

/* The page size of the file on @fd: a hugetlbfs mount's, else 4 KiB. */
static uint64_t file_page(int fd)
{
	struct statfs sf;

	if (!fstatfs(fd, &sf) && sf.f_type == HUGETLBFS_MAGIC)
		return (uint64_t)sf.f_bsize;
	return GZ_PAGE_4K;
}

/* The bridge file of the host-only mode: address space for all of it,
 * aligned to its pages, its header mapped (a slot is mapped when it is
 * ours, its window range by range: file_reach). */
static int map_file(struct gz_vf_ctx *ctx, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint64_t page, len;
	uint8_t *p, *at;

	if (fd < 0)
		return gz_err(-errno, "GENZIO_BRIDGE=%s: %s%s", path,
			      strerror(errno),
			      errno == ENOENT ? " (genzio-bridged makes it: "
						"genzio-bridged FILE &)"
					      : "");
	page = file_page(fd);
	if (fstat(fd, &st) || st.st_size <= 0 || page > GZ_BRIDGE_SLOT_ALIGN) {
		close(fd);
		return gz_err(-ENODEV, "GENZIO_BRIDGE=%s: %s", path,
			      page > GZ_BRIDGE_SLOT_ALIGN
				  ? "on pages over 2 MiB: the bridge's slots "
				    "are 2 MiB-aligned (use 2 MiB pages)"
				  : "an empty file, no bridge (genzio-bridged "
				    "FILE & makes one; wait for its magic: "
				    "genzio-bridged(1))");
	}
	len = (uint64_t)st.st_size;
	p = mmap(NULL, len + page, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return gz_err(-errno, "GENZIO_BRIDGE=%s: mmap: %s", path,
			      strerror(errno));
	}
	/* aligned: the slack before and after goes back */
	at = (uint8_t *)gz_align_up((uintptr_t)p, page);
	if (at > p)
		munmap(p, (size_t)(at - p));
	if (p + page > at)
		munmap(at + len, (size_t)(p + page - at));
	ctx->fd = fd; /* for the lock that says we live, and for reach */
	ctx->map = at;
	ctx->map_len = len;
	ctx->page = page;
	return file_reach(ctx, 0, GZ_PAGE_4K, 1);
}

static void unmap(struct gz_vf_ctx *ctx)
{
	if (ctx->pci)
		gz_vfio_close(&ctx->dev);
	else if (ctx->map && !ctx->holed)
		munmap(ctx->map, ctx->map_len);
	else if (ctx->map)
		/* a hole someone else's mapping may fill: what is ours goes
		 * at exit, or stays */
		gz_err(0, "the bridge's address space had a hole: kept");
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
	 * a failed request leaves the queue pair in RTS; messages where the
	 * engine delivers them; RD. Not yet: receives outside data space;
	 * never on this bridge: load/store of other components (no
	 * isolation to give it), DMA (REG_ANY), interrupts. */
	a->caps = GENZIO_CAP_RMA | GENZIO_CAP_ATOMIC | GENZIO_CAP_SYNC |
		  GENZIO_CAP_FINE_STATUS | GENZIO_CAP_QP_SURVIVES_FAULT |
		  (page >= GZ_PAGE_2M ? GENZIO_CAP_HUGE_PAGES : 0) |
		  (ctx->m.caps & GZ_BRIDGE_CAP_MSG
		       ? GENZIO_CAP_MSG | GENZIO_CAP_WRITE_IMM
		       : 0) |
		  GENZIO_CAP_RD;
	/* a host process whose lock the engine honours lives without
	 * beating; a guest beats (poll, waits, the event fd) */
	if (ctx->locked && (ctx->m.caps & GZ_BRIDGE_CAP_LOCKS))
		a->caps |=
		    GENZIO_CAP_ONE_SIDED_TARGET | GENZIO_CAP_DEATH_AT_ONCE;
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
	if (!strcmp(dev, GZ_VF_FILE_DEV)) {
		ret = file && *file ? map_file(ctx, file) : -ENODEV;
		base = ctx->map;
		len = ctx->map_len;
	} else {
		ctx->pci = 1;
		ret = gz_vfio_open(dev, UINT64_MAX, &ctx->dev);
		if (ret) {
			ctx->pci = 0; /* gz_vfio_open undid itself */
			goto free_ctx;
		}
		ret = gz_vfio_bar_map(&ctx->dev, BRIDGE_BAR,
				      2 * GZ_BRIDGE_SLOT_ALIGN);
		base = ctx->dev.bar[BRIDGE_BAR].map;
		len = ctx->dev.bar[BRIDGE_BAR].size;
		/* the kernel maps a BAR as it will (4 KiB before Linux
		 * 6.12's huge PFN maps): what the mapping has */
		ctx->page = base ? page_of(base) : GZ_PAGE_4K;
	}
	if (ret)
		goto unmap;
	ret = gz_bridge_map_check(base, len, &ctx->m);
	if (ret == -ENODEV)
		ret = gz_err(-ENODEV,
			     "%s (%s) holds no genzio bridge (no magic %#x): "
			     "no genzio-bridged serves it, it stopped, or "
			     "it has not written the magic yet (start one "
			     "and wait for its magic: genzio-bridged(1))",
			     dev, ctx->pci ? "BAR2" : file, GZ_BRIDGE_MAGIC);
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
	/* the fabric's events from now on: our own join is no news to us
	 * (the engine logged it before it attached us) */
	ctx->ev_next =
	    atomic_load_explicit(&ctx->m.hdr->ev_head, memory_order_acquire);
	/* the window's ranges are mapped page by page: it starts on one */
	if ((uint64_t)(ctx->slot.window - ctx->m.base) % ctx->page) {
		ret = gz_err(
		    -EPROTO,
		    "%s: the engine put the data window at "
		    "%#llx of the bridge, not on a page of %llu "
		    "bytes",
		    dev, (unsigned long long)(ctx->slot.window - ctx->m.base),
		    (unsigned long long)ctx->page);
		gz_vslot_release(&ctx->slot);
		goto unmap;
	}
	/* before the lock: a fork from now on leaves the child no part */
	live_add(ctx);
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
	fill_attr(ctx, dev, ctx->page);
	atomic_store(&ctx->beat_ns, gz_sys_now_ns());
	*out = &ctx->base;
	return 0;

release:
	if (ctx->timerfd >= 0)
		close(ctx->timerfd);
	live_del(ctx);
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

	struct flock fl = {.l_type = F_UNLCK,
			   .l_whence = SEEK_SET,
			   .l_start = (off_t)(ctx->slot.base - ctx->m.base),
			   .l_len = 1};

	for (struct gz_vf_mem *m = ctx->mems, *next; m; m = next) {
		next = m->next;
		free(m); /* bounce areas of destroyed queue pairs: none */
	}
	gz_vf_zombies_free(ctx);
	live_del(ctx);
	/* the slot given back (only if it is still ours: vfio_slot.c),
	 * then its lock, so that no newcomer's claim comes between */
	gz_vslot_release(&ctx->slot);
	if (ctx->locked && ctx->fd >= 0)
		fcntl(ctx->fd, F_OFD_SETLK, &fl);
	if (ctx->timerfd >= 0)
		close(ctx->timerfd);
	unmap(ctx);
}

/* An RD destination: a component of this bridge, by GCID alone (whoever
 * has it when a request goes) or by an address (that attach only). */
static int vf_ah_create(struct genzio_pd *pd, uint32_t gcid, const uint8_t *a,
			size_t len, struct genzio_ah **out)
{
	struct gz_vf_ctx *ctx = gz_vf_ctx_of(pd->ctx);
	struct gz_vf_ah *ah;
	uint32_t gen;

	if (GENZIO_GCID_SID(gcid) != ctx->m.subnet ||
	    GENZIO_GCID_CID(gcid) > ctx->m.nslots)
		return gz_err(-EHOSTUNREACH,
			      "GCID %#x is no slot of this bridge (subnet "
			      "%#x, %u slots)",
			      gcid, ctx->m.subnet, ctx->m.nslots);
	if (a &&
	    (len != GZ_VF_ADDR_LEN || gz_le64_get(a + 8) != ctx->m.incarnation))
		return gz_err(-EINVAL, "not an address of a queue pair of this "
				       "bridge (or of it before its engine "
				       "restarted)");
	/* the engine's word: whether it is there, and which attach */
	gen = GENZIO_GCID_CID(gcid)
		  ? atomic_load_explicit(
			&ctx->m.hdr->member[GENZIO_GCID_CID(gcid) - 1],
			memory_order_acquire)
		  : 0;
	if (!gen || (a && gz_le32_get(a + 4) != gen))
		return gz_err(-EHOSTUNREACH, "no component %#x on the bridge%s",
			      gcid,
			      gen ? " (the address is of an earlier one)" : "");
	ah = calloc(1, sizeof(*ah));
	if (!ah)
		return -ENOMEM;
	ah->gen = a ? gen : 0;
	*out = &ah->base;
	return 0;
}

static void vf_ah_destroy(struct genzio_ah *ah)
{
	free(container_of(ah, struct gz_vf_ah, base));
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
    .event_watch = gz_vf_event_watch,
    .event_harvest = gz_vf_event_harvest,
    .fabric_open = gz_vf_fabric_open,
    .fm_open = gz_vf_fm_open,
    .device_fatal = gz_vf_device_fatal,
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
