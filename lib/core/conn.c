// SPDX-License-Identifier: MIT
/* genzio_conn_info_*: what two processes exchange out of band to talk. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gz.h"

#define CONN_FMT "gz1:%" PRIx32 ":%" PRIx32 ":%" PRIx32 ":%" PRIx64 ":%" PRIx64

GENZIO_EXPORT int genzio_conn_info_str(const struct genzio_conn_info *info,
				       char *buf, size_t len)
{
	GZ_API();
	if (!info || !buf)
		return gz_err(-EINVAL, "info %p, buf %p", (const void *)info,
			      (void *)buf);
	if (info->gcid >> 28 || info->qpn >> 24)
		return gz_err(-EINVAL, "GCID %#x or queue pair %#x out of range",
			      info->gcid, info->qpn);
	if (len < GENZIO_CONN_INFO_STRLEN)
		return gz_err(-ENOSPC, "buffer of %zu bytes; %d needed", len,
			      GENZIO_CONN_INFO_STRLEN);
	snprintf(buf, len, CONN_FMT, info->gcid, info->qpn, info->rkey,
		 info->addr, info->length);
	return 0;
}

GENZIO_EXPORT int genzio_conn_info_parse(const char *str,
					 struct genzio_conn_info *info)
{
	GZ_API();
	struct genzio_conn_info v = { 0 };
	int end = 0;

	if (!str || !info)
		return gz_err(-EINVAL, "str %p, info %p", (const void *)str,
			      (void *)info);
	if (sscanf(str, CONN_FMT "%n", &v.gcid, &v.qpn, &v.rkey, &v.addr,
		   &v.length, &end) != 5 ||
	    str[end] || v.gcid >> 28 || v.qpn >> 24)
		return gz_err(-EINVAL, "\"%s\" is not gz1:gcid:qpn:rkey:addr:len",
			      str);
	*info = v;
	return 0;
}

static int xfer(int fd, void *buf, size_t len, int out)
{
	uint8_t *p = buf;

	while (len) {
		/* MSG_NOSIGNAL: a vanished peer is -EPIPE, not SIGPIPE. */
		ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) :
				  read(fd, p, len);

		if (n < 0 && out && errno == ENOTSOCK)
			n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

GENZIO_EXPORT int genzio_conn_info_exchange(int fd,
					    const struct genzio_conn_info *mine,
					    struct genzio_conn_info *peer)
{
	GZ_API();
	char out[GENZIO_CONN_INFO_STRLEN] = { 0 };
	char in[GENZIO_CONN_INFO_STRLEN];
	int ret;

	if (fd < 0 || !mine || !peer)
		return gz_err(-EINVAL, "fd %d, mine %p, peer %p", fd,
			      (const void *)mine, (void *)peer);
	/* Fixed-size text both ways: no framing, readable in a trace. */
	ret = genzio_conn_info_str(mine, out, sizeof(out));
	if (ret)
		return ret;
	ret = xfer(fd, out, sizeof(out), 1);
	if (!ret)
		ret = xfer(fd, in, sizeof(in), 0);
	if (ret)
		return gz_err(ret, "exchange on fd %d: %s", fd, strerror(-ret));
	in[sizeof(in) - 1] = 0;
	return genzio_conn_info_parse(in, peer);
}
