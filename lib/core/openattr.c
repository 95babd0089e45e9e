// SPDX-License-Identifier: MIT
/* What genzio_device_open()'s attributes and the environment ask for,
 * checked once for every provider (core.h: struct gz_open_opts). */
#include <errno.h>
#include <stdlib.h>

#include "core/core.h"
#include "fabric/fabric.h"

/* "512M" and friends; 0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		shift = 10, end++;
		break;
	case 'm': case 'M':
		shift = 20, end++;
		break;
	case 'g': case 'G':
		shift = 30, end++;
		break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int gz_open_opts_get(const struct genzio_open_attr *attr,
		     struct gz_open_opts *o)
{
	const char *env, *env_fabric = getenv("GENZIO_FABRIC");

	/* The directory is the user's own, so "default" is per user. */
	o->fabric = env_fabric;
	if (!o->fabric || !*o->fabric)
		o->fabric = "default";
	o->subnet = 1;
	o->subnet_set = 0;
	o->budget = UINT64_MAX;
	env = getenv("GENZIO_HUGE_BUDGET");
	if (env && *env && parse_size(env, &o->budget))
		return gz_err(-EINVAL, "GENZIO_HUGE_BUDGET=%s: want bytes with "
			      "an optional K, M or G", env);
	if (attr && (attr->comp_mask & GENZIO_OPEN_ATTR_FABRIC))
		o->fabric = attr->fabric;
	if (attr && (attr->comp_mask & GENZIO_OPEN_ATTR_SUBNET)) {
		o->subnet = attr->subnet;
		o->subnet_set = 1;
	}
	if (attr && (attr->comp_mask & GENZIO_OPEN_ATTR_HUGE_BUDGET))
		o->budget = attr->huge_budget;
	if (!o->fabric || !gz_fabric_name_ok(o->fabric))
		return gz_err(-EINVAL, "%s%s: a fabric name is 1-%d of "
			      "[A-Za-z0-9_]", o->fabric == env_fabric ?
			      "GENZIO_FABRIC=" : "fabric ",
			      o->fabric ? o->fabric : "(null)",
			      GZ_FABRIC_NAME_MAX);
	if (o->subnet > 0xffff)
		return gz_err(-EINVAL, "subnet %u does not fit 16 bits",
			      o->subnet);
	return 0;
}
