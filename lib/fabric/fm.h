/* SPDX-License-Identifier: MIT */
/*
 * The fabric manager of a host fabric, inside the library: no daemon.
 * What it manages lives in one file beside the registry, <fabric>.fm:
 * the topology (switches, links, components and their states), each
 * component's control space, and the path words (one byte per pair of
 * components) that posters load on their fast path.
 *
 * Whoever changes the fabric (a join, a leave, a fault injected) is its
 * manager for that change: under the file's OFD lock it rewrites the
 * topology inside a seqlock, recomputes every path word from the routes
 * (route.c: primary, then the alternate, then any path left), and
 * pwrite()s the wake word, which every context's inotify watch sees.
 * Contexts then read a snapshot and raise the events it implies.
 *
 * Everything in the file is input from other processes (same user, any
 * bug): a snapshot is checked in full before use, path words are only
 * tested for their DOWN bit, and control space is walked with bounds.
 */
#ifndef GZ_FABRIC_FM_H
#define GZ_FABRIC_FM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/topo.h"

/* A host fabric's switches: 255, so a chain's longest route (254 hops)
 * stays below route.h's u8 GZ_ROUTE_INF; the file keeps 256 slots. */
#define GZ_FM_MAX_SW 255u
#define GZ_FM_SW_SLOTS 256u
#define GZ_FM_MAX_LINK 1024u /* between switches */
#define GZ_FM_MAX_CID 4095u
#define GZ_FM_CTL_SIZE 512u /* control space per component */
#define GZ_FM_SOURCE_MAX 200u
#define GZ_FM_NAME 32u
#define GZ_FM_MAGIC 0x475a464du /* "GZFM" */
#define GZ_FM_VERSION 2u	/* 2: 255 switches */

/* A path word: how @a reaches @b now. Posters test GZ_FM_PATH_DOWN. */
enum {
	GZ_FM_PATH_PRIMARY = 0,	  /* zero: a file's unwritten pages */
	GZ_FM_PATH_ALTERNATE = 1, /* the primary broke */
	GZ_FM_PATH_REROUTED = 2,  /* both broke; another path is left */
	GZ_FM_PATH_DOWN = 0x80,
};

/* Component flags. */
enum {
	GZ_FM_DECLARED = 1u << 0,  /* in the description file */
	GZ_FM_ATTACHED = 1u << 1,  /* a context holds it (pid, inc) */
	GZ_FM_REMOVED = 1u << 2,   /* "remove" fault */
	GZ_FM_LINK_DOWN = 1u << 3, /* its link: "link down" fault */
	GZ_FM_FLAGS = 0xf,
};

struct gz_fm_sw {
	char name[GZ_FM_NAME];
	uint32_t up;
	uint32_t pad[7];
};

struct gz_fm_link {
	uint32_t a, b; /* switch indexes */
	uint32_t up;
	uint32_t pad;
};

struct gz_fm_comp {
	char name[GZ_FM_NAME];
	uint32_t sw; /* the switch it attaches to */
	uint32_t flags;
	int32_t pid; /* ATTACHED: its holder */
	uint32_t pad;
	uint64_t starttime;
	uint64_t incarnation;
};

/* One unsolicited event in the log every component reads (its seq is
 * its index: a reader takes only the entry it expects). */
struct gz_fm_uep {
	uint64_t seq;
	uint32_t type; /* GENZIO_EVENT_LINK_* or COMPONENT_* */
	uint32_t gcid;
	uint32_t link;
	uint32_t pad;
};

#define GZ_FM_LOG 1024u /* events a reader may lag behind */

struct gz_fm_hdr {
	uint32_t magic, version;
	_Atomic uint32_t seq; /* odd while a manager writes */
	uint32_t subnet;
	uint32_t nsw, nlink;
	uint32_t described;	       /* components come from a file */
	_Atomic int32_t holder;	       /* pid holding the lock: messages */
	uint32_t wake;		       /* pwrite()n after each change */
	_Atomic uint64_t log_head;     /* events ever logged */
	char source[GZ_FM_SOURCE_MAX]; /* the description, or "" */
};

struct gz_fm_file {
	union {
		struct gz_fm_hdr h;
		char page[4096];
	} hdr;
	struct gz_fm_sw sw[GZ_FM_SW_SLOTS];
	struct gz_fm_link link[GZ_FM_MAX_LINK];
	struct gz_fm_comp comp[GZ_FM_MAX_CID + 1]; /* by CID; 0 unused */
	struct gz_fm_uep log[GZ_FM_LOG];	   /* by seq % GZ_FM_LOG */
	uint8_t ctl[GZ_FM_MAX_CID + 1][GZ_FM_CTL_SIZE];
	_Atomic uint8_t path[GZ_FM_MAX_CID + 1][GZ_FM_MAX_CID + 1];
};

/*
 * A manager or reader of one host fabric (private). The mapping ends
 * where the control spaces begin: they and the path words are read and
 * written with pread/pwrite (a hole so read allocates nothing, and a full
 * tmpfs is an error, not SIGBUS), except a context's own row of path
 * words, which its posters load: it maps that 4 KiB, allocated first.
 * What is mapped, about 320 KiB, is allocated at open.
 */
#define GZ_FM_MAP_LEN offsetof(struct gz_fm_file, ctl)
/* rows are mapped one by one: each must start a page */
_Static_assert(offsetof(struct gz_fm_file, path) % 4096 == 0 &&
		   (GZ_FM_MAX_CID + 1) % 4096 == 0,
	       "path rows must be page-aligned");
struct gz_fm {
	int fd;
	struct gz_fm_file *map; /* writable, up to the control spaces */
	_Atomic uint8_t *row;	/* a context's row, or NULL */
	void *row_base;		/* its mapping: the pages that hold it */
	size_t row_len;
	/* one manager per open file too: an OFD lock does not exclude
	 * the threads of its own description */
	pthread_mutex_t lock;
	/* its opener: a forked child shares the OFD lock and may inherit
	 * the mutex held, so it manages nothing through this handle */
	int32_t pid;
	char name[32];
};

/* A checked copy of the topology part (private). */
struct gz_fm_snap {
	uint32_t seq, subnet, nsw, nlink, described;
	char source[GZ_FM_SOURCE_MAX];
	struct gz_fm_sw sw[GZ_FM_SW_SLOTS];
	struct gz_fm_link link[GZ_FM_MAX_LINK];
	struct gz_fm_comp comp[GZ_FM_MAX_CID + 1];
};

/* Component @cid is one of the fabric's: declared, or attached to the
 * default fabric. */
static inline int gz_fm_has(const struct gz_fm_snap *s, uint32_t cid)
{
	return !!(s->comp[cid].flags & (GZ_FM_DECLARED | GZ_FM_ATTACHED));
}

/* What a component says of itself in its control space. */
struct gz_fm_self {
	uint64_t caps;
	uint64_t data_size;
	uint32_t max_qp, max_cq;
};

/* ---- fm_file.c ---- */
/* Open the manager file of fabric @name in @dirfd (@create: an empty
 * one when missing, else -ENOENT). 0 or -errno (named). */
int gz_fm_open(int dirfd, const char *name, int create, struct gz_fm *fm);
void gz_fm_close(struct gz_fm *fm);
/* Map component @cid's row of path words into fm->row. 0 or -errno. */
int gz_fm_row_map(struct gz_fm *fm, uint32_t cid);
/* Row @cid of path words, whole: 0 or -errno. */
int gz_fm_row_read(const struct gz_fm *fm, uint32_t cid, uint8_t *row);
int gz_fm_row_write(struct gz_fm *fm, uint32_t cid, const uint8_t *row);
/* Zero the control spaces and every path word (a rebuild). */
void gz_fm_zero_tail(struct gz_fm *fm);
/* Component @cid's control space, whole, into @blk; put: from @blk, or
 * zeros when @blk is NULL (a block that is a hole stays one). 0 or
 * -errno (-ENOSPC: a full tmpfs). Readers copy inside the seqlock. */
int gz_fm_ctl_get(const struct gz_fm *fm, uint32_t cid, uint8_t *blk);
int gz_fm_ctl_put(struct gz_fm *fm, uint32_t cid, const uint8_t *blk);
/* The file's lock, waiting at most the setup timeout (named: who holds
 * it); it repairs the seqlock of a manager killed mid-change. 0,
 * -ETIMEDOUT, -EPERM (a forked child: named), -errno. */
int gz_fm_lock(struct gz_fm *fm);
void gz_fm_unlock(struct gz_fm *fm);
/* A consistent, checked copy. 0, -EAGAIN (a manager stopped mid-write;
 * one killed mid-write is repaired by the next gz_fm_lock()),
 * -ENOENT (never built), -EPROTO (garbage: named). */
int gz_fm_snapshot(const struct gz_fm *fm, struct gz_fm_snap *s);
/* In a seqlock reader's loop, before each try (@q: the seq it last
 * read): 1 once a manager stayed mid-change past the bound (200 ms from
 * the 64th try). One that was killed mid-change (seq odd, nobody holding
 * the lock) is repaired once, and the bound starts again. */
struct gz_fm_wait {
	uint32_t tries;
	int repaired;
	uint64_t since;
};
int gz_fm_seq_wait(const struct gz_fm *fm, struct gz_fm_wait *w, uint32_t q);
/* @s as a topology to route (@live: with the states; else all up). */
int gz_fm_topo(const struct gz_fm_snap *s, int live, struct gz_topo *t);
/* Component @cid of @s is on the fabric: attached, its holder alive,
 * not removed. */
int gz_fm_present(const struct gz_fm_snap *s, uint32_t cid);
/* Whether component @cid's link carries traffic (switch up too). */
int gz_fm_comp_link_up(const struct gz_fm_snap *s, uint32_t cid);
/* Whether switch link @i carries traffic (both switches up). */
int gz_fm_link_up(const struct gz_fm_snap *s, uint32_t i);

/* ---- fm_manage.c: all under gz_fm_lock() ---- */
/*
 * Make the file describe @t (from a description file named @source, or
 * the default fabric of subnet @subnet when @t has no components) unless
 * live components are attached already. *@built says which. 0 or -E2BIG
 * (beyond a host fabric's limits: named), -errno.
 */
int gz_fm_build(struct gz_fm *fm, const struct gz_topo *t, const char *source,
		uint32_t subnet, int *built);
/* A build taken back (its joiner failed): no fabric, unless a live
 * component is attached. */
void gz_fm_unbuild(struct gz_fm *fm);
/* The CIDs a joiner may take: declared, not attached to a live holder
 * (@allow: 64 words). 0, or -ENOENT for "any" (the default fabric). */
int gz_fm_allowed(struct gz_fm *fm, uint64_t *allow);
/* Attach CID @cid as this process's context (@inc) and publish. */
int gz_fm_attach(struct gz_fm *fm, uint32_t cid, uint64_t inc,
		 const struct gz_fm_self *self);
/* Detach @cid (if @inc still holds it) and publish. */
void gz_fm_detach(struct gz_fm *fm, uint32_t cid, uint64_t inc);
/* ---- fm_fault.c ---- */
/* A fault or its repair (genzio_fabric_inject): takes the lock. */
int gz_fm_inject(struct gz_fm *fm, uint32_t type, const char *a, const char *b);
/* Component @name (or GCID "0x1002") of @s: its CID, or 0. */
uint32_t gz_fm_comp_find(const struct gz_fm_snap *s, const char *name);
uint32_t gz_fm_sw_find(const struct gz_fm_snap *s, const char *name);

/* The parts of a change (fm_fault.c's too): the dead holders of @s
 * found (their /proc read before the seqlock opens: a reader spins while
 * it is), a topology rewrite inside begin/end with the dead reaped in
 * it, then publish, which logs the events between @before and now. */
struct gz_fm_dead {
	uint64_t cid[64];
};
void gz_fm_dead_find(const struct gz_fm_snap *s, struct gz_fm_dead *d);
void gz_fm_begin(struct gz_fm *fm);
void gz_fm_end(struct gz_fm *fm);
void gz_fm_reap(struct gz_fm *fm, const struct gz_fm_snap *s,
		const struct gz_fm_dead *d);
int gz_fm_publish(struct gz_fm *fm, const struct gz_fm_snap *before,
		  uint32_t cid, const struct gz_fm_self *self);
/* Events logged from @*next on, into @push (at most GZ_FM_LOG; *@lost
 * counts those overwritten before we read them). Lock-free. */
typedef void (*gz_fm_event_fn)(void *arg, const struct gz_fm_uep *e);
void gz_fm_events(const struct gz_fm *fm, uint64_t *next, gz_fm_event_fn push,
		  void *arg, uint64_t *lost);
/* The same, up to @head (a gz_fm_log_head() read earlier): a reader of
 * path words that read them after @head knows they show those events
 * (a manager logs a change after it writes its path words). */
void gz_fm_events_to(const struct gz_fm *fm, uint64_t *next, uint64_t head,
		     gz_fm_event_fn push, void *arg, uint64_t *lost);
/* Under the lock: the events of a change from @b to @a (fm_log.c). */
void gz_fm_log_diff(struct gz_fm *fm, const struct gz_fm_snap *b,
		    const struct gz_fm_snap *a);
/* Whether a live holder is attached: the fabric runs. */
int gz_fm_runs(struct gz_fm *fm);
/* The log's head now: where a new reader starts. */
uint64_t gz_fm_log_head(const struct gz_fm *fm);

/* ---- fm_ctl.c ---- */
struct genzio_component;
/* Write @cid's control space from @s (and @self when attaching). 0 or
 * -errno. */
int gz_fm_ctl_write(struct gz_fm *fm, const struct gz_fm_snap *s, uint32_t cid,
		    const struct gz_fm_self *self);
/* Read it back as input into @out. 0, -EHOSTUNREACH (nobody holds it),
 * -EPROTO (malformed: named), -EAGAIN. */
int gz_fm_ctl_read(const struct gz_fm *fm, uint32_t gcid,
		   struct genzio_component *out);

#endif /* GZ_FABRIC_FM_H */
