// SPDX-License-Identifier: MIT
/* lib/xdm/keytab.[ch]: the responder key table, and key/GCID encoding. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "providers/shm/shm_wire.h"
#include "unit/keys.h"

#define SLOTS 16u
#define MASK (SLOTS - 1)
#define RW (GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_WRITE)

static struct gz_key_entry *table(void)
{
	struct gz_key_entry *t = NULL;

	cr_assert_eq(posix_memalign((void **)&t, 64, SLOTS * sizeof(*t)), 0);
	memset(t, 0, SLOTS * sizeof(*t));
	return t;
}

TestSuite(keytab, .timeout = 30);

/* Where a lookup lands: the snapshot's segment and offset. */
struct hit {
	uint32_t seg;
	uint64_t off;
};

/* The data mover's two steps (find the entry, check the request). */
static uint8_t lookup(const struct gz_key_entry *t, uint32_t mask,
		      uint32_t rkey, uint64_t raddr, uint64_t len,
		      uint32_t need, struct hit *h)
{
	struct gz_key_snap k;
	uint8_t st;

	if (!gz_keytab_find(t, mask, rkey, &k))
		return GENZIO_WC_BAD_RKEY;
	st = gz_key_check(&k, GZT_DOMAIN, raddr, len, need);
	if (!st) {
		h->seg = k.seg;
		h->off = k.seg_off + (raddr - k.base);
	}
	return st;
}

Test(keytab, hit_returns_segment_and_offset)
{
	struct gz_key_entry *t = table();
	struct hit h;

	cr_assert_eq(gzt_key_insert(t, MASK, 0xabc12345, RW, 7, 0x10000,
				      0x1000, 0x200), 0);
	cr_assert_eq(lookup(t, MASK, 0xabc12345, 0x10010, 16,
				      GENZIO_ACCESS_REMOTE_WRITE, &h),
		     GENZIO_WC_SUCCESS);
	cr_assert_eq(h.seg, 7);
	cr_assert_eq(h.off, 0x210);
	/* the whole region, exactly */
	cr_assert_eq(lookup(t, MASK, 0xabc12345, 0x10000, 0x1000,
				      GENZIO_ACCESS_REMOTE_READ, &h),
		     GENZIO_WC_SUCCESS);
	free(t);
}

Test(keytab, bounds_are_checked_without_overflow)
{
	struct gz_key_entry *t = table();
	struct hit h;
	const uint32_t k = 0x5555;

	cr_assert_eq(gzt_key_insert(t, MASK, k, RW, 0, 0x10000, 0x1000, 0), 0);
	cr_assert_eq(lookup(t, MASK, k, 0xffff, 1, 0, &h),
		     GENZIO_WC_REM_BOUNDS);
	cr_assert_eq(lookup(t, MASK, k, 0x10fff, 2, 0, &h),
		     GENZIO_WC_REM_BOUNDS);
	cr_assert_eq(lookup(t, MASK, k, 0x10000, 0x1001, 0, &h),
		     GENZIO_WC_REM_BOUNDS);
	cr_assert_eq(lookup(t, MASK, k, 0x10001, UINT64_MAX, 0, &h),
		     GENZIO_WC_REM_BOUNDS);
	cr_assert_eq(lookup(t, MASK, k, UINT64_MAX, 2, 0, &h),
		     GENZIO_WC_REM_BOUNDS);
	free(t);
}

Test(keytab, missing_right_is_rem_access)
{
	struct gz_key_entry *t = table();
	struct hit h;

	cr_assert_eq(gzt_key_insert(t, MASK, 0x777, GENZIO_ACCESS_REMOTE_READ,
				      0, 0, 64, 0), 0);
	cr_assert_eq(lookup(t, MASK, 0x777, 0, 8,
				      GENZIO_ACCESS_REMOTE_WRITE, &h),
		     GENZIO_WC_REM_ACCESS);
	cr_assert_eq(lookup(t, MASK, 0x777, 0, 8,
				      GENZIO_ACCESS_REMOTE_ATOMIC, &h),
		     GENZIO_WC_REM_ACCESS);
	free(t);
}

Test(keytab, unknown_reserved_and_removed_keys_miss)
{
	struct gz_key_entry *t = table();
	struct hit h;

	cr_assert_eq(lookup(t, MASK, 0x1234, 0, 1, 0, &h),
		     GENZIO_WC_BAD_RKEY);
	cr_assert_eq(lookup(t, MASK, GZ_KEY_EMPTY, 0, 1, 0, &h),
		     GENZIO_WC_BAD_RKEY);
	cr_assert_eq(lookup(t, MASK, GZ_KEY_TOMB, 0, 1, 0, &h),
		     GENZIO_WC_BAD_RKEY);
	cr_assert_eq(gzt_key_insert(t, MASK, GZ_KEY_TOMB, RW, 0, 0, 1, 0),
		     -EINVAL);
	cr_assert_eq(gzt_key_insert(t, MASK, 0x1234, RW, 0, 0, 64, 0), 0);
	cr_assert_eq(gzt_key_insert(t, MASK, 0x1234, RW, 0, 0, 64, 0),
		     -EEXIST);
	cr_assert_eq(gz_keytab_remove(t, MASK, 0x1234), 0);
	cr_assert_eq(gz_keytab_remove(t, MASK, 0x1234), -ENOENT);
	cr_assert_eq(lookup(t, MASK, 0x1234, 0, 1, 0, &h),
		     GENZIO_WC_BAD_RKEY);
	free(t);
}

Test(keytab, removal_keeps_later_keys_of_the_same_chain_reachable)
{
	struct gz_key_entry *t = table();
	uint32_t keys[SLOTS], n = 0;
	struct hit h;

	/* find three keys that hash to one slot */
	for (uint32_t k = 2; n < 3; k++)
		if (gz_keytab_hash(k, MASK) == 5)
			keys[n++] = k;
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(gzt_key_insert(t, MASK, keys[i], RW, i, 0, 64, 0),
			     0);
	cr_assert_eq(gz_keytab_remove(t, MASK, keys[0]), 0);
	cr_assert_eq(lookup(t, MASK, keys[2], 0, 8, 0, &h),
		     GENZIO_WC_SUCCESS);
	cr_assert_eq(h.seg, 2);
	/* the tombstone is reused, the chain stays intact */
	cr_assert_eq(gzt_key_insert(t, MASK, keys[0], RW, 9, 0, 64, 0), 0);
	cr_assert_eq(lookup(t, MASK, keys[0], 0, 8, 0, &h),
		     GENZIO_WC_SUCCESS);
	cr_assert_eq(h.seg, 9);
	free(t);
}

Test(keytab, full_table_refuses_and_lookups_still_end)
{
	struct gz_key_entry *t = table();
	struct hit h;

	for (uint32_t i = 0; i < SLOTS; i++)
		cr_assert_eq(gzt_key_insert(t, MASK, 100 + i, RW, 0, 0, 1, 0),
			     0);
	cr_assert_eq(gzt_key_insert(t, MASK, 999, RW, 0, 0, 1, 0), -ENOSPC);
	/* a miss in a table with no empty slot must not loop forever */
	cr_assert_eq(lookup(t, MASK, 999, 0, 1, 0, &h),
		     GENZIO_WC_BAD_RKEY);
	free(t);
}

Test(keytab, entry_left_mid_update_by_a_dead_owner_reads_as_bad_key)
{
	struct gz_key_entry *t = table();
	struct hit h;
	uint32_t slot = gz_keytab_hash(0x4242, MASK);

	cr_assert_eq(gzt_key_insert(t, MASK, 0x4242, RW, 0, 0, 64, 0), 0);
	atomic_fetch_add(&t[slot].seq, 1);	/* odd forever */
	cr_assert_eq(lookup(t, MASK, 0x4242, 0, 8, 0, &h),
		     GENZIO_WC_BAD_RKEY);
	free(t);
}

Test(keytab, rkey_and_gcid_fields_encode_and_decode)
{
	uint32_t gcid = GENZIO_GCID(0xbeef, 0x123);

	cr_assert_eq(gcid, 0xbeef123);
	cr_assert_eq(GENZIO_GCID_SID(gcid), 0xbeef);
	cr_assert_eq(GENZIO_GCID_CID(gcid), 0x123);
	cr_assert_eq(GENZIO_GCID(0x1ffff, 0x1fff), 0xffff000u | 0xfff);
	cr_assert_eq(GZ_SHM_RKEY_DOMAIN(0xabc12345), 0xabc);
	cr_assert_eq(GZ_SHM_RKEY_KEY(0xabc12345), 0x12345);
	cr_assert_eq(GZ_SHM_RKEY(0xabc, 0x12345), 0xabc12345);
}

Test(keytab, another_key_mid_update_does_not_fail_ours)
{
	struct gz_key_entry *t = table();
	uint32_t keys[2], n = 0;
	struct hit h;

	for (uint32_t k = 2; n < 2; k++)
		if (gz_keytab_hash(k, MASK) == 3)
			keys[n++] = k;
	cr_assert_eq(gzt_key_insert(t, MASK, keys[0], RW, 0, 0, 64, 0), 0);
	cr_assert_eq(gzt_key_insert(t, MASK, keys[1], RW, 1, 0, 64, 0), 0);
	/* the owner is stopped while rewriting keys[0]'s slot */
	atomic_fetch_add(&t[3].seq, 1);
	cr_assert_eq(lookup(t, MASK, keys[1], 0, 8, 0, &h),
		     GENZIO_WC_SUCCESS);
	cr_assert_eq(h.seg, 1);
	free(t);
}

/* Keys whose home is slot @home in a table of @mask + 1. */
static uint32_t keys_at(uint32_t mask, uint32_t home, uint32_t *keys,
			uint32_t n)
{
	uint32_t got = 0;

	for (uint32_t k = GZ_KEY_MIN; got < n; k++)
		if (gz_keytab_hash(k, mask) == home)
			keys[got++] = k;
	return got;
}

Test(keytab, probe_window_bounds_every_insert_and_lookup)
{
	const uint32_t slots = 256, mask = slots - 1;
	struct gz_key_entry *t = NULL;
	uint32_t keys[GZ_KEY_PROBES + 2];
	struct hit h;

	cr_assert_eq(posix_memalign((void **)&t, 64, slots * sizeof(*t)), 0);
	memset(t, 0, slots * sizeof(*t));
	keys_at(mask, 10, keys, GZ_KEY_PROBES + 2);
	for (uint32_t i = 0; i < GZ_KEY_PROBES; i++)
		cr_assert_eq(gzt_key_insert(t, mask, keys[i], RW, 0, 0, 64, 0),
			     0);
	/* the window of that home is full: the owner must draw another key */
	cr_assert_eq(gzt_key_insert(t, mask, keys[GZ_KEY_PROBES], RW, 0, 0,
				      64, 0), -ENOSPC);
	/* a key planted just past the window is never reached: a miss
	 * reads at most GZ_KEY_PROBES entries, however full the table */
	t[(10 + GZ_KEY_PROBES) & mask].rkey = keys[GZ_KEY_PROBES + 1];
	cr_assert_eq(lookup(t, mask, keys[GZ_KEY_PROBES + 1], 0, 8, 0, &h),
		     GENZIO_WC_BAD_RKEY);
	cr_assert_eq(lookup(t, mask, keys[GZ_KEY_PROBES - 1], 0, 8, 0, &h),
		     GENZIO_WC_SUCCESS);
	free(t);
}

Test(keytab, tombstones_before_an_empty_slot_are_reclaimed)
{
	struct gz_key_entry *t = table();
	uint32_t keys[3];
	struct hit h;

	keys_at(MASK, 4, keys, 3);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(gzt_key_insert(t, MASK, keys[i], RW, i, 0, 64, 0),
			     0);
	/* the first stays a tombstone: the chain goes on behind it */
	cr_assert_eq(gz_keytab_remove(t, MASK, keys[0]), 0);
	cr_assert_eq(atomic_load(&t[4].rkey), GZ_KEY_TOMB);
	cr_assert_eq(lookup(t, MASK, keys[2], 0, 8, 0, &h), GENZIO_WC_SUCCESS);
	/* the last ends the chain: it and the tombstones before it go */
	cr_assert_eq(gz_keytab_remove(t, MASK, keys[2]), 0);
	cr_assert_eq(atomic_load(&t[6].rkey), GZ_KEY_EMPTY);
	cr_assert_eq(gz_keytab_remove(t, MASK, keys[1]), 0);
	for (uint32_t i = 4; i < 7; i++)
		cr_assert_eq(atomic_load(&t[i].rkey), GZ_KEY_EMPTY,
			     "slot %u", i);
	free(t);
}
