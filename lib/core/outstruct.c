// SPDX-License-Identifier: MIT
/*
 * Structs the library fills for a caller carry the caller's size, so
 * they can grow without breaking binaries built against an older or a
 * newer header (the problem ibv_query_device_ex() solved after the fact).
 */
#include <errno.h>
#include <string.h>

#include "gz.h"

int gz_out_size_ok(size_t size, size_t min, const char *what)
{
	if (size < min || size > GZ_OUT_MAX)
		return gz_err(-EINVAL, "struct %s of %zu bytes: want %zu to %d",
			      what, size, min, GZ_OUT_MAX);
	return 0;
}

void gz_out_copy(void *dst, size_t size, const void *src, size_t ours)
{
	memcpy(dst, src, size < ours ? size : ours);
	if (size > ours)
		memset((char *)dst + ours, 0, size - ours);
}

int gz_out_list_ok(const void *base, int max, size_t size, size_t min,
		   const char *what)
{
	if (max < 0 || (max && !base))
		return gz_err(-EINVAL, "%s list %p, max %d", what, base, max);
	return max ? gz_out_size_ok(size, min, what) : 0;
}

void gz_out_list_put(void *base, int i, size_t size, const void *src,
		     size_t ours)
{
	gz_out_copy((char *)base + (size_t)i * size, size, src, ours);
}
