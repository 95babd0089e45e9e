// SPDX-License-Identifier: MIT
/* lib/providers/shm/shm_registry.c and lib/sys/proc.c: GCID allocation,
 * liveness, and reclaim of what a killed process left behind. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/gzt.h"
#include "providers/shm/shm.h"

TestSuite(registry, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 30);

static const char *fabric(void)
{
	return getenv("GENZIO_FABRIC");
}

static struct gz_shm_registry *reg_open(void)
{
	struct gz_shm_registry *r;

	cr_assert_eq(gz_shm_registry_open(fabric(), 1, &r), 0);
	return r;
}

Test(registry, joins_take_lowest_free_cid_with_rising_incarnations)
{
	struct gz_shm_registry *r = reg_open();
	uint32_t a, b, c;
	uint64_t ia, ib, ic;

	cr_assert_eq(gz_shm_registry_join(r, fabric(), &a, &ia), 0);
	cr_assert_eq(gz_shm_registry_join(r, fabric(), &b, &ib), 0);
	cr_assert_eq(a, 1);
	cr_assert_eq(b, 2);
	cr_assert_gt(ib, ia);
	gz_shm_registry_leave(r, a, ia);
	cr_assert_eq(gz_shm_registry_join(r, fabric(), &c, &ic), 0);
	cr_assert_eq(c, 1, "freed CID reused");
	cr_assert_gt(ic, ib, "but never its incarnation");
	gz_shm_registry_close(r);
}

Test(registry, lookup_finds_live_members_only)
{
	struct gz_shm_registry *r = reg_open();
	uint32_t a;
	uint64_t ia, got;

	cr_assert_eq(gz_shm_registry_join(r, fabric(), &a, &ia), 0);
	cr_assert_eq(gz_shm_registry_lookup(r, a, &got), 0);
	cr_assert_eq(got, ia);
	cr_assert_eq(gz_shm_registry_lookup(r, a + 1, &got), -EHOSTUNREACH);
	cr_assert_eq(gz_shm_registry_lookup(r, 0, &got), -EHOSTUNREACH);
	cr_assert_eq(gz_shm_registry_lookup(r, 4096, &got), -EHOSTUNREACH);
	gz_shm_registry_leave(r, a, ia);
	cr_assert_eq(gz_shm_registry_lookup(r, a, &got), -EHOSTUNREACH);
	gz_shm_registry_close(r);
}

Test(registry, killed_member_is_reclaimed_with_its_files)
{
	struct gz_shm_registry *r = reg_open();
	int pfd[2];
	uint32_t cid, again;
	uint64_t inc, inc2;
	char path[256];
	pid_t pid;
	int st;

	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	if (!pid) {
		uint32_t c;
		uint64_t i;

		if (gz_shm_registry_join(r, fabric(), &c, &i))
			_exit(1);
		/* leave files behind, as a process killed mid-run would */
		snprintf(path, sizeof(path), "/dev/shm/genzio-%s-%u-%" PRIu64
			 "-3", fabric(), c, i);
		close(open(path, O_CREAT | O_WRONLY, 0600));
		if (write(pfd[1], &c, sizeof(c)) != sizeof(c) ||
		    write(pfd[1], &i, sizeof(i)) != sizeof(i))
			_exit(2);
		pause();
		_exit(3);
	}
	cr_assert_eq(read(pfd[0], &cid, sizeof(cid)), (ssize_t)sizeof(cid));
	cr_assert_eq(read(pfd[0], &inc, sizeof(inc)), (ssize_t)sizeof(inc));
	snprintf(path, sizeof(path), "/dev/shm/genzio-%s-%u-%" PRIu64 "-3",
		 fabric(), cid, inc);
	cr_assert_eq(access(path, F_OK), 0);
	cr_assert_eq(gz_shm_registry_lookup(r, cid, &inc2), 0);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(gz_shm_registry_lookup(r, cid, &inc2), -EHOSTUNREACH);
	cr_assert_eq(gz_shm_registry_join(r, fabric(), &again, &inc2), 0);
	cr_assert_eq(again, cid, "the dead member's CID is reused");
	cr_assert_neq(access(path, F_OK), 0, "its files were swept");
	gz_shm_registry_close(r);
}

Test(registry, reopening_with_another_subnet_is_refused)
{
	struct gz_shm_registry *r = reg_open(), *r2;

	cr_assert_eq(gz_shm_registry_open(fabric(), 2, &r2), -EINVAL);
	gz_shm_registry_close(r);
}

Test(registry, a_foreign_file_in_its_place_is_refused)
{
	struct gz_shm_registry *r;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/genzio-%s.reg", fabric());
	fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "junk", 4), 4);
	close(fd);
	cr_assert_eq(gz_shm_registry_open(fabric(), 1, &r), -EPROTO);
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
