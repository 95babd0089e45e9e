// SPDX-License-Identifier: MIT
/* lib/sys/cacheflush.c: line write-back picks an instruction and keeps
 * the data (it writes back, it does not discard). */
#include <criterion/criterion.h>
#include <string.h>

#include "sys/sys.h"

TestSuite(cacheflush, .timeout = 30);

Test(cacheflush, names_the_instruction_it_uses)
{
	const char *i = gz_sys_flush_insn();

	cr_assert(!strcmp(i, "clwb") || !strcmp(i, "clflushopt") ||
		  !strcmp(i, "clflush") || !strcmp(i, "fence"), "%s", i);
}

Test(cacheflush, writing_back_lines_keeps_their_bytes)
{
	static uint8_t buf[4096 + 64] __attribute__((aligned(64)));

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	/* unaligned start and end: every touched line is written back */
	gz_sys_flush_lines(buf + 3, 4096);
	gz_sys_flush_lines(buf, 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], (uint8_t)(i * 7));
}
