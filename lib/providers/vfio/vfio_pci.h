/* SPDX-License-Identifier: MIT */
/*
 * The VFIO type1 plumbing of the vfio provider: container, group and
 * device, the BARs, reset, interrupts through eventfds, and DMA mappings
 * at IOVAs of our choosing. Nothing here knows the bridge's layout, so
 * the same code drives QEMU's edu device in the DMA tests. Every failure
 * is a -errno whose GENZIO_DEBUG line names the fix (genzio_vfio(7)).
 * rdma-core's providers/mlx5/mlx5_vfio.c and DPDK's eal_vfio.c are the
 * models read.
 */
#ifndef GZ_VFIO_PCI_H
#define GZ_VFIO_PCI_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define GZ_VFIO_BARS 6

struct gz_vfio_bar {
	void *map;	 /* NULL until gz_vfio_bar_map() */
	uint64_t size;	 /* 0: no such BAR */
	uint64_t offset; /* in the device fd */
	uint32_t flags;	 /* VFIO_REGION_INFO_FLAG_* */
};

/* IOVA space (vfio_iova.c): what the IOMMU and the device can address,
 * and what is handed out, each a sorted list of disjoint ranges. */
struct gz_iova_range {
	uint64_t start, end; /* inclusive */
};
struct gz_iova {
	struct gz_iova_range *usable, *used;
	uint32_t nusable, capusable, nused, capused;
	uint64_t page; /* the IOMMU's smallest page */
	pthread_mutex_t lock;
};

struct gz_vfio_dev {
	int container, group, device;
	uint32_t group_id;
	char bdf[16];
	uint32_t flags, num_regions, num_irqs;
	uint64_t pgsizes; /* the IOMMU's page sizes, a bit each */
	uint64_t config;  /* offset of config space in the device fd */
	struct gz_vfio_bar bar[GZ_VFIO_BARS];
	struct gz_iova iova;
};

/* The @nth (from 0) PCI function of @vendor:@device, as "DDDD:BB:DD.F"
 * in @bdf. 0, or -ENODEV. */
int gz_vfio_find(uint16_t vendor, uint16_t device, int nth, char *bdf,
		 size_t len);
/*
 * Open PCI function @bdf through VFIO type1: its group must be viable,
 * the device bound to vfio-pci; reset it if it can be, enable memory and
 * bus mastering. IOVAs are handed out below @dma_limit (the device's DMA
 * mask; UINT64_MAX for none). 0, or -ENODEV (no such device, or vfio-pci
 * not loaded), -ENXIO (no IOMMU), -EBUSY (another driver, a group not
 * viable or in use), -EACCES, -EPROTO, -errno; each named.
 */
int gz_vfio_open(const char *bdf, uint64_t dma_limit, struct gz_vfio_dev *d);
void gz_vfio_close(struct gz_vfio_dev *d);
/* mmap BAR @bar (at least @min bytes, else -ENOSPC named). */
int gz_vfio_bar_map(struct gz_vfio_dev *d, unsigned int bar, uint64_t min);
/* Interrupt @index (VFIO_PCI_MSI_IRQ_INDEX...) vector 0 to eventfd @efd,
 * or off with @efd -1. 0, -ENOTSUP (the device has none), -errno. */
int gz_vfio_irq_set(struct gz_vfio_dev *d, uint32_t index, int efd);
/* Let the device reach [@vaddr, +@len) at *@iova; both aligned to the
 * IOMMU's smallest page (d->iova.page: 4 KiB on x86, 64 KiB on some arm64
 * and ppc64 hosts). 0,
 * -EINVAL, -ENOSPC (no IOVA left below the limit), -errno (named:
 * RLIMIT_MEMLOCK counts what type1 pins). */
int gz_vfio_dma_map(struct gz_vfio_dev *d, void *vaddr, uint64_t len,
		    uint64_t *iova);
/* And no longer: 0, or -EINVAL (nothing mapped there of that length). */
int gz_vfio_dma_unmap(struct gz_vfio_dev *d, uint64_t iova, uint64_t len);

/* ---- vfio_iova.c ---- */
int gz_iova_init(struct gz_iova *a, uint64_t page);
void gz_iova_fini(struct gz_iova *a);
/* Add [@start, @end] to what may be handed out (before any alloc). */
int gz_iova_add(struct gz_iova *a, uint64_t start, uint64_t end);
/* @len bytes, aligned to @align (a power of two, at least the page):
 * 0 and *@iova, -EINVAL, -ENOSPC, -ENOMEM. */
int gz_iova_alloc(struct gz_iova *a, uint64_t len, uint64_t align,
		  uint64_t *iova);
/* What gz_iova_alloc() gave, exactly: 0, or -EINVAL. */
int gz_iova_free(struct gz_iova *a, uint64_t iova, uint64_t len);
/* Whether [@iova, +@len) is exactly one allocation. */
int gz_iova_has(struct gz_iova *a, uint64_t iova, uint64_t len);

/*
 * MMIO: one access each (64-bit targets), in program order with the
 * device. gz_mmio_wmb() before a store that must follow stores to memory
 * the device reads (a doorbell after ring entries); gz_mmio_rmb() after a
 * load that says the device wrote memory (a status register) and before
 * reading that memory. The barriers of rdma-core's udma_barrier.h, with a
 * full barrier where an architecture is not named.
 */
static inline void gz_mmio_wmb(void)
{
#if defined(__x86_64__)
	__asm__ volatile("sfence" ::: "memory");
#elif defined(__aarch64__)
	__asm__ volatile("dmb oshst" ::: "memory");
#else
	__sync_synchronize();
#endif
}
static inline void gz_mmio_rmb(void)
{
#if defined(__x86_64__)
	__asm__ volatile("lfence" ::: "memory");
#elif defined(__aarch64__)
	__asm__ volatile("dmb oshld" ::: "memory");
#else
	__sync_synchronize();
#endif
}
static inline uint32_t gz_mmio_read32(const void *bar, uint64_t off)
{
	return *(const volatile uint32_t *)((const uint8_t *)bar + off);
}
static inline uint64_t gz_mmio_read64(const void *bar, uint64_t off)
{
	return *(const volatile uint64_t *)((const uint8_t *)bar + off);
}
static inline void gz_mmio_write32(void *bar, uint64_t off, uint32_t v)
{
	*(volatile uint32_t *)((uint8_t *)bar + off) = v;
}
static inline void gz_mmio_write64(void *bar, uint64_t off, uint64_t v)
{
	*(volatile uint64_t *)((uint8_t *)bar + off) = v;
}

#endif /* GZ_VFIO_PCI_H */
