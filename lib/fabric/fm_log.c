// SPDX-License-Identifier: MIT
/*
 * The unsolicited events of a host fabric: the manager appends what each
 * change did (the difference of the fabric before and after it) to a log
 * in its file; every component reads the entries it has not read. A log,
 * not a look at the state: a link that goes down and up again between
 * two reads is two events, not none.
 */
#include <genzio/genzio.h>

#include "fabric/fm.h"

/* On the fabric, by the file's say: attached, not removed. */
static int on(const struct gz_fm_snap *s, uint32_t c)
{
	return (s->comp[c].flags & (GZ_FM_ATTACHED | GZ_FM_REMOVED)) ==
	       GZ_FM_ATTACHED;
}

/* Under the lock: one entry. */
static void append(struct gz_fm *fm, uint32_t type, uint32_t gcid,
		   uint32_t link)
{
	uint64_t h = atomic_load_explicit(&fm->map->hdr.h.log_head,
					  memory_order_relaxed);
	struct gz_fm_uep *e = &fm->map->log[h % GZ_FM_LOG];

	/* seq out of every reader's reach first: one a lap behind that
	 * reads these fields while they change, or after this writer died
	 * among them, finds no seq of its own when it checks again */
	__atomic_store_n(&e->seq, UINT64_MAX, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_release);
	e->type = type;
	e->gcid = gcid;
	e->link = link;
	/* seq last: a reader that sees it sees the fields */
	__atomic_store_n(&e->seq, h, __ATOMIC_RELEASE);
	atomic_store_explicit(&fm->map->hdr.h.log_head, h + 1,
			      memory_order_release);
}

void gz_fm_log_diff(struct gz_fm *fm, const struct gz_fm_snap *b,
		    const struct gz_fm_snap *a)
{
	uint32_t n = a->nlink < b->nlink ? a->nlink : b->nlink;

	for (uint32_t i = 0; i < n; i++) {
		int up = gz_fm_link_up(a, i);

		if (up != gz_fm_link_up(b, i))
			append(fm,
			       up ? GENZIO_EVENT_LINK_UP
				  : GENZIO_EVENT_LINK_DOWN,
			       0, i);
	}
	for (uint32_t c = 1; c <= GZ_FM_MAX_CID; c++) {
		int was = on(b, c), is = on(a, c);
		int up = gz_fm_comp_link_up(a, c);
		uint32_t gcid = a->subnet << 12 | c;

		/* a joiner's link coming up with it is its COMPONENT_ADD */
		if (is && up != gz_fm_comp_link_up(b, c) && (was || !up))
			append(fm,
			       up ? GENZIO_EVENT_LINK_UP
				  : GENZIO_EVENT_LINK_DOWN,
			       gcid, GENZIO_LINK_COMPONENT);
		if (is != was)
			append(fm,
			       is ? GENZIO_EVENT_COMPONENT_ADD
				  : GENZIO_EVENT_COMPONENT_REMOVE,
			       gcid, 0);
	}
}

uint64_t gz_fm_log_head(const struct gz_fm *fm)
{
	return atomic_load_explicit(&fm->map->hdr.h.log_head,
				    memory_order_acquire);
}

void gz_fm_events(const struct gz_fm *fm, uint64_t *next, gz_fm_event_fn push,
		  void *arg, uint64_t *lost)
{
	gz_fm_events_to(fm, next, gz_fm_log_head(fm), push, arg, lost);
}

void gz_fm_events_to(const struct gz_fm *fm, uint64_t *next, uint64_t head,
		     gz_fm_event_fn push, void *arg, uint64_t *lost)
{
	/* behind by more than the log holds (or a head gone backwards:
	 * garbage): what was overwritten is lost, and counted */
	if (head - *next > GZ_FM_LOG) {
		*lost += head > *next ? head - *next - GZ_FM_LOG : 0;
		*next = head > GZ_FM_LOG ? head - GZ_FM_LOG : 0;
	}
	for (; *next < head; ++*next) {
		const struct gz_fm_uep *e = &fm->map->log[*next % GZ_FM_LOG];
		struct gz_fm_uep copy;

		copy.seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		copy.type = e->type;
		copy.gcid = e->gcid;
		copy.link = e->link;
		atomic_thread_fence(memory_order_acquire);
		/* rewritten meanwhile by a writer a lap ahead, or garbage */
		if (copy.seq != *next ||
		    __atomic_load_n(&e->seq, __ATOMIC_RELAXED) != *next ||
		    copy.type < GENZIO_EVENT_LINK_DOWN ||
		    copy.type > GENZIO_EVENT_COMPONENT_REMOVE) {
			++*lost;
			continue;
		}
		push(arg, &copy);
	}
}
