// SPDX-License-Identifier: MIT
/*
 * The trust boundary seen from outside: another OS user who plants names
 * where our files go, a joiner from another PID namespace, a forked child
 * holding our fds, a process with no fd left. The attacker is a child that
 * is told what to try, drops to uid/gid 65534, and reports errnos back;
 * every assertion is made here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"

TestSuite(otheruser, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

#define NOBODY 65534
#define MAXF 32

/* A base directory like /dev/shm (sticky, world-writable) made for one
 * test: what is planted in it reaches no other test and no real user. */
static struct {
	char dir[32];
	char priv[48];		/* dir/genzio-0: our files go here */
	char *saved;		/* GENZIO_SHM_DIR before the test */
} base;

/* What the attacker is told before it drops privileges, and its answer. */
struct job {
	void (*fn)(struct job *j);
	char path[PATH_MAX];	/* plant: the name; spy: our private dir */
	char target[PATH_MAX];	/* plant 'l': what the symlink names */
	char kind;		/* plant: 'd' dir 0700, 'D' 0777, 'l', 'f' */
	uint32_t gcid;		/* spy: the victim's */
	int nfile;
	char file[MAXF][NAME_MAX + 1];
	int res[8 + MAXF];	/* an errno (0: it worked), or a return */
};

/* A directory only root may enter, with a canary: what an attacker would
 * like us to write through a planted name. */
static char vdir[32], canary[48];
static const char canary_bytes[] = "genzio canary: must not change\n";

static void recv_all(int fd, void *buf, size_t len)
{
	cr_assert_eq(recv(fd, buf, len, MSG_WAITALL), (ssize_t)len,
		     "the child said nothing");
}

static int rm_one(const char *p, const struct stat *st, int type,
		  struct FTW *f)
{
	(void)st, (void)type, (void)f;
	return remove(p);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void base_make(void)
{
	const char *old = getenv("GENZIO_SHM_DIR");

	gzt_require_registry();
	if (geteuid())
		cr_skip_test("needs root, to act as uid %d against uid 0",
			     NOBODY);
	base.saved = old ? strdup(old) : NULL;
	strcpy(base.dir, "/tmp/gzt-base-XXXXXX");
	cr_assert_not_null(mkdtemp(base.dir));
	cr_assert_eq(chmod(base.dir, 01777), 0);
	snprintf(base.priv, sizeof(base.priv), "%s/genzio-0", base.dir);
	setenv("GENZIO_SHM_DIR", base.dir, 1);
}

/* The .fini of tests that make directories: it also runs after a failed
 * assertion, so nothing is left in /tmp either way. */
static void dirs_fini(void)
{
	if (*base.dir) {
		rm_tree(base.dir);
		if (base.saved)
			setenv("GENZIO_SHM_DIR", base.saved, 1);
		else
			unsetenv("GENZIO_SHM_DIR");
		free(base.saved);
	}
	if (*vdir)
		rm_tree(vdir);
}

/* Names in @dir (the first @max into @name): the count, or -errno. */
static int list_dir(const char *dir, char (*name)[NAME_MAX + 1], int max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			if (n < max)
				strcpy(name[n], de->d_name);
			n++;
		}
	closedir(d);
	return n;
}

static void victim_make(void)
{
	int fd;

	strcpy(vdir, "/tmp/gzt-victim-XXXXXX");
	cr_assert_not_null(mkdtemp(vdir));	/* 0700 */
	snprintf(canary, sizeof(canary), "%s/canary", vdir);
	fd = open(canary, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_eq(write(fd, canary_bytes, sizeof(canary_bytes) - 1),
		     (ssize_t)sizeof(canary_bytes) - 1);
	close(fd);
}

/* 1 if the directory holds just the canary, its bytes, owner and mode. */
static int victim_intact(void)
{
	char buf[64];
	struct stat st;
	ssize_t n;
	int fd;

	if (list_dir(vdir, NULL, 0) != 1 || stat(canary, &st) || st.st_uid ||
	    (st.st_mode & 07777) != 0600 || st.st_nlink != 1)
		return 0;
	fd = open(canary, O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)sizeof(canary_bytes) - 1 &&
	       !memcmp(buf, canary_bytes, (size_t)n);
}

static int err_of(int fd)
{
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int nobody_main(int fd, void *arg)
{
	struct job *j = arg;
	gid_t g = NOBODY;

	/* groups first: once uid is not 0 they can no longer change */
	if (setgroups(1, &g) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return 90;
	j->fn(j);
	return write(fd, j->res, sizeof(j->res)) == sizeof(j->res) ? 0 : 91;
}

/* Run @j as uid/gid 65534; its answer lands in j->res. */
static void as_nobody(struct job *j)
{
	struct gzt_child c;

	cr_assert_eq(gzt_fork(&c, nobody_main, j), 0);
	recv_all(c.fd, j->res, sizeof(j->res));
	cr_assert_eq(gzt_wait(&c), 0);
}

static void plant(struct job *j)
{
	if (j->kind == 'l')
		j->res[0] = symlink(j->target, j->path) ? errno : 0;
	else if (j->kind == 'f')
		j->res[0] = err_of(open(j->path, O_WRONLY | O_CREAT, 0666));
	else	/* chmod too: mkdir's mode is cut by the umask */
		j->res[0] = mkdir(j->path, 0700) ||
			    chmod(j->path, j->kind == 'D' ? 0777 : 0700) ?
				    errno : 0;
}

/* As uid 65534, put @kind at @path (a symlink to @target). */
static void plant_as_nobody(char kind, const char *path, const char *target)
{
	static struct job j;

	j = (struct job){ .fn = plant, .kind = kind };
	snprintf(j.path, sizeof(j.path), "%s", path);
	snprintf(j.target, sizeof(j.target), "%s", target ? target : "");
	as_nobody(&j);
	cr_assert_eq(j.res[0], 0, "planting %s: %s", path, strerror(j.res[0]));
}

Test(otheruser, squatted_private_dir_is_refused_until_removed,
     .fini = dirs_fini)
{
	struct genzio_context *ctx;
	struct stat st;

	base_make();
	for (const char *k = "dD"; *k; k++) {
		plant_as_nobody(*k, base.priv, NULL);
		cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), -EACCES,
			     "squat %c accepted", *k);
		cr_assert_eq(rmdir(base.priv), 0);
	}
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(lstat(base.priv, &st), 0);
	cr_assert(S_ISDIR(st.st_mode) && !st.st_uid &&
		  (st.st_mode & 07777) == 0700);
	cr_assert_eq(genzio_device_close(ctx), 0);
}

Test(otheruser, symlinked_private_dir_is_refused_and_its_target_untouched,
     .fini = dirs_fini)
{
	struct genzio_context *ctx;

	base_make();
	victim_make();
	plant_as_nobody('l', base.priv, vdir);
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), -EACCES);
	cr_assert(victim_intact(), "something changed in %s", vdir);
}

Test(otheruser, regular_file_as_private_dir_is_refused,
     .fini = dirs_fini)
{
	struct genzio_context *ctx;

	base_make();
	plant_as_nobody('f', base.priv, NULL);
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), -EACCES);
}

/* res: what genzio gave it (open, GCID, pd, ah), then an errno for each
 * of opendir, open, mkfifo, creat and the open of each of our files. */
static void spy(struct job *j)
{
	static const char *const mk[] = { "fifo", "file" };
	char p[PATH_MAX + NAME_MAX + 2];
	struct genzio_context *ctx;
	struct genzio_device_attr a;
	struct genzio_pd *pd;
	struct genzio_ah *ah;
	int *r = j->res;
	DIR *d = opendir(j->path);

	r[4] = d ? 0 : errno;
	if (d)
		closedir(d);
	r[5] = err_of(open(j->path, O_RDONLY | O_DIRECTORY));
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", j->path, mk[i]);
		r[6 + i] = i ? err_of(creat(p, 0666)) :
			       mkfifo(p, 0666) ? errno : 0;
	}
	for (int i = 0; i < j->nfile; i++) {
		snprintf(p, sizeof(p), "%s/%s", j->path, j->file[i]);
		r[8 + i] = err_of(open(p, O_RDWR));
	}
	/* same GENZIO_FABRIC, same base: it must get a fabric of its own */
	r[0] = genzio_device_open(NULL, NULL, &ctx);
	if (r[0])
		return;
	r[1] = genzio_device_query(ctx, &a) ? -1 : (int)a.gcid;
	r[2] = genzio_pd_alloc(ctx, &pd);
	r[3] = r[2] ? 0 : genzio_ah_create(pd, j->gcid, &ah);
	genzio_device_close(ctx);	/* a child's exit frees the rest */
}

Test(otheruser, other_user_cannot_enter_our_dir_or_reach_our_fabric,
     .fini = dirs_fini)
{
	static const char *const what[] = { "opendir", "open", "mkfifo",
					    "creat" };
	char after[MAXF][NAME_MAX + 1], theirs[64];
	struct genzio_context *first;
	static struct job j;
	struct genzio_wc wc;
	struct gzt_ep ep;
	struct stat st;
	char *mem;
	int *r = j.res;

	base_make();
	/* CID 1 goes to a bystander, so our GCID is not the first one the
	 * attacker's own fabric hands out: reaching it would be reaching us */
	cr_assert_eq(genzio_device_open(NULL, NULL, &first), 0);
	cr_assert_eq(gzt_ep_open(&ep, 8192, GZT_ACCESS_ALL), 0);
	cr_assert_eq(gzt_connect(ep.qp, &ep.info), 0);
	mem = ep.mem->addr;
	gzt_fill(mem, 8192, 77);
	j = (struct job){ .fn = spy, .gcid = ep.info.gcid };
	snprintf(j.path, sizeof(j.path), "%s", base.priv);
	j.nfile = list_dir(base.priv, j.file, MAXF);
	/* the fabric's registry; and where peers reach us through files
	 * (shm), our component's files and data space too */
	cr_assert(j.nfile >= (gzt_caps() & GENZIO_CAP_ONE_SIDED_TARGET ? 3 : 1)
		  && j.nfile <= MAXF, "%d files", j.nfile);
	as_nobody(&j);
	for (int i = 4; i < 8 + j.nfile; i++)
		cr_assert_eq(r[i], EACCES, "%s: %s",
			     i < 8 ? what[i - 4] : j.file[i - 8],
			     strerror(r[i]));
	cr_assert_eq(r[0], 0, "attacker's device_open: %d", r[0]);
	cr_assert_eq(GENZIO_GCID_CID((uint32_t)r[1]), 1,
		     "attacker joined our fabric: GCID %#x", r[1]);
	cr_assert_eq(r[2], 0);
	/* an address handle for our GCID (verbs has none: no RD) */
	if (gzt_caps() & GENZIO_CAP_RD)
		cr_assert_eq(r[3], -EHOSTUNREACH, "reached us: %d", r[3]);
	snprintf(theirs, sizeof(theirs), "%s/genzio-%d", base.dir, NOBODY);
	cr_assert_eq(lstat(theirs, &st), 0);
	cr_assert(S_ISDIR(st.st_mode) && st.st_uid == NOBODY &&
		  (st.st_mode & 07777) == 0700);
	/* nothing of ours changed, and we still work */
	cr_assert_eq(list_dir(base.priv, after, MAXF), j.nfile);
	cr_assert_eq(gzt_check(mem, 8192, 77), -1, "our memory changed");
	cr_assert_eq(gzt_write(&ep, mem + 4096, 4096, ep.mr->lkey,
			       ep.info.addr, ep.info.rkey, &wc), 0);
	cr_assert_eq(wc.status, GENZIO_WC_SUCCESS, "%s",
		     genzio_wc_status_str(wc.status));
	cr_assert_eq(memcmp(mem, mem + 4096, 4096), 0);
	cr_assert_eq(gzt_ep_close(&ep), 0);
	cr_assert_eq(genzio_device_close(first), 0);
}

Test(otheruser, planted_legacy_temp_names_do_not_redirect_our_writes,
     .fini = dirs_fini)
{
	const char *fab = getenv("GENZIO_FABRIC");
	char reg[128], tmp[160], buf[PATH_MAX], names[MAXF][NAME_MAX + 1];
	struct genzio_context *ctx;
	struct stat st;
	ssize_t want;
	int n, regs = 0;

	base_make();
	victim_make();
	want = (ssize_t)strlen(canary);
	/* where the registry was built before the private directory */
	snprintf(reg, sizeof(reg), "%s/genzio-%s.reg", base.dir, fab);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", reg, (int)getpid());
	plant_as_nobody('l', reg, canary);
	plant_as_nobody('l', tmp, canary);
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(genzio_device_close(ctx), 0);
	cr_assert(victim_intact(), "the canary changed");
	/* the registry went where it belongs (shm's is named after the
	 * fabric, verbs' after the device); the plants were left alone */
	n = list_dir(base.priv, names, MAXF);
	cr_assert(n > 0 && n <= MAXF, "%d files in %s", n, base.priv);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		if (len < 5 || strcmp(names[i] + len - 4, ".reg"))
			continue;
		snprintf(buf, sizeof(buf), "%s/%s", base.priv, names[i]);
		cr_assert_eq(lstat(buf, &st), 0);
		cr_assert(S_ISREG(st.st_mode) && !st.st_uid, "%s", buf);
		regs++;
	}
	cr_assert_eq(regs, 1, "registries in %s", base.priv);
	cr_assert_eq(readlink(reg, buf, sizeof(buf)), want);
	cr_assert_eq(readlink(tmp, buf, sizeof(buf)), want);
}

/* res: unshare's errno, then the grandchild's open result and pid. */
static int pidns_main(int fd, void *arg)
{
	struct genzio_context *c;
	int res[3] = { 0 }, st;
	pid_t pid;

	(void)arg;
	if (unshare(CLONE_NEWPID)) {
		res[0] = errno;
		return write(fd, res, sizeof(res)) != sizeof(res);
	}
	/* unshare moves our children, not us, into the new namespace */
	pid = fork();
	if (!pid) {
		res[1] = genzio_device_open(NULL, NULL, &c);
		res[2] = (int)getpid();
		_exit(write(fd, res, sizeof(res)) != sizeof(res));
	}
	return pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	       WEXITSTATUS(st);
}

Test(otheruser, joiner_from_another_pid_namespace_gets_exdev)
{
	struct genzio_context *ctx;
	struct gzt_child c;
	int res[3];

	gzt_require_registry();
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(gzt_fork(&c, pidns_main, NULL), 0);
	recv_all(c.fd, res, sizeof(res));
	cr_assert_eq(gzt_wait(&c), 0);
	if (res[0]) {
		genzio_device_close(ctx);
		gzt_fabric_fini();	/* a skip does not run .fini */
		cr_skip_test("unshare(CLONE_NEWPID): %s", strerror(res[0]));
	}
	cr_assert_eq(res[2], 1, "grandchild is not pid 1 of a new namespace");
	cr_assert_eq(res[1], -EXDEV, "got %d", res[1]);
	cr_assert_eq(genzio_device_close(ctx), 0);
}

static int peer_main(int fd, void *arg)
{
	struct genzio_context *ctx;
	struct genzio_device_attr a;
	char t;

	(void)arg;
	if (genzio_device_open(NULL, NULL, &ctx) ||
	    genzio_device_query(ctx, &a) ||
	    write(fd, &a.gcid, sizeof(a.gcid)) != sizeof(a.gcid))
		return 10;
	gzt_recv_token(fd, &t);
	return genzio_device_close(ctx) ? 11 : 0;
}

static uint32_t peer_start(struct gzt_child *c)
{
	uint32_t gcid;

	cr_assert_eq(gzt_fork(c, peer_main, NULL), 0);
	recv_all(c->fd, &gcid, sizeof(gcid));
	return gcid;
}

/* Holds a copy of every fd we had when it was forked, until told. */
static int holder_main(int fd, void *arg)
{
	char t = 0;

	(void)arg;
	return gzt_recv_token(fd, &t) || t != 'q';
}

/* @p still open, and bytes go through it. */
static void pipe_works(const int p[2])
{
	char k = 0;

	cr_assert_neq(fcntl(p[0], F_GETFD), -1, "fd %d was closed", p[0]);
	cr_assert_neq(fcntl(p[1], F_GETFD), -1, "fd %d was closed", p[1]);
	cr_assert_eq(write(p[1], "k", 1), 1);
	cr_assert_eq(read(p[0], &k, 1), 1);
	cr_assert_eq(k, 'k');
}

/* The peers are watched through address handles (RD). */
Test(otheruser, forked_fd_holder_while_peer_restarts_leaves_parent_sound)
{
	GZT_REQUIRE(RD);
	/* (a registry's lowest free CID, its peer files) */
	gzt_require_registry();
	struct genzio_ah *ah_x, *ah_x2;
	struct gzt_child x, x2, hold;
	struct genzio_context *ctx;
	struct genzio_event ev;
	struct genzio_pd *pd;
	int u[2], late[2], ret = 0;
	uint32_t gx, gx2;

	cr_assert_eq(pipe(u), 0);
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(genzio_pd_alloc(ctx, &pd), 0);
	gx = peer_start(&x);
	cr_assert_eq(genzio_ah_create(pd, gx, &ah_x), 0);
	/* its copy of X's pidfd keeps that epoll entry alive past close() */
	cr_assert_eq(gzt_fork(&hold, holder_main, NULL), 0);
	gzt_kill(&x);
	cr_assert_eq(gzt_wait(&x), 128 + SIGKILL);
	gx2 = peer_start(&x2);
	/* lowest free slot: X2 is X's CID again, so the peer is replaced */
	cr_assert_eq(gx2, gx, "X2 got GCID %#x, X had %#x", gx2, gx);
	cr_assert_eq(genzio_ah_create(pd, gx2, &ah_x2), 0);
	cr_assert_eq(genzio_ah_destroy(ah_x), 0);
	/* likely takes the number X's pidfd had: a library that closes it
	 * again through a stale entry closes this instead */
	cr_assert_eq(pipe(late), 0);
	for (int i = 0; i < 64 && !(ret = gzt_event_get(ctx, &ev)); i++) {
		cr_assert_eq(ev.type, GENZIO_EVENT_PEER_DEAD);
		cr_assert_eq(ev.gcid, gx);
	}
	cr_assert_eq(ret, -EAGAIN, "events never ran dry: %d", ret);
	pipe_works(u);
	pipe_works(late);
	cr_assert_eq(gzt_send_token(hold.fd, 'q'), 0);
	cr_assert_eq(gzt_wait(&hold), 0);
	cr_assert_eq(gzt_send_token(x2.fd, 'q'), 0);
	cr_assert_eq(gzt_wait(&x2), 0);
	cr_assert_eq(genzio_ah_destroy(ah_x2), 0);
	cr_assert_eq(genzio_pd_free(pd), 0);
	cr_assert_eq(genzio_device_close(ctx), 0);
}

/* res: the errno that stopped dup(), then genzio_ah_create's return. */
static int nofd_main(int fd, void *arg)
{
	struct genzio_context *a, *b;
	struct genzio_device_attr ba;
	struct genzio_pd *pd;
	struct genzio_ah *ah;
	struct rlimit rl;
	int res[2];

	(void)arg;
	/* @b is the live peer: a second context of ours on the fabric */
	if (genzio_device_open(NULL, NULL, &a) ||
	    genzio_device_open(NULL, NULL, &b) ||
	    genzio_device_query(b, &ba) || genzio_pd_alloc(a, &pd) ||
	    getrlimit(RLIMIT_NOFILE, &rl))
		return 10;
	/* a low cap keeps the fill short; fds above it stay usable */
	if (rl.rlim_cur > 1024)
		rl.rlim_cur = 1024;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return 11;
	while (dup(fd) >= 0)
		;
	res[0] = errno;
	res[1] = genzio_ah_create(pd, ba.gcid, &ah);
	/* _exit with the table full: no cleanup that would want an fd */
	return write(fd, res, sizeof(res)) == sizeof(res) ? 0 : 12;
}

/* Liveness is read from /proc: without an fd for that, the answer is
 * "cannot tell" (-EMFILE), never "dead" (which would reclaim a live
 * peer's GCID and files). */
Test(otheruser, ah_create_without_free_fds_returns_emfile)
{
	GZT_REQUIRE(RD);
	/* (a registry's lowest free CID, its peer files) */
	gzt_require_registry();
	struct gzt_child c;
	int res[2];

	cr_assert_eq(gzt_fork(&c, nofd_main, NULL), 0);
	recv_all(c.fd, res, sizeof(res));
	cr_assert_eq(gzt_wait(&c), 0);
	cr_assert_eq(res[0], EMFILE, "dup stopped on %s", strerror(res[0]));
	cr_assert(res[1] == -EMFILE || res[1] == -ENFILE,
		  "genzio_ah_create: %d (%s)", res[1], strerror(-res[1]));
}
