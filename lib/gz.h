/* SPDX-License-Identifier: MIT */
/* Internal basics shared by every layer: no provider or object knowledge. */
#ifndef GZ_GZ_H
#define GZ_GZ_H

#include <stddef.h>
#include <stdint.h>

#include <genzio/genzio.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define GZ_CACHELINE 64
#define GZ_ALIGNED __attribute__((aligned(GZ_CACHELINE)))
#define GZ_LIKELY(x) __builtin_expect(!!(x), 1)
#define GZ_UNLIKELY(x) GENZIO_UNLIKELY(x)
/* For the few fast-path helpers the compiler would rather call. */
#define GZ_INLINE static inline __attribute__((always_inline))
#define GZ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Print one line "genzio: <func>: <message>" when GENZIO_DEBUG is set.
 * Returns @err so error paths read "return gz_err(-EINVAL, ...)".
 * Never called on the fast path.
 */
__attribute__((format(printf, 3, 4)))
int gz_log_err(int err, const char *func, const char *fmt, ...);
#define gz_err(err, ...) gz_log_err((err), __func__, __VA_ARGS__)

/*
 * The public call being served, so a diagnostic names what the user
 * called ("genzio: genzio_mr_reg: ...") rather than an internal helper.
 * Each public setup function starts with GZ_API(); the outermost one
 * wins, and it is restored when that function returns.
 */
extern __thread const char *gz_api_name;
static inline const char *gz_api_enter(const char *name)
{
	const char *outer = gz_api_name;

	if (!outer)
		gz_api_name = name;
	return outer;
}
static inline void gz_api_leave(const char **outer)
{
	gz_api_name = *outer;
}
#define GZ_API() GZ_API_AS(__func__)
/* For a _sz function: messages name the inline wrapper the program
 * called. */
#define GZ_API_AS(name)                                                   \
	const char *gz_api_outer_ __attribute__((cleanup(gz_api_leave),   \
						  unused)) =              \
		gz_api_enter(name)

/* A notice printed once per process whatever GENZIO_DEBUG says, for
 * fallbacks that cost performance (normal pages in place of huge pages). */
__attribute__((format(printf, 2, 3)))
void gz_log_notice_once(int *once, const char *fmt, ...);

int gz_debug_enabled(void);

/* Load a word another process may rewrite exactly once, as the kernel's
 * READ_ONCE: the compiler may not load it again for a later use. */
#define GZ_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/*
 * A free (NULL) slot of a queue-pair table @tab, @n atomic pointers,
 * searched round robin from *@next, which moves past it: the slot freed
 * longest ago is reused first, so generations kept per slot wrap slowly.
 * 0 and *@slot, or -ENOSPC (said). Under the lock that guards @tab.
 */
static inline int gz_qp_slot_take(void *_Atomic const *tab, uint32_t n,
				  uint32_t *next, uint32_t *slot)
{
	for (uint32_t k = 0; k < n; k++) {
		uint32_t s = (*next + k) % n;

		if (!__atomic_load_n(&tab[s], __ATOMIC_RELAXED)) {
			*next = (s + 1) % n;
			*slot = s;
			return 0;
		}
	}
	return gz_err(-ENOSPC, "all %u queue pairs in use", n);
}

static inline uint32_t gz_roundup_pow2(uint32_t v)
{
	return v <= 1 ? 1 : 1u << (32 - __builtin_clz(v - 1));
}

static inline uint64_t gz_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* A spin-wait's pause: lets the sibling thread run, saves power. */
static inline void gz_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/*
 * Structs the library fills grow at their end (genzio.h). Sizes a caller
 * may pass: from the first released layout (@min) up; gz_out_copy()
 * writes what both know and zeros the caller's fields beyond ours.
 */
#define GZ_OUT_MAX 4096	/* larger is no struct of ours: a bad size */
int gz_out_size_ok(size_t size, size_t min, const char *what);
void gz_out_copy(void *dst, size_t size, const void *src, size_t ours);
/* A list of @max structs of @size bytes at @base: 0, or -EINVAL (a
 * negative @max, entries without a buffer, or a bad @size). */
int gz_out_list_ok(const void *base, int max, size_t size, size_t min,
		   const char *what);
/* Entry @i of such a list gets @src (gz_out_copy). */
void gz_out_list_put(void *base, int i, size_t size, const void *src,
		     size_t ours);

#endif /* GZ_GZ_H */
