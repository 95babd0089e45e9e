// SPDX-License-Identifier: MIT
/*
 * bench/rendezvous: the TCP connection genzio_perf's two sides talk over
 * in client/server mode (as perftest's: the server listens, the client
 * connects), and whole-message reads and writes on it. Only addresses
 * and commands travel here; the data goes through genzio.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rendezvous.h"

int gzb_read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

int gzb_write_full(int fd, const void *buf, size_t len)
{
	for (size_t put = 0; put < len;) {
		/* a closed peer is -EPIPE here, never a SIGPIPE */
		ssize_t n = send(fd, (const char *)buf + put, len - put,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EPIPE;
		put += (size_t)n;
	}
	return 0;
}

/* Commands are small and answered at once: no Nagle delay. */
static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int gzb_serve(int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct sockaddr *a = (struct sockaddr *)&a6;
	socklen_t alen = sizeof(a6);
	int one = 1, zero = 0, s, fd;

	s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		/* a host without IPv6 */
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		a = (struct sockaddr *)&a4;
		alen = sizeof(a4);
	}
	if (s < 0)
		return -errno;
	/* IPv4 too, and a port a finished run left in TIME_WAIT */
	setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, a, alen) || listen(s, 1)) {
		int ret = -errno;

		close(s);
		return ret;
	}
	fd = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	close(s);
	if (fd < 0)
		return -errno;
	nodelay(fd);
	return fd;
}

int gzb_dial(const char *host, int port, int wait_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timespec pause = { 0, 50000000 };
	char serv[16];
	int fd = -1, ret;

	snprintf(serv, sizeof(serv), "%d", port);
	ret = getaddrinfo(host, serv, &hints, &res);
	if (ret)
		return -ENOENT;		/* no such host */
	/* the server may still be starting: retry, as a script that starts
	 * both sides at once needs */
	for (int waited = 0; fd < 0 && waited <= wait_ms; waited += 50) {
		for (ai = res; ai && fd < 0; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
				    ai->ai_protocol);
			if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
				ret = -errno;
				close(fd);
				fd = -1;
			}
		}
		if (fd < 0)
			nanosleep(&pause, NULL);
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ret ? ret : -ECONNREFUSED;
	nodelay(fd);
	return fd;
}
