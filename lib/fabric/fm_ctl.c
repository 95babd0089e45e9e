// SPDX-License-Identifier: MIT
/*
 * Control space: each component's core structure, then a linked list of
 * interface structures, as Gen-Z lays it out (offsets within the
 * component's block). The manager writes it; any component reads it,
 * as input: one copy, then every offset checked before it is followed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <genzio/fm.h>

#include "fabric/fm.h"
#include "gz.h"
#include "sys/sys.h"

#define CTL_MAGIC 0x53435a47u /* "GZCS" */
#define CTL_CORE 1u
#define CTL_IFACE 2u
#define IFACE_AT 128u /* where the manager puts the first one */

struct ctl_core {
	uint32_t magic;
	uint16_t type, size;
	uint32_t cclass, gcid;
	uint64_t caps, data_size;
	uint32_t max_qp, max_cq;
	uint32_t first; /* first interface structure, or 0 */
	uint32_t pad;
	char name[GZ_FM_NAME];
};

struct ctl_iface {
	uint16_t type, size;
	uint32_t next; /* the next one, or 0 */
	uint32_t id, state;
	char peer[GZ_FM_NAME];
};

int gz_fm_ctl_write(struct gz_fm *fm, const struct gz_fm_snap *s, uint32_t cid,
		    const struct gz_fm_self *self)
{
	uint8_t blk[GZ_FM_CTL_SIZE] __attribute__((aligned(8))) = {0};
	struct ctl_core core;
	struct ctl_iface ifc = {.type = CTL_IFACE, .size = sizeof(ifc)};
	int ret;

	/* what the component said of itself stays, unless it says again */
	if (gz_fm_ctl_get(fm, cid, blk))
		memset(blk, 0, sizeof(blk));
	memcpy(&core, blk, sizeof(core));
	if (self || core.magic != CTL_MAGIC) {
		memset(&core, 0, sizeof(core));
		if (self) {
			core.caps = self->caps;
			core.data_size = self->data_size;
			core.max_qp = self->max_qp;
			core.max_cq = self->max_cq;
		}
	}
	core.magic = CTL_MAGIC;
	core.type = CTL_CORE;
	core.size = sizeof(core);
	core.cclass = GENZIO_CCLASS_BRIDGE;
	core.gcid = s->subnet << 12 | cid;
	core.first = IFACE_AT;
	snprintf(core.name, sizeof(core.name), "%s", s->comp[cid].name);
	ifc.state =
	    gz_fm_comp_link_up(s, cid) ? GENZIO_STATE_UP : GENZIO_STATE_DOWN;
	snprintf(ifc.peer, sizeof(ifc.peer), "%s", s->sw[s->comp[cid].sw].name);
	memset(blk, 0, sizeof(blk));
	memcpy(blk, &core, sizeof(core));
	memcpy(blk + IFACE_AT, &ifc, sizeof(ifc));
	gz_fm_begin(fm);
	ret = gz_fm_ctl_put(fm, cid, blk);
	gz_fm_end(fm);
	return ret ? gz_err(ret, "fabric %s: control space of component %u: %s",
			    fm->name, cid, strerror(-ret))
		   : 0;
}

/* One consistent copy of @cid's block and its component entry. 0 or
 * -EAGAIN. */
static int ctl_copy(const struct gz_fm *fm, uint32_t cid, uint8_t *blk,
		    struct gz_fm_comp *e)
{
	const _Atomic uint32_t *seq = &fm->map->hdr.h.seq;
	struct gz_fm_wait w = {0};
	uint32_t q = 0;

	while (!gz_fm_seq_wait(fm, &w, q)) {
		q = atomic_load_explicit(seq, memory_order_acquire);
		if (q & 1)
			continue;
		if (gz_fm_ctl_get(fm, cid, blk))
			return -EIO;
		memcpy(e, &fm->map->comp[cid], sizeof(*e));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(seq, memory_order_relaxed) == q)
			return 0;
	}
	return -EAGAIN;
}

int gz_fm_ctl_read(const struct gz_fm *fm, uint32_t gcid,
		   struct genzio_component *out)
{
	uint8_t blk[GZ_FM_CTL_SIZE] __attribute__((aligned(8)));
	uint32_t cid = gcid & 0xfff, off, prev;
	struct gz_fm_comp e;
	struct ctl_core core;
	int ret;

	if (!cid || (ret = ctl_copy(fm, cid, blk, &e)))
		return cid ? ret : -EHOSTUNREACH;
	memcpy(&core, blk, sizeof(core));
	/* nobody holds it: never did, left, removed, or killed (its block
	 * stays until the next change reaps it) */
	if (core.magic != CTL_MAGIC ||
	    (e.flags & (GZ_FM_ATTACHED | GZ_FM_REMOVED)) != GZ_FM_ATTACHED ||
	    gz_sys_proc_alive(e.pid, e.starttime) != 1)
		return -EHOSTUNREACH;
	if (core.type != CTL_CORE || core.size != sizeof(core) ||
	    core.gcid != gcid)
		return gz_err(-EPROTO,
			      "component %#x: its core structure says "
			      "type %u, size %u, GCID %#x",
			      gcid, core.type, core.size, core.gcid);
	memset(out, 0, sizeof(*out));
	out->gcid = core.gcid;
	out->cclass = core.cclass;
	out->caps = core.caps;
	out->data_size = core.data_size;
	out->max_qp = core.max_qp;
	out->max_cq = core.max_cq;
	core.name[sizeof(core.name) - 1] = 0;
	snprintf(out->name, sizeof(out->name), "%s", core.name);
	/* offsets only grow: no loop; each structure inside the block */
	for (off = core.first, prev = 0; off; prev = off, off = core.first) {
		struct ctl_iface ifc;

		if (off <= prev || off < sizeof(core) || off % 8 ||
		    off > GZ_FM_CTL_SIZE - sizeof(ifc) ||
		    out->niface >= GENZIO_COMPONENT_IFACES)
			return gz_err(-EPROTO,
				      "component %#x: an interface "
				      "structure at offset %u (after %u)",
				      gcid, off, prev);
		memcpy(&ifc, blk + off, sizeof(ifc));
		if (ifc.type != CTL_IFACE || ifc.size != sizeof(ifc))
			return gz_err(-EPROTO,
				      "component %#x: structure at %u "
				      "is of type %u, size %u",
				      gcid, off, ifc.type, ifc.size);
		ifc.peer[sizeof(ifc.peer) - 1] = 0;
		out->iface[out->niface].id = out->niface;
		out->iface[out->niface].state = ifc.state == GENZIO_STATE_UP
						    ? GENZIO_STATE_UP
						    : GENZIO_STATE_DOWN;
		snprintf(out->iface[out->niface].peer,
			 sizeof(out->iface[0].peer), "%s", ifc.peer);
		out->niface++;
		core.first = ifc.next;
	}
	return 0;
}
