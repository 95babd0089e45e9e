// SPDX-License-Identifier: MIT
/*
 * Life locks: a futex word on the owner thread's robust list, linked by
 * hand. The protocol is the kernel's (Documentation/locking/robust-futex-
 * ABI.rst) and the layout glibc's, whose list this shares: every node
 * pointer points at a "next" slot, with the "prev" slot 8 bytes before
 * it; the list head is the thread's own (get_robust_list), and the word
 * of a node sits at node + head->futex_offset.
 *
 * glibc's own unlock follows the node's prev and next links and writes
 * through them. Ours live in a file other processes of the same user can
 * write, so a garbage link would make glibc write anywhere. Here a link
 * read from shared memory is only ever compared or peeked at, and the
 * list is walked from the head through the thread's other nodes.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gz.h"
#include "sys/sys.h"

#define WALK_MAX 2048	/* the kernel's ROBUST_LIST_LIMIT */

static struct robust_list_head *my_head(void)
{
	struct robust_list_head *h = NULL;
	size_t len;

	if (syscall(SYS_get_robust_list, 0, &h, &len) || !h ||
	    len != sizeof(*h))
		return NULL;
	return h;
}

/* Where the node of @l goes for list head @h; NULL if it cannot fit. */
static void **node_of(struct gz_lifelock *l, const struct robust_list_head *h)
{
	long off = -h->futex_offset;

	if (off < 16 || off > (long)sizeof(*l) - 8 || off % 8)
		return NULL;
	return (void **)(void *)((char *)l + off);
}

int gz_sys_lifelock_hold(struct gz_lifelock *l)
{
	struct robust_list_head *h = my_head();
	void **node = h ? node_of(l, h) : NULL;
	uintptr_t first;

	if (!node)
		return -ENOTSUP;
	/* A death between here and the end: the kernel looks at pending. */
	h->list_op_pending = (void *)node;
	__asm__ __volatile__("" ::: "memory");
	atomic_store_explicit(&l->word, (uint32_t)gz_sys_gettid(),
			      memory_order_release);
	first = (uintptr_t)h->list.next;
	node[0] = (void *)first;
	node[-1] = h;
	/* the old first node's prev is ours now (glibc keeps prev links);
	 * the head itself has no prev slot worth writing */
	if ((first & ~1ul) != (uintptr_t)h)
		*(void **)((first & ~1ul) - 8) = node;
	__asm__ __volatile__("" ::: "memory");
	h->list.next = (struct robust_list *)node;
	__asm__ __volatile__("" ::: "memory");
	h->list_op_pending = NULL;
	return 0;
}

/* The node before @node on @h's list, found from the head without ever
 * reading @node's own links; NULL if @node is not on it. */
static void **pred_of(struct robust_list_head *h, void **node)
{
	void **p = (void **)(void *)&h->list;

	for (int n = 0; n < WALK_MAX; n++) {
		uint64_t next;

		if (gz_sys_peek(p, &next))
			return NULL;
		next &= ~1ull;
		if (next == (uintptr_t)node)
			return p;
		if (next == (uintptr_t)h)
			return NULL;
		p = (void **)(uintptr_t)next;
	}
	return NULL;
}

int gz_sys_lifelock_release(struct gz_lifelock *l)
{
	struct robust_list_head *h = my_head();
	void **node = h ? node_of(l, h) : NULL;
	void **pred = node ? pred_of(h, node) : NULL;
	uint64_t raw, succ, back;

	if (!pred) {
		/* Not on our list: held by another thread of ours (closed
		 * from there), or never taken. Announce the end by hand;
		 * nobody waits on this futex, so no wake-up is owed. */
		atomic_store_explicit(&l->word, 0, memory_order_release);
		return 0;
	}
	h->list_op_pending = (void *)node;
	__asm__ __volatile__("" ::: "memory");
	/* Our successor, read from shared memory: trust it only if it is
	 * the head or its prev link names us back. Otherwise someone wrote
	 * garbage over our node, and the real successor (a robust mutex the
	 * thread took before) still names us as its prev: unlinking and
	 * unmapping us would have glibc write into a freed page when that
	 * mutex is unlocked. Leave the node linked and mapped instead, as
	 * for a close from another thread; glibc's own unlink of that mutex
	 * repairs our next link. */
	raw = (uintptr_t)node[0];
	succ = raw & ~1ull;
	if (succ != (uintptr_t)h &&
	    (gz_sys_peek((void *)(uintptr_t)(succ - 8), &back) ||
	     back != (uintptr_t)node)) {
		h->list_op_pending = NULL;
		atomic_store_explicit(&l->word, 0, memory_order_release);
		gz_err(0, "its life lock's links were overwritten: its page "
		       "stays mapped");
		return 0;
	}
	if (succ != (uintptr_t)h)
		*(void **)(uintptr_t)(succ - 8) = pred;
	/* the low bit says the node it points to is PI: keep the one we
	 * were given for our successor */
	*pred = (void *)(uintptr_t)raw;
	__asm__ __volatile__("" ::: "memory");
	atomic_store_explicit(&l->word, 0, memory_order_release);
	__asm__ __volatile__("" ::: "memory");
	h->list_op_pending = NULL;
	return 1;
}
