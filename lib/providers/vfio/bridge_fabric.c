// SPDX-License-Identifier: MIT
/*
 * The bridge's engine as its fabric's manager: slot i is component CID
 * i + 1 of a host fabric (lib/fabric), joined in the registry and attached
 * in the manager's file by the engine's thread, so its pid is the holder
 * the fabric's liveness looks at. The loop that executes commands never
 * waits for a lock: it asks by a word per slot, and reads the DOWN bits
 * this thread copied from the path words.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "providers/vfio/bridge_fabric.h"
#include "sys/sys.h"

#define LOOK_MS 10 /* the manager's changes reach the engine this soon */

/* What the engine does for every component, in control space. */
#define CAPS                                                                   \
	(GENZIO_CAP_RMA | GENZIO_CAP_ATOMIC | GENZIO_CAP_MSG |                 \
	 GENZIO_CAP_WRITE_IMM | GENZIO_CAP_SYNC | GENZIO_CAP_RD |              \
	 GENZIO_CAP_FINE_STATUS | GENZIO_CAP_QP_SURVIVES_FAULT)

static int say(const struct gz_bridge_fab *f, int err, const char *fmt, ...)
{
	va_list ap;

	if (!f->log)
		return err;
	va_start(ap, fmt);
	fprintf(f->log, "genzio-bridged: fabric %s: ", f->name);
	vfprintf(f->log, fmt, ap);
	fputc('\n', f->log);
	va_end(ap);
	return err;
}

int gz_bridge_fab_name_ok(const char *s)
{
	return s && gz_fabric_name_ok(s);
}

/* Make the manager's file describe the engine's topology, under its
 * lock, unless the fabric runs; its subnet must stay the engine's. */
static int build(struct gz_bridge_fab *f, uint32_t *subnet)
{
	struct gz_fm_snap *s;
	int built, ret;

	if (gz_fm_runs(&f->fm))
		return 0;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = gz_fm_build(&f->fm, &f->topo, f->desc, *subnet, &built);
	if (!ret)
		ret = gz_fm_snapshot(&f->fm, s);
	if (!ret)
		*subnet = s->subnet;
	free(s);
	return ret ? say(f, ret, "its manager's file: %s", strerror(-ret)) : 0;
}

int gz_bridge_fab_open(struct gz_bridge_fab *f, const char *name,
		       const char *desc, uint32_t *subnet)
{
	char why[400], lockname[GZ_FABRIC_NAME_MAX + 8];
	int ret;

	f->dirfd = f->lockfd = f->efd = -1;
	f->fm.fd = f->reg.fd = -1;
	gz_topo_init(&f->topo);
	snprintf(f->name, sizeof(f->name), "%s", name ? name : "");
	if (!gz_bridge_fab_name_ok(name))
		return say(f, -EINVAL,
			   "not a fabric name: 1 to 24 of A-Z, a-z, 0-9, _");
	ret = desc ? gz_topo_load(desc, &f->topo, why, sizeof(why))
		   : gz_topo_default(&f->topo, *subnet);
	if (ret)
		return desc ? say(f, -EINVAL, "%s: %s", desc, why) : ret;
	if (desc && !(f->desc = strdup(desc)))
		return -ENOMEM;
	ret =
	    gz_sys_privdir_open(gz_sys_base_dir(), &f->dirfd, why, sizeof(why));
	if (ret)
		return say(f, ret, "%s", why);
	/* one engine per fabric: two would give the same CIDs (the file
	 * stays: an engine that unlinked it while another waited for its
	 * lock would let a third lock a new one) */
	snprintf(lockname, sizeof(lockname), "%s.engine", name);
	f->lockfd =
	    openat(f->dirfd, lockname, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f->lockfd < 0 || flock(f->lockfd, LOCK_EX | LOCK_NB))
		return say(f, errno == EWOULDBLOCK ? -EADDRINUSE : -errno, "%s",
			   errno == EWOULDBLOCK
			       ? "another genzio-bridged manages it "
				 "(give this one another -f)"
			       : strerror(errno));
	ret = gz_fm_open(f->dirfd, name, 1, &f->fm);
	if (ret)
		return say(f, ret, "its manager's file: %s", strerror(-ret));
	ret = gz_fm_lock(&f->fm);
	if (ret)
		return say(f, ret, "its manager's lock: %s", strerror(-ret));
	if (gz_fm_runs(&f->fm))
		ret = say(f, -EADDRINUSE,
			  "live components of another provider are on it "
			  "(genzio-fabric -f %s show): give the engine "
			  "another -f",
			  name);
	else
		ret = build(f, subnet);
	f->log_next = gz_fm_log_head(&f->fm);
	gz_fm_unlock(&f->fm);
	if (ret)
		return ret;
	ret = gz_fabric_open(f->dirfd, name, *subnet, &f->reg);
	if (ret)
		return say(f, ret,
			   "its registry: %s (another subnet: remove "
			   "%s/genzio-%u/%s.*, nobody uses it)",
			   strerror(-ret), gz_sys_base_dir(),
			   (unsigned)geteuid(), name);
	f->subnet = *subnet;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return f->efd < 0 ? say(f, -errno, "eventfd: %s", strerror(errno)) : 0;
}

/* Copy the DOWN bits between the slots' components, once the manager's
 * topology changed (or a join or leave of ours). Its path words are
 * written after the topology's seqlock closes and before the wake word,
 * so both say when to read again: 1 once the bits are of the fabric as
 * it is, 0 to look again (a manager mid-change, a row that cannot be
 * read, a change meanwhile). */
static int rows(struct gz_bridge_fab *f)
{
	const struct gz_fm_hdr *h = &f->fm.map->hdr.h;
	uint32_t seq = atomic_load(&h->seq);
	uint32_t wake = __atomic_load_n(&h->wake, __ATOMIC_ACQUIRE);
	uint8_t row[GZ_FM_MAX_CID + 1];
	int whole = 1;

	if (seq & 1)
		return 0;
	if (seq == f->seen_seq && wake == f->seen_wake && !f->rows_stale)
		return 1;
	for (uint32_t i = 0; i < f->nslots; i++) {
		if (!f->inc[i])
			continue;
		if (gz_fm_row_read(&f->fm, i + 1, row)) {
			whole = 0;
			continue;
		}
		for (uint32_t j = 0; j < f->nslots; j++)
			atomic_store_explicit(
			    &f->down[i][j],
			    i != j && (row[j + 1] & GZ_FM_PATH_DOWN),
			    memory_order_relaxed);
	}
	if (!whole || atomic_load(&h->seq) != seq ||
	    __atomic_load_n(&h->wake, __ATOMIC_ACQUIRE) != wake)
		return 0;
	f->seen_seq = seq;
	f->seen_wake = wake;
	f->rows_stale = 0;
	return 1;
}

/* Whether component @cid of incarnation @inc is still attached in the
 * manager's file or held in the registry (a leave that could not take
 * their locks): 1, 0, or 1 when it cannot be told. */
static int still_held(struct gz_bridge_fab *f, uint32_t cid, uint64_t inc)
{
	struct gz_fm_snap *s = malloc(sizeof(*s));
	struct gz_fabric_member m;
	int held = 1;

	if (s && !gz_fm_snapshot(&f->fm, s))
		held = (s->comp[cid].flags & GZ_FM_ATTACHED) &&
		       s->comp[cid].incarnation == inc;
	free(s);
	return held ||
	       (!gz_fabric_probe(&f->reg, cid, &m) && m.incarnation == inc);
}

/* Slot @i's component leaves the fabric: 0, or -EAGAIN when the
 * manager's or the registry's lock could not be had (asked again at the
 * next look; its CID is not given meanwhile). */
static int leave(struct gz_bridge_fab *f, uint32_t i)
{
	if (!f->inc[i])
		return 0;
	/* each takes its lock, and says so when it cannot */
	gz_fm_detach(&f->fm, i + 1, f->inc[i]);
	gz_fabric_leave(&f->reg, i + 1, f->inc[i]);
	if (still_held(f, i + 1, f->inc[i]))
		return -EAGAIN;
	f->inc[i] = 0;
	f->rows_stale = 1;
	memset(f->down[i], 0, sizeof(f->down[i]));
	return 0;
}

/* Slot @i's component joins as CID i + 1, when the fabric has it: not
 * declared by the description, removed, or held by another provider's
 * context are refusals (-EADDRNOTAVAIL); -EAGAIN is for another try. */
static int join(struct gz_bridge_fab *f, uint32_t i)
{
	struct gz_fm_self self = {.caps = CAPS,
				  .data_size = f->window_len,
				  .max_qp = GZ_BRIDGE_MAX_QP,
				  .max_cq = GZ_BRIDGE_MAX_CQ};
	uint32_t cid = 0, subnet = f->subnet;
	uint64_t allow[64];
	uint64_t inc = 0;
	int ret = gz_fm_lock(&f->fm);

	if (ret)
		return -EAGAIN;
	/* a fabric that runs no more is the engine's topology again,
	 * whatever another provider's joiner made of it meanwhile */
	ret = build(f, &subnet);
	if (!ret && subnet != f->subnet)
		ret = say(f, -EADDRNOTAVAIL,
			  "another provider made it subnet %#x: slot %u "
			  "refused",
			  subnet, i);
	if (!ret)
		ret = gz_fm_allowed(&f->fm, allow);
	if (!ret && !(allow[i / 64] >> (i % 64) & 1))
		ret = say(f, -EADDRNOTAVAIL,
			  "component %#x is not one its description declares "
			  "free (genzio-fabric -f %s show): slot %u refused",
			  f->subnet << 12 | (i + 1), f->name, i);
	if (!ret || (ret == -ENOENT && !f->desc)) { /* the default: any */
		memset(allow, 0, sizeof(allow));
		allow[i / 64] = 1ull << (i % 64);
		ret = gz_fabric_join(&f->reg, NULL, NULL, allow, &cid, &inc);
		if (ret == -ENOSPC)
			ret = say(f, -EADDRNOTAVAIL,
				  "CID %u is held by another provider's "
				  "context: slot %u refused",
				  i + 1, i);
	}
	if (!ret) {
		ret = gz_fm_attach(&f->fm, cid, inc, &self);
		if (ret)
			gz_fabric_leave(&f->reg, cid, inc);
	}
	gz_fm_unlock(&f->fm);
	if (ret && ret != -EADDRNOTAVAIL) {
		say(f, ret, "slot %u: %s (tried again)", i, strerror(-ret));
		return -EAGAIN;
	}
	if (ret)
		return ret;
	f->inc[i] = inc;
	f->rows_stale = 1;
	return 0;
}

static void put(void *arg, const struct gz_fm_uep *u);

/* What changed on the fabric, for the engine: DOWN bits, then events.
 * 1 once the bits are of the fabric as it is. The log's head is read
 * first and the bits again after it: an event goes out only once the
 * loop routes by bits that show it (a LINK_UP before its path is up
 * would fail the work its component sends on that news). Events wait
 * while the bits cannot be read. */
static int look(struct gz_bridge_fab *f)
{
	uint64_t head = gz_fm_log_head(&f->fm), lost = 0;
	int fresh;

	if (head != f->log_next)
		f->rows_stale = 1;
	fresh = rows(f);
	if (fresh)
		gz_fm_events_to(&f->fm, &f->log_next, head, put, f, &lost);
	if (lost)
		say(f, 0,
		    "%llu of its manager's events were lost (overwritten, "
		    "or garbage in its log)",
		    (unsigned long long)lost);
	return fresh;
}

/* After a join or leave: the DOWN bits of the fabric as it is now before
 * the loop routes by them (a manager that stays mid-change this long is
 * stopped: the next looks catch up). */
static void look_hard(struct gz_bridge_fab *f)
{
	for (int tries = 0; !look(f) && tries < 50; tries++)
		usleep(1000);
}

/* What slot @i's word asks for, done. */
static void serve(struct gz_bridge_fab *f, uint32_t i)
{
	uint32_t ask = atomic_load_explicit(&f->ask[i], memory_order_acquire);
	int ret;

	if (ask == GZ_BRIDGE_FAB_JOIN && !f->inc[i]) {
		ret = join(f, i);
		if (ret == -EAGAIN)
			return; /* the next look */
		/* the DOWN bits first (the loop routes at JOINED), and
		 * its COMPONENT_ADD in the header before it attaches */
		look_hard(f);
		if (!atomic_compare_exchange_strong(&f->ask[i], &ask,
						    ret ? GZ_BRIDGE_FAB_REFUSED
							: GZ_BRIDGE_FAB_JOINED))
			serve(f, i); /* left meanwhile */
	} else if (ask == GZ_BRIDGE_FAB_LEAVE && !leave(f, i)) {
		look_hard(f);
		atomic_store_explicit(&f->ask[i], GZ_BRIDGE_FAB_IDLE,
				      memory_order_release);
	}
}
/* An event of the manager's log, into the header's (seq last). */
static void put(void *arg, const struct gz_fm_uep *u)
{
	struct gz_bridge_fab *f = arg;
	struct gz_bridge_uep *e = &f->hdr->ev[f->ev_head % GZ_BRIDGE_EV];

	atomic_store_explicit(&e->seq, UINT64_MAX, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	e->type = u->type;
	e->gcid = u->gcid;
	e->link = u->link;
	atomic_store_explicit(&e->seq, f->ev_head, memory_order_release);
	atomic_store_explicit(&f->hdr->ev_head, ++f->ev_head,
			      memory_order_release);
}

static void *run(void *arg)
{
	struct gz_bridge_fab *f = arg;
	struct pollfd p = {.fd = f->efd, .events = POLLIN};

	while (!atomic_load(&f->stop)) {
		uint64_t v;

		poll(&p, 1, LOOK_MS);
		eventfd_read(f->efd, &v);
		for (uint32_t i = 0; i < f->nslots; i++)
			serve(f, i);
		look(f);
	}
	return NULL;
}

int gz_bridge_fab_start(struct gz_bridge_fab *f, struct gz_bridge_hdr *hdr,
			uint32_t nslots, uint64_t window_len)
{
	sigset_t all, old;
	int ret;

	f->hdr = hdr;
	f->nslots = nslots;
	f->window_len = window_len;
	f->ev_head = 0;
	/* the engine's signals are its main thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = -pthread_create(&f->thread, NULL, run, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	f->running = !ret;
	return ret ? say(f, ret, "its thread: %s", strerror(-ret)) : 0;
}

void gz_bridge_fab_close(struct gz_bridge_fab *f)
{
	if (f->running) {
		atomic_store(&f->stop, 1);
		eventfd_write(f->efd, 1);
		pthread_join(f->thread, NULL);
		f->running = 0;
	}
	for (uint32_t i = 0; f->fm.map && i < f->nslots; i++)
		if (leave(f, i))
			say(f, 0,
			    "component %#x could not leave (its manager "
			    "busy): it is reaped when this process is gone",
			    f->subnet << 12 | (i + 1));
	f->nslots = 0;
	if (f->reg.reg)
		gz_fabric_close(&f->reg);
	f->reg.reg = NULL;
	if (f->fm.map)
		gz_fm_close(&f->fm);
	if (f->efd >= 0)
		close(f->efd);
	if (f->lockfd >= 0)
		close(f->lockfd);
	if (f->dirfd >= 0)
		close(f->dirfd);
	f->efd = f->lockfd = f->dirfd = -1;
	gz_topo_free(&f->topo);
	free(f->desc);
	f->desc = NULL;
}

int gz_bridge_fab_join(struct gz_bridge_fab *f, uint32_t i)
{
	uint32_t ask = atomic_load_explicit(&f->ask[i], memory_order_acquire);

	if (ask == GZ_BRIDGE_FAB_JOINED)
		return 0;
	if (ask == GZ_BRIDGE_FAB_REFUSED) {
		atomic_store(&f->ask[i], GZ_BRIDGE_FAB_IDLE);
		return -EADDRNOTAVAIL;
	}
	if (ask == GZ_BRIDGE_FAB_IDLE) {
		atomic_store_explicit(&f->ask[i], GZ_BRIDGE_FAB_JOIN,
				      memory_order_release);
		eventfd_write(f->efd, 1);
	}
	return -EAGAIN; /* asked, or a leave before it not done yet */
}

void gz_bridge_fab_leave(struct gz_bridge_fab *f, uint32_t i)
{
	uint32_t ask = atomic_load(&f->ask[i]);

	/* the thread may answer a JOIN meanwhile: again, with its answer */
	for (;;) {
		if (ask == GZ_BRIDGE_FAB_REFUSED) {
			if (atomic_compare_exchange_weak(&f->ask[i], &ask,
							 GZ_BRIDGE_FAB_IDLE))
				return;
		} else if (ask == GZ_BRIDGE_FAB_JOIN ||
			   ask == GZ_BRIDGE_FAB_JOINED) {
			if (atomic_compare_exchange_weak(&f->ask[i], &ask,
							 GZ_BRIDGE_FAB_LEAVE)) {
				eventfd_write(f->efd, 1);
				return;
			}
		} else {
			return; /* IDLE, or a LEAVE asked already */
		}
	}
}

int gz_bridge_fab_idle(const struct gz_bridge_fab *f, uint32_t i)
{
	return atomic_load_explicit(&f->ask[i], memory_order_acquire) ==
	       GZ_BRIDGE_FAB_IDLE;
}
