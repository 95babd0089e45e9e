/* SPDX-License-Identifier: MIT */
/* genzio: what two processes exchange out of band to talk.
 * Include <genzio/genzio.h>, which includes every part. */
#ifndef GENZIO_CONN_H
#define GENZIO_CONN_H

#include <genzio/queue.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ out-of-band setup */

/**
 * struct genzio_conn_info - What two processes exchange to talk
 *
 * qp_addr is the queue pair's address, for genzio_qp_connect(); gcid and
 * qpn name it for RD work requests (genzio_ah_create() and remote_qpn).
 * addr, length and rkey describe one registered region the sender offers
 * (all 0 when it offers none).
 */
struct genzio_conn_info {
	uint32_t gcid;
	uint32_t qpn;
	uint32_t rkey;
	uint32_t qp_addr_len;		/* bytes of qp_addr used */
	uint64_t addr;
	uint64_t length;
	uint8_t qp_addr[GENZIO_ADDR_MAX];
};

/* Buffer for genzio_conn_info_str(). */
#define GENZIO_CONN_INFO_STRLEN (64 + GENZIO_ADDR_STRLEN)

/**
 * genzio_conn_info_init - Describe @qp and (if not NULL) region @mr
 * Return: 0, -EINVAL, or an error of genzio_qp_addr().
 */
GENZIO_EXPORT int genzio_conn_info_init(struct genzio_conn_info *info,
					struct genzio_qp *qp,
					const struct genzio_mr *mr);
/**
 * genzio_conn_info_str - Format @info as one line of text
 * Return: 0, -EINVAL (also for a GCID over 28 or a qpn over 24 bits, or
 * a malformed address), -ENOSPC (@len < GENZIO_CONN_INFO_STRLEN).
 */
GENZIO_EXPORT int genzio_conn_info_str(const struct genzio_conn_info *info,
				       char *buf, size_t len);
/** genzio_conn_info_parse - Read text from genzio_conn_info_str().
 *  Return: 0 or -EINVAL. */
GENZIO_EXPORT int genzio_conn_info_parse(const char *str,
					 struct genzio_conn_info *info);
/**
 * genzio_conn_info_exchange - Send @mine over @fd and read the peer's
 * @fd: a connected stream socket (both sides call this)
 *
 * Each side sends its text form with its length first, so a peer's longer
 * line (up to 4 KiB) is read whole and the stream stays in step even when
 * that line is of a form this version does not parse (-EPROTO).
 *
 * Return: 0, -EINVAL, -EPIPE (peer closed early), -EPROTO (the peer sent
 * no line of this form), or the -errno of I/O.
 */
GENZIO_EXPORT int genzio_conn_info_exchange(int fd,
					    const struct genzio_conn_info *mine,
					    struct genzio_conn_info *peer);

/**
 * struct genzio_verbs_dest - A queue pair named the way verbs programs
 * name one (rc_pingpong's LID:QPN:PSN:GID), for ports of verbs code
 * (<genzio/ibverbs_compat.h>) that exchange these instead of an address.
 * @gid and @lid are genzio_verbs_port()'s of the queue pair's context,
 * @qpn its qp_num, @psn the first packet sequence number its side chose
 * (verbs: its send PSN; shm has none and ignores it). @mtu and @rd_atomic
 * are what this side's program chose for the path (verbs' path_mtu and
 * max_rd_atomic; 0: the device's own); shm ignores them.
 */
struct genzio_verbs_dest {
	uint8_t gid[16];
	uint32_t lid;		/* 16 bits */
	uint32_t qpn;		/* 24 bits */
	uint32_t psn;		/* 24 bits */
	uint8_t mtu;		/* as verbs' enum ibv_mtu: 1 (256) .. 5 (4096) */
	uint8_t rd_atomic;	/* READs and atomics in flight (1..16) */
	uint8_t reserved[2];
};

/** What genzio_verbs_port() says of a context's port. */
struct genzio_verbs_port {
	uint8_t gid[16];	/* verbs: the port's GID (GENZIO_VERBS_GID_INDEX's
				 * choice); shm: the component (GCID,
				 * incarnation, host), no routable GID */
	uint16_t lid;		/* InfiniBand: the port's LID; RoCE (which has
				 * none) and shm: the component ID */
	uint8_t link_layer;	/* verbs' values: 1 InfiniBand, 2 Ethernet
				 * (RoCE); 0 shm */
	uint8_t mtu;		/* the port's MTU, as verbs' enum ibv_mtu */
};

/**
 * genzio_verbs_port - This context's port, as verbs names one
 * @ctx:  a device context
 * @port: out
 *
 * Return: 0, -EINVAL, -ENODEV (the device is gone), -EOPNOTSUPP (a
 * provider that cannot name its queue pairs so).
 */
GENZIO_EXPORT int genzio_verbs_port(struct genzio_context *ctx,
				    struct genzio_verbs_port *port);
/**
 * genzio_qp_connect_verbs - genzio_qp_connect() to a verbs-style name
 * @qp:     an RC queue pair in RESET
 * @peer:   the remote queue pair, as its side's genzio_verbs_port() and
 *          qp_num (and PSN) name it
 * @my_psn: @qp's own first PSN (24 bits), the one the peer was told
 *
 * Return: as genzio_qp_connect(); -EINVAL also for a field out of range,
 * or a @peer no component of this provider can have (shm: a GID that
 * genzio_verbs_port() did not give); -EHOSTUNREACH for one of another
 * host (shm) or none that lives; -EOPNOTSUPP as genzio_verbs_port().
 */
GENZIO_EXPORT int genzio_qp_connect_verbs(struct genzio_qp *qp,
					  const struct genzio_verbs_dest *peer,
					  uint32_t my_psn);

#ifdef __cplusplus
}
#endif

#endif /* GENZIO_CONN_H */
