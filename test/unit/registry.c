// SPDX-License-Identifier: MIT
/* lib/fabric/registry.c and lib/sys/proc.c: GCID allocation, liveness,
 * reclaim of what a killed process left behind, and a registry that other
 * processes may stop, corrupt or forge. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fabric/fabric.h"
#include "fabric/liveness.h"
#include "lib/gzt.h"
#include "sys/sys.h"

TestSuite(registry, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 30);

static const char *fabric(void)
{
	return getenv("GENZIO_FABRIC");
}

static int dir(void)
{
	static int fd = -1;
	char why[256];

	if (fd < 0)
		cr_assert_eq(gz_sys_privdir_open("/dev/shm", &fd, why,
						 sizeof(why)), 0, "%s", why);
	return fd;
}

static void reg_open(struct gz_fabric *f)
{
	cr_assert_eq(gz_fabric_open(dir(), fabric(), 1, f), 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

Test(registry, joins_take_lowest_free_cid_with_rising_incarnations)
{
	struct gz_fabric f;
	uint32_t a, b, c;
	uint64_t ia, ib, ic;

	reg_open(&f);
	cr_assert_eq(gz_fabric_join(&f, NULL, NULL, NULL, &a, &ia), 0);
	cr_assert_eq(gz_fabric_join(&f, NULL, NULL, NULL, &b, &ib), 0);
	cr_assert_eq(a, 1);
	cr_assert_eq(b, 2);
	cr_assert_gt(ib, ia);
	gz_fabric_leave(&f, a, ia);
	cr_assert_eq(gz_fabric_join(&f, NULL, NULL, NULL, &c, &ic), 0);
	cr_assert_eq(c, 1, "freed CID reused");
	cr_assert_gt(ic, ib, "but never its incarnation");
	gz_fabric_close(&f);
}

Test(registry, lookup_finds_live_members_only)
{
	struct gz_fabric_member m;
	struct gz_fabric f;
	uint32_t a;
	uint64_t ia;

	reg_open(&f);
	cr_assert_eq(gz_fabric_join(&f, NULL, NULL, NULL, &a, &ia), 0);
	cr_assert_eq(gz_fabric_lookup(&f, a, &m), 0);
	cr_assert_eq(m.incarnation, ia);
	cr_assert_eq(m.pid, getpid());
	cr_assert_eq(gz_fabric_lookup(&f, a + 1, &m), -EHOSTUNREACH);
	cr_assert_eq(gz_fabric_lookup(&f, 0, &m), -EHOSTUNREACH);
	cr_assert_eq(gz_fabric_lookup(&f, 4096, &m), -EHOSTUNREACH);
	gz_fabric_leave(&f, a, ia);
	cr_assert_eq(gz_fabric_lookup(&f, a, &m), -EHOSTUNREACH);
	gz_fabric_close(&f);
}

struct swept {
	uint32_t cid;
	uint64_t inc;
	int n;
};

static void sweep(void *arg, uint32_t cid, uint64_t inc)
{
	struct swept *s = arg;

	s->cid = cid;
	s->inc = inc;
	s->n++;
}

Test(registry, killed_member_is_reclaimed_and_swept)
{
	struct swept s = { 0 };
	struct gz_fabric_member m;
	struct gz_fabric f;
	uint32_t cid, again;
	uint64_t inc, inc2;
	int pfd[2], st;
	pid_t pid;

	reg_open(&f);
	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	if (!pid) {
		uint32_t c;
		uint64_t i;

		if (gz_fabric_join(&f, NULL, NULL, NULL, &c, &i) ||
		    write(pfd[1], &c, sizeof(c)) != sizeof(c) ||
		    write(pfd[1], &i, sizeof(i)) != sizeof(i))
			_exit(2);
		pause();
		_exit(3);
	}
	cr_assert_eq(read(pfd[0], &cid, sizeof(cid)), (ssize_t)sizeof(cid));
	cr_assert_eq(read(pfd[0], &inc, sizeof(inc)), (ssize_t)sizeof(inc));
	cr_assert_eq(gz_fabric_lookup(&f, cid, &m), 0);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(gz_fabric_lookup(&f, cid, &m), -EHOSTUNREACH);
	cr_assert_eq(gz_fabric_join(&f, sweep, &s, NULL, &again, &inc2), 0);
	cr_assert_eq(again, cid, "the dead member's CID is reused");
	cr_assert_eq(s.n, 1, "its files were swept once");
	cr_assert_eq(s.cid, cid);
	cr_assert_eq(s.inc, inc);
	gz_fabric_close(&f);
}

Test(registry, reopening_with_another_subnet_is_refused)
{
	struct gz_fabric f, f2;

	reg_open(&f);
	cr_assert_eq(gz_fabric_open(dir(), fabric(), 2, &f2), -EINVAL);
	gz_fabric_close(&f);
}

Test(registry, a_foreign_file_in_its_place_is_refused)
{
	struct gz_fabric f;
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "%s.reg", fabric());
	fd = openat(dir(), name, O_CREAT | O_WRONLY | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, sizeof(struct gz_fabric_regfile)), 0);
	cr_assert_eq(write(fd, "junk", 4), 4);
	close(fd);
	cr_assert_eq(gz_fabric_open(dir(), fabric(), 1, &f), -EPROTO);
}

Test(registry, a_symlink_in_its_place_is_never_followed)
{
	struct gz_fabric f;
	char name[64];

	snprintf(name, sizeof(name), "%s.reg", fabric());
	cr_assert_eq(symlinkat("/etc/passwd", dir(), name), 0);
	cr_assert_eq(gz_fabric_open(dir(), fabric(), 1, &f), -EPERM);
}

Test(registry, a_registry_of_another_pid_namespace_is_refused)
{
	struct gz_fabric f;

	reg_open(&f);
	f.reg->pidns ^= 0x5a5a;		/* as made in another namespace */
	gz_fabric_close(&f);
	cr_assert_eq(gz_fabric_open(dir(), fabric(), 1, &f), -EXDEV);
}

Test(registry, a_stopped_lock_holder_bounds_joins_and_never_lookups)
{
	struct gz_fabric_member m;
	struct gz_fabric f, held;
	uint32_t cid;
	uint64_t inc, t0;
	int pfd[2], st;
	pid_t pid;
	char c;

	reg_open(&f);
	cr_assert_eq(gz_fabric_join(&f, NULL, NULL, NULL, &cid, &inc), 0);
	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	if (!pid) {
		/* takes the lock as a join would, then is stopped there */
		if (gz_fabric_open(dir(), fabric(), 1, &held) ||
		    gz_sys_filelock(held.fd, 1000))
			_exit(1);
		atomic_store(&held.reg->holder, getpid());
		if (write(pfd[1], "x", 1) != 1)
			_exit(2);
		raise(SIGSTOP);
		_exit(0);
	}
	cr_assert_eq(read(pfd[0], &c, 1), 1);
	setenv("GENZIO_SETUP_TIMEOUT_MS", "300", 1);
	t0 = now_ms();
	cr_assert_eq(gz_fabric_join(&f, NULL, NULL, NULL, &cid, &inc), -ETIMEDOUT);
	cr_assert_lt(now_ms() - t0, 5000, "bounded by the setup timeout");
	/* lookups take no lock: the poll and post paths never wait */
	t0 = now_ms();
	cr_assert_eq(gz_fabric_lookup(&f, 1, &m), 0);
	cr_assert_lt(now_ms() - t0, 1000);
	/* its death gives the lock back, whatever it held */
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(gz_fabric_join(&f, NULL, NULL, NULL, &cid, &inc), 0);
	unsetenv("GENZIO_SETUP_TIMEOUT_MS");
	gz_fabric_close(&f);
}

Test(registry, garbage_in_every_slot_neither_hangs_nor_crashes)
{
	struct gz_fabric_member m;
	struct gz_fabric f;
	uint32_t cid;
	uint64_t inc;

	reg_open(&f);
	gzt_fill(f.reg->slot, sizeof(f.reg->slot), 77);
	/* some slots left mid-update for good */
	for (uint32_t i = 0; i < GZ_FABRIC_MAX_CID; i += 7)
		atomic_store(&f.reg->slot[i].seq, 1);
	for (uint32_t c = 1; c <= GZ_FABRIC_MAX_CID; c++) {
		int r = gz_fabric_lookup(&f, c, &m);

		cr_assert(r == -EHOSTUNREACH || r == -EAGAIN ||
				  (!r && m.pid > 0),
			  "cid %u: %d", c, r);
	}
	/* a join reclaims what no live process holds */
	cr_assert_eq(gz_fabric_join(&f, NULL, NULL, NULL, &cid, &inc), 0);
	cr_assert_geq(cid, 1);
	cr_assert_eq(gz_fabric_lookup(&f, cid, &m), 0);
	cr_assert_eq(m.incarnation, inc);
	gz_fabric_close(&f);
}

Test(registry, a_creator_killed_mid_build_leaves_nothing_behind)
{
	struct gz_fabric f;
	char name[96];
	pid_t dead = fork();
	int fd;

	if (!dead)
		_exit(0);
	cr_assert_eq(waitpid(dead, NULL, 0), dead);
	/* only a creator sweeps: a registry of this name left by a process
	 * that had our pid before (scripts' fabrics are gzt<pid> too, and
	 * pids wrap during a long run) would make this one no creator */
	snprintf(name, sizeof(name), "%s.reg", fabric());
	unlinkat(dir(), name, 0);
	snprintf(name, sizeof(name), ".%s.reg.%d.0badf00d", fabric(),
		 (int)dead);
	fd = openat(dir(), name, O_CREAT | O_WRONLY | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	reg_open(&f);
	cr_assert_neq(faccessat(dir(), name, F_OK, 0), 0, "tmp file swept");
	gz_fabric_close(&f);
}

TestSuite(proc, .timeout = 30);

Test(proc, alive_needs_matching_start_time_and_no_zombie)
{
	uint64_t st;
	pid_t pid;
	siginfo_t si;

	cr_assert_eq(gz_sys_proc_starttime(getpid(), &st), 0);
	cr_assert_eq(gz_sys_proc_alive(getpid(), st), 1);
	cr_assert_eq(gz_sys_proc_alive(getpid(), st + 1), 0,
		     "same pid, other incarnation");
	cr_assert_eq(gz_sys_proc_alive(0, st), 0);
	pid = fork();
	if (!pid)
		_exit(0);
	cr_assert_eq(gz_sys_proc_starttime(pid, &st), 0);
	cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	cr_assert_eq(gz_sys_proc_alive(pid, st), 0, "a zombie is dead");
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	cr_assert_eq(gz_sys_proc_alive(pid, st), 0);
}

Test(proc, peek_reads_mapped_memory_and_refuses_the_rest)
{
	uint64_t v = 0x1122334455667788ull, got = 0;
	void *gone = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	cr_assert_eq(gz_sys_peek(&v, &got), 0);
	cr_assert_eq(got, v);
	munmap(gone, 4096);
	cr_assert_eq(gz_sys_peek(gone, &got), -EFAULT);
	cr_assert_eq(gz_sys_peek(NULL, &got), -EFAULT);
}

TestSuite(liveness, .timeout = 30);

Test(liveness, a_watch_follows_the_life_lock_then_the_process)
{
	struct gz_lifelock *l = aligned_alloc(64, sizeof(*l));
	_Atomic uint32_t closed = 0;
	struct gz_fabric_watch w;
	uint64_t st;
	pid_t kid;

	cr_assert_not_null(l);
	memset(l, 0, sizeof(*l));
	cr_assert_eq(gz_sys_proc_starttime(getpid(), &st), 0);
	cr_assert_eq(gz_sys_lifelock_hold(l), 0);
	cr_assert_eq(gz_fabric_watch_init(&w, l, &closed, getpid(), st), 0);
	cr_assert(gz_fabric_alive(&w), "held, unchanged: alive, one load");
	/* released (the holding thread is gone, say): the process still
	 * lives, so alive, and from now on rechecked, rate-limited */
	cr_assert_eq(gz_sys_lifelock_release(l), 1);
	cr_assert(gz_fabric_alive(&w));
	cr_assert_eq(atomic_load(&w.word), GZ_FABRIC_LIFE_UNKNOWN);
	cr_assert(gz_fabric_alive(&w), "within the recheck interval");
	/* closed in order: dead at once, and for good */
	atomic_store(&closed, 1);
	atomic_store(&w.next_check_ns, 0);
	cr_assert_eq(gz_fabric_alive(&w), 0);
	atomic_store(&closed, 0);
	cr_assert_eq(gz_fabric_alive(&w), 0, "dead stays dead");
	/* a process that is gone cannot be watched */
	kid = fork();
	if (!kid)
		_exit(0);
	cr_assert_eq(gz_sys_proc_starttime(kid, &st), 0);
	cr_assert_eq(waitpid(kid, NULL, 0), kid);
	cr_assert_eq(gz_fabric_watch_init(&w, l, &closed, kid, st),
		     -EHOSTUNREACH);
	cr_assert_eq(gz_fabric_watch_init(&w, l, &closed, 0, st),
		     -EHOSTUNREACH);
	free(l);
}
