// SPDX-License-Identifier: MIT
/* Writer side of the key table; see keytab.h for the read protocol. */
#include <errno.h>

#include "xdm/keytab.h"

static void entry_begin(struct gz_key_entry *e)
{
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	atomic_store_explicit(&e->seq, s + 1, memory_order_relaxed);
	/* Readers that see the fields change must also see seq odd. */
	atomic_thread_fence(memory_order_release);
}

static void entry_end(struct gz_key_entry *e)
{
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	/* Release pairs with the reader's acquire load of seq. */
	atomic_store_explicit(&e->seq, s + 1, memory_order_release);
}

static struct gz_key_entry *find(struct gz_key_entry *tab, uint32_t mask,
				 uint32_t rkey, struct gz_key_entry **free_slot)
{
	uint32_t i = gz_keytab_hash(rkey, mask);

	*free_slot = NULL;
	for (uint32_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
		struct gz_key_entry *e = &tab[i];
		uint32_t k = atomic_load_explicit(&e->rkey,
						  memory_order_relaxed);

		if (k == rkey)
			return e;
		if (k == GZ_KEY_TOMB && !*free_slot)
			*free_slot = e;
		if (k == GZ_KEY_EMPTY) {
			if (!*free_slot)
				*free_slot = e;
			return NULL;
		}
	}
	return NULL;
}

int gz_keytab_insert(struct gz_key_entry *tab, uint32_t mask, uint32_t rkey,
		     uint32_t access, uint32_t seg, uint64_t base,
		     uint64_t length, uint64_t seg_off)
{
	struct gz_key_entry *slot;

	if (rkey < GZ_KEY_MIN)
		return -EINVAL;
	if (find(tab, mask, rkey, &slot))
		return -EEXIST;
	if (!slot)
		return -ENOSPC;
	entry_begin(slot);
	slot->access = access;
	slot->seg = seg;
	slot->base = base;
	slot->length = length;
	slot->seg_off = seg_off;
	atomic_store_explicit(&slot->rkey, rkey, memory_order_relaxed);
	entry_end(slot);
	return 0;
}

int gz_keytab_remove(struct gz_key_entry *tab, uint32_t mask, uint32_t rkey)
{
	struct gz_key_entry *slot, *e;

	if (rkey < GZ_KEY_MIN)
		return -ENOENT;
	e = find(tab, mask, rkey, &slot);
	if (!e)
		return -ENOENT;
	entry_begin(e);
	atomic_store_explicit(&e->rkey, GZ_KEY_TOMB, memory_order_relaxed);
	e->length = 0;
	entry_end(e);
	return 0;
}
