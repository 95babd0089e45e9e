// SPDX-License-Identifier: MIT
/* genzio_qp_addr, genzio_addr_*: queue-pair addresses as bytes and text. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/addr.h"
#include "core/provider_table.h"

int gz_addr_split(const void *addr, size_t len, struct gz_addr *a)
{
	const uint8_t *p = addr;

	if (!addr || len < GZ_ADDR_HDR || len > GENZIO_ADDR_MAX)
		return gz_err(-EINVAL, "address of %zu bytes (%d..%d)", len,
			      GZ_ADDR_HDR, GENZIO_ADDR_MAX);
	if (p[0] != GZ_ADDR_VERSION || (size_t)(p[2] | p[3] << 8) != len)
		return gz_err(-EINVAL, "not an address of this version: "
			      "version %u (want %u), length field %u for %zu "
			      "bytes given", p[0], GZ_ADDR_VERSION,
			      p[2] | p[3] << 8, len);
	a->provider = p[1];
	a->gcid = gz_le32_get(p + 4);
	a->payload = p + GZ_ADDR_HDR;
	a->len = len - GZ_ADDR_HDR;
	if (a->gcid >> 28 || !GENZIO_GCID_CID(a->gcid))
		return gz_err(-EINVAL, "address with GCID %#x", a->gcid);
	return 0;
}

int gz_addr_split_for(const struct gz_provider *p, const void *addr,
		      size_t len, struct gz_addr *a)
{
	if (gz_addr_split(addr, len, a))
		return -EINVAL;
	if (a->provider != p->addr_id)
		return gz_err(-EAFNOSUPPORT, "an address of another provider "
			      "(%u; this device's: %s)", a->provider, p->name);
	return 0;
}

size_t gz_addr_build(uint8_t *buf, uint8_t id, uint32_t gcid,
		     const uint8_t *p, size_t len)
{
	size_t n = GZ_ADDR_HDR + len;

	buf[0] = GZ_ADDR_VERSION;
	buf[1] = id;
	buf[2] = (uint8_t)n;
	buf[3] = (uint8_t)(n >> 8);
	gz_le32_put(buf + 4, gcid);
	if (p != buf + GZ_ADDR_HDR)
		memmove(buf + GZ_ADDR_HDR, p, len);
	return n;
}

GENZIO_EXPORT int genzio_qp_addr(struct genzio_qp *qp, void *addr,
				 size_t *len)
{
	GZ_API();
	uint8_t buf[GENZIO_ADDR_MAX];
	const struct gz_provider *p;
	int n;

	if (!qp || !len || (*len && !addr))
		return gz_err(-EINVAL, "qp %p, addr %p, len %p", (void *)qp,
			      addr, (void *)len);
	p = qp->context->prov;
	n = p->qp_addr(qp, buf + GZ_ADDR_HDR, sizeof(buf) - GZ_ADDR_HDR);
	if (n < 0)
		return n;
	n = (int)gz_addr_build(buf, p->addr_id, qp->context->attr.gcid,
			       buf + GZ_ADDR_HDR, (size_t)n);
	if (*len < (size_t)n) {
		*len = (size_t)n;
		return gz_err(-ENOSPC, "address of %d bytes", n);
	}
	memcpy(addr, buf, (size_t)n);
	*len = (size_t)n;
	return 0;
}

GENZIO_EXPORT int genzio_addr_gcid(const void *addr, size_t len,
				   uint32_t *gcid)
{
	GZ_API();
	struct gz_addr a;

	if (!gcid)
		return gz_err(-EINVAL, "gcid is NULL");
	if (gz_addr_split(addr, len, &a))
		return -EINVAL;
	*gcid = a.gcid;
	return 0;
}

static const char *provider_name(uint8_t id)
{
	for (int i = 0; i < gz_provider_count(); i++)
		if (gz_provider_at(i)->addr_id == id)
			return gz_provider_at(i)->name;
	return NULL;
}

GENZIO_EXPORT int genzio_addr_str(const void *addr, size_t len, char *buf,
				  size_t size)
{
	GZ_API();
	const uint8_t *p = addr;
	const char *name;
	struct gz_addr a;
	size_t n;

	if (!buf || gz_addr_split(addr, len, &a))
		return gz_err(-EINVAL, "addr %p, buf %p", addr, (void *)buf);
	name = provider_name(a.provider);
	if (!name)
		return gz_err(-EINVAL, "address of provider %u, not in this "
			      "build", a.provider);
	n = strlen(name) + 1 + 2 * len + 1;
	if (size < n)
		return gz_err(-ENOSPC, "buffer of %zu bytes; %zu needed", size,
			      n);
	n = (size_t)snprintf(buf, size, "%s:", name);
	for (size_t i = 0; i < len; i++, n += 2)
		snprintf(buf + n, size - n, "%02x", p[i]);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

GENZIO_EXPORT int genzio_addr_parse(const char *str, void *addr, size_t *len)
{
	GZ_API();
	uint8_t buf[GENZIO_ADDR_MAX];
	const char *hex, *name;
	size_t n = 0;
	struct gz_addr a;

	if (!str || !len || (*len && !addr))
		return gz_err(-EINVAL, "str %p, addr %p, len %p",
			      (const void *)str, addr, (void *)len);
	hex = strchr(str, ':');
	if (!hex)
		return gz_err(-EINVAL, "\"%.80s\" is not provider:hex", str);
	for (hex++; hex[0] && hex[1] && n < sizeof(buf); hex += 2) {
		int hi = hexval(hex[0]), lo = hexval(hex[1]);

		if (hi < 0 || lo < 0)
			break;
		buf[n++] = (uint8_t)(hi << 4 | lo);
	}
	if (*hex || gz_addr_split(buf, n, &a))
		return gz_err(-EINVAL, "\"%.80s\" is not an address", str);
	name = provider_name(a.provider);
	if (!name || strncmp(str, name, strlen(name)) ||
	    str[strlen(name)] != ':')
		return gz_err(-EINVAL, "\"%.80s\": the name does not match "
			      "the provider of the address", str);
	if (*len < n) {
		*len = n;
		return gz_err(-ENOSPC, "address of %zu bytes", n);
	}
	memcpy(addr, buf, n);
	*len = n;
	return 0;
}
