// SPDX-License-Identifier: MIT
/*
 * What GENZIO_DEBUG prints: one line per failed call, naming the public
 * call, the cause and, for setup, the variable or the fix; nothing for a
 * call that succeeded. Each case runs in a child whose stderr we read:
 * the library reads GENZIO_DEBUG once per process.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"

TestSuite(debug, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 60);

#define NOBODY 65534
#define NO_SETUID (-100000)	/* a case's answer: it could not drop root */

struct said {
	int ret;		/* what the case returned */
	char err[8192];		/* its stderr */
};

/* Run @fn in a child with GENZIO_DEBUG=1 and @env ("NAME=value", NULL
 * ended), as uid NOBODY if @nobody; collect its return and stderr. */
static void run_case(int (*fn)(void), const char *const *env, int nobody,
		     struct said *s)
{
	int ep[2], rp[2], st;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	cr_assert_eq(pipe(ep), 0);
	cr_assert_eq(pipe(rp), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		int r;

		dup2(ep[1], 2);
		setenv("GENZIO_DEBUG", "1", 1);
		for (; env && *env; env++)
			putenv((char *)*env);
		if (nobody && (setgroups(0, NULL) || setgid(NOBODY) ||
			       setuid(NOBODY)))
			r = NO_SETUID;	/* e.g. root of a user namespace */
		else
			r = fn();
		_exit(write(rp[1], &r, sizeof(r)) == sizeof(r) ? 0 : 4);
	}
	close(ep[1]);
	close(rp[1]);
	while (got < sizeof(s->err) - 1 &&
	       (n = read(ep[0], s->err + got, sizeof(s->err) - 1 - got)) > 0)
		got += (size_t)n;
	s->err[got] = 0;
	cr_assert_eq(read(rp[0], &s->ret, sizeof(s->ret)),
		     (ssize_t)sizeof(s->ret), "the case said nothing");
	close(ep[0]);
	close(rp[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && !WEXITSTATUS(st), "status %#x", st);
}

static int open_close(void)
{
	struct genzio_context *ctx;
	int ret = genzio_device_open(NULL, NULL, &ctx);

	return ret ? ret : genzio_device_close(ctx);
}

Test(debug, a_call_that_succeeds_prints_nothing)
{
	static const char *const env[] = { NULL };
	struct said s;

	run_case(open_close, env, 0, &s);
	cr_assert_eq(s.ret, 0);
	cr_assert_str_empty(s.err, "a successful open printed: %s", s.err);
}

static int zero_length_reg(void)
{
	struct genzio_context *ctx;
	struct genzio_mr *mr;
	struct genzio_pd *pd;
	char buf[64];
	int ret;

	if (genzio_device_open(NULL, NULL, &ctx) ||
	    genzio_pd_alloc(ctx, &pd))
		return -1000;
	ret = genzio_mr_reg(pd, buf, 0, GENZIO_ACCESS_LOCAL_WRITE, &mr);
	genzio_pd_free(pd);
	genzio_device_close(ctx);
	return ret;
}

Test(debug, the_line_names_the_call_made_not_an_internal_one)
{
	struct said s;

	run_case(zero_length_reg, NULL, 0, &s);
	cr_assert_eq(s.ret, -EINVAL);
	cr_assert(!strncmp(s.err, "genzio: genzio_mr_reg: ", 23) &&
			  strchr(s.err, '\n') == s.err + strlen(s.err) - 1,
		  "want one line \"genzio: genzio_mr_reg: ...\", got: %s", s.err);
}

Test(debug, an_unusable_base_directory_names_its_variable)
{
	static const char *const env[] = {
		"GENZIO_SHM_DIR=/nonexistent/gzt-debug", NULL };
	struct said s;
	int host;

	gzt_require_registry();
	run_case(open_close, env, 0, &s);
	/* after the case: a call that fails here would set, before the
	 * child is forked, whether diagnostics print (GENZIO_DEBUG is read
	 * once) */
	host = gzt_host_fabric();
	/* shm has no device without it; verbs' device is there, but not
	 * its registry of GCIDs (the errno of open(2)) */
	if (host)
		cr_assert_eq(s.ret, -ENODEV);
	else
		cr_assert_lt(s.ret, 0);
	cr_assert_not_null(strstr(s.err, "/nonexistent/gzt-debug"), "%s",
			   s.err);
	cr_assert_not_null(strstr(s.err, host ? "GENZIO_SHM_DIR must name" :
					      "GENZIO_SHM_DIR"), "%s", s.err);
}

Test(debug, a_device_or_fabric_from_the_environment_names_its_variable)
{
	/* GENZIO_DEVICE, when set, would win over GENZIO_PROVIDER */
	static const char *const prov[] = { "GENZIO_DEVICE=",
					    "GENZIO_PROVIDER=nosuch", NULL };
	static const char *const fab[] = { "GENZIO_FABRIC=bad-name", NULL };
	static const char *const tmo[] = { "GENZIO_SETUP_TIMEOUT_MS=abc",
					   NULL };
	struct said s;

	run_case(open_close, prov, 0, &s);
	cr_assert_eq(s.ret, -ENODEV);
	cr_assert_not_null(strstr(s.err, "GENZIO_PROVIDER=nosuch: "), "%s",
			   s.err);
	/* a bad timeout is no reason to fail: a notice, and the default */
	run_case(open_close, tmo, 0, &s);
	cr_assert_eq(s.ret, 0);
	cr_assert_not_null(strstr(s.err, "notice: GENZIO_SETUP_TIMEOUT_MS=abc"),
			   "%s", s.err);
	run_case(open_close, fab, 0, &s);
	cr_assert_eq(s.ret, -EINVAL);
	cr_assert_not_null(strstr(s.err, "GENZIO_FABRIC=bad-name: "), "%s",
			   s.err);
}

static int busy_cq(void)
{
	struct genzio_cq_attr ca = { .depth = 16 };
	struct genzio_qp_attr qa = { .qp_type = GENZIO_QPT_RC, .sq_depth = 4,
				     .rq_depth = 4, .max_send_sge = 1,
				     .max_recv_sge = 1 };
	struct genzio_context *ctx;
	struct genzio_qp *qp[2];
	struct genzio_pd *pd;
	struct genzio_cq *cq;
	int ret;

	if (genzio_device_open(NULL, NULL, &ctx) ||
	    genzio_pd_alloc(ctx, &pd) || genzio_cq_create(ctx, &ca, &cq))
		return -1000;
	qa.send_cq = qa.recv_cq = cq;
	if (genzio_qp_create(pd, &qa, &qp[0]) ||
	    genzio_qp_create(pd, &qa, &qp[1]))
		return -1001;
	ret = genzio_cq_destroy(cq);
	genzio_qp_destroy(qp[0]);
	genzio_qp_destroy(qp[1]);
	genzio_cq_destroy(cq);
	genzio_pd_free(pd);
	genzio_device_close(ctx);
	return ret;
}

Test(debug, a_busy_cq_counts_what_completes_into_it)
{
	struct said s;

	run_case(busy_cq, NULL, 0, &s);
	cr_assert_eq(s.ret, -EBUSY);
	/* two queue pairs, each with its send and receive queue on it */
	cr_assert_not_null(strstr(s.err, "genzio: genzio_cq_destroy: 4 work "
					 "queues still complete into this cq"),
			   "%s", s.err);
}

static int open_alloc_close(void)
{
	struct genzio_context *ctx;
	struct genzio_mem *mem;
	char reg[128];
	int ret = genzio_device_open(NULL, NULL, &ctx);

	if (ret)
		return ret;
	ret = genzio_mem_alloc(ctx, 4096, 0, &mem);
	if (!ret)
		ret = genzio_mem_free(mem);
	genzio_device_close(ctx);
	/* the registry outlives us by design; this fabric is the test's */
	snprintf(reg, sizeof(reg), "/dev/shm/genzio-%u/%s.reg",
		 (unsigned)geteuid(), getenv("GENZIO_FABRIC"));
	unlink(reg);
	return ret;
}

Test(debug, a_user_who_may_not_use_the_hugetlbfs_mount_gets_the_fix)
{
	struct said s;

	gzt_require_registry();
	if (geteuid())
		cr_skip_test("needs root, to run a case as uid %d", NOBODY);
	run_case(open_alloc_close, NULL, 1, &s);
	if (s.ret == NO_SETUID)
		cr_skip_test("root here cannot become uid %d", NOBODY);
	cr_assert_eq(s.ret, 0, "%s", s.err);
	/* no error line for calls that worked, whatever the mount */
	cr_assert_null(strstr(s.err, "genzio: genzio_"), "%s", s.err);
	if (strstr(s.err, "no hugetlbfs mount with 2M pages"))
		cr_skip_test("no 2 MiB hugetlbfs mount here");
	if (!*s.err)
		cr_skip_test("the 2 MiB hugetlbfs mount here is open to uid %d",
			     NOBODY);
	if (!strstr(s.err, "remount"))
		cr_skip_test("the mount is open to uid %d but did not serve: %s",
			     NOBODY, s.err);
	/* the mount exists but is root's: say how to open it up */
	cr_assert_not_null(strstr(s.err, "genzio: notice: data space on 4 KiB "
					 "pages: "), "%s", s.err);
	cr_assert_not_null(strstr(s.err, "with mode=1777 or uid=65534"), "%s",
			   s.err);
}
