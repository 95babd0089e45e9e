// SPDX-License-Identifier: MIT
/*
 * lib/fabric/fm*.c against a manager file that other processes wrote
 * wrong: every count, index, offset and log entry is input. A bad file is
 * an error (-EPROTO, -EAGAIN, events counted lost), never a crash or a
 * read out of bounds (run under ASan by the test command).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>

#include "fabric/fm.h"
#include "fabric/route.h"
#include "fabric/topo.h"
#include "sys/sys.h"

/* Linked with -Wl,--wrap=gz_route_build: a manager whose routes cannot
 * be computed (out of memory), on demand. */
static int route_fail;
int __real_gz_route_build(const struct gz_topo *t, struct gz_routes *r);
int __wrap_gz_route_build(const struct gz_topo *t, struct gz_routes *r);
int __wrap_gz_route_build(const struct gz_topo *t, struct gz_routes *r)
{
	return route_fail ? -ENOMEM : __real_gz_route_build(t, r);
}

static int dirfd_;
static char name[32];
static struct gz_fm fm;
static struct gz_fm_snap snap;

static const char ring[] = "switch a\nswitch b\nswitch c\n"
			   "link a b\nlink b c\nlink c a\n"
			   "component x a\ncomponent y b\ncomponent z c\n";

/* A fabric of three switches with x attached (this process). */
static void setup(void)
{
	struct gz_fm_self self = { .caps = 3, .data_size = 1 << 20 };
	struct gz_topo t;
	char err[256], why[256];
	int built;

	cr_assert_eq(gz_sys_privdir_open("/dev/shm", &dirfd_, why,
					 sizeof(why)), 0, "%s", why);
	snprintf(name, sizeof(name), "fmunit%d", (int)getpid());
	cr_assert_eq(gz_fm_open(dirfd_, name, 1, &fm), 0);
	cr_assert_eq(gz_topo_parse(ring, strlen(ring), "r", &t, err, 256), 0);
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(gz_fm_build(&fm, &t, "r", 1, &built), 0);
	cr_assert_eq(built, 1);
	cr_assert_eq(gz_fm_attach(&fm, 1, 7, &self), 0);
	gz_fm_unlock(&fm);
	gz_topo_free(&t);
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0);
}

static void teardown(void)
{
	char path[64];

	gz_fm_close(&fm);
	snprintf(path, sizeof(path), "%s.fm", name);
	unlinkat(dirfd_, path, 0);
	close(dirfd_);
}

/* Row @a of path words all 0xff: a word read back as PRIMARY (0) then
 * is one the manager wrote, not a hole. */
static void row_garble(uint32_t a)
{
	uint8_t row[GZ_FM_MAX_CID + 1];

	memset(row, 0xff, sizeof(row));
	cr_assert_eq(gz_fm_row_write(&fm, a, row), 0);
}

/* Path word a -> b, as the file holds it. */
static uint8_t word(uint32_t a, uint32_t b)
{
	uint8_t row[GZ_FM_MAX_CID + 1];

	cr_assert_eq(gz_fm_row_read(&fm, a, row), 0);
	return row[b];
}

TestSuite(fm, .init = setup, .fini = teardown, .timeout = 60);

Test(fm, a_sound_file_reads_back_as_built)
{
	struct genzio_component c;

	cr_assert_eq(snap.nsw, 3);
	cr_assert_eq(snap.nlink, 3);
	cr_assert(gz_fm_present(&snap, 1));
	cr_assert(!gz_fm_present(&snap, 2), "declared, not attached");
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1001, &c), 0);
	cr_assert_eq(c.caps, 3);
	cr_assert_str_eq(c.iface[0].peer, "a");
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1002, &c), -EHOSTUNREACH);
}

Test(fm, counts_and_indexes_out_of_range_are_eproto)
{
	struct gz_fm_hdr *h = &fm.map->hdr.h;

	h->nsw = GZ_FM_MAX_SW + 1;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), -EPROTO);
	h->nsw = 0;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), -EPROTO);
	h->nsw = 3;
	h->nlink = UINT32_MAX;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), -EPROTO);
	h->nlink = 3;
	fm.map->link[1].b = 3;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), -EPROTO, "a link to nothing");
	fm.map->link[1].b = 1;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), -EPROTO, "a link to itself");
	fm.map->link[1].b = 2;
	fm.map->comp[2].sw = 99;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), -EPROTO);
	fm.map->comp[2].sw = 1;
	h->subnet = 0x10000;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), -EPROTO);
	h->subnet = 1;
	/* unterminated names are cut, not read past */
	memset(fm.map->sw[0].name, 'A', sizeof(fm.map->sw[0].name));
	memset(fm.map->comp[3].name, 'B', sizeof(fm.map->comp[3].name));
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0);
	cr_assert_eq(strlen(snap.sw[0].name), GZ_FM_NAME - 1);
	cr_assert_eq(strlen(snap.comp[3].name), GZ_FM_NAME - 1);
	h->magic ^= 1;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), -EPROTO);
}

/* A manager of its own (a process, its own open file) that stops in the
 * middle of a change, the lock held. */
static pid_t stopped_manager(void)
{
	struct gz_fm m;
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (!pid) {
		if (gz_fm_open(dirfd_, name, 0, &m) || gz_fm_lock(&m))
			_exit(1);
		gz_fm_begin(&m);
		raise(SIGSTOP);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(status), "the manager did not get mid-change");
	return pid;
}

Test(fm, a_manager_stopped_mid_change_is_eagain_not_a_hang)
{
	struct genzio_component c;
	pid_t dead = fork(), pid;
	int snap_ret, ctl_ret, odd;

	cr_assert_geq(dead, 0);
	if (!dead)
		_exit(0);
	cr_assert_eq(waitpid(dead, NULL, 0), dead);
	pid = stopped_manager();
	/* the pid the file names is no proof: the lock is */
	atomic_store(&fm.map->hdr.h.holder, (int32_t)dead);
	snap_ret = gz_fm_snapshot(&fm, &snap);
	ctl_ret = gz_fm_ctl_read(&fm, 0x1001, &c);
	odd = atomic_load(&fm.map->hdr.h.seq) & 1;
	/* killed where it stopped (before any assert: a stopped child
	 * would hold the lock past this test): the lock goes with it */
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	cr_assert_eq(snap_ret, -EAGAIN);
	cr_assert_eq(ctl_ret, -EAGAIN);
	cr_assert_eq(odd, 1, "not repaired under a live manager");
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1001, &c), 0,
		     "a control-space reader repairs it too");
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0);
}

/* The core structure's "first" and each interface's "next": offsets
 * into the block the reader must check before following. */
Test(fm, control_space_offsets_are_checked_before_use)
{
	/* as another process writes it: through a mapping of its page */
	off_t at = (off_t)offsetof(struct gz_fm_file, ctl[1]);
	off_t pg = (off_t)sysconf(_SC_PAGESIZE);
	uint8_t *page = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
			     MAP_SHARED, fm.fd, at & ~(pg - 1));
	uint8_t *blk = page + (at & (pg - 1));
	struct genzio_component c;
	uint32_t first, next;

	cr_assert_neq(page, MAP_FAILED);

	memcpy(&first, blk + 40, 4);	/* struct ctl_core.first */
	cr_assert_eq(first, 128, "the layout this test knows");
	memcpy(&next, blk + first + 4, 4);
	cr_assert_eq(next, 0);
	next = first;			/* a loop */
	memcpy(blk + first + 4, &next, 4);
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1001, &c), -EPROTO);
	next = GZ_FM_CTL_SIZE - 8;	/* past the end */
	memcpy(blk + first + 4, &next, 4);
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1001, &c), -EPROTO);
	next = 0;
	memcpy(blk + first + 4, &next, 4);
	first = 3;			/* misaligned, inside the core */
	memcpy(blk + 40, &first, 4);
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1001, &c), -EPROTO);
	first = 128;
	memcpy(blk + 40, &first, 4);
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1001, &c), 0);
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1000, &c), -EHOSTUNREACH, "CID 0");
	blk[128] = 9;			/* not an interface structure */
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1001, &c), -EPROTO);
	srand(3);
	for (int i = 0; i < 20000; i++) {
		blk[rand() % GZ_FM_CTL_SIZE] = (uint8_t)rand();
		gz_fm_ctl_read(&fm, 0x1001, &c);
	}
	munmap(page, (size_t)pg);
}

struct got {
	int n;
	uint32_t type[8];
};

static void take(void *arg, const struct gz_fm_uep *e)
{
	struct got *g = arg;

	if (g->n < 8)
		g->type[g->n] = e->type;
	g->n++;
}

Test(fm, the_event_log_refuses_garbage_and_counts_what_it_lost)
{
	uint64_t next = gz_fm_log_head(&fm), lost = 0, h;
	struct got g = { 0 };

	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "a", "b"), 0);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_UP, "a", "b"), 0);
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_eq(g.n, 2, "down and up: a log keeps both");
	cr_assert_eq(g.type[0], GENZIO_EVENT_LINK_DOWN);
	cr_assert_eq(g.type[1], GENZIO_EVENT_LINK_UP);
	cr_assert_eq(lost, 0);
	/* an entry whose seq is not its index, one of no known type */
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "a", "b"), 0);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_UP, "a", "b"), 0);
	h = gz_fm_log_head(&fm);
	fm.map->log[(h - 2) % GZ_FM_LOG].seq = 12345;
	fm.map->log[(h - 1) % GZ_FM_LOG].type = 0;
	g.n = 0;
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_eq(g.n, 0);
	cr_assert_eq(lost, 2);
	/* a head far ahead (a writer a lap ahead, or garbage) */
	atomic_store(&fm.map->hdr.h.log_head, h + 10 * GZ_FM_LOG);
	lost = 0;
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_eq(next, h + 10 * GZ_FM_LOG);
	cr_assert_geq(lost, 9 * GZ_FM_LOG);
	/* and one gone backwards */
	atomic_store(&fm.map->hdr.h.log_head, 5);
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_leq(next, 5);
}

Test(fm, faults_set_path_words_and_a_rebuild_waits_for_the_empty_fabric)
{
	struct gz_fm_self self = { 0 };
	struct gz_topo t;
	int built;

	/* y attached too: x -> y is direct over a-b, else round by c */
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(gz_fm_attach(&fm, 2, 8, &self), 0);
	gz_fm_unlock(&fm);
	cr_assert_eq(word(1, 2), GZ_FM_PATH_PRIMARY);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "a", "b"), 0);
	cr_assert_eq(word(1, 2), GZ_FM_PATH_ALTERNATE);
	cr_assert_eq(word(2, 1), GZ_FM_PATH_ALTERNATE);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_SWITCH_DOWN, "c", NULL), 0);
	cr_assert_eq(word(1, 2), GZ_FM_PATH_DOWN);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_UP, "a", "b"), 0);
	cr_assert_eq(word(1, 2), GZ_FM_PATH_PRIMARY);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_COMPONENT_REMOVE, "y",
				  NULL), 0);
	cr_assert_eq(word(1, 2), GZ_FM_PATH_DOWN);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_COMPONENT_REMOVE, "0x1002",
				  NULL), -EALREADY);
	/* x and y live (this process): a new description is not taken */
	cr_assert_eq(gz_topo_default(&t, 1), 0);
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(gz_fm_build(&fm, &t, NULL, 1, &built), 0);
	cr_assert_eq(built, 0);
	gz_fm_unlock(&fm);
	gz_fm_detach(&fm, 1, 999);	/* not its incarnation: stays */
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0);
	cr_assert(gz_fm_present(&snap, 1));
	gz_fm_detach(&fm, 1, 7);
	gz_fm_detach(&fm, 2, 8);
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(gz_fm_build(&fm, &t, NULL, 1, &built), 0);
	cr_assert_eq(built, 1, "empty now: rebuilt");
	gz_fm_unlock(&fm);
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0);
	cr_assert_eq(snap.nsw, 1);
	cr_assert_eq(word(1, 2), 0, "old path words punched out");
	gz_topo_free(&t);
}

Test(fm, random_bytes_anywhere_in_the_topology_never_crash_a_reader)
{
	uint8_t *base = (uint8_t *)fm.map;
	size_t len = offsetof(struct gz_fm_file, log);
	struct genzio_component c;
	struct gz_topo t;

	srand(17);
	for (int i = 0; i < 3000; i++) {
		for (int k = 0; k < 16; k++)
			base[(size_t)rand() % len] = (uint8_t)rand();
		fm.map->hdr.h.seq &= ~1u;
		if (!gz_fm_snapshot(&fm, &snap) && !gz_fm_topo(&snap, 1, &t))
			gz_topo_free(&t);
		gz_fm_ctl_read(&fm, 0x1001, &c);
	}
}

Test(fm, a_manager_killed_mid_change_is_repaired_by_the_next)
{
	_Atomic uint32_t *seq = &fm.map->hdr.h.seq;

	/* killed between begin and end: seq odd, nobody holds the lock */
	atomic_fetch_add(seq, 1);
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0,
		     "a reader repairs it, the lock being free");
	cr_assert_eq(atomic_load(seq) & 1, 0);
	atomic_fetch_add(seq, 1);
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(atomic_load(seq) & 1, 0, "and so does the next manager");
	gz_fm_unlock(&fm);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "a", "b"), 0,
		     "and the next change goes through");
}

Test(fm, a_log_entry_mid_write_is_counted_lost_not_read)
{
	uint64_t next = gz_fm_log_head(&fm), lost = 0, h;
	struct got g = { 0 };

	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "a", "b"), 0);
	h = gz_fm_log_head(&fm);
	/* what append() leaves when its writer dies among the fields */
	fm.map->log[(h - 1) % GZ_FM_LOG].seq = UINT64_MAX;
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_eq(g.n, 0);
	cr_assert_eq(lost, 1);
	/* the next writer rewrites that slot only a lap later; the log
	 * goes on */
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_UP, "a", "b"), 0);
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.type[0], GENZIO_EVENT_LINK_UP);
}

Test(fm, a_join_whose_routes_fail_is_undone)
{
	struct genzio_component c;
	struct gz_fm_self self = { 0 };
	uint64_t next = gz_fm_log_head(&fm), lost = 0;
	struct got g = { 0 };

	route_fail = 1;
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(gz_fm_attach(&fm, 2, 8, &self), -ENOMEM);
	gz_fm_unlock(&fm);
	route_fail = 0;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0);
	cr_assert(!(snap.comp[2].flags & GZ_FM_ATTACHED), "not left joined");
	cr_assert(snap.comp[2].flags & GZ_FM_DECLARED, "free for the next");
	cr_assert_eq(gz_fm_ctl_read(&fm, 0x1002, &c), -EHOSTUNREACH);
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_eq(g.n, 0, "nobody heard it join");
	row_garble(1);
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(gz_fm_attach(&fm, 2, 8, &self), 0);
	gz_fm_unlock(&fm);
	cr_assert_eq(word(1, 2), GZ_FM_PATH_PRIMARY);
}

Test(fm, a_fault_whose_routes_fail_is_not_made)
{
	uint64_t next = gz_fm_log_head(&fm), lost = 0;
	struct got g = { 0 };

	route_fail = 1;
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "a", "b"),
		     -ENOMEM);
	route_fail = 0;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0);
	cr_assert(gz_fm_link_up(&snap, 0), "the link stays up");
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_eq(g.n, 0, "and no event says otherwise");
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "a", "b"), 0);
	gz_fm_events(&fm, &next, take, &g, &lost);
	cr_assert_eq(g.n, 1);
	/* y is declared, not attached: its link's fault is taken back too */
	route_fail = 1;
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "y", "b"),
		     -ENOMEM);
	route_fail = 0;
	cr_assert_eq(gz_fm_snapshot(&fm, &snap), 0);
	cr_assert(!(snap.comp[2].flags & GZ_FM_LINK_DOWN), "y's link stays up");
}

/* A chain of @n switches, a component at each end. */
static void chain(uint32_t n, struct gz_topo *t)
{
	char sw[16];

	gz_topo_init(t);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(sw, sizeof(sw), "s%u", i);
		cr_assert_eq(gz_topo_add_switch(t, sw, 1), 0);
		if (i)
			cr_assert_eq(gz_topo_add_link(t, i - 1, i), 0);
	}
	cr_assert_eq(gz_topo_add_comp(t, "head", 0x1001, 0), 0);
	cr_assert_eq(gz_topo_add_comp(t, "tail", 0x1002, n - 1), 0);
	cr_assert_eq(gz_topo_index(t), 0);
}

Test(fm, a_host_fabric_takes_255_switches_in_a_chain_not_256)
{
	struct gz_fm_self self = { 0 };
	struct gz_topo t;
	int built;

	gz_fm_detach(&fm, 1, 7);
	chain(256, &t);
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(gz_fm_build(&fm, &t, "chain", 1, &built), -E2BIG,
		     "refused at build, named; not every join");
	gz_fm_unlock(&fm);
	gz_topo_free(&t);
	chain(255, &t);
	cr_assert_eq(gz_fm_lock(&fm), 0);
	cr_assert_eq(gz_fm_build(&fm, &t, "chain", 1, &built), 0);
	cr_assert_eq(built, 1);
	cr_assert_eq(gz_fm_attach(&fm, 1, 7, &self), 0);
	row_garble(1);
	cr_assert_eq(gz_fm_attach(&fm, 2, 8, &self), 0, "254 hops route");
	gz_fm_unlock(&fm);
	gz_topo_free(&t);
	cr_assert_eq(word(1, 2), GZ_FM_PATH_PRIMARY);
	cr_assert_eq(gz_fm_inject(&fm, GENZIO_FAULT_LINK_DOWN, "s0", "s1"), 0);
	cr_assert_eq(word(1, 2), GZ_FM_PATH_DOWN, "a chain has no alternate");
}
