/* SPDX-License-Identifier: MIT */
#ifndef GZ_CORE_PROVIDER_TABLE_H
#define GZ_CORE_PROVIDER_TABLE_H

#include "provider.h"

#define GZ_PROVIDERS_MAX 8	/* providers one build may have */

int gz_provider_count(void);
const struct gz_provider *gz_provider_at(int i);

#endif /* GZ_CORE_PROVIDER_TABLE_H */
