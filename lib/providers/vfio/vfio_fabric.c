// SPDX-License-Identifier: MIT
/*
 * vfio provider: the bridge's host fabric, as a component sees it. The
 * engine is the fabric's manager (bridge_fabric.c) and holds every member,
 * so the registry lists no process of ours; what reaches a component is
 * the events the engine copies into the bridge's header, and, on the
 * host, the manager's file for genzio_fabric_open (genzio-fabric -d
 * bridge0).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fabric/fabric.h"
#include "fabric/fm.h"
#include "providers/vfio/vfio.h"
#include "sys/sys.h"

/* Whether @e is an event of a fabric of subnet @sid: a switch link's
 * names no component, the others one of that subnet. */
static int fabric_event_ok(const struct genzio_event *e, uint32_t sid)
{
	if (e->type == GENZIO_EVENT_LINK_DOWN ||
	    e->type == GENZIO_EVENT_LINK_UP)
		return e->link == GENZIO_LINK_COMPONENT
			   ? GENZIO_GCID_SID(e->gcid) == sid &&
				 GENZIO_GCID_CID(e->gcid)
			   : !e->gcid && e->link < GZ_FM_MAX_LINK;
	return (e->type == GENZIO_EVENT_COMPONENT_ADD ||
		e->type == GENZIO_EVENT_COMPONENT_REMOVE) &&
	       !e->link && GENZIO_GCID_SID(e->gcid) == sid &&
	       GENZIO_GCID_CID(e->gcid);
}

/* The events of the bridge's fabric (its manager's: links, components)
 * that the engine copied into the header, from where we last read (a
 * seqlock per entry; a head gone wild reads one log's worth at most). Under the
 * ctx lock. */
void gz_vf_fabric_watch(struct gz_vf_ctx *ctx)
{
	const struct gz_bridge_hdr *h = ctx->m.hdr;
	uint64_t head = atomic_load_explicit(&h->ev_head, memory_order_acquire);
	uint64_t lost = 0;

	/* a head gone backwards is garbage (a component may write the
	 * header): nothing is read again, nothing until it passes us */
	if (!ctx->m.fabric[0] || head <= ctx->ev_next)
		return;
	if (head - ctx->ev_next > GZ_BRIDGE_EV) {
		lost = head - ctx->ev_next - GZ_BRIDGE_EV;
		ctx->ev_next = head - GZ_BRIDGE_EV;
	}
	for (; ctx->ev_next < head; ctx->ev_next++) {
		const struct gz_bridge_uep *u =
		    &h->ev[ctx->ev_next % GZ_BRIDGE_EV];
		uint64_t seq =
		    atomic_load_explicit(&u->seq, memory_order_acquire);
		struct genzio_event e = {.type = GZ_READ_ONCE(u->type),
					 .gcid = GZ_READ_ONCE(u->gcid),
					 .link = GZ_READ_ONCE(u->link)};

		atomic_thread_fence(memory_order_acquire);
		if (seq != ctx->ev_next ||
		    atomic_load_explicit(&u->seq, memory_order_relaxed) !=
			seq ||
		    !fabric_event_ok(&e, ctx->m.subnet)) {
			lost++;
			continue;
		}
		gz_event_push(&ctx->base, &e);
	}
	if (lost)
		gz_err(0,
		       "bridge: %llu of its fabric's events were lost (read "
		       "too late, or garbage in its log)",
		       (unsigned long long)lost);
}

int gz_vf_fabric_open(const char *dev, const struct genzio_open_attr *attr,
		      struct gz_fabric *f)
{
	struct gz_open_opts o;
	int ret = gz_open_opts_get(attr, &o);

	(void)f;
	return ret ? ret
		   : gz_err(-ENOTSUP,
			    "%s: the bridge's engine holds its members "
			    "(genzio-bridged); genzio-fabric -d %s show "
			    "lists them",
			    dev, dev);
}

/* The fabric named in the header of the bridge file at @path, into
 * @name: 0, or -errno (named). */
static int file_fabric(const char *path, char *name)
{
	struct gz_bridge_hdr h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, &h, sizeof(h), 0);

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(h) || h.magic != GZ_BRIDGE_MAGIC)
		return gz_err(-ENODEV, "GENZIO_BRIDGE=%s: %s", path,
			      fd < 0 ? strerror(errno)
				     : "no genzio bridge (no genzio-bridged "
				       "serves it)");
	if (h.version != GZ_BRIDGE_VERSION)
		return gz_err(-EPROTO, "bridge: layout version %u, not %u",
			      h.version, GZ_BRIDGE_VERSION);
	memcpy(name, h.fabric, GZ_BRIDGE_FABRIC_MAX);
	name[GZ_BRIDGE_FABRIC_MAX - 1] = 0;
	if (!*name)
		return gz_err(-ENOTSUP,
			      "GENZIO_BRIDGE=%s: its engine runs "
			      "with no fabric (genzio-bridged -f -)",
			      path);
	return gz_fabric_name_ok(name)
		   ? 0
		   : gz_err(-EPROTO,
			    "GENZIO_BRIDGE=%s: its header names no "
			    "fabric we can open (garbage)",
			    path);
}

int gz_vf_fm_open(const char *dev, const struct genzio_open_attr *attr,
		  struct gz_fm *fm)
{
	const char *file = getenv("GENZIO_BRIDGE");
	char name[GZ_BRIDGE_FABRIC_MAX], why[256];
	struct gz_open_opts o;
	int dirfd, ret = gz_open_opts_get(attr, &o);

	if (ret)
		return ret;
	/* a guest has no view of its host's files */
	if (strcmp(dev, GZ_VF_FILE_DEV) || !file || !*file)
		return gz_err(-ENOTSUP,
			      "%s: genzio-bridged manages the bridge's fabric "
			      "on its host: run genzio-fabric there (-f, the "
			      "fabric it printed at start)",
			      dev);
	ret = file_fabric(file, name);
	if (ret)
		return ret;
	ret = gz_sys_privdir_open(gz_sys_base_dir(), &dirfd, why, sizeof(why));
	if (ret)
		return gz_err(ret, "%s", why);
	ret = gz_fm_open(dirfd, name, 0, fm);
	close(dirfd);
	return ret == -ENOENT ? gz_err(ret,
				       "fabric %s of bridge %s: no manager "
				       "file in %s (genzio-bridged runs as "
				       "another user, or with another "
				       "GENZIO_SHM_DIR)",
				       name, file, gz_sys_base_dir())
			      : ret;
}
