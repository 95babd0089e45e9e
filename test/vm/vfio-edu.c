// SPDX-License-Identifier: MIT
/*
 * The vfio provider's VFIO plumbing (lib/providers/vfio/vfio_pci.c,
 * vfio_dma.c) against QEMU's edu device, inside a guest with an emulated
 * IOMMU: real DMA through a mapping, its completion interrupt on an
 * eventfd, and DMA refused once the mapping is gone.
 *   vfio-edu open BDF [ERRNO]   exit 0 iff gz_vfio_open() returns -ERRNO
 *                               (default 0); GENZIO_DEBUG=1 shows why
 *   vfio-edu dma BDF            the DMA checks, "GZVM: ok NAME" lines
 * edu (hw/misc/edu.c): BAR0 registers; a 4 KiB buffer at 0x40000 of its
 * own address space that DMA moves to and from RAM; a 28-bit DMA mask.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "providers/vfio/vfio_pci.h"

#define EDU_ID 0x00
#define EDU_LIVE 0x04
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define DMA_START 1u
#define DMA_TO_RAM 2u
#define DMA_IRQ 4u
#define EDU_BUF 0x40000u
#define EDU_DMA_MASK ((1ull << 28) - 1)
#define LEN 4096u
/* less than edu's whole buffer: QEMU 7.2's edu_check_range() refuses a
 * transfer that ends at the buffer's end (a hardware error that stops
 * the guest) */
#define XFER 2048u

static int failed;

static void report(const char *name, int ok, const char *why)
{
	printf("GZVM: %s %s\n", ok ? "ok" : "not ok", name);
	if (!ok) {
		printf("# %s\n", why);
		failed = 1;
	}
}

/* Start a transfer of XFER bytes and wait for edu to finish it (it runs
 * off a 100 ms timer; TCG is slow: 20 s bound). 0, or -ETIMEDOUT. */
static int dma(void *bar, uint64_t src, uint64_t dst, uint32_t cmd)
{
	struct timespec t0, t;

	gz_mmio_write64(bar, EDU_DMA_SRC, src);
	gz_mmio_write64(bar, EDU_DMA_DST, dst);
	gz_mmio_write64(bar, EDU_DMA_CNT, XFER);
	gz_mmio_wmb();
	gz_mmio_write64(bar, EDU_DMA_CMD, cmd | DMA_START);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (gz_mmio_read64(bar, EDU_DMA_CMD) & DMA_START) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 20)
			return -ETIMEDOUT;
		usleep(1000);
	}
	gz_mmio_rmb(); /* what it wrote, after the status that says so */
	return 0;
}

static int dma_checks(const char *bdf)
{
	struct gz_vfio_dev d;
	uint8_t *buf = MAP_FAILED;
	uint64_t iova, junk;
	void *bar;
	char why[128];
	int ret, efd = -1, same, landed;

	ret = gz_vfio_open(bdf, EDU_DMA_MASK, &d);
	report("vfio_open_edu", !ret, "gz_vfio_open failed (GENZIO_DEBUG=1)");
	if (ret)
		return 1;
	printf("# %s: group %u, IOMMU pages %#llx, BAR0 %llu bytes\n", bdf,
	       d.group_id, (unsigned long long)d.pgsizes,
	       (unsigned long long)d.bar[0].size);
	ret = gz_vfio_bar_map(&d, 0, 1 << 20);
	bar = d.bar[0].map;
	report("vfio_bar0_mmio",
	       !ret && gz_mmio_read32(bar, EDU_ID) == 0x010000ed &&
		   (gz_mmio_write32(bar, EDU_LIVE, 0x12345678),
		    gz_mmio_read32(bar, EDU_LIVE) == ~0x12345678u),
	       "edu's identity or liveness register did not answer");
	if (ret)
		goto out;
	buf = mmap(NULL, 2 * LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		goto out;
	for (unsigned int i = 0; i < LEN; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	memset(buf + LEN, 0, LEN);
	ret = gz_vfio_dma_map(&d, buf, 2 * LEN, &iova);
	report("vfio_dma_map_below_the_dma_mask",
	       !ret && iova && iova + 2 * LEN - 1 <= EDU_DMA_MASK,
	       "no mapping, or one the device cannot address");
	if (ret)
		goto out;
	/* RAM -> edu -> RAM: both directions through the IOMMU */
	ret = dma(bar, iova, EDU_BUF, 0)
		  ?: dma(bar, EDU_BUF, iova + LEN, DMA_TO_RAM);
	report("vfio_dma_to_the_device_and_back",
	       !ret && !memcmp(buf, buf + LEN, XFER),
	       ret ? "edu's DMA never ended" : "the bytes came back different");
	/* its completion interrupt, as an eventfd (MSI) */
	efd = eventfd(0, EFD_CLOEXEC);
	ret =
	    efd < 0 ? -errno : gz_vfio_irq_set(&d, VFIO_PCI_MSI_IRQ_INDEX, efd);
	if (!ret) {
		struct pollfd p = {.fd = efd, .events = POLLIN};
		uint64_t n = 0;

		ret = dma(bar, iova, EDU_BUF, DMA_IRQ);
		ret = ret ?: poll(&p, 1, 20000) == 1 ? 0 : -ETIMEDOUT;
		if (!ret && read(efd, &n, sizeof(n)) != sizeof(n))
			ret = -EIO;
		gz_mmio_write32(bar, EDU_IRQ_ACK,
				gz_mmio_read32(bar, EDU_IRQ_STATUS));
		gz_vfio_irq_set(&d, VFIO_PCI_MSI_IRQ_INDEX, -1);
	}
	snprintf(why, sizeof(why), "no interrupt on the eventfd: %d", ret);
	report("vfio_dma_completion_interrupts_an_eventfd", !ret, why);
	/* bad arguments: a misaligned buffer, an unmap of nothing */
	report("vfio_dma_bad_arguments",
	       gz_vfio_dma_map(&d, buf + 1, LEN, &junk) == -EINVAL &&
		   gz_vfio_dma_unmap(&d, iova + LEN, LEN) == -EINVAL,
	       "a misaligned map or a partial unmap was taken");
	/* unmapped: the device's write is an IOMMU fault, RAM untouched.
	 * The same write lands right before, so a device that stopped
	 * doing DMA cannot pass for one the IOMMU stops. */
	memset(buf, 0x3c, XFER);
	memset(buf + LEN, 0, XFER);
	ret = dma(bar, iova, EDU_BUF, 0)
		  ?: dma(bar, EDU_BUF, iova + LEN, DMA_TO_RAM);
	landed = !ret && buf[LEN] == 0x3c && buf[LEN + XFER - 1] == 0x3c;
	ret = ret ?: gz_vfio_dma_unmap(&d, iova, 2 * LEN);
	memset(buf + LEN, 0xa5, LEN);
	ret = ret ?: dma(bar, EDU_BUF, iova + LEN, DMA_TO_RAM);
	same = 1;
	for (unsigned int i = 0; i < XFER; i++)
		same &= buf[LEN + i] == 0xa5;
	report("vfio_dma_after_unmap_is_refused", !ret && landed && same,
	       ret	? "unmap failed, or the DMA never ended"
	       : landed ? "the device wrote RAM after the unmap"
			: "the write before the unmap did not land");
	report("vfio_unmap_twice_is_einval",
	       gz_vfio_dma_unmap(&d, iova, 2 * LEN) == -EINVAL,
	       "a second unmap was taken");
	gz_vfio_close(&d);
	/* a device that addresses 16 KiB: pages 1 to 3, one 8 KiB map */
	ret = gz_vfio_open(bdf, 0x3fff, &d);
	report("vfio_dma_limit_bounds_the_iovas",
	       !ret && !gz_vfio_dma_map(&d, buf, 2 * LEN, &iova) &&
		   iova + 2 * LEN - 1 <= 0x3fff &&
		   gz_vfio_dma_map(&d, buf, 2 * LEN, &junk) == -ENOSPC,
	       "a map beyond the device's DMA limit was given");
out:
	if (efd >= 0)
		close(efd);
	if (buf != MAP_FAILED)
		munmap(buf, 2 * LEN);
	gz_vfio_close(&d);
	return failed;
}

int main(int argc, char **argv)
{
	struct gz_vfio_dev d;
	int want, ret;

	if (argc >= 3 && !strcmp(argv[1], "open")) {
		want = argc > 3 ? atoi(argv[3]) : 0;
		ret = gz_vfio_open(argv[2], EDU_DMA_MASK, &d);
		printf("open %s: %d (%s)\n", argv[2], ret,
		       ret ? strerror(-ret) : "ok");
		if (!ret)
			gz_vfio_close(&d);
		return ret == -want ? 0 : 1;
	}
	if (argc == 3 && !strcmp(argv[1], "dma"))
		return dma_checks(argv[2]);
	fprintf(stderr, "usage: vfio-edu open BDF [ERRNO] | dma BDF\n");
	return 2;
}
