/* SPDX-License-Identifier: MIT */
/*
 * oob.h: how the examples' two processes meet, out of band. A real job
 * gets its peers' addresses from its launcher (an MPI_Allgather of
 * genzio_conn_info, a PMIx put/get: see 07_job_allgather.c); the examples
 * that reach another host (01, 02, 03) use one stream socket, as perftest
 * does:
 *   prog            fork the peer (both on this host, over a socketpair)
 *   prog -S [PORT]  serve: wait for one peer on TCP PORT (default 18516)
 *   prog HOST [PORT]  connect to the server on HOST
 * A small header of static inline functions, so each example stays one file.
 */
#ifndef GENZIO_EXAMPLES_OOB_H
#define GENZIO_EXAMPLES_OOB_H

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OOB_PORT "18516"

enum oob_role {
	OOB_FIRST,	/* the forked child, or the server: the passive side */
	OOB_SECOND,	/* the parent, or the client */
};

struct oob {
	int fd;			/* to the peer */
	enum oob_role role;
	int forked;		/* both sides on this host, by fork() */
	pid_t child;		/* the forked peer (in the parent), or 0 */
};

/* A socket listening on TCP @port (any address), or -1. */
static inline int oob_listener(const char *port, int backlog)
{
	struct addrinfo hints = { .ai_family = AF_INET6, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai;
	int one = 1, fd;

	if (getaddrinfo(NULL, port, &hints, &ai))
		return -1;
	fd = socket(ai->ai_family, ai->ai_socktype, 0);
	if (fd >= 0 &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	     bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, backlog))) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static inline int oob_listen(const char *port)
{
	int fd = oob_listener(port, 1), c;

	if (fd < 0)
		return -1;
	c = accept(fd, NULL, NULL);
	close(fd);
	return c;
}

/* Read or write all @len bytes: 0, or -1. */
static inline int oob_xfer(int fd, void *buf, size_t len, int out)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = out ? write(fd, (char *)buf + done, len - done) :
				  read(fd, (char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* connect(2) within a second: a SYN into a link that is down would
 * otherwise wait out the kernel's retries (about two minutes). */
static inline int oob_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int fl = fcntl(fd, F_GETFL), err = 0;
	socklen_t el = sizeof(err);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -1;
	if (connect(fd, sa, len) && (errno != EINPROGRESS ||
				      poll(&p, 1, 1000) != 1 ||
				      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
						 &el) || err))
		return -1;
	return fcntl(fd, F_SETFL, fl);
}

/* The server may start after us: try for about 30 s. */
static inline int oob_dial(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	struct timespec pause = { 0, 100000000 };

	for (int tries = 0; tries < 300; tries++) {
		if (getaddrinfo(host, port, &hints, &ai))
			return -1;
		for (a = ai; a; a = a->ai_next) {
			int fd = socket(a->ai_family, a->ai_socktype, 0);

			if (fd >= 0 && !oob_connect(fd, a->ai_addr, a->ai_addrlen)) {
				freeaddrinfo(ai);
				return fd;
			}
			if (fd >= 0)
				close(fd);
		}
		freeaddrinfo(ai);
		nanosleep(&pause, NULL);
	}
	return -1;
}

/* A port of 1..65535 in decimal, or NULL. */
static inline const char *oob_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v > 0 && v < 65536 ? s : NULL;
}

/* Meet the peer as argv says; 0, or -1 with a message. Bad usage exits
 * 2 (1 is a failed run). */
static inline int oob_start(int argc, char **argv, struct oob *o)
{
	const char *port = argc > 2 ? oob_port(argv[2]) : OOB_PORT;
	int sv[2];

	if (argc > 3 || !port || (argc > 1 && argv[1][0] == '-' &&
				  strcmp(argv[1], "-S"))) {
		fprintf(stderr, "usage: %s [-S [PORT] | HOST [PORT]]\n"
			"  no argument: both sides here (fork); -S: serve one "
			"peer on TCP PORT\n  (default %s); HOST: reach that "
			"server\n", argv[0], OOB_PORT);
		exit(2);
	}
	memset(o, 0, sizeof(*o));
	if (argc > 1 && !strcmp(argv[1], "-S")) {
		o->role = OOB_FIRST;
		printf("waiting for the peer on TCP port %s\n", port);
		fflush(stdout);
		o->fd = oob_listen(port);
	} else if (argc > 1) {
		o->role = OOB_SECOND;
		o->fd = oob_dial(argv[1], port);
	} else if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
		   (o->child = fork()) < 0) {
		o->fd = -1;
	} else {
		o->forked = 1;
		o->role = o->child ? OOB_SECOND : OOB_FIRST;
		o->fd = sv[o->child ? 0 : 1];
		close(sv[o->child ? 1 : 0]);
	}
	if (o->fd < 0)
		fprintf(stderr, "%s: cannot reach the peer (%s)\n", argv[0],
			argc > 1 && strcmp(argv[1], "-S") ?
			"no server there within 30 s" : strerror(errno));
	return o->fd < 0 ? -1 : 0;
}

/* The end of a side that returned @ret: a forked child exits at once
 * (stdio flushed, no atexit handlers of the parent's); every other side
 * waits for its child if it has one, says ok or FAILED, and returns the
 * exit status. */
static inline int oob_end(struct oob *o, int ret)
{
	int st;

	close(o->fd);
	if (o->forked && o->role == OOB_FIRST) {
		fflush(stdout);
		_exit(ret);
	}
	if (o->child && (waitpid(o->child, &st, 0) < 0 || !WIFEXITED(st) ||
			 WEXITSTATUS(st)))
		ret = 1;
	printf("%s\n", ret ? "FAILED" : "ok");
	return ret;
}

#endif /* GENZIO_EXAMPLES_OOB_H */
