// SPDX-License-Identifier: MIT
/*
 * DMA mappings through the container's IOMMU: memory the device may
 * reach, at an IOVA the allocator picks. Type1 pins the pages and counts
 * them against RLIMIT_MEMLOCK; unmapping unpins them, and a device
 * access after it is an IOMMU fault, not a write to freed memory.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gz.h"
#include "providers/vfio/vfio_pci.h"

#define HUGE_2M (2ull << 20)

/* What a failed VFIO_IOMMU_MAP_DMA means, and its fix. */
static const char *map_why(int err)
{
	switch (err) {
	case -ENOMEM:
		return " (RLIMIT_MEMLOCK, ulimit -l, counts what VFIO pins)";
	case -ENOSPC:
		return " (vfio_iommu_type1's dma_entry_limit, 65535 mappings "
		       "by default, is used up)";
	case -EFAULT:
		return " (the memory is not mapped, or not writable)";
	default:
		return "";
	}
}

int gz_vfio_dma_map(struct gz_vfio_dev *d, void *vaddr, uint64_t len,
		    uint64_t *iova)
{
	struct vfio_iommu_type1_dma_map m = {.argsz = sizeof(m)};
	uint64_t page = d->iova.page, align = page;
	int ret;

	if (!vaddr || !len || ((uintptr_t)vaddr | len) % page)
		return gz_err(-EINVAL,
			      "%s: DMA map of %p, %llu bytes: not whole "
			      "%llu-byte pages",
			      d->bdf, vaddr, (unsigned long long)len,
			      (unsigned long long)page);
	/* a 2 MiB-aligned buffer at a 2 MiB-aligned IOVA can use the
	 * IOMMU's 2 MiB pages, where it has them */
	if ((d->pgsizes & HUGE_2M) && !((uintptr_t)vaddr % HUGE_2M) &&
	    !(len % HUGE_2M))
		align = HUGE_2M;
	ret = gz_iova_alloc(&d->iova, len, align, iova);
	if (ret == -ENOSPC && align > page) /* no 2 MiB gap: any will do */
		ret = gz_iova_alloc(&d->iova, len, page, iova);
	if (ret)
		return gz_err(ret,
			      ret == -ENOSPC
				  ? "%s: no IOVA for %llu bytes below "
				    "the device's DMA limit"
				  : "%s: IOVA for %llu bytes: out of "
				    "memory",
			      d->bdf, (unsigned long long)len);
	m.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	m.vaddr = (uintptr_t)vaddr;
	m.iova = *iova;
	m.size = len;
	if (ioctl(d->container, VFIO_IOMMU_MAP_DMA, &m)) {
		ret = -errno;
		gz_iova_free(&d->iova, *iova, len);
		return gz_err(ret, "%s: VFIO_IOMMU_MAP_DMA of %llu bytes: %s%s",
			      d->bdf, (unsigned long long)len, strerror(-ret),
			      map_why(ret));
	}
	return 0;
}

int gz_vfio_dma_unmap(struct gz_vfio_dev *d, uint64_t iova, uint64_t len)
{
	struct vfio_iommu_type1_dma_unmap u = {.argsz = sizeof(u)};

	/* only what was handed out, so no other mapping is cut in two; and
	 * given back only once the IOMMU has let go of it, so no map of
	 * another thread meets it there */
	if (!gz_iova_has(&d->iova, iova, len))
		return gz_err(-EINVAL,
			      "%s: nothing of %llu bytes is mapped at IOVA "
			      "%#llx",
			      d->bdf, (unsigned long long)len,
			      (unsigned long long)iova);
	u.iova = iova;
	u.size = len;
	if (ioctl(d->container, VFIO_IOMMU_UNMAP_DMA, &u))
		return gz_err(-errno, "%s: VFIO_IOMMU_UNMAP_DMA at %#llx: %s",
			      d->bdf, (unsigned long long)iova,
			      strerror(errno));
	if (u.size != len)
		return gz_err(-EIO,
			      "%s: VFIO_IOMMU_UNMAP_DMA at %#llx took %llu "
			      "bytes of %llu",
			      d->bdf, (unsigned long long)iova,
			      (unsigned long long)u.size,
			      (unsigned long long)len);
	gz_iova_free(&d->iova, iova, len);
	return 0;
}
