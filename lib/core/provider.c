// SPDX-License-Identifier: MIT
/* The providers this build has, in order of preference. One explicit
 * table, no constructors: what is linked in is what is listed here. */
#include "core/provider_table.h"

static const struct gz_provider *const providers[] = {
	&gz_shm_provider,	/* first: the default needs no setup */
#ifdef GZ_HAVE_VERBS
	&gz_verbs_provider,
#endif
	&gz_vfio_provider,	/* a bridge: named, or GENZIO_BRIDGE */
};

_Static_assert(GZ_ARRAY_SIZE(providers) <= GZ_PROVIDERS_MAX, "providers");

int gz_provider_count(void)
{
	return (int)GZ_ARRAY_SIZE(providers);
}

const struct gz_provider *gz_provider_at(int i)
{
	return providers[i];
}
