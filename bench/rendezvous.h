/* SPDX-License-Identifier: MIT */
/* bench/rendezvous: genzio_perf's TCP connection (client/server mode). */
#ifndef GZB_RENDEZVOUS_H
#define GZB_RENDEZVOUS_H

#include <stddef.h>

/* All of @len, or -errno (-EPIPE: the other side closed). */
int gzb_read_full(int fd, void *buf, size_t len);
int gzb_write_full(int fd, const void *buf, size_t len);
/* Listen on @port (IPv6 and IPv4), take one connection: its fd, or
 * -errno. */
int gzb_serve(int port);
/* Connect to @host:@port, retrying for @wait_ms while it is refused: the
 * fd, or -errno (-ENOENT: no such host). */
int gzb_dial(const char *host, int port, int wait_ms);

#endif /* GZB_RENDEZVOUS_H */
