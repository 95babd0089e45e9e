// SPDX-License-Identifier: MIT
/* Devices, protection domains, memory, queues and out-of-band setup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"

TestSuite(setup, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 30);

Test(setup, device_list_names_the_shm_device)
{
	struct genzio_device_desc d[4];
	int n = genzio_device_list(d, 4);

	cr_assert_geq(n, 1);
	cr_assert_eq(genzio_device_list(NULL, 0), n);
	cr_assert_str_eq(d[0].name, "shm0");
	cr_assert_str_eq(d[0].provider, "shm");
}

Test(setup, query_reports_gcid_limits_and_page_size)
{
	struct genzio_context *ctx;
	struct genzio_device_attr a;

	cr_assert_eq(genzio_device_open("shm0", NULL, &ctx), 0);
	cr_assert_eq(genzio_device_query(ctx, &a), 0);
	cr_assert_str_eq(a.provider, "shm");
	cr_assert_eq(GENZIO_GCID_SID(a.gcid), 1);
	cr_assert_geq(GENZIO_GCID_CID(a.gcid), 1);
	cr_assert_eq(a.gcid >> 28, 0);
	cr_assert(a.page_size == 4096 || a.page_size == 2u << 20);
	cr_assert_eq(a.max_inline, GENZIO_MAX_INLINE);
	cr_assert(a.caps & GENZIO_CAP_RMA);
	cr_assert(a.caps & GENZIO_CAP_ONE_SIDED_TARGET);
	cr_assert(a.caps & GENZIO_CAP_ATOMIC);
	/* every Gen-Z atomic at both widths */
	for (uint32_t op = GENZIO_WR_ATOMIC_SWAP; op <= GENZIO_WR_ATOMIC_UMAX;
	     op++) {
		cr_assert(a.atomic_ops32 & GENZIO_ATOMIC_OP(op));
		cr_assert(a.atomic_ops64 & GENZIO_ATOMIC_OP(op));
	}
	cr_assert_eq(a.atomic_ops64 >> (GENZIO_WR_ATOMIC_UMAX -
					GENZIO_WR_ATOMIC_SWAP + 1), 0);
	cr_assert_geq(a.max_mr, 10000);
	cr_assert_eq(genzio_device_close(ctx), 0);
}

Test(setup, two_contexts_get_distinct_gcids_and_subnet_is_settable)
{
	struct genzio_open_attr oa = {
		.comp_mask = GENZIO_OPEN_ATTR_FABRIC | GENZIO_OPEN_ATTR_SUBNET,
		.subnet = 0x42,
	};
	struct genzio_context *a, *b, *c;
	struct genzio_device_attr aa, ba, ca;
	char fabric[40];

	cr_assert_eq(genzio_device_open(NULL, NULL, &a), 0);
	cr_assert_eq(genzio_device_open(NULL, NULL, &b), 0);
	genzio_device_query(a, &aa);
	genzio_device_query(b, &ba);
	cr_assert_neq(aa.gcid, ba.gcid);
	snprintf(fabric, sizeof(fabric), "%s_sub", getenv("GENZIO_FABRIC"));
	oa.fabric = fabric;
	/* a bridge's subnet is its engine's (genzio-bridged -s) */
	if (gzt_registry()) {
		cr_assert_eq(genzio_device_open(NULL, &oa, &c), 0);
		genzio_device_query(c, &ca);
		cr_assert_eq(GENZIO_GCID_SID(ca.gcid), 0x42);
		genzio_device_close(c);
	}
	genzio_device_close(b);
	genzio_device_close(a);
}

Test(setup, mem_alloc_is_page_aligned_and_reports_its_page_size)
{
	struct genzio_context *ctx;
	struct genzio_mem *m;

	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(genzio_mem_alloc(ctx, 5000, GENZIO_MEM_NO_HUGE, &m), 0);
	cr_assert_eq(m->page_size, 4096);
	cr_assert_eq(m->length, 8192);
	cr_assert_eq((uintptr_t)m->addr % 4096, 0);
	memset(m->addr, 0xee, m->length);
	cr_assert_eq(genzio_mem_free(m), 0);
	cr_assert_eq(genzio_device_close(ctx), 0);
}

Test(setup, huge_pages_are_used_when_reserved)
{
	struct genzio_context *ctx;
	struct genzio_device_attr a;
	struct genzio_mem *m;
	int ret;

	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	genzio_device_query(ctx, &a);
	ret = genzio_mem_alloc(ctx, 3u << 20, GENZIO_MEM_REQUIRE_HUGE, &m);
	if (!(a.caps & GENZIO_CAP_HUGE_PAGES)) {
		/* without pages, REQUIRE_HUGE refuses instead of falling back */
		cr_assert_eq(ret, -ENOMEM);
		genzio_device_close(ctx);
		gzt_fabric_fini();	/* a skip does not run .fini */
		cr_skip_test("no hugetlbfs mount with free 2 MiB pages "
			     "(run the test command as root to reserve them)");
	}
	cr_assert_eq(ret, 0);
	cr_assert_eq(m->page_size, 2u << 20);
	cr_assert_eq(m->length, 4u << 20);
	genzio_device_query(ctx, &a);
	cr_assert_eq(a.huge_used, 4u << 20);
	cr_assert_eq(genzio_mem_free(m), 0);
	genzio_device_query(ctx, &a);
	cr_assert_eq(a.huge_used, 0);
	genzio_device_close(ctx);
}

Test(setup, huge_page_budget_bounds_what_a_context_takes)
{
	struct genzio_open_attr oa = {
		.comp_mask = GENZIO_OPEN_ATTR_HUGE_BUDGET,
		.huge_budget = 0,
	};
	struct genzio_context *ctx;
	struct genzio_mem *m;

	cr_assert_eq(genzio_device_open(NULL, &oa, &ctx), 0);
	cr_assert_eq(genzio_mem_alloc(ctx, 2u << 20, GENZIO_MEM_REQUIRE_HUGE,
				      &m), -ENOMEM);
	/* without REQUIRE_HUGE it falls back to normal pages */
	cr_assert_eq(genzio_mem_alloc(ctx, 2u << 20, 0, &m), 0);
	cr_assert_eq(m->page_size, 4096);
	genzio_mem_free(m);
	genzio_device_close(ctx);
}

Test(setup, rkeys_are_random_not_sequential)
{
	struct gzt_ep ep;
	struct genzio_mr *mr[8];
	int sequential = 0;

	cr_assert_eq(gzt_ep_open(&ep, 8 * 4096, GZT_ACCESS_ALL), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(genzio_mr_reg(ep.pd, (char *)ep.mem->addr + i * 4096,
					   4096, GZT_ACCESS_ALL, &mr[i]), 0);
	for (int i = 1; i < 8; i++) {
		cr_assert_neq(mr[i]->rkey, mr[i - 1]->rkey);
		/* shm's layout (genzio_shm(7)): same pd, same domain;
		 * a bridge's keys are random whole */
		if (gzt_registry())
			cr_assert_eq(GZT_SHM_RKEY_DOMAIN(mr[i]->rkey),
				     GZT_SHM_RKEY_DOMAIN(mr[0]->rkey));
		sequential += GZT_SHM_RKEY_KEY(mr[i]->rkey) ==
			      GZT_SHM_RKEY_KEY(mr[i - 1]->rkey) + 1;
	}
	cr_assert_lt(sequential, 7);
	for (int i = 0; i < 8; i++)
		genzio_mr_dereg(mr[i]);
	gzt_ep_close(&ep);
}

static int exchange_main(int fd, void *arg)
{
	struct genzio_conn_info in;

	return genzio_conn_info_exchange(fd, arg, &in) ? 1 : 0;
}

Test(setup, conn_info_survives_text_and_socket_exchange)
{
	struct genzio_conn_info a = { 0x1234567, 0xabcdef, 0xdeadbeef, 0,
				      0x7fff00001000ull, 1ull << 33, { 0 } };
	struct genzio_conn_info b = { 5, 6, 7, 0, 8, 9, { 0 } }, c;
	char s[GENZIO_CONN_INFO_STRLEN];
	struct genzio_device_attr da;
	struct gzt_child ch;
	struct gzt_ep ep;
	uint32_t gcid;

	/* with a queue pair's address, and without one */
	cr_assert_eq(gzt_ep_open(&ep, 4096, GZT_ACCESS_ALL), 0);
	cr_assert_eq(genzio_device_query(ep.ctx, &da), 0);
	cr_assert_eq(genzio_addr_gcid(ep.info.qp_addr, ep.info.qp_addr_len,
				      &gcid), 0);
	cr_assert_eq(gcid, ep.info.gcid);
	memcpy(a.qp_addr, ep.info.qp_addr, sizeof(a.qp_addr));
	a.qp_addr_len = ep.info.qp_addr_len;
	cr_assert_eq(genzio_conn_info_str(&a, s, sizeof(s)), -EINVAL,
		     "a GCID that is not the address's");
	a.gcid = ep.info.gcid;
	cr_assert_eq(genzio_conn_info_str(&a, s, sizeof(s)), 0);
	char want[64];

	snprintf(want, sizeof(want), "gz2:%x:abcdef:deadbeef:", a.gcid);
	cr_assert(!strncmp(s, want, strlen(want)), "%s", s);
	/* the address as text: its provider's name, then version 1 */
	snprintf(want, sizeof(want), ":%s:01", da.provider);
	cr_assert(strstr(s, want), "%s", s);
	cr_assert_eq(genzio_conn_info_parse(s, &c), 0);
	cr_assert_eq(memcmp(&a, &c, sizeof(a)), 0);
	cr_assert_eq(genzio_conn_info_str(&b, s, sizeof(s)), 0);
	cr_assert_eq(genzio_conn_info_parse(s, &c), 0);
	cr_assert_eq(memcmp(&b, &c, sizeof(b)), 0);
	b = ep.info;
	cr_assert_eq(gzt_fork(&ch, exchange_main, &b), 0);
	cr_assert_eq(genzio_conn_info_exchange(ch.fd, &a, &c), 0);
	cr_assert_eq(memcmp(&b, &c, sizeof(b)), 0);
	cr_assert_eq(gzt_wait(&ch), 0);
	/* what came through connects */
	cr_assert_eq(gzt_connect(ep.qp, &c), 0);
	cr_assert_eq(gzt_ep_close(&ep), 0);
}

Test(setup, a_restrictive_umask_still_gives_a_usable_private_directory)
{
	char base[] = "/tmp/genzio-umask-XXXXXX", dir[96];
	struct genzio_context *ctx;
	struct stat st;
	mode_t old;

	gzt_require_registry();
	cr_assert_not_null(mkdtemp(base));
	setenv("GENZIO_SHM_DIR", base, 1);
	old = umask(0277);	/* mkdir would give 0500 */
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	umask(old);
	snprintf(dir, sizeof(dir), "%s/genzio-%u", base, (unsigned)geteuid());
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(genzio_device_close(ctx), 0);
	gzt_fabric_fini();
	unsetenv("GENZIO_SHM_DIR");
	rmdir(dir);
	rmdir(base);
}

Test(setup, a_private_directory_others_could_write_is_refused)
{
	char base[] = "/tmp/genzio-mode-XXXXXX", dir[96];
	struct genzio_context *ctx;
	struct stat st;

	gzt_require_registry();
	cr_assert_not_null(mkdtemp(base));
	setenv("GENZIO_SHM_DIR", base, 1);
	snprintf(dir, sizeof(dir), "%s/genzio-%u", base, (unsigned)geteuid());
	/* ours, but others could have planted files in it meanwhile */
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(chmod(dir, 0773), 0);
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), -EACCES);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0773, "a refused one is left as is");
	/* readable by others, writable by nobody else: set back, used */
	cr_assert_eq(chmod(dir, 0755), 0);
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(genzio_device_close(ctx), 0);
	gzt_fabric_fini();
	unsetenv("GENZIO_SHM_DIR");
	rmdir(dir);
	rmdir(base);
}

/* From /proc/self/smaps: KiB of genzio's files this process maps, and
 * how many of those mappings are not locked (no "lo" in VmFlags, and
 * not of huge pages, "ht"). */
static long genzio_mapped_kib(int *unlocked)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	long sum = 0, kib;
	int ours = 0;

	cr_assert_not_null(f);
	*unlocked = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %ld kB", &kib) == 1) {
			sum += ours ? kib : 0;
		} else if (!strncmp(line, "VmFlags:", 8)) {
			/* huge pages are never swapped: mlock leaves them */
			*unlocked += ours && !strstr(line, " lo") &&
				     !strstr(line, " ht");
		} else if (strchr(line, '-') &&
			   strchr(line, '-') < strchr(line, ' ')) {
			/* a mapping's first line: "lo-hi perms ... path" */
			ours = strstr(line, "/genzio-") != NULL;
		}
	}
	fclose(f);
	return sum;
}

/* Two contexts with a connected queue pair each, traffic and a
 * deregistration (a guard wait), under mlockall() made before (@arg 0)
 * or after they open: what genzio maps, and so locks, is their data
 * space, component files, rings and guard windows, never the sparse
 * guard files (512 MiB each) that would count against RLIMIT_MEMLOCK. */
static int mlocked_main(int fd, void *arg)
{
	int after_open = *(const int *)arg;
	struct gzt_ep a, b;
	struct genzio_mr *mr;
	struct genzio_wc wc;
	long mapped;
	int unlocked;

	(void)fd;
	if (!after_open && mlockall(MCL_CURRENT | MCL_FUTURE))
		return 77;	/* no privilege to lock: nothing to check */
	if (gzt_ep_open(&a, 1u << 20, GZT_ACCESS_ALL) ||
	    gzt_ep_open(&b, 1u << 20, GZT_ACCESS_ALL) ||
	    gzt_connect(a.qp, &b.info) || gzt_connect(b.qp, &a.info))
		return 10;
	if (after_open && mlockall(MCL_CURRENT | MCL_FUTURE))
		return 77;
	if (gzt_write(&a, a.mem->addr, 64, a.mr->lkey, b.info.addr,
		      b.info.rkey, &wc) || wc.status ||
	    genzio_mr_reg(b.pd, b.mem->addr, 4096, GZT_ACCESS_ALL, &mr) ||
	    genzio_mr_dereg(mr))
		return 12;
	mapped = genzio_mapped_kib(&unlocked);
	gzt_ep_close(&a);
	gzt_ep_close(&b);
	/* a few MiB; a mapped guard file alone is 512 MiB */
	if (mapped > 64 * 1024)
		return 11;
	/* and all of it locked, as mlockall() asked (a sanitizer makes
	 * mlockall() a no-op: then only the size says anything) */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	unlocked = 0;
#endif
	return unlocked ? 13 : 0;
}

static void mlocked(int after_open)
{
	struct gzt_child c;
	int rc;

	cr_assert_eq(gzt_fork(&c, mlocked_main, &after_open), 0);
	rc = gzt_wait(&c);
	if (rc == 77)
		cr_skip_test("mlockall() is not allowed here");
	cr_assert_eq(rc, 0, "child exit %d (11: over 64 MiB of genzio files "
		     "mapped; 13: not all of it locked)", rc);
}

Test(setup, under_mlockall_a_device_locks_no_sparse_file_whole)
{
	mlocked(0);
}

Test(setup, mlockall_after_open_locks_no_sparse_file_whole)
{
	mlocked(1);
}
