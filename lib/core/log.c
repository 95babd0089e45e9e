// SPDX-License-Identifier: MIT
/* Diagnostics: silent unless GENZIO_DEBUG is set, never on the fast path. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gz.h"

__thread const char *gz_api_name;
static pthread_once_t debug_once = PTHREAD_ONCE_INIT;
static int debug_on;

static void debug_init(void)
{
	const char *v = getenv("GENZIO_DEBUG");

	debug_on = v && *v && *v != '0';
}

int gz_debug_enabled(void)
{
	pthread_once(&debug_once, debug_init);
	return debug_on;
}

int gz_log_err(int err, const char *func, const char *fmt, ...)
{
	va_list ap;

	if (!gz_debug_enabled())
		return err;
	va_start(ap, fmt);
	flockfile(stderr);
	fprintf(stderr, "genzio: %s: ", gz_api_name ? gz_api_name : func);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
	return err;
}

void gz_log_notice_once(int *once, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(once, 1, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	flockfile(stderr);
	fputs("genzio: notice: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}
