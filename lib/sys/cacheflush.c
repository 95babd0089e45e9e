// SPDX-License-Identifier: MIT
/* Cache-line write-back for memory that is not coherent with ours. */
#include <pthread.h>
#include <stdint.h>

#include "sys/sys.h"

#if defined(__x86_64__)
#include <cpuid.h>

enum { FLUSH_CLFLUSH, FLUSH_CLFLUSHOPT, FLUSH_CLWB };
static int flush_kind = -1;

static void pick(void)
{
	unsigned int a, b, c, d;

	flush_kind = FLUSH_CLFLUSH;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return;
	if (b & (1u << 24))
		flush_kind = FLUSH_CLWB;	/* keeps the line cached */
	else if (b & (1u << 23))
		flush_kind = FLUSH_CLFLUSHOPT;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

void gz_sys_flush_lines(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + len;

	pthread_once(&once, pick);
	for (; a < end; a += 64) {
		/* encoded by hand: no -mclwb needed, runs on any x86-64 */
		if (flush_kind == FLUSH_CLWB)
			__asm__ __volatile__(".byte 0x66, 0x0f, 0xae, 0x30"
					     :: "a"(a) : "memory");
		else if (flush_kind == FLUSH_CLFLUSHOPT)
			__asm__ __volatile__(".byte 0x66, 0x0f, 0xae, 0x38"
					     :: "a"(a) : "memory");
		else
			__asm__ __volatile__("clflush (%0)" :: "r"(a) : "memory");
	}
}

const char *gz_sys_flush_insn(void)
{
	static const char *const names[] = { "clflush", "clflushopt", "clwb" };

	pthread_once(&once, pick);
	return names[flush_kind];
}
#else
void gz_sys_flush_lines(const void *p, size_t len)
{
	(void)p;
	(void)len;
	/* Portable fallback: no line write-back instruction is known here;
	 * a full fence is the best a coherent-memory CPU can do. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

const char *gz_sys_flush_insn(void)
{
	return "fence";
}
#endif
