// SPDX-License-Identifier: MIT
/* genzio_conn_info_*: what two processes exchange out of band to talk. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "provider.h"

#define CONN_FMT "gz2:%" PRIx32 ":%" PRIx32 ":%" PRIx32 ":%" PRIx64 ":%" PRIx64 ":"
#define LINE_MAX_LEN 4096	/* a peer's line: longer is not ours */

GENZIO_EXPORT int genzio_conn_info_init(struct genzio_conn_info *info,
					struct genzio_qp *qp,
					const struct genzio_mr *mr)
{
	GZ_API();
	struct genzio_conn_info v = { 0 };
	size_t len = sizeof(v.qp_addr);
	int ret;

	if (!info || !qp)
		return gz_err(-EINVAL, "info %p, qp %p", (void *)info,
			      (void *)qp);
	ret = genzio_qp_addr(qp, v.qp_addr, &len);
	if (ret)
		return ret;
	v.qp_addr_len = (uint32_t)len;
	v.gcid = qp->context->attr.gcid;
	v.qpn = qp->qp_num;
	if (mr) {
		v.addr = (uintptr_t)mr->addr;
		v.length = mr->length;
		v.rkey = mr->rkey;
	}
	*info = v;
	return 0;
}

GENZIO_EXPORT int genzio_conn_info_str(const struct genzio_conn_info *info,
				       char *buf, size_t len)
{
	GZ_API();
	int n;

	if (!info || !buf)
		return gz_err(-EINVAL, "info %p, buf %p", (const void *)info,
			      (void *)buf);
	if (info->gcid >> 28 || info->qpn >> 24 ||
	    info->qp_addr_len > GENZIO_ADDR_MAX)
		return gz_err(-EINVAL, "GCID %#x, queue pair %#x or address "
			      "length %u out of range", info->gcid, info->qpn,
			      info->qp_addr_len);
	if (len < GENZIO_CONN_INFO_STRLEN)
		return gz_err(-ENOSPC, "buffer of %zu bytes; %d needed", len,
			      GENZIO_CONN_INFO_STRLEN);
	if (info->qp_addr_len) {
		uint32_t agcid;
		int ret = genzio_addr_gcid(info->qp_addr, info->qp_addr_len,
					   &agcid);

		if (ret || agcid != info->gcid)
			return gz_err(-EINVAL, "GCID %#x is not its address's",
				      info->gcid);
	}
	n = snprintf(buf, len, CONN_FMT, info->gcid, info->qpn, info->rkey,
		     info->addr, info->length);
	if (!info->qp_addr_len) {
		snprintf(buf + n, len - (size_t)n, "-");
		return 0;
	}
	return genzio_addr_str(info->qp_addr, info->qp_addr_len, buf + n,
			       len - (size_t)n);
}

GENZIO_EXPORT int genzio_conn_info_parse(const char *str,
					 struct genzio_conn_info *info)
{
	GZ_API();
	struct genzio_conn_info v = { 0 };
	size_t alen = sizeof(v.qp_addr);
	int end = 0;

	if (!str || !info)
		return gz_err(-EINVAL, "str %p, info %p", (const void *)str,
			      (void *)info);
	if (sscanf(str, CONN_FMT "%n", &v.gcid, &v.qpn, &v.rkey, &v.addr,
		   &v.length, &end) != 5 || !end || v.gcid >> 28 ||
	    v.qpn >> 24)
		goto bad;
	if (strcmp(str + end, "-")) {
		uint32_t agcid;

		if (genzio_addr_parse(str + end, v.qp_addr, &alen) ||
		    genzio_addr_gcid(v.qp_addr, alen, &agcid) ||
		    agcid != v.gcid)
			goto bad;	/* one component, or it is made up */
		v.qp_addr_len = (uint32_t)alen;
	}
	*info = v;
	return 0;
bad:
	return gz_err(-EINVAL, "\"%.200s\" is not "
		      "gz2:gcid:qpn:rkey:addr:len:address", str);
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
	char out[4 + GENZIO_CONN_INFO_STRLEN], in[LINE_MAX_LEN + 1];
	uint32_t n, m;
	uint8_t hdr[4];
	int ret;

	if (fd < 0 || !mine || !peer)
		return gz_err(-EINVAL, "fd %d, mine %p, peer %p", fd,
			      (const void *)mine, (void *)peer);
	/* Text with its length first (big-endian): readable in a trace,
	 * and a longer line of a later version is read whole. */
	ret = genzio_conn_info_str(mine, out + 4, sizeof(out) - 4);
	if (ret)
		return ret;
	n = (uint32_t)strlen(out + 4);
	for (int i = 0; i < 4; i++)
		out[i] = (char)(n >> (24 - 8 * i));
	ret = xfer(fd, out, 4 + n, 1);
	if (!ret)
		ret = xfer(fd, hdr, 4, 0);
	if (ret)
		return gz_err(ret, "exchange on fd %d: %s", fd, strerror(-ret));
	m = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (!m || m > LINE_MAX_LEN)
		return gz_err(-EPROTO, "exchange on fd %d: the peer sent a "
			      "line of %u bytes (1..%d)", fd, m, LINE_MAX_LEN);
	ret = xfer(fd, in, m, 0);
	if (ret)
		return gz_err(ret, "exchange on fd %d: %s", fd, strerror(-ret));
	in[m] = 0;
	if (strlen(in) != m || genzio_conn_info_parse(in, peer))
		return gz_err(-EPROTO, "exchange on fd %d: the peer's line is "
			      "not connection info", fd);
	return 0;
}

GENZIO_EXPORT int genzio_verbs_port(struct genzio_context *ctx,
				    struct genzio_verbs_port *port)
{
	GZ_API();
	int ret;

	if (!ctx || !port)
		return gz_err(-EINVAL, "ctx %p, port %p", (void *)ctx,
			      (void *)port);
	ret = gz_ctx_gone(ctx);
	if (ret)
		return ret;
	if (!ctx->prov->verbs_port)
		return gz_err(-EOPNOTSUPP, "%s names no queue pair by GID and "
			      "LID", ctx->prov->name);
	memset(port, 0, sizeof(*port));
	ctx->prov->verbs_port(ctx, port);
	return 0;
}

GENZIO_EXPORT int genzio_qp_connect_verbs(struct genzio_qp *qp,
					  const struct genzio_verbs_dest *d,
					  uint32_t my_psn)
{
	GZ_API();
	uint8_t payload[GENZIO_ADDR_MAX];
	struct genzio_context *ctx;
	uint32_t gcid = 0;
	int n, ret;

	if (!qp || !d)
		return gz_err(-EINVAL, "qp %p, peer %p", (void *)qp,
			      (const void *)d);
	if (qp->qp_type != GENZIO_QPT_RC)
		return gz_err(-EINVAL, "only RC queue pairs connect");
	if (!d->qpn || d->qpn >> 24 || d->psn >> 24 || d->lid >> 16 ||
	    my_psn >> 24 || d->mtu > 5 || d->rd_atomic > 16 ||
	    d->reserved[0] || d->reserved[1])
		return gz_err(-EINVAL, "peer qpn %#x, psn %#x, lid %#x, mtu %u, "
			      "rd_atomic %u, my psn %#x: out of range", d->qpn,
			      d->psn, d->lid, d->mtu, d->rd_atomic, my_psn);
	ctx = qp->context;
	if (!ctx->prov->verbs_addr)
		return gz_err(-EOPNOTSUPP, "%s names no queue pair by GID and "
			      "LID", ctx->prov->name);
	gz_ctx_lock(ctx);
	ret = gz_ctx_gone(ctx);
	n = ret ? ret : ctx->prov->verbs_addr(ctx, d, payload, sizeof(payload),
					      &gcid);
	ret = n < 0 ? n : 0;
	if (!ret && ctx->prov->qp_psn_set)
		ret = ctx->prov->qp_psn_set(qp, my_psn);
	if (!ret)
		ret = ctx->prov->qp_connect(qp, gcid, payload, (size_t)n);
	gz_ctx_unlock(ctx);
	return ret;
}
