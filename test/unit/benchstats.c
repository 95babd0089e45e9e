// SPDX-License-Identifier: MIT
/* bench/common: the benchmark's own arithmetic, over known samples. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

#include "../bench/common.h"

TestSuite(benchstats, .timeout = 30);

Test(benchstats, percentiles_are_nearest_rank_over_the_sorted_samples)
{
	double v[100];
	struct gzb_lat l;

	for (int i = 0; i < 100; i++)
		v[i] = 100 - i;		/* 100 .. 1, unsorted on purpose */
	cr_assert_float_eq(gzb_pct(v, 100, 0), 1, 1e-9);
	cr_assert_float_eq(gzb_pct(v, 100, 50), 51, 1e-9);
	cr_assert_float_eq(gzb_pct(v, 100, 99), 99, 1e-9);
	cr_assert_float_eq(gzb_pct(v, 100, 100), 100, 1e-9);
	for (int i = 0; i < 100; i++)
		v[i] = 100 - i;
	gzb_lat_stats(v, 100, &l);
	cr_assert_float_eq(l.min, 1, 1e-9);
	cr_assert_float_eq(l.median, 51, 1e-9);
	cr_assert_float_eq(l.p99, 99, 1e-9);
	cr_assert_float_eq(l.max, 100, 1e-9);
	cr_assert_float_eq(gzb_pct(v, 0, 50), 0, 1e-9, "no samples: 0");
	double one = 7;
	cr_assert_float_eq(gzb_pct(&one, 1, 99), 7, 1e-9);
}

Test(benchstats, a_sample_times_fewer_ops_as_they_grow)
{
	cr_assert_eq(gzb_batch(8), 32);
	cr_assert_eq(gzb_batch(4096), 32);
	cr_assert_eq(gzb_batch(4097), 8);
	cr_assert_eq(gzb_batch(65536), 8);
	cr_assert_eq(gzb_batch(65537), 1);
	cr_assert_eq(gzb_batch(8u << 20), 1);
}

Test(benchstats, a_row_gets_1000_samples_unless_n_asks_for_fewer)
{
	/* the default -n (20000) at 8 B: 625 samples of 32 are too few */
	cr_assert_eq(gzb_lat_iters(20000, 0, 8), 32000);
	/* 8 MiB: the 256 MiB budget would allow 32 operations */
	cr_assert_eq(gzb_lat_iters(20000, 0, 8u << 20), 1000);
	/* 16 KiB: within budget and above the floor, whole samples */
	cr_assert_eq(gzb_lat_iters(20000, 0, 16384), 16384);
	cr_assert_eq(gzb_lat_iters(20001, 0, 16384), 16384);
	/* -n given: honoured, in whole samples, at least two */
	cr_assert_eq(gzb_lat_iters(100, 1, 8), 96);
	cr_assert_eq(gzb_lat_iters(16, 1, 8), 64);
	cr_assert_eq(gzb_lat_iters(16, 1, 8u << 20), 16);
	cr_assert_eq(gzb_lat_iters(1000000, 1, 8u << 20), 32, "the budget");
}

Test(benchstats, units_are_gigabytes_and_millions_of_messages_per_second)
{
	cr_assert_float_eq(gzb_gbps(1000000000ull, 1000000000ull), 1.0, 1e-12);
	cr_assert_float_eq(gzb_gbps(8u << 20, 1000000), 8.388608, 1e-9);
	cr_assert_float_eq(gzb_mmsgs(1000000, 1000000000ull), 1.0, 1e-12);
	/* 8 MiB messages: small rates stay visible, not 0.00 */
	cr_assert_float_eq(gzb_mmsgs(512, 290000000ull), 0.0017655, 1e-6);
	cr_assert_float_eq(gzb_gbps(1, 0), 0, 1e-12, "no time: 0");
	cr_assert_float_eq(gzb_mmsgs(1, 0), 0, 1e-12);
}

Test(benchstats, csv_rows_have_as_many_fields_as_the_header,
     .init = cr_redirect_stdout)
{
	struct gzb_row r = { .test = "write_bw", .bytes = 8u << 20,
			     .iters = 512, .gbps = 14.79, .mmsgs = 0.0017631,
			     .base = 14.38, .ratio = 1.03,
			     .footprint = 16u << 20, .in_llc = 1 };
	char out[1024] = "";
	FILE *f;
	int fields[2] = { 1, 1 }, line = 0;

	gzb_print_header(stdout, GZB_CSV, 1);
	gzb_print_row(stdout, GZB_CSV, 1, &r, 1);
	gzb_print_footer(stdout, GZB_CSV);
	f = cr_get_redirected_stdout();
	cr_assert_gt(fread(out, 1, sizeof(out) - 1, f), 0);
	for (const char *p = out; *p; p++) {
		if (*p == '\n')
			line++;
		else if (*p == ',' && line < 2)
			fields[line]++;
	}
	cr_assert_eq(line, 2);
	cr_assert_eq(fields[0], 15);
	cr_assert_eq(fields[1], fields[0]);
	cr_assert_not_null(strstr(out, "write_bw,8388608,512,"));
	cr_assert_not_null(strstr(out, ",0.0017631,"), "the rate, not 0.00");
	cr_assert_not_null(strstr(out, ",memcpy_gbps,"));
}
