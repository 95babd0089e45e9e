// SPDX-License-Identifier: MIT
/* The fabric manager's file: open, lock, and read back as input. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fabric/fm.h"
#include "gz.h"
#include "sys/sys.h"

#define SEQ_WAIT_NS 200000000ull /* a manager mid-change: 200 ms */

/* Allocate the pages of [@off, +@len) of @fd (a hole mapped is SIGBUS on
 * a full tmpfs). fallocate(2) itself: posix_fallocate's emulation writes
 * zeros where it reads them, over a live manager's stores. A file system
 * without it keeps its holes. 0 or -errno. */
static int allocate(int fd, off_t off, off_t len)
{
	int ret;

	do
		ret = fallocate(fd, 0, off, len) ? -errno : 0;
	while (ret == -EINTR);
	return ret == -EOPNOTSUPP ? 0 : ret;
}

int gz_fm_open(int dirfd, const char *name, int create, struct gz_fm *fm)
{
	char path[64];
	struct stat st;
	int ret;

	memset(fm, 0, sizeof(*fm));
	pthread_mutex_init(&fm->lock, NULL);
	fm->fd = -1;
	fm->pid = (int32_t)getpid();
	snprintf(fm->name, sizeof(fm->name), "%s", name);
	snprintf(path, sizeof(path), "%s.fm", name);
	fm->fd = openat(
	    dirfd, path,
	    O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
	if (fm->fd < 0 && errno == ENOENT && !create)
		return -ENOENT;
	if (fm->fd < 0)
		return gz_err(-errno,
			      "fabric %s: cannot open its manager file "
			      "%s: %s",
			      name, path, strerror(errno));
	if (fstat(fm->fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)sizeof(*fm->map)) {
		ret = gz_err(-EPROTO,
			     "fabric %s: %s is not a manager file of "
			     "this version: remove it (no process of the "
			     "fabric may run)",
			     name, path);
		goto fail;
	}
	/* sparse: the control spaces and path rows nobody writes cost
	 * nothing; concurrent openers grow it to the same size */
	if (st.st_size < (off_t)sizeof(*fm->map) &&
	    ftruncate(fm->fd, sizeof(*fm->map))) {
		ret = gz_err(-errno, "fabric %s: %s: %s", name, path,
			     strerror(errno));
		goto fail;
	}
	/* what is mapped is allocated now: a full tmpfs is -ENOSPC here,
	 * not SIGBUS at a later store into a hole */
	if ((ret = allocate(fm->fd, 0, GZ_FM_MAP_LEN))) {
		ret = gz_err(ret, "fabric %s: %s: %s", name, path,
			     strerror(-ret));
		goto fail;
	}
	fm->map = mmap(NULL, GZ_FM_MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fm->fd, 0);
	if (fm->map == MAP_FAILED) {
		fm->map = NULL;
		ret = gz_err(-errno, "fabric %s: mmap of %s: %s", name, path,
			     strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close(fm->fd);
	fm->fd = -1;
	return ret;
}

void gz_fm_close(struct gz_fm *fm)
{
	if (fm->map)
		munmap(fm->map, GZ_FM_MAP_LEN);
	if (fm->row_base)
		munmap(fm->row_base, fm->row_len);
	fm->row_base = NULL;
	fm->row = NULL;
	if (fm->fd >= 0)
		close(fm->fd);
	fm->map = NULL;
	fm->fd = -1;
}

static off_t row_off(uint32_t cid)
{
	return (off_t)offsetof(struct gz_fm_file, path) +
	       (off_t)cid * (GZ_FM_MAX_CID + 1);
}

int gz_fm_row_map(struct gz_fm *fm, uint32_t cid)
{
	long page = sysconf(_SC_PAGESIZE);
	off_t at, base;
	void *p;
	int ret;

	if (!cid || cid > GZ_FM_MAX_CID)
		return -EINVAL;
	/* a hole would be SIGBUS at a post's load on a full tmpfs */
	if ((ret = allocate(fm->fd, row_off(cid), GZ_FM_MAX_CID + 1)))
		return gz_err(ret, "fabric %s: its path words: %s", fm->name,
			      strerror(-ret));
	/* a row is 4096 bytes at a 4096-aligned offset: the page that
	 * holds it, whatever the page size */
	at = row_off(cid);
	base = at & ~(off_t)(page - 1);
	fm->row_len = (size_t)(at - base) + GZ_FM_MAX_CID + 1;
	fm->row_len = (fm->row_len + (size_t)page - 1) & ~(size_t)(page - 1);
	p = mmap(NULL, fm->row_len, PROT_READ, MAP_SHARED, fm->fd, base);
	if (p == MAP_FAILED)
		return gz_err(-errno, "fabric %s: mmap of its path words: %s",
			      fm->name, strerror(errno));
	fm->row_base = p;
	fm->row = (_Atomic uint8_t *)((uint8_t *)p + (at - base));
	return 0;
}

int gz_fm_row_read(const struct gz_fm *fm, uint32_t cid, uint8_t *row)
{
	ssize_t n = pread(fm->fd, row, GZ_FM_MAX_CID + 1, row_off(cid));

	return n == GZ_FM_MAX_CID + 1 ? 0 : n < 0 ? -errno : -EIO;
}

int gz_fm_row_write(struct gz_fm *fm, uint32_t cid, const uint8_t *row)
{
	ssize_t n = pwrite(fm->fd, row, GZ_FM_MAX_CID + 1, row_off(cid));

	return n == GZ_FM_MAX_CID + 1 ? 0 : n < 0 ? -errno : -EIO;
}

static off_t ctl_off(uint32_t cid)
{
	return (off_t)offsetof(struct gz_fm_file, ctl) +
	       (off_t)cid * GZ_FM_CTL_SIZE;
}

int gz_fm_ctl_get(const struct gz_fm *fm, uint32_t cid, uint8_t *blk)
{
	ssize_t n = pread(fm->fd, blk, GZ_FM_CTL_SIZE, ctl_off(cid));

	return n == GZ_FM_CTL_SIZE ? 0 : n < 0 ? -errno : -EIO;
}

int gz_fm_ctl_put(struct gz_fm *fm, uint32_t cid, const uint8_t *blk)
{
	static const uint8_t zero[GZ_FM_CTL_SIZE];
	uint8_t was[GZ_FM_CTL_SIZE];
	ssize_t n;

	/* zeros over zeros (a hole) would allocate its page */
	if (!blk && !gz_fm_ctl_get(fm, cid, was) &&
	    !memcmp(was, zero, sizeof(was)))
		return 0;
	n = pwrite(fm->fd, blk ? blk : zero, GZ_FM_CTL_SIZE, ctl_off(cid));
	return n == GZ_FM_CTL_SIZE ? 0 : n < 0 ? -errno : -EIO;
}

void gz_fm_zero_tail(struct gz_fm *fm)
{
	static const uint8_t zero[GZ_FM_MAX_CID + 1];

	uint8_t row[GZ_FM_MAX_CID + 1];

	/* zeros over zeros (a hole) would allocate its page */
	for (uint32_t c = 0; c <= GZ_FM_MAX_CID; c++) {
		gz_fm_ctl_put(fm, c, NULL);
		if (gz_fm_row_read(fm, c, row) ||
		    memcmp(row, zero, sizeof(row)))
			gz_fm_row_write(fm, c, zero);
	}
}

/* The seqlock left odd (@q) by a killed manager, made even. 0 if
 * another process repaired or changed it first. */
static int seq_repair(const struct gz_fm *fm, uint32_t q)
{
	_Atomic uint32_t *seq = (_Atomic uint32_t *)&fm->map->hdr.h.seq;

	if (!(q & 1) || !atomic_compare_exchange_strong(seq, &q, q + 1))
		return 0;
	(void)gz_err(0,
		     "fabric %s: its manager was killed mid-change; "
		     "the next change rewrites what it left",
		     fm->name);
	return 1;
}

int gz_fm_lock(struct gz_fm *fm)
{
	int ret;

	if (fm->pid != (int32_t)getpid())
		return gz_err(-EPERM,
			      "fabric %s: this handle was opened by pid %d; "
			      "a forked child opens its own",
			      fm->name, (int)fm->pid);
	pthread_mutex_lock(&fm->lock);
	ret = gz_sys_filelock(fm->fd, gz_sys_setup_timeout_ms());
	if (ret)
		pthread_mutex_unlock(&fm->lock);

	if (ret == -ETIMEDOUT)
		return gz_err(ret,
			      "fabric %s: its manager has been busy for "
			      "%d ms in pid %d (stopped, or in a debugger?): "
			      "resume or kill it, or raise "
			      "GENZIO_SETUP_TIMEOUT_MS",
			      fm->name, gz_sys_setup_timeout_ms(),
			      (int)atomic_load(&fm->map->hdr.h.holder));
	if (ret)
		return gz_err(ret, "fabric %s: manager lock: %s", fm->name,
			      strerror(-ret));
	/* odd under the lock: only a manager killed mid-change leaves it
	 * so. Even again, its half-written topology goes through check()
	 * like any other input, and this change rewrites it. */
	seq_repair(fm, atomic_load(&fm->map->hdr.h.seq));
	atomic_store(&fm->map->hdr.h.holder, (int32_t)getpid());
	return 0;
}

void gz_fm_unlock(struct gz_fm *fm)
{
	atomic_store(&fm->map->hdr.h.holder, 0);
	gz_sys_fileunlock(fm->fd);
	pthread_mutex_unlock(&fm->lock);
}

static void terminate(char *s, size_t n)
{
	s[n - 1] = 0;
}

/* Check the copy: every index in range, every name a string. */
static int check(const struct gz_fm *fm, struct gz_fm_snap *s)
{
	if (!s->nsw || s->nsw > GZ_FM_MAX_SW || s->nlink > GZ_FM_MAX_LINK ||
	    !s->subnet || s->subnet > 0xffff)
		return gz_err(-EPROTO,
			      "fabric %s: its manager file says %u "
			      "switches, %u links, subnet %#x",
			      fm->name, s->nsw, s->nlink, s->subnet);
	terminate(s->source, sizeof(s->source));
	for (uint32_t i = 0; i < s->nsw; i++)
		terminate(s->sw[i].name, sizeof(s->sw[i].name));
	for (uint32_t i = 0; i < s->nlink; i++)
		if (s->link[i].a >= s->nsw || s->link[i].b >= s->nsw ||
		    s->link[i].a == s->link[i].b)
			return gz_err(-EPROTO,
				      "fabric %s: link %u joins %u and "
				      "%u of %u switches",
				      fm->name, i, s->link[i].a, s->link[i].b,
				      s->nsw);
	for (uint32_t c = 0; c <= GZ_FM_MAX_CID; c++) {
		struct gz_fm_comp *e = &s->comp[c];

		e->flags &= GZ_FM_FLAGS;
		terminate(e->name, sizeof(e->name));
		if (!c)
			e->flags = 0;
		if (gz_fm_has(s, c) && e->sw >= s->nsw)
			return gz_err(-EPROTO,
				      "fabric %s: component %u on "
				      "switch %u of %u",
				      fm->name, c, e->sw, s->nsw);
	}
	return 0;
}

int gz_fm_seq_wait(const struct gz_fm *fm, struct gz_fm_wait *w, uint32_t q)
{
	/* a bound in time, not in tries: a yield on a loaded core may cost
	 * a scheduler slice */
	if (w->tries++ < 64)
		return 0;
	if (!w->since)
		w->since = gz_sys_now_ns();
	sched_yield();
	if (gz_sys_now_ns() - w->since <= SEQ_WAIT_NS)
		return 0;
	/* odd with nobody holding the lock: its manager was killed, and
	 * only the next change would repair it. The lock, not a pid in
	 * the file: it cannot be stale, recycled or of another pid
	 * namespace. Once per read, so the bound stays one. */
	/* (a CAS lost to another reader's repair, or to a manager that
	 * moved on, is progress too: read again) */
	if ((q & 1) && !w->repaired && !gz_sys_filelock_held(fm->fd) &&
	    (seq_repair(fm, q) ||
	     atomic_load((_Atomic uint32_t *)&fm->map->hdr.h.seq) != q)) {
		w->repaired = 1;
		w->tries = 0;
		w->since = 0;
		return 0;
	}
	return 1;
}

int gz_fm_snapshot(const struct gz_fm *fm, struct gz_fm_snap *s)
{
	const struct gz_fm_file *f = fm->map;
	struct gz_fm_wait w = {0};
	uint32_t q = 0;

	while (!gz_fm_seq_wait(fm, &w, q)) {
		uint32_t nsw, nlink;

		q = atomic_load_explicit((_Atomic uint32_t *)&f->hdr.h.seq,
					 memory_order_acquire);
		if (q & 1) {
			sched_yield(); /* a manager computes routes */
			continue;
		}
		if (f->hdr.h.magic != GZ_FM_MAGIC ||
		    f->hdr.h.version != GZ_FM_VERSION)
			return f->hdr.h.magic
				   ? gz_err(
					 -EPROTO,
					 "fabric %s: its "
					 "manager file is of another version: "
					 "remove it (no process of the fabric "
					 "may run)",
					 fm->name)
				   : -ENOENT;
		s->seq = q;
		s->subnet = f->hdr.h.subnet;
		/* the counts bound the copies: load them once */
		nsw = s->nsw = GZ_READ_ONCE(f->hdr.h.nsw);
		nlink = s->nlink = GZ_READ_ONCE(f->hdr.h.nlink);
		s->described = f->hdr.h.described;
		memcpy(s->source, f->hdr.h.source, sizeof(s->source));
		memcpy(s->sw, f->sw,
		       sizeof(s->sw[0]) *
			   (nsw < GZ_FM_MAX_SW ? nsw : GZ_FM_MAX_SW));
		memcpy(s->link, f->link,
		       sizeof(s->link[0]) *
			   (nlink < GZ_FM_MAX_LINK ? nlink : GZ_FM_MAX_LINK));
		memcpy(s->comp, f->comp, sizeof(s->comp));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit((_Atomic uint32_t *)&f->hdr.h.seq,
					 memory_order_relaxed) == q)
			return check(fm, s);
	}
	return gz_err(-EAGAIN,
		      "fabric %s: its manager, pid %d, stayed mid-change "
		      "(stopped, or in a debugger?)",
		      fm->name,
		      (int)atomic_load((_Atomic int32_t *)&f->hdr.h.holder));
}

int gz_fm_present(const struct gz_fm_snap *s, uint32_t cid)
{
	const struct gz_fm_comp *c = &s->comp[cid];

	return cid && cid <= GZ_FM_MAX_CID &&
	       (c->flags & (GZ_FM_ATTACHED | GZ_FM_REMOVED)) ==
		   GZ_FM_ATTACHED &&
	       gz_sys_proc_alive(c->pid, c->starttime) == 1;
}

int gz_fm_link_up(const struct gz_fm_snap *s, uint32_t i)
{
	const struct gz_fm_link *l = &s->link[i];

	return l->up && s->sw[l->a].up && s->sw[l->b].up;
}

int gz_fm_comp_link_up(const struct gz_fm_snap *s, uint32_t cid)
{
	const struct gz_fm_comp *c = &s->comp[cid];

	return gz_fm_has(s, cid) &&
	       !(c->flags & (GZ_FM_LINK_DOWN | GZ_FM_REMOVED)) &&
	       s->sw[c->sw].up;
}

int gz_fm_topo(const struct gz_fm_snap *s, int live, struct gz_topo *t)
{
	int ret = 0;

	gz_topo_init(t);
	for (uint32_t i = 0; i < s->nsw && !ret; i++) {
		ret = gz_topo_add_switch(t, s->sw[i].name, s->subnet);
		if (!ret)
			t->sw[i].up = !live || s->sw[i].up;
	}
	for (uint32_t i = 0; i < s->nlink && !ret; i++) {
		ret = gz_topo_add_link(t, s->link[i].a, s->link[i].b);
		if (!ret)
			t->link[i].up = !live || s->link[i].up;
	}
	if (!ret)
		ret = gz_topo_index(t);
	if (ret)
		gz_topo_free(t);
	return ret;
}
