// SPDX-License-Identifier: MIT
/*
 * info-fixture INFO [ARGS...]: leave a fabric with a live component, a
 * stale one (its process died without leaving) and a free GCID below
 * them, run genzio-info INFO ARGS there, and exit with its status.
 * genzio-info -l lists before it joins (a join reclaims every stale
 * slot); the free GCID is where it joins then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <genzio/genzio.h>

int main(int argc, char **argv)
{
	struct genzio_context *a, *b;
	int st;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: info-fixture INFO [ARGS...]\n");
		return 2;
	}
	if (genzio_device_open(NULL, NULL, &a) ||
	    genzio_device_open(NULL, NULL, &b))
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (!pid) {
		struct genzio_context *c;

		_exit(genzio_device_open(NULL, NULL, &c) ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return 2;
	genzio_device_close(a);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		execv(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 2;
	genzio_device_close(b);
	return WEXITSTATUS(st);
}
