// SPDX-License-Identifier: MIT
/*
 * VFIO type1: container -> group -> device, as the kernel's
 * Documentation/driver-api/vfio.rst lays it out. Each step that can fail
 * on a machine set up wrong says what to do about it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gz.h"
#include "providers/vfio/vfio_pci.h"

#define SYS_PCI "/sys/bus/pci/devices"

/* The last path element of symlink @dir/@name into @out; -errno. */
static int link_base(const char *dir, const char *name, char *out, size_t len)
{
	char path[256], to[256];
	ssize_t n;
	const char *b;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = readlink(path, to, sizeof(to));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(to))
		return -ENAMETOOLONG;
	to[n] = 0;
	b = strrchr(to, '/');
	b = b ? b + 1 : to;
	if (strlen(b) >= len)
		return -ENAMETOOLONG;
	memcpy(out, b, strlen(b) + 1);
	return 0;
}

/* A sysfs attribute in hex ("0x1af4\n"). */
static int read_hex(const char *dir, const char *name, unsigned long *v)
{
	char path[256], buf[32];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok)
		return -EIO;
	*v = strtoul(buf, NULL, 16);
	return 0;
}

int gz_vfio_find(uint16_t vendor, uint16_t device, int nth, char *bdf,
		 size_t len)
{
	struct dirent **names;
	int n = scandir(SYS_PCI, &names, NULL, alphasort), ret = -ENODEV;

	if (n < 0)
		return -ENODEV; /* no PCI bus here */
	for (int i = 0; i < n; i++) {
		char dir[300];
		unsigned long v, d;

		snprintf(dir, sizeof(dir), SYS_PCI "/%s", names[i]->d_name);
		if (ret && names[i]->d_name[0] != '.' &&
		    !read_hex(dir, "vendor", &v) &&
		    !read_hex(dir, "device", &d) && v == vendor &&
		    d == device && !nth--) {
			snprintf(bdf, len, "%s", names[i]->d_name);
			ret = 0;
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

/* "DDDD:BB:DD.F", nothing else: it becomes a path. */
static int bdf_ok(const char *s)
{
	static const char form[] = "xxxx:xx:xx.x";

	if (strlen(s) != sizeof(form) - 1)
		return 0;
	for (size_t i = 0; form[i]; i++)
		if (form[i] == 'x' ? !strchr("0123456789abcdef", s[i]) || !s[i]
				   : s[i] != form[i])
			return 0;
	return 1;
}

/* The devices of group @id and their drivers, for a message. */
static void group_members(uint32_t id, char *out, size_t len)
{
	char dir[64];
	struct dirent *e;
	size_t at = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/kernel/iommu_groups/%u/devices", id);
	out[0] = 0;
	if (!(d = opendir(dir)))
		return;
	while ((e = readdir(d)) && at + 1 < len) {
		char dev[300], drv[64];
		int n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dev, sizeof(dev), SYS_PCI "/%s", e->d_name);
		if (link_base(dev, "driver", drv, sizeof(drv)))
			snprintf(drv, sizeof(drv), "no driver");
		n = snprintf(out + at, len - at, "%s%s (%s)", at ? ", " : "",
			     e->d_name, drv);
		at = n < 0 || (size_t)n >= len - at ? len - 1 : at + (size_t)n;
	}
	closedir(d);
}

/* Which driver holds the device, and whether VFIO can have it. */
static int check_driver(const char *bdf, const char *dir)
{
	char drv[64];

	if (link_base(dir, "driver", drv, sizeof(drv)))
		return gz_err(-ENODEV,
			      "%s is bound to no driver: bind it to vfio-pci "
			      "(modprobe vfio-pci; echo vfio-pci > %s/"
			      "driver_override; echo %s > "
			      "/sys/bus/pci/drivers_probe)",
			      bdf, dir, bdf);
	if (strcmp(drv, "vfio-pci"))
		return gz_err(-EBUSY,
			      "%s is bound to the driver %s: unbind it and "
			      "bind vfio-pci (echo %s > %s/driver/unbind; echo "
			      "vfio-pci > %s/driver_override; echo %s > "
			      "/sys/bus/pci/drivers_probe)",
			      bdf, drv, bdf, dir, dir, bdf);
	return 0;
}

static int open_group(struct gz_vfio_dev *d, const char *dir)
{
	struct vfio_group_status st = {.argsz = sizeof(st)};
	char id[32], path[64], who[512];
	int ret;

	if (link_base(dir, "iommu_group", id, sizeof(id)))
		return gz_err(
		    -ENXIO,
		    "%s has no IOMMU group: no IOMMU is on (boot with "
		    "intel_iommu=on or amd_iommu=on; a QEMU guest "
		    "needs -device intel-iommu)",
		    d->bdf);
	d->group_id = (uint32_t)strtoul(id, NULL, 10);
	snprintf(path, sizeof(path), "/dev/vfio/%u", d->group_id);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	ret = d->group < 0 ? -errno : 0;
	if (ret == -EBUSY)
		return gz_err(ret,
			      "%s: IOMMU group %u is open already, in this "
			      "or another process (VFIO lets one open of a "
			      "group at a time)",
			      d->bdf, d->group_id);
	if (ret == -EACCES)
		return gz_err(ret,
			      "%s: no permission on %s (run as root, or chown "
			      "it to the user)",
			      d->bdf, path);
	if (ret)
		return gz_err(ret, "%s: cannot open %s: %s", d->bdf, path,
			      strerror(-ret));
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &st))
		return gz_err(-errno, "%s: VFIO_GROUP_GET_STATUS: %s", d->bdf,
			      strerror(errno));
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		group_members(d->group_id, who, sizeof(who));
		return gz_err(
		    -EBUSY,
		    "%s: IOMMU group %u is not viable: every device "
		    "of it must be bound to vfio-pci or to no driver; "
		    "it holds %s",
		    d->bdf, d->group_id, who);
	}
	return 0;
}

static int open_container(struct gz_vfio_dev *d)
{
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		return gz_err(errno == ENOENT ? -ENODEV : -errno,
			      "no /dev/vfio/vfio (%s): modprobe vfio-pci",
			      strerror(errno));
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return gz_err(-EPROTO,
			      "this kernel's VFIO API is not version %d",
			      VFIO_API_VERSION);
	if (ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
		return gz_err(-ENOTSUP,
			      "this kernel's VFIO has no type1v2 IOMMU "
			      "(modprobe vfio_iommu_type1)");
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		return gz_err(-errno, "%s: VFIO_GROUP_SET_CONTAINER: %s",
			      d->bdf, strerror(errno));
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return gz_err(-errno, "%s: VFIO_SET_IOMMU: %s", d->bdf,
			      strerror(errno));
	return 0;
}

/* No range capability (an older kernel): everything up to @limit but
 * x86's MSI window. */
static int whole(struct gz_iova *a, uint64_t limit)
{
	const uint64_t msi_lo = 0xfee00000ull, msi_hi = 0xfeefffffull;
	int ret = gz_iova_add(a, 0, limit < msi_lo ? limit : msi_lo - 1);

	if (!ret && limit > msi_hi)
		ret = gz_iova_add(a, msi_hi + 1, limit);
	return ret;
}

/* The IOMMU's page sizes and the IOVA ranges it can map, below the
 * device's @limit. */
static int iommu_info(struct gz_vfio_dev *d, uint64_t limit)
{
	struct vfio_iommu_type1_info *info;
	uint32_t sz = sizeof(*info);
	int ret, ranges = 0;

	for (;;) {
		if (!(info = calloc(1, sz)))
			return -ENOMEM;
		info->argsz = sz;
		if (ioctl(d->container, VFIO_IOMMU_GET_INFO, info)) {
			ret = -errno;
			free(info);
			return gz_err(ret, "%s: VFIO_IOMMU_GET_INFO: %s",
				      d->bdf, strerror(-ret));
		}
		if (info->argsz <= sz)
			break;
		sz = info->argsz; /* room for the capabilities */
		free(info);
	}
	d->pgsizes =
	    info->flags & VFIO_IOMMU_INFO_PGSIZES ? info->iova_pgsizes : 4096;
	ret = gz_iova_init(&d->iova, d->pgsizes & -d->pgsizes);
	/* the capability chain: offsets within what the kernel wrote */
	for (uint32_t off =
		 info->flags & VFIO_IOMMU_INFO_CAPS ? info->cap_offset : 0;
	     !ret && off && off + sizeof(struct vfio_info_cap_header) <= sz;) {
		struct vfio_info_cap_header *h = (void *)((char *)info + off);
		struct vfio_iommu_type1_info_cap_iova_range *r = (void *)h;

		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
		    off + sizeof(*r) <= sz &&
		    off + sizeof(*r) +
			    r->nr_iovas * sizeof(r->iova_ranges[0]) <=
			sz)
			for (uint32_t i = 0; !ret && i < r->nr_iovas;
			     i++, ranges++)
				if (r->iova_ranges[i].start <= limit)
					ret = gz_iova_add(
					    &d->iova, r->iova_ranges[i].start,
					    r->iova_ranges[i].end < limit
						? r->iova_ranges[i].end
						: limit);
		if (h->next <= off)
			break;
		off = h->next;
	}
	if (!ret && !ranges)
		ret = whole(&d->iova, limit);
	free(info);
	return ret;
}

/* A reset where the device has one; memory decoding and bus mastering
 * on (vfio-pci leaves bus mastering to the driver: no DMA without it). */
static int device_setup(struct gz_vfio_dev *d)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};
	struct vfio_region_info cfg = {.argsz = sizeof(cfg),
				       .index = VFIO_PCI_CONFIG_REGION_INDEX};
	uint16_t cmd;

	if (ioctl(d->device, VFIO_DEVICE_GET_INFO, &info))
		return gz_err(-errno, "%s: VFIO_DEVICE_GET_INFO: %s", d->bdf,
			      strerror(errno));
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI))
		return gz_err(-ENODEV, "%s: not a PCI device to VFIO", d->bdf);
	d->flags = info.flags;
	d->num_regions = info.num_regions;
	d->num_irqs = info.num_irqs;
	for (unsigned int i = 0; i < GZ_VFIO_BARS && i < d->num_regions; i++) {
		struct vfio_region_info r = {.argsz = sizeof(r), .index = i};

		if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &r))
			continue;
		d->bar[i].size = r.size;
		d->bar[i].offset = r.offset;
		d->bar[i].flags = r.flags;
	}
	/* vfio-pci reset it when it was opened already: a device that
	 * cannot be reset again now is not unusable */
	if ((d->flags & VFIO_DEVICE_FLAGS_RESET) &&
	    ioctl(d->device, VFIO_DEVICE_RESET))
		(void)gz_err(-errno, "%s: VFIO_DEVICE_RESET: %s (went on)",
			     d->bdf, strerror(errno));
	if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &cfg))
		return gz_err(-errno, "%s: its config space: %s", d->bdf,
			      strerror(errno));
	d->config = cfg.offset;
	if (pread(d->device, &cmd, sizeof(cmd),
		  (off_t)(cfg.offset + PCI_COMMAND)) != sizeof(cmd))
		return gz_err(-EIO, "%s: cannot read its command register",
			      d->bdf);
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(d->device, &cmd, sizeof(cmd),
		   (off_t)(cfg.offset + PCI_COMMAND)) != sizeof(cmd))
		return gz_err(-EIO, "%s: cannot enable bus mastering", d->bdf);
	return 0;
}

int gz_vfio_open(const char *bdf, uint64_t dma_limit, struct gz_vfio_dev *d)
{
	char dir[64];
	int ret;

	memset(d, 0, sizeof(*d));
	d->container = d->group = d->device = -1;
	if (!bdf || !bdf_ok(bdf))
		return gz_err(-EINVAL,
			      "PCI address '%s': want DDDD:BB:DD.F in lower "
			      "case (lspci -D)",
			      bdf ? bdf : "(null)");
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	snprintf(dir, sizeof(dir), SYS_PCI "/%s", bdf);
	if (access(dir, F_OK))
		return gz_err(-ENODEV, "no PCI device %s here (lspci -D)", bdf);
	if ((ret = check_driver(bdf, dir)) || (ret = open_group(d, dir)) ||
	    (ret = open_container(d)) || (ret = iommu_info(d, dma_limit)))
		goto fail;
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->device < 0) {
		ret = gz_err(-errno, "%s: VFIO_GROUP_GET_DEVICE_FD: %s", bdf,
			     strerror(errno));
		goto fail;
	}
	if ((ret = device_setup(d)))
		goto fail;
	return 0;
fail:
	gz_vfio_close(d);
	return ret;
}

void gz_vfio_close(struct gz_vfio_dev *d)
{
	for (unsigned int i = 0; i < GZ_VFIO_BARS; i++)
		if (d->bar[i].map)
			munmap(d->bar[i].map, d->bar[i].size);
	/* closing the container unmaps every DMA mapping */
	if (d->device >= 0)
		close(d->device);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	gz_iova_fini(&d->iova);
	memset(d->bar, 0, sizeof(d->bar));
	d->device = d->group = d->container = -1;
}

int gz_vfio_bar_map(struct gz_vfio_dev *d, unsigned int bar, uint64_t min)
{
	struct gz_vfio_bar *b = &d->bar[bar < GZ_VFIO_BARS ? bar : 0];
	void *p;

	if (bar >= GZ_VFIO_BARS)
		return -EINVAL;
	if (b->map)
		return 0;
	if (!b->size)
		return gz_err(-ENODEV, "%s has no BAR%u", d->bdf, bar);
	if (b->size < min)
		return gz_err(-ENOSPC,
			      "%s: BAR%u has %llu bytes, not the %llu needed",
			      d->bdf, bar, (unsigned long long)b->size,
			      (unsigned long long)min);
	if (!(b->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return gz_err(-ENOTSUP,
			      "%s: BAR%u cannot be mapped (an I/O port BAR, "
			      "or one VFIO will not map)",
			      d->bdf, bar);
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, d->device,
		 (off_t)b->offset);
	if (p == MAP_FAILED)
		return gz_err(-errno, "%s: mmap of BAR%u: %s", d->bdf, bar,
			      strerror(errno));
	b->map = p;
	return 0;
}

int gz_vfio_irq_set(struct gz_vfio_dev *d, uint32_t index, int efd)
{
	struct vfio_irq_info info = {.argsz = sizeof(info), .index = index};
	union {
		struct vfio_irq_set set;
		char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	} u;
	struct vfio_irq_set *set = &u.set;

	/* INTx is masked after each interrupt until unmasked: one would
	 * ever arrive. MSI and MSI-X only. */
	if (index != VFIO_PCI_MSI_IRQ_INDEX && index != VFIO_PCI_MSIX_IRQ_INDEX)
		return gz_err(-EINVAL,
			      "%s: interrupt index %u: MSI (%u) or MSI-X (%u) "
			      "only",
			      d->bdf, index, VFIO_PCI_MSI_IRQ_INDEX,
			      VFIO_PCI_MSIX_IRQ_INDEX);
	if (index >= d->num_irqs ||
	    ioctl(d->device, VFIO_DEVICE_GET_IRQ_INFO, &info) || !info.count ||
	    !(info.flags & VFIO_IRQ_INFO_EVENTFD))
		return gz_err(
		    -ENOTSUP,
		    "%s: its %s has no vector to signal an eventfd "
		    "(try %s)",
		    d->bdf, index == VFIO_PCI_MSI_IRQ_INDEX ? "MSI" : "MSI-X",
		    index == VFIO_PCI_MSI_IRQ_INDEX ? "MSI-X" : "MSI");
	memset(&u, 0, sizeof(u));
	set->argsz = sizeof(u);
	set->index = index;
	set->start = 0;
	if (efd >= 0) {
		set->flags =
		    VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
		set->count = 1;
		memcpy(set->data, &efd, sizeof(int32_t));
	} else {
		set->flags =
		    VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
		set->count = 0;
		set->argsz = sizeof(*set);
	}
	if (ioctl(d->device, VFIO_DEVICE_SET_IRQS, set))
		return gz_err(-errno, "%s: VFIO_DEVICE_SET_IRQS: %s", d->bdf,
			      strerror(errno));
	return 0;
}
