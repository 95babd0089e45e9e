// SPDX-License-Identifier: MIT
/*
 * The vfio provider's IOVA allocator (lib/providers/vfio/vfio_iova.c)
 * against a model: every allocation inside a usable range, aligned, and
 * overlapping no other; frees of what was not handed out refused; a full
 * space is -ENOSPC and comes back whole once freed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "providers/vfio/vfio_pci.h"

#define PAGE 4096ull

static struct gz_iova a;

static void setup(void)
{
	cr_assert_eq(gz_iova_init(&a, PAGE), 0);
}

static void teardown(void)
{
	gz_iova_fini(&a);
}

TestSuite(iova, .init = setup, .fini = teardown, .timeout = 60);

Test(iova, ranges_are_whole_pages_never_zero_and_disjoint)
{
	uint64_t v;

	cr_assert_eq(gz_iova_add(&a, 0, 16 * PAGE - 1), 0);
	cr_assert_eq(a.usable[0].start, PAGE, "IOVA 0 is never handed out");
	cr_assert_eq(gz_iova_add(&a, 8 * PAGE, 20 * PAGE), -EINVAL, "overlap");
	cr_assert_eq(gz_iova_add(&a, 32 * PAGE + 1, 40 * PAGE + 5), 0);
	cr_assert_eq(a.usable[1].start, 33 * PAGE);
	cr_assert_eq(a.usable[1].end, 40 * PAGE - 1, "whole pages only");
	cr_assert_eq(gz_iova_alloc(&a, PAGE + 1, PAGE, &v), -EINVAL);
	cr_assert_eq(gz_iova_alloc(&a, PAGE, 3 * PAGE, &v), -EINVAL);
	cr_assert_eq(gz_iova_alloc(&a, 0, PAGE, &v), -EINVAL);
	cr_assert_eq(gz_iova_alloc(&a, 16 * PAGE, PAGE, &v), -ENOSPC,
		     "no range holds 16 pages");
	cr_assert_eq(gz_iova_alloc(&a, 7 * PAGE, PAGE, &v), 0);
	cr_assert_eq(v, PAGE, "first fit: the first range");
	cr_assert_eq(gz_iova_alloc(&a, 8 * PAGE, PAGE, &v), 0);
	cr_assert_eq(v, 8 * PAGE, "right after the first");
	cr_assert_eq(gz_iova_alloc(&a, 2 * PAGE, PAGE, &v), 0);
	cr_assert_eq(v, 33 * PAGE, "the first range is full: the second");
	cr_assert_eq(gz_iova_alloc(&a, PAGE, 64 * PAGE, &v), -ENOSPC,
		     "no 64-page-aligned page in either");
}

Test(iova, ranges_at_the_top_of_the_space_never_wrap)
{
	uint64_t v;

	cr_assert_eq(gz_iova_add(&a, UINT64_MAX - 4, UINT64_MAX - 1), 0);
	cr_assert_eq(a.nusable, 0, "no whole page up there: nothing added");
	cr_assert_eq(gz_iova_add(&a, UINT64_MAX - 2 * PAGE + 1, UINT64_MAX),
		     0);
	cr_assert_eq(a.nusable, 1);
	cr_assert_eq(gz_iova_alloc(&a, PAGE, PAGE, &v), 0);
	cr_assert_eq(gz_iova_alloc(&a, PAGE, PAGE, &v), 0);
	cr_assert_eq(v, UINT64_MAX - PAGE + 1, "the very last page");
	cr_assert_eq(gz_iova_alloc(&a, PAGE, PAGE, &v), -ENOSPC);
	cr_assert(gz_iova_has(&a, v, PAGE));
	cr_assert_eq(gz_iova_free(&a, v, PAGE), 0);
	cr_assert(!gz_iova_has(&a, v, PAGE));
}

Test(iova, a_full_space_is_enospc_and_comes_back_whole)
{
	uint64_t v[64], w;

	cr_assert_eq(gz_iova_add(&a, PAGE, 65 * PAGE - 1), 0);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(gz_iova_alloc(&a, PAGE, PAGE, &v[i]), 0);
	cr_assert_eq(gz_iova_alloc(&a, PAGE, PAGE, &w), -ENOSPC);
	cr_assert_eq(gz_iova_free(&a, v[10] + PAGE / 2, PAGE), -EINVAL);
	cr_assert_eq(gz_iova_free(&a, v[10], 2 * PAGE), -EINVAL, "not as given");
	for (int i = 0; i < 64; i++)
		cr_assert_eq(gz_iova_free(&a, v[i], PAGE), 0);
	cr_assert_eq(gz_iova_free(&a, v[0], PAGE), -EINVAL, "twice");
	cr_assert_eq(gz_iova_alloc(&a, 64 * PAGE, PAGE, &w), 0);
	cr_assert_eq(w, PAGE);
}

Test(iova, random_allocations_match_a_model)
{
	enum { N = 256, SPACE = 4096 };
	static uint8_t owner[SPACE]; /* page -> slot + 1 */
	uint64_t at[N] = {0}, len[N] = {0};
	int ok = 0, full = 0;

	/* two ranges with a hole between, as around an MSI window */
	cr_assert_eq(gz_iova_add(&a, PAGE, 2000 * PAGE - 1), 0);
	cr_assert_eq(gz_iova_add(&a, 2100 * PAGE, SPACE * PAGE - 1), 0);
	srand(5);
	for (int it = 0; it < 20000; it++) {
		int s = rand() % N;

		if (len[s]) {
			cr_assert_eq(gz_iova_free(&a, at[s], len[s]), 0);
			for (uint64_t p = at[s] / PAGE; p < (at[s] + len[s]) / PAGE;
			     p++)
				owner[p] = 0;
			len[s] = 0;
			continue;
		}
		uint64_t n = (uint64_t)(1 + rand() % 64) * PAGE;
		uint64_t align = PAGE << (rand() % 5);
		int ret = gz_iova_alloc(&a, n, align, &at[s]);

		if (ret == -ENOSPC) {
			full++;
			continue;
		}
		cr_assert_eq(ret, 0);
		cr_assert_eq(at[s] % align, 0, "aligned");
		cr_assert((at[s] >= PAGE && at[s] + n <= 2000 * PAGE) ||
			      (at[s] >= 2100 * PAGE && at[s] + n <= SPACE * PAGE),
			  "inside a usable range: %#llx + %llu",
			  (unsigned long long)at[s], (unsigned long long)n);
		for (uint64_t p = at[s] / PAGE; p < (at[s] + n) / PAGE; p++) {
			cr_assert_eq(owner[p], 0, "page %llu handed out twice",
				     (unsigned long long)p);
			owner[p] = (uint8_t)(s + 1);
		}
		len[s] = n;
		ok++;
	}
	cr_assert_gt(ok, 5000);
	cr_assert_gt(full, 0, "the space filled at times");
}
