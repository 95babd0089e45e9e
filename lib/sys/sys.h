/* SPDX-License-Identifier: MIT */
/* Linux mechanics behind the portable layers. Every call returns 0 or -errno. */
#ifndef GZ_SYS_SYS_H
#define GZ_SYS_SYS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* ---- hugepage.c ---- */
#define GZ_PAGE_4K 4096ull
#define GZ_PAGE_2M (2ull << 20)

/* CLOCK_MONOTONIC in nanoseconds: every timeout's clock. */
static inline uint64_t gz_sys_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
#define GZ_PAGE_1G (1ull << 30)

/* Mount point of a hugetlbfs with @page_size pages, from /proc/mounts. */
int gz_sys_hugetlbfs_find(uint64_t page_size, char *dir, size_t len);
/* Free huge pages of @page_size the kernel holds (0 if none or unknown). */
uint64_t gz_sys_huge_free(uint64_t page_size);

/* ---- privdir.c: where a user's fabric files live ---- */
/*
 * Open <base>/genzio-<euid>, creating it 0700 when missing (one we own
 * with another mode is set back to 0700). Refused (-EACCES) unless it is
 * a directory, not a symlink, owned by the effective uid: in a sticky
 * world-writable /dev/shm another user may have put anything there first.
 * Return: 0 and *dirfd (O_CLOEXEC), or -errno and the reason in @why
 * (nothing logged: for a hugetlbfs mount, failing is no error).
 */
int gz_sys_privdir_open(const char *base, int *dirfd, char *why, size_t len);
/* The base of the private directories: $GENZIO_SHM_DIR, else /dev/shm. */
const char *gz_sys_base_dir(void);

/* ---- shmfile.c: named files peers open and map by themselves ---- */
struct gz_shmfile {
	void *addr;
	uint64_t len;
	uint64_t page_size;
	int node;		/* NUMA node bound, or -1 */
	int fd;			/* GZ_SHMFILE_KEEP_FD asked: the file, open */
};

/* gz_sys_shmfile_create() flags */
#define GZ_SHMFILE_LOCK 1	/* mlock it */
#define GZ_SHMFILE_KEEP_FD 2	/* keep the fd it was made with (f->fd) */

/*
 * Open @name in @dirfd with @flags plus O_NOFOLLOW and O_CLOEXEC, then
 * check with fstat that it is of @type (S_IFREG or S_IFIFO), owned by the
 * effective uid, has one link and (regular files) at least @min bytes.
 * Return: the fd and *size, or -errno (-EPERM for a file that fails a
 * check: what it failed is logged).
 */
int gz_sys_open_owned(int dirfd, const char *name, int flags, mode_t type,
		      uint64_t min, uint64_t *size);
/*
 * Create @name (owner-only, must not exist) of @len bytes, map it shared,
 * bind it to NUMA @node (-1: none), populate it so a missing huge page is
 * an error now rather than SIGBUS later, and mark it MADV_DONTFORK.
 */
int gz_sys_shmfile_create(int dirfd, const char *name, uint64_t len,
			  uint64_t page_size, int node, int flags,
			  struct gz_shmfile *f);
/*
 * Map a file another process created: checked as gz_sys_open_owned(),
 * and mapped with the size fstat reports (*len), never a size a peer
 * wrote; @max bounds it (0: none). @id (or NULL) gets the mapped file's
 * mount and inode (gz_sys_fd_id).
 */
int gz_sys_shmfile_map(int dirfd, const char *name, uint64_t min,
		       uint64_t max, int writable, void **addr, uint64_t *len,
		       uint64_t *id);
/* Fault in [addr, addr + len) of @page_size pages for writing, after any
 * NUMA binding: 0, or -ENOMEM (a page could not be had). */
int gz_sys_populate(void *addr, uint64_t len, uint64_t page_size);
/* Whether [addr, addr + len) is private anonymous read-write memory
 * (heap, or an anonymous mapping): 1, 0, or -errno. */
int gz_sys_range_is_private_anon(const void *addr, uint64_t len);
/* Replace the pages of [addr, addr+len) by a new file with the same bytes;
 * @addr and @len page aligned. */
int gz_sys_shmfile_convert(int dirfd, const char *name, void *addr,
			   uint64_t len);
/* Whether [addr, addr + len) is still mapped shared from a file called
 * @name: 1, 0 (the application unmapped or replaced it), or -errno. */
int gz_sys_range_is_file(const void *addr, uint64_t len, const char *name);
/* Undo gz_sys_shmfile_convert(): the same bytes, in private anonymous
 * memory again, inherited by fork like any heap page. */
int gz_sys_shmfile_restore(void *addr, uint64_t len);
void gz_sys_shmfile_unmap(void *addr, uint64_t len);

/* ---- numa.c ---- */
int gz_sys_numa_node_of_caller(void);	/* -1 without NUMA */
int gz_sys_numa_bind(void *addr, uint64_t len, int node);
/* -EINVAL for a node that does not exist; without NUMA *node becomes -1. */
int gz_sys_numa_node_check(int *node);

/* ---- cacheflush.c ---- */
/* Write back the cache lines of [p, p + len): clwb, clflushopt or clflush,
 * whichever the CPU has (checked once). Not followed by a fence. */
void gz_sys_flush_lines(const void *p, size_t len);
/* Which instruction gz_sys_flush_lines uses: "clwb", "clflushopt", ... */
const char *gz_sys_flush_insn(void);

/* ---- procmem.c: another process's memory, through the kernel ---- */
struct iovec;
#define GZ_SYS_PROCMEM_IOV 16
/* Move @len bytes between @n (<= GZ_SYS_PROCMEM_IOV) buffers of ours,
 * @len in all, and @pid's [raddr, +len); @write: to it. Return: 0 or
 * -errno (-EFAULT: not all of it mapped). */
int gz_sys_procmem_copy(pid_t pid, uint64_t raddr, const struct iovec *local,
			uint32_t n, uint64_t len, int write);
/* 0 if this process may reach other processes' memory (as far as it can
 * tell), else -errno and why not in @why (Yama, seccomp). */
int gz_sys_procmem_why(char *why, size_t len);
/* The mount and inode of our open @fd (as /proc/<pid>/fdinfo shows
 * them): 0 and @id, or -errno. */
int gz_sys_fd_id(int fd, uint64_t id[2]);
/* 1 if process @pid holds the file @id (gz_sys_fd_id) open read-write,
 * 0 if not, -errno if its fds cannot be read. */
int gz_sys_procmem_owner(pid_t pid, const uint64_t id[2]);

/* ---- proc.c ---- */
/* Read the small file @path (relative to @dirfd, or AT_FDCWD) into @buf
 * of @len, NUL-terminated: 0 or -errno (-EIO: empty). */
int gz_sys_read_small(int dirfd, const char *path, char *buf, size_t len);
/* Kernel start time of @pid (clock ticks since boot): an incarnation. */
int gz_sys_proc_starttime(pid_t pid, uint64_t *starttime);
/* 1 if @pid runs and started at @starttime; 0 if gone or a zombie;
 * -errno if it cannot tell (no fd to read /proc with): never "dead". */
int gz_sys_proc_alive(pid_t pid, uint64_t starttime);
/* Identity of this process's PID namespace (device and inode of
 * /proc/self/ns/pid): pids mean something only inside one. */
int gz_sys_pidns_id(uint64_t *id);
/* 32 nonzero bits that differ between hosts (and boots): of the kernel's
 * boot_id. 0 or -errno. */
int gz_sys_host_id(uint32_t *id);
int gz_sys_random(void *buf, size_t len);
pid_t gz_sys_gettid(void);
/* Read 8 bytes at @addr without faulting: 0, or -EFAULT if unmapped. */
int gz_sys_peek(const void *addr, uint64_t *val);
/* Milliseconds a setup call waits for a lock another process holds:
 * $GENZIO_SETUP_TIMEOUT_MS, default 2000. */
int gz_sys_setup_timeout_ms(void);

/* ---- filelock.c: locks the kernel drops when their holder dies ---- */
/*
 * Take an exclusive OFD lock on byte 0 of @fd, waiting at most
 * @timeout_ms. OFD locks belong to the open file description, so two fds
 * opened separately exclude each other even inside one process, and a
 * holder that dies (or is killed) releases it: nothing in shared memory
 * can wedge it. Return: 0, -ETIMEDOUT, or -errno.
 */
int gz_sys_filelock(int fd, int timeout_ms);
void gz_sys_fileunlock(int fd);
/* Whether any open file description holds that lock on @fd's file (ours
 * included: the test goes through a description of its own). 1, 0, or
 * -errno. */
int gz_sys_filelock_held(int fd);

/* ---- lifelock.c: death notice without a syscall ---- */
/*
 * A word in a component's shared file that holds the owner thread's TID
 * while it lives. It sits on that thread's robust futex list, so when the
 * thread or its process dies the kernel rewrites it (FUTEX_OWNER_DIED),
 * in every PID namespace; a peer notices with one plain load.
 *
 * The list node lives next to the word, in memory other processes of the
 * same user can write, so genzio links and unlinks it itself and never
 * follows a link read from there: glibc's pthread_mutex_unlock() would.
 */
struct gz_lifelock {
	_Atomic uint32_t word;	/* owner TID, 0 once released */
	uint32_t pad;
	uint64_t node[7];	/* robust-list links, at the offset the
				 * thread's list head names */
} __attribute__((aligned(64)));

/* Take @l for the calling thread. 0, -ENOTSUP (no robust list here). */
int gz_sys_lifelock_hold(struct gz_lifelock *l);
/*
 * Release @l. 1 if it was unlinked and may be unmapped; 0 if the caller
 * is not the thread that holds it: the word is cleared for peers, but the
 * holder's list still names it, so it must stay mapped.
 */
int gz_sys_lifelock_release(struct gz_lifelock *l);
static inline uint32_t gz_sys_lifelock_word(const struct gz_lifelock *l)
{
	return atomic_load_explicit(&l->word, memory_order_relaxed);
}
#define GZ_FUTEX_TID_MASK 0x3fffffffu
#define GZ_FUTEX_OWNER_DIED 0x40000000u

/* ---- membarrier: asymmetric fences across processes ---- */
/* Ask for cheap global barriers aimed at this process (setup; cheap to
 * repeat). 1 if registered, 0 if the kernel or a filter refuses. */
int gz_sys_membarrier_register(void);
/* A full barrier in every running thread: of every registered process
 * (@expedited: every process that matters registered), else of every
 * process on the machine (slow: a grace period). */
int gz_sys_membarrier(int expedited);
/* The same aimed at this process's own threads: register at setup (1 if
 * the kernel takes it), then a barrier in each of its running threads
 * (registered: cheap IPIs; not: the slow global barrier). */
int gz_sys_membarrier_private_register(void);
int gz_sys_membarrier_private(int registered);

#endif /* GZ_SYS_SYS_H */
