/* SPDX-License-Identifier: MIT */
/* Linux mechanics behind the portable layers. Every call returns 0 or -errno. */
#ifndef GZ_SYS_SYS_H
#define GZ_SYS_SYS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- hugepage.c ---- */
#define GZ_PAGE_4K 4096ull
#define GZ_PAGE_2M (2ull << 20)
#define GZ_PAGE_1G (1ull << 30)

/* Mount point of a hugetlbfs with @page_size pages, from /proc/mounts. */
int gz_sys_hugetlbfs_find(uint64_t page_size, char *dir, size_t len);
/* Free huge pages of @page_size the kernel holds (0 if none or unknown). */
uint64_t gz_sys_huge_free(uint64_t page_size);

/* ---- shmfile.c: named files peers can open and map by themselves ---- */
struct gz_shmfile {
	void *addr;
	uint64_t len;
	uint64_t page_size;
	int node;		/* NUMA node bound, or -1 */
};

/*
 * Create @path (owner-only, must not exist) of @len bytes, map it shared,
 * bind it to NUMA @node (-1: none), populate it so a missing huge page is
 * an error now rather than SIGBUS later, and mark it MADV_DONTFORK.
 */
int gz_sys_shmfile_create(const char *path, uint64_t len, uint64_t page_size,
			  int node, int lock, struct gz_shmfile *f);
/* Map an existing file another process created. */
int gz_sys_shmfile_map(const char *path, uint64_t len, int writable,
		       void **addr);
/* Replace the pages of [addr, addr+len) by a new file with the same bytes;
 * @addr and @len page aligned. */
int gz_sys_shmfile_convert(const char *path, void *addr, uint64_t len);
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

/* ---- proc.c ---- */
/* Kernel start time of @pid (clock ticks since boot): an incarnation. */
int gz_sys_proc_starttime(pid_t pid, uint64_t *starttime);
/* 1 if @pid runs and started at @starttime; 0 if gone or a zombie. */
int gz_sys_proc_alive(pid_t pid, uint64_t starttime);
int gz_sys_random(void *buf, size_t len);
pid_t gz_sys_gettid(void);

/* ---- lifelock.c: death notice without a syscall ---- */
/*
 * A robust, process-shared mutex held by a context's opener. When that
 * thread or process dies the kernel rewrites the futex word, so a peer
 * notices with one plain load (gz_sys_lifelock_word).
 */
int gz_sys_lifelock_init(pthread_mutex_t *m);
int gz_sys_lifelock_hold(pthread_mutex_t *m);
/* 1 if released and @m may be unmapped; 0 if the caller is not the holder:
 * then the word is cleared for peers and @m must stay mapped. */
int gz_sys_lifelock_release(pthread_mutex_t *m);
static inline uint32_t gz_sys_lifelock_word(const pthread_mutex_t *m)
{
	/* glibc keeps the futex word first; the kernel's robust-list
	 * handling replaces the owner's TID there on its death. */
	return __atomic_load_n((const uint32_t *)(const void *)m,
			       __ATOMIC_RELAXED);
}
#define GZ_FUTEX_TID_MASK 0x3fffffffu

/* A robust process-shared mutex; lock recovers from a dead owner. */
int gz_sys_robust_init(pthread_mutex_t *m);
int gz_sys_robust_lock(pthread_mutex_t *m);

#endif /* GZ_SYS_SYS_H */
