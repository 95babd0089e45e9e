// SPDX-License-Identifier: MIT
/*
 * fabric-fixture N FILE: N processes, each a component of the fabric
 * (GENZIO_FABRIC, GENZIO_FABRIC_FILE), that stay while FILE exists
 * (at most 10 minutes). Prints "ready" once all have joined, so a script
 * can run genzio-fabric against a fabric with live components.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <genzio/genzio.h>

static void wait_gone(const char *file)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 60000 && !access(file, F_OK); i++)
		nanosleep(&t, NULL);
}

int main(int argc, char **argv)
{
	pid_t kid[16];
	int n = argc == 3 ? atoi(argv[1]) : 0, p[2], failed = 0;
	char c;

	if (n < 1 || n > 16 || pipe(p)) {
		fprintf(stderr, "usage: fabric-fixture N(1-16) FILE\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		kid[i] = fork();
		if (!kid[i]) {
			struct genzio_context *ctx;
			int ret = genzio_device_open(NULL, NULL, &ctx);

			c = ret ? 'n' : 'y';
			if (write(p[1], &c, 1) != 1 || ret)
				_exit(1);
			wait_gone(argv[2]);
			genzio_device_close(ctx);
			_exit(0);
		}
		/* one at a time: the components are taken in order */
		if (kid[i] < 0 || read(p[0], &c, 1) != 1 || c != 'y') {
			fprintf(stderr, "fabric-fixture: component %d failed\n",
				i);
			failed = 1;
			break;
		}
	}
	if (!failed) {
		printf("ready\n");
		fflush(stdout);
		wait_gone(argv[2]);
	}
	for (int i = 0; i < n; i++)
		if (kid[i] > 0) {
			if (failed)
				kill(kid[i], SIGKILL);
			waitpid(kid[i], NULL, 0);
		}
	return failed;
}
