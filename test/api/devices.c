// SPDX-License-Identifier: MIT
/*
 * Devices by name, providers, fabric members, and the structs the
 * library fills at the caller's size (older and newer layouts).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

TestSuite(devices, .init = gzt_fabric_init, .fini = gzt_fabric_fini,
	  .timeout = 30);

/* Opening @name gives device @want. */
static void open_ok(const char *name, const char *want)
{
	struct genzio_context *ctx;
	struct genzio_device_attr a;

	cr_assert_eq(genzio_device_open(name, NULL, &ctx), 0, "%s",
		     name ? name : "(NULL)");
	cr_assert_eq(genzio_device_query(ctx, &a), 0);
	cr_assert_str_eq(a.name, want);
	cr_assert_eq(genzio_device_close(ctx), 0);
}

static int open_err(const char *name)
{
	struct genzio_context *ctx = NULL;
	int ret = genzio_device_open(name, NULL, &ctx);

	cr_assert_null(ctx, "written only on success");
	return ret;
}

Test(devices, a_device_opens_by_its_name_or_its_provider_name)
{
	struct genzio_device_desc d[16];
	struct genzio_provider_desc p[8];
	struct genzio_context *ctx;
	struct genzio_device_attr a;
	char name[GENZIO_NAME_MAX + 8];
	const char *first = NULL;
	int n, np;

	/* the default device, whichever it is (shm0, rxe0, ...) */
	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(genzio_device_query(ctx, &a), 0);
	cr_assert_eq(genzio_device_close(ctx), 0);
	n = genzio_device_list(d, 16);
	cr_assert_geq(n, 1);
	cr_assert_leq(n, 16);
	/* a provider's name opens its first device */
	for (int i = n - 1; i >= 0; i--)
		if (!strcmp(d[i].provider, a.provider))
			first = d[i].name;
	cr_assert_not_null(first, "%s is not listed", a.name);
	open_ok(a.name, a.name);
	open_ok(a.provider, first);
	snprintf(name, sizeof(name), "%s9", a.name);
	cr_assert_eq(open_err(name), -ENODEV);
	cr_assert_eq(open_err("nosuch"), -ENODEV);
	cr_assert_eq(open_err(""), -ENODEV);
	/* a provider of this build without a device here (verbs on a host
	 * without RDMA): its name opens nothing */
	np = genzio_provider_list(p, 8);
	cr_assert_geq(np, 1);
	for (int i = 0; i < np && i < 8; i++)
		if (!p[i].ndevices)
			cr_assert_eq(open_err(p[i].name), -ENODEV, "%s",
				     p[i].name);
}

Test(devices, genzio_device_wins_over_genzio_provider)
{
	unsetenv("GENZIO_PROVIDER");
	setenv("GENZIO_DEVICE", "shm0", 1);
	open_ok(NULL, "shm0");
	setenv("GENZIO_DEVICE", "nosuch0", 1);
	setenv("GENZIO_PROVIDER", "shm", 1);
	cr_assert_eq(open_err(NULL), -ENODEV);
	/* a name given wins over both */
	open_ok("shm0", "shm0");
	unsetenv("GENZIO_DEVICE");
	open_ok(NULL, "shm0");
	setenv("GENZIO_PROVIDER", "nosuch", 1);
	cr_assert_eq(open_err(NULL), -ENODEV);
}

Test(devices, a_provider_without_a_device_says_why)
{
	struct genzio_provider_desc p[4];
	int n, devs;

	n = genzio_provider_list(p, 4);
	cr_assert_geq(n, 1);
	cr_assert_leq(n, 4);
	cr_assert_eq(genzio_provider_list(NULL, 0), n);
	devs = genzio_device_list(NULL, 0);
	/* shm, first, is always there; each provider says why it has no
	 * device, and only then */
	cr_assert_str_eq(p[0].name, "shm");
	cr_assert_eq(p[0].ndevices, 1);
	for (int i = 0; i < n; i++)
		cr_assert_eq(!p[i].ndevices, !!p[i].why[0], "%s: %d, why: %s",
			     p[i].name, p[i].ndevices, p[i].why);

	/* shm without its base directory has none, and says where */
	setenv("GENZIO_SHM_DIR", "/nonexistent/gzt", 1);
	cr_assert_eq(genzio_provider_list(p, 4), n);
	cr_assert_eq(p[0].ndevices, 0);
	cr_assert(strstr(p[0].why, "/nonexistent/gzt"), "why: %s", p[0].why);
	cr_assert_eq(genzio_device_list(NULL, 0), devs - 1);
	cr_assert_eq(open_err("shm"), -ENODEV);
	/* no device anywhere (no other provider has one here): the default
	 * open fails, it does not guess */
	unsetenv("GENZIO_DEVICE");
	unsetenv("GENZIO_PROVIDER");
	if (devs == 1)
		cr_assert_eq(open_err(NULL), -ENODEV);
}

Test(devices, device_list_gives_a_detail_and_writes_at_the_callers_stride)
{
	struct big {
		struct genzio_device_desc d;
		uint8_t future[40];
	} b[17];
	int n = genzio_device_list(NULL, 0), shm = 0;

	cr_assert_geq(n, 1);
	cr_assert_lt(n, 17);
	memset(b, 0xa5, sizeof(b));
	cr_assert_eq(genzio_device_list_sz(&b[0].d, n + 1, sizeof(b[0])), n);
	for (int d = 0; d < n; d++) {
		cr_assert(b[d].d.name[0] && b[d].d.provider[0] &&
			  b[d].d.detail[0], "device %d: %s of %s: %s", d,
			  b[d].d.name, b[d].d.provider, b[d].d.detail);
		for (size_t i = 0; i < sizeof(b[d].future); i++)
			cr_assert_eq(b[d].future[i], 0,
				     "unknown fields are zero");
		if (strcmp(b[d].d.name, "shm0"))
			continue;
		/* shm's detail is its directory */
		shm = 1;
		cr_assert(strstr(b[d].d.detail, "genzio-"), "%s",
			  b[d].d.detail);
	}
	cr_assert(shm, "shm0 is listed");
	cr_assert_eq(b[n].d.name[0], (char)0xa5, "past the count: untouched");
	cr_assert_eq(genzio_device_list_sz(&b[0].d, 1,
					   offsetof(struct genzio_device_desc,
						    detail)), -EINVAL);
}

Test(devices, device_query_fills_an_older_or_a_newer_struct)
{
	struct genzio_context *ctx;
	struct genzio_device_attr a;
	struct {
		struct genzio_device_attr a;
		uint64_t future[8];
	} big;

	cr_assert_eq(genzio_device_open(NULL, NULL, &ctx), 0);
	cr_assert_eq(genzio_device_query(ctx, &a), 0);
	memset(&big, 0xff, sizeof(big));
	cr_assert_eq(genzio_device_query_sz(ctx, &big.a, sizeof(big)), 0);
	cr_assert_eq(memcmp(&big.a, &a, sizeof(a)), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(big.future[i], 0);
	/* a binary of the first layout (up to huge_used) gets its fields,
	 * nothing past them; one shorter than that is refused */
	size_t first = offsetof(struct genzio_device_attr, max_recv_staged);
	memset(&big, 0xff, sizeof(big));
	cr_assert_eq(genzio_device_query_sz(ctx, &big.a, first), 0);
	cr_assert_eq(memcmp(&big.a, &a, first), 0);
	cr_assert_eq(big.a.max_recv_staged, UINT64_MAX, "nothing past it");
	cr_assert_eq(genzio_device_query_sz(ctx, &a, first - 8), -EINVAL);
	cr_assert_eq(genzio_device_query_sz(ctx, &a, 0), -EINVAL);
	cr_assert_eq(genzio_device_close(ctx), 0);
}

/* state of @gcid in the member list of this fabric, or 0 if not listed */
static uint32_t member_state(uint32_t gcid, int32_t *pid)
{
	struct genzio_member m[64];
	int n = genzio_member_list(NULL, NULL, m, 64);

	cr_assert_geq(n, 0);
	cr_assert_leq(n, 64);
	for (int i = 0; i < n; i++) {
		if (i)
			cr_assert_gt(m[i].gcid, m[i - 1].gcid, "by GCID");
		if (m[i].gcid != gcid)
			continue;
		if (pid)
			*pid = m[i].pid;
		return m[i].state;
	}
	return 0;
}

/* A component in a child: tells its GCID, then (@arg non-NULL) leaves
 * when told, else dies without leaving. */
static int member_main(int fd, void *arg)
{
	struct genzio_context *x;
	struct genzio_device_attr xa;
	char c;

	if (genzio_device_open(NULL, NULL, &x) || genzio_device_query(x, &xa) ||
	    write(fd, &xa.gcid, 4) != 4)
		return 1;
	if (arg && gzt_recv_token(fd, &c) == 0)
		genzio_device_close(x);
	return 0;
}

Test(devices, member_list_shows_live_stale_and_own_components)
{
	struct genzio_context *a;
	struct genzio_device_attr aa;
	struct gzt_child live, dying;
	uint32_t dead = 0, other = 0;
	int32_t pid = 0;

	if (!gzt_host_fabric()) {
		/* components on a network (verbs): no list, before or after
		 * a context joins */
		cr_assert_eq(genzio_device_open(NULL, NULL, &a), 0);
		cr_assert_eq(genzio_member_list(NULL, NULL, NULL, 0), -ENOTSUP);
		cr_assert_eq(genzio_device_close(a), 0);
		return;
	}
	cr_assert_eq(genzio_member_list(NULL, NULL, NULL, 0), 0, "none yet");
	cr_assert_eq(genzio_device_open(NULL, NULL, &a), 0);
	cr_assert_eq(genzio_device_query(a, &aa), 0);
	cr_assert_eq(member_state(aa.gcid, &pid), GENZIO_MEMBER_SELF);
	cr_assert_eq(pid, getpid());
	/* one that stays until told, then one that dies without leaving
	 * (in this order: a join reclaims the dead) */
	cr_assert_eq(gzt_fork(&live, member_main, &live), 0);
	cr_assert_eq(read(live.fd, &other, 4), 4);
	cr_assert_eq(gzt_fork(&dying, member_main, NULL), 0);
	cr_assert_eq(read(dying.fd, &dead, 4), 4);
	cr_assert_eq(gzt_wait(&dying), 0);
	cr_assert_eq(member_state(dead, &pid), GENZIO_MEMBER_STALE);
	cr_assert_eq(pid, dying.pid);
	cr_assert_eq(member_state(other, &pid), GENZIO_MEMBER_LIVE);
	cr_assert_eq(pid, live.pid);
	cr_assert_eq(genzio_member_list(NULL, NULL, NULL, 0), 3);
	{	/* a newer, longer struct, at its stride */
		struct {
			struct genzio_member m;
			uint64_t future;
		} big[4];

		memset(big, 0xff, sizeof(big));
		cr_assert_eq(genzio_member_list_sz(NULL, NULL, &big[0].m, 4,
						   sizeof(big[0])), 3);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(big[i].future, 0);
		cr_assert_eq(big[3].future, ~0ull, "past the count: untouched");
	}
	/* leaving in good order: not listed any more */
	cr_assert_eq(gzt_send_token(live.fd, 'x'), 0);
	cr_assert_eq(gzt_wait(&live), 0);
	cr_assert_eq(member_state(other, NULL), 0);
	cr_assert_eq(genzio_device_close(a), 0);
	cr_assert_eq(member_state(aa.gcid, NULL), 0);
	cr_assert_eq(member_state(dead, NULL), GENZIO_MEMBER_STALE,
		     "listing reclaims nothing");
}

Test(devices, member_list_creates_no_fabric)
{
	struct genzio_open_attr oa = { .comp_mask = GENZIO_OPEN_ATTR_FABRIC |
					GENZIO_OPEN_ATTR_SUBNET,
				       .subnet = 5 };
	struct genzio_context *c;
	struct genzio_device_attr ca;
	char name[40];
	int host = gzt_host_fabric();

	gzt_require_registry();
	/* <fabric>_fresh: the suite's cleanup removes it */
	snprintf(name, sizeof(name), "%s_fresh", getenv("GENZIO_FABRIC"));
	oa.fabric = name;
	/* without a host fabric (verbs): -ENOTSUP, and no fabric either */
	cr_assert_eq(genzio_member_list(NULL, &oa, NULL, 0),
		     host ? 0 : -ENOTSUP);
	/* the first join still sets the subnet */
	cr_assert_eq(genzio_device_open(NULL, &oa, &c), 0);
	cr_assert_eq(genzio_device_query(c, &ca), 0);
	cr_assert_eq(GENZIO_GCID_SID(ca.gcid), 5);
	cr_assert_eq(genzio_member_list(NULL, &oa, NULL, 0),
		     host ? 1 : -ENOTSUP);
	cr_assert_eq(genzio_device_close(c), 0);
}
