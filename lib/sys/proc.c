// SPDX-License-Identifier: MIT
/* Process identity: who is alive, and which incarnation. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys/sys.h"

static int read_stat(pid_t pid, char *state, uint64_t *starttime)
{
	char path[64], buf[1024], *p;
	unsigned long long st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: parse after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	/* state is field 3, starttime field 22 */
	if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
			  "%*d %*d %*d %*d %*d %*d %llu",
		   state, &st) != 2)
		return -EIO;
	*starttime = st;
	return 0;
}

int gz_sys_proc_starttime(pid_t pid, uint64_t *starttime)
{
	char state;

	return read_stat(pid, &state, starttime);
}

int gz_sys_proc_alive(pid_t pid, uint64_t starttime)
{
	uint64_t st;
	char state;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) && errno == ESRCH)
		return 0;
	if (read_stat(pid, &state, &st))
		return 0;
	/* A killed child nobody reaped yet is a zombie: dead to us. */
	return st == starttime && state != 'Z' && state != 'X';
}

int gz_sys_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

pid_t gz_sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}
