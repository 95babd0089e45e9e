/* SPDX-License-Identifier: MIT */
#ifndef GZ_CORE_PROVIDER_TABLE_H
#define GZ_CORE_PROVIDER_TABLE_H

#include "provider.h"

int gz_provider_count(void);
const struct gz_provider *gz_provider_at(int i);
/* By provider name ("shm"), or NULL. */
const struct gz_provider *gz_provider_find(const char *name);

#endif /* GZ_CORE_PROVIDER_TABLE_H */
