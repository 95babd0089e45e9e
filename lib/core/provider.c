// SPDX-License-Identifier: MIT
/* The providers this build has, in order of preference. One explicit
 * table, no constructors: what is linked in is what is listed here. */
#include <string.h>

#include "core/provider_table.h"

static const struct gz_provider *const providers[] = {
	&gz_shm_provider,
};

int gz_provider_count(void)
{
	return (int)GZ_ARRAY_SIZE(providers);
}

const struct gz_provider *gz_provider_at(int i)
{
	return providers[i];
}

const struct gz_provider *gz_provider_find(const char *name)
{
	for (size_t i = 0; i < GZ_ARRAY_SIZE(providers); i++)
		if (!strcmp(providers[i]->name, name))
			return providers[i];
	return NULL;
}
