// SPDX-License-Identifier: MIT
/* Process identity: who is alive, which incarnation, which namespace. */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gz.h"
#include "sys/sys.h"

int gz_sys_read_small(int dirfd, const char *path, char *buf, size_t len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	return 0;
}

static int read_stat(pid_t pid, char *state, uint64_t *starttime)
{
	char path[64], buf[1024], *p;
	unsigned long long st;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ret = gz_sys_read_small(AT_FDCWD, path, buf, sizeof(buf));
	if (ret)
		return ret;
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
	int ret;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) && errno == ESRCH)
		return 0;
	ret = read_stat(pid, &state, &st);
	/* gone between the two, or never ours to see */
	if (ret == -ENOENT || ret == -ESRCH)
		return 0;
	/* out of fds, say: we cannot tell, and a live process must never
	 * be taken for dead (its GCID and files would be reclaimed) */
	if (ret)
		return ret;
	/* A killed child nobody reaped yet is a zombie: dead to us. */
	return st == starttime && state != 'Z' && state != 'X';
}

int gz_sys_pidns_id(uint64_t *id)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st))
		return -errno;
	*id = (uint64_t)st.st_dev << 32 ^ (uint64_t)st.st_ino;
	return 0;
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

int gz_sys_peek(const void *addr, uint64_t *val)
{
	struct iovec local = { val, sizeof(*val) };
	struct iovec remote = { (void *)(uintptr_t)addr, sizeof(*val) };
	int fds[2];
	ssize_t n;

	/* Reading our own memory needs no ptrace permission. */
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) ==
	    (ssize_t)sizeof(*val))
		return 0;
	if (errno == EFAULT)
		return -EFAULT;
	/* Filtered away (seccomp): a pipe says EFAULT just as well. */
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	n = write(fds[1], addr, sizeof(*val));
	if (n == (ssize_t)sizeof(*val))
		n = read(fds[0], val, sizeof(*val));
	close(fds[0]);
	close(fds[1]);
	return n == (ssize_t)sizeof(*val) ? 0 : -EFAULT;
}

int gz_sys_setup_timeout_ms(void)
{
	const char *v = getenv("GENZIO_SETUP_TIMEOUT_MS");
	char *end;
	long ms;

	static int noticed;

	if (!v || !*v)
		return 2000;
	ms = strtol(v, &end, 10);
	if (*end || ms < 0 || ms > 3600000) {
		gz_log_notice_once(&noticed, "GENZIO_SETUP_TIMEOUT_MS=%s is "
				   "not 0-3600000 ms: waiting 2000", v);
		return 2000;
	}
	return (int)ms;
}

static int membarrier(int cmd)
{
	return (int)syscall(__NR_membarrier, cmd, 0, 0);
}

int gz_sys_membarrier_register(void)
{
	return !membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
}

int gz_sys_membarrier(int expedited)
{
	/* Expedited reaches only processes that registered; the caller
	 * knows whether every one it cares about did. */
	if (expedited && !membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED))
		return 0;
	return membarrier(MEMBARRIER_CMD_GLOBAL) ? -errno : 0;
}

int gz_sys_membarrier_private_register(void)
{
	return !membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
}

int gz_sys_membarrier_private(int registered)
{
	if (registered && !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return 0;
	return gz_sys_membarrier(0);
}

int gz_sys_host_id(uint32_t *id)
{
	char b[64];
	uint32_t h = 2166136261u;	/* FNV-1a */
	int ret = gz_sys_read_small(AT_FDCWD, "/proc/sys/kernel/random/boot_id",
				    b, sizeof(b));

	if (ret)
		return ret;
	for (const char *c = b; *c && *c != '\n'; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	*id = h ? h : 1;
	return 0;
}
