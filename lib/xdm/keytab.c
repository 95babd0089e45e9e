// SPDX-License-Identifier: MIT
/* Writer side of the key table; see keytab.h for the read protocol. */
#include <errno.h>

#include "xdm/keytab.h"

static void entry_begin(struct gz_key_entry *e)
{
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	/* odd even if the shared word was garbage; the field stores after
	 * it are releases, so a reader that sees one sees seq odd too */
	atomic_store_explicit(&e->seq, s | 1, memory_order_relaxed);
}

#define SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELEASE)

static void entry_end(struct gz_key_entry *e)
{
	uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);

	/* Release pairs with the reader's acquire load of seq. */
	atomic_store_explicit(&e->seq, (s | 1) + 1, memory_order_release);
}

/* The slot holding @rkey within its probe window, or NULL; *free_slot is
 * the first reusable slot of that window (NULL if none). */
static struct gz_key_entry *find(struct gz_key_entry *tab, uint32_t mask,
				 uint32_t rkey, struct gz_key_entry **free_slot)
{
	uint32_t i = gz_keytab_hash(rkey, mask);

	*free_slot = NULL;
	for (uint32_t n = 0; n < GZ_KEY_PROBES && n <= mask;
	     n++, i = (i + 1) & mask) {
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
		     const struct gz_key_desc *d)
{
	struct gz_key_entry *slot;

	if (rkey < GZ_KEY_MIN)
		return -EINVAL;
	if (find(tab, mask, rkey, &slot))
		return -EEXIST;
	if (!slot)
		return -ENOSPC;
	entry_begin(slot);
	SET(slot->access, d->access);
	SET(slot->domain, d->domain);
	SET(slot->seg, d->seg);
	SET(slot->base, d->base);
	SET(slot->length, d->length);
	SET(slot->seg_off, d->seg_off);
	atomic_store_explicit(&slot->rkey, rkey, memory_order_release);
	entry_end(slot);
	return 0;
}

/* Set @e to @k (TOMB or EMPTY) as one write a reader sees whole. */
static void entry_clear(struct gz_key_entry *e, uint32_t k)
{
	entry_begin(e);
	atomic_store_explicit(&e->rkey, k, memory_order_release);
	SET(e->length, 0);
	SET(e->access, 0);
	entry_end(e);
}

int gz_keytab_remove(struct gz_key_entry *tab, uint32_t mask, uint32_t rkey)
{
	struct gz_key_entry *slot, *e;
	uint32_t i;

	if (rkey < GZ_KEY_MIN)
		return -ENOENT;
	e = find(tab, mask, rkey, &slot);
	if (!e)
		return -ENOENT;
	entry_clear(e, GZ_KEY_TOMB);
	/*
	 * A tombstone followed by an empty slot ends every chain that
	 * reaches it, so it can be empty itself, and so on backwards: no
	 * key lies past an empty slot in its probe (inserts fill the first
	 * reusable one), so no reader can miss one because of this.
	 */
	i = (uint32_t)(e - tab);
	/* bounded: the table is shared, and a writer planting tombstones
	 * ahead of us must not keep us here */
	for (uint32_t n = 0; n <= mask &&
			     atomic_load_explicit(&tab[(i + 1) & mask].rkey,
						  memory_order_relaxed) ==
				     GZ_KEY_EMPTY &&
			     atomic_load_explicit(&tab[i].rkey,
						  memory_order_relaxed) ==
				     GZ_KEY_TOMB;
	     n++) {
		entry_clear(&tab[i], GZ_KEY_EMPTY);
		i = (i - 1) & mask;
	}
	return 0;
}
