// SPDX-License-Identifier: MIT
/*
 * Load/store access (requester ZMMU): map the part of a peer's segment
 * file that a key covers. Host memory is coherent, so write-combining is
 * served as write-back and genzio_flush() is a store fence.
 */
#include <errno.h>
#include <fcntl.h>
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

static uint64_t seg_page(uint32_t dir)
{
	return dir == 1 ? GZ_PAGE_2M : dir == 2 ? GZ_PAGE_1G : GZ_PAGE_4K;
}

int gz_shm_rmap_map(struct genzio_context *ctx, struct genzio_ah *ah,
		    uint64_t raddr, uint64_t len, uint32_t rkey, uint32_t mode,
		    struct genzio_rmap **out)
{
	struct gz_shm_peer *p = container_of(ah, struct gz_shm_ah, base)->peer;
	const struct gz_shm_segdesc *d;
	struct gz_key_hit hit, w;
	struct gz_shm_rmap *r;
	char path[PATH_MAX];
	uint64_t page, off0;
	int fd, writable;
	uint8_t st;
	void *m;

	(void)mode;
	if (!gz_shm_peer_alive(p))
		return gz_err(-EHOSTUNREACH, "GCID %#x is gone", p->gcid);
	st = gz_keytab_lookup(p->tgt.keys, p->tgt.key_mask, rkey, raddr, len,
			      GENZIO_ACCESS_REMOTE_READ, &hit);
	if (st == GENZIO_WC_BAD_RKEY)
		return gz_err(-ENOENT, "no R-Key %#x at GCID %#x", rkey, p->gcid);
	if (st)
		return gz_err(-EACCES, "R-Key %#x: %s", rkey,
			      genzio_wc_status_str(st));
	writable = !gz_keytab_lookup(p->tgt.keys, p->tgt.key_mask, rkey, raddr,
				     len, GENZIO_ACCESS_REMOTE_WRITE, &w);
	if (hit.seg >= GZ_SHM_MAX_SEG)
		return -EACCES;
	d = &p->comp->seg[hit.seg];
	page = seg_page(d->dir);
	off0 = hit.off & ~(page - 1);
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->maplen = gz_align_up(hit.off - off0 + len, page);
	if (off0 + r->maplen > d->len) {
		free(r);
		return gz_err(-EACCES, "region outside its segment");
	}
	gz_shm_peer_seg_path(p, hit.seg, path, sizeof(path));
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		free(r);
		return gz_err(-EHOSTUNREACH, "open %s: %s", path,
			      strerror(errno));
	}
	/* A read-only key gives a read-only mapping: stores fault. */
	m = mmap(NULL, r->maplen, PROT_READ | (writable ? PROT_WRITE : 0),
		 MAP_SHARED, fd, (off_t)off0);
	close(fd);
	if (m == MAP_FAILED) {
		free(r);
		return gz_err(-errno, "mmap %s: %s", path, strerror(errno));
	}
	madvise(m, r->maplen, MADV_DONTFORK);
	r->map = m;
	r->base.ctx = ctx;
	r->base.pub.addr = (uint8_t *)m + (hit.off - off0);
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
