/* SPDX-License-Identifier: MIT */
/*
 * Queue-pair addresses (genzio_qp_addr): an 8-byte header the core owns,
 * then the provider's payload. Little-endian on the wire whatever the
 * host, so an address can cross machines:
 *   byte 0    version (GZ_ADDR_VERSION)
 *   byte 1    provider (struct gz_provider.addr_id)
 *   bytes 2-3 total length
 *   bytes 4-7 GCID
 */
#ifndef GZ_CORE_ADDR_H
#define GZ_CORE_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define GZ_ADDR_VERSION 1
#define GZ_ADDR_HDR 8

struct gz_addr {
	uint8_t provider;
	uint32_t gcid;
	const uint8_t *payload;
	size_t len;		/* of the payload */
};

/* Write an address of provider @id for @gcid with payload @p of @len
 * bytes into @buf (GENZIO_ADDR_MAX bytes): its length. */
size_t gz_addr_build(uint8_t *buf, uint8_t id, uint32_t gcid,
		     const uint8_t *p, size_t len);
/* Check the header of @addr; 0 and *@a, or -EINVAL. */
int gz_addr_split(const void *addr, size_t len, struct gz_addr *a);
struct gz_provider;
/* The same for an address that must be of provider @p (the caller's
 * device): 0 and *@a, -EINVAL, or -EAFNOSUPPORT. */
int gz_addr_split_for(const struct gz_provider *p, const void *addr,
		      size_t len, struct gz_addr *a);

static inline void gz_le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t gz_le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void gz_le64_put(uint8_t *p, uint64_t v)
{
	gz_le32_put(p, (uint32_t)v);
	gz_le32_put(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t gz_le64_get(const uint8_t *p)
{
	return gz_le32_get(p) | (uint64_t)gz_le32_get(p + 4) << 32;
}

#endif /* GZ_CORE_ADDR_H */
