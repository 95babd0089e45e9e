// SPDX-License-Identifier: MIT
/*
 * Load/store access (requester ZMMU): map the pages of a peer's segment
 * file that a key covers. A mapping has page granularity, so it is refused
 * unless every byte of those pages lies inside the key's region: a load or
 * store must never reach what the key does not grant. Host memory is
 * coherent, so write-combining is served as write-back and genzio_flush()
 * is a store fence.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "providers/shm/shm.h"

struct gz_shm_rmap {
	struct gz_rmap base;
	void *map;
	size_t maplen;
};

static const uint64_t dir_page[GZ_SHM_NDIRS] = { GZ_PAGE_4K, GZ_PAGE_2M,
						 GZ_PAGE_1G };

/* The key's region for [@raddr, @raddr + @len), honoured by queue pair
 * @qpn of @p as RMA through it would be: 0 and @k, or -errno. */
static int rmap_key(struct gz_shm_peer *p, uint32_t qpn, uint32_t rkey,
		    uint64_t raddr, uint64_t len, struct gz_key_snap *k)
{
	struct gz_shm_qpsnap q;
	uint8_t st;

	if (gz_shm_qpent_read(p, qpn, &q))
		return gz_err(-EHOSTUNREACH, "GCID %#x has no queue pair %#x",
			      p->gcid, qpn);
	if (!gz_keytab_find(p->tgt.keys, p->tgt.key_mask, rkey, k))
		return gz_err(-ENOENT, "no R-Key %#x at GCID %#x", rkey,
			      p->gcid);
	/* the same rule as RMA: a key of another protection domain */
	if (k->domain != q.domain)
		return gz_err(-EACCES, "R-Key %#x belongs to another protection "
			      "domain than queue pair %#x", rkey, qpn);
	st = gz_key_check(k, q.domain, raddr, len, GENZIO_ACCESS_REMOTE_READ);
	if (st)
		return gz_err(-EACCES, "R-Key %#x: %s", rkey,
			      genzio_wc_status_str(st));
	if (k->seg >= GZ_SHM_MAX_SEG || k->seg_off > UINT64_MAX - k->length)
		return gz_err(-EACCES, "R-Key %#x names no segment (memory "
			      "outside data space cannot be mapped)", rkey);
	return 0;
}

int gz_shm_rmap_map(struct genzio_ah *ah, uint32_t remote_qpn,
		    uint64_t raddr, uint64_t len, uint32_t rkey, uint32_t mode,
		    struct genzio_rmap **out)
{
	struct gz_shm_peer *p = container_of(ah, struct gz_shm_ah, base)->peer;
	uint64_t page, off, off0, end, size;
	struct gz_shm_rmap *r;
	struct gz_key_snap k = { 0 };
	uint32_t dir, live;
	char name[64];
	int fd, writable, ret;
	void *m;

	(void)mode;
	if (!gz_shm_peer_alive(p))
		return gz_err(-EHOSTUNREACH, "GCID %#x is gone", p->gcid);
	ret = rmap_key(p, remote_qpn, rkey, raddr, len, &k);
	if (ret)
		return ret;
	writable = !!(k.access & GENZIO_ACCESS_REMOTE_WRITE);
	/* Acquire pairs with the release in seg_publish(). */
	live = atomic_load_explicit((_Atomic uint32_t *)&p->comp->seg[k.seg].live,
				    memory_order_acquire);
	dir = p->comp->seg[k.seg].dir;
	if (!live || dir >= GZ_SHM_NDIRS || p->ctx->dirfd[dir] < 0)
		return gz_err(-EHOSTUNREACH, "its segment %u is gone", k.seg);
	page = dir_page[dir];
	off = k.seg_off + (raddr - k.base);
	off0 = off & ~(page - 1);
	end = gz_align_up(off + len, page);
	if (off0 < k.seg_off || end > k.seg_off + k.length)
		return gz_err(-EINVAL, "load/store maps whole %" PRIu64 "-byte "
			      "pages, and those around %#" PRIx64 "+%" PRIu64
			      " reach outside R-Key %#x's region: map a range "
			      "whose pages the key covers", page, raddr, len,
			      rkey);
	gz_shm_seg_name(p->ctx, name, sizeof(name), GENZIO_GCID_CID(p->gcid),
			p->incarnation, k.seg);
	fd = gz_sys_open_owned(p->ctx->dirfd[dir], name,
			       writable ? O_RDWR : O_RDONLY, S_IFREG, end,
			       &size);
	if (fd < 0)
		return gz_err(fd == -ENOENT ? -EHOSTUNREACH : fd, "open %s: %s",
			      name, strerror(-fd));
	r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return -ENOMEM;
	}
	r->maplen = end - off0;
	/* A read-only key gives a read-only mapping: stores fault. */
	m = mmap(NULL, r->maplen, PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED, fd, (off_t)off0);
	ret = -errno;
	close(fd);
	if (m == MAP_FAILED) {
		free(r);
		return gz_err(ret, "mmap %s: %s", name, strerror(-ret));
	}
	madvise(m, r->maplen, MADV_DONTFORK);
	r->map = m;
	r->base.ctx = ah->pd->ctx;
	r->base.pub.addr = (uint8_t *)m + (off - off0);
	r->base.pub.length = len;
	r->base.pub.mode = GENZIO_RMAP_WB;	/* coherent host memory */
	r->base.pub.writable = (uint32_t)writable;
	*out = &r->base.pub;
	return 0;
}

void gz_shm_rmap_unmap(struct genzio_rmap *pub)
{
	struct gz_shm_rmap *r = container_of(pub, struct gz_shm_rmap, base.pub);

	munmap(r->map, r->maplen);
	free(r);
}
