/* SPDX-License-Identifier: MIT */
/* Unit tests: register a key the way the old positional call read. */
#ifndef GZT_UNIT_KEYS_H
#define GZT_UNIT_KEYS_H

#include "xdm/keytab.h"

#define GZT_DOMAIN 7u	/* the protection domain test keys belong to */

static inline int gzt_key_insert(struct gz_key_entry *tab, uint32_t mask,
				 uint32_t rkey, uint32_t access, uint32_t seg,
				 uint64_t base, uint64_t length,
				 uint64_t seg_off)
{
	struct gz_key_desc d = { .access = access, .domain = GZT_DOMAIN,
				 .seg = seg, .base = base, .length = length,
				 .seg_off = seg_off };

	return gz_keytab_insert(tab, mask, rkey, &d);
}

#endif
