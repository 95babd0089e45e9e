/* SPDX-License-Identifier: MIT */
/*
 * The fabric layer every provider shares: which component holds which
 * GCID on a host fabric, and whether it still lives. The registry is a
 * file in the user's private directory:
 *   - joins and leaves take an OFD lock on it (the kernel drops it when
 *     its holder dies; a stopped holder makes setup wait a bounded time,
 *     then fail naming it);
 *   - lookups take no lock: each slot is a seqlock its writer bumps
 *     under the lock, so a reader that meets a slot mid-write retries;
 *   - everything in it is input from other processes: read once, checked.
 * Liveness is pid + start time; a registry records the PID namespace it
 * was made in and refuses joiners from another, where pids mean nothing.
 */
#ifndef GZ_FABRIC_FABRIC_H
#define GZ_FABRIC_FABRIC_H

#include <stdatomic.h>
#include <stdint.h>

#include "gz.h"

#define GZ_FABRIC_MAX_CID 4095u
#define GZ_FABRIC_NAME_MAX 24

/* One GCID of the fabric, as the registry file holds it. */
struct gz_fabric_slot {
	_Atomic uint32_t seq;	/* odd while its holder's fields change */
	uint32_t used;
	int32_t pid;
	uint32_t pad;
	uint64_t starttime;
	uint64_t incarnation;
	uint64_t reserved[4];
} GZ_ALIGNED;

struct gz_fabric_regfile {
	uint32_t magic;
	uint32_t version;
	uint32_t subnet;
	uint32_t pad;
	uint64_t pidns;			/* gz_sys_pidns_id() of its creator */
	uint64_t next_incarnation;
	_Atomic int32_t holder;		/* pid holding the lock: for messages */
	uint32_t pad2;
	uint64_t reserved[2] GZ_ALIGNED;
	struct gz_fabric_slot slot[GZ_FABRIC_MAX_CID];	/* slot i: CID i + 1 */
};

/* A registry as one context holds it (private). */
struct gz_fabric {
	int fd;				/* its own open: its own OFD lock */
	struct gz_fabric_regfile *reg;
	char name[GZ_FABRIC_NAME_MAX + 1];
	uint32_t subnet;
};

/* What a live slot says. */
struct gz_fabric_member {
	int32_t pid;
	uint64_t starttime;
	uint64_t incarnation;
};

/* Whether @name is a fabric name: 1-24 of [A-Za-z0-9_]. */
int gz_fabric_name_ok(const char *name);
/*
 * Open (creating when missing) the registry of fabric @name in @dirfd.
 * Return: 0, -EPROTO (not a registry of this version: named, with the
 * fix), -EINVAL (it has another subnet), -EXDEV (made in another PID
 * namespace), or -errno.
 */
int gz_fabric_open(int dirfd, const char *name, uint32_t subnet,
		   struct gz_fabric *f);
/* Map the registry of @name read-only, without creating it or joining:
 * only gz_fabric_probe() and gz_fabric_close() apply. -ENOENT when the
 * fabric has no registry (nobody ever joined). */
int gz_fabric_view(int dirfd, const char *name, struct gz_fabric *f);
void gz_fabric_close(struct gz_fabric *f);

/* Files a dead member left behind: the provider knows their names. */
typedef void (*gz_fabric_sweep_fn)(void *arg, uint32_t cid, uint64_t inc);

/*
 * Take the lowest free CID for this process (of those set in @allow, a
 * bitmap of 64 words, bit i for CID i + 1; NULL: any), reclaiming (and
 * sweeping) the slots of dead members on the way. Waits at most the
 * setup timeout for another process's join or leave. Return: 0,
 * -ENOSPC, -ETIMEDOUT.
 */
int gz_fabric_join(struct gz_fabric *f, gz_fabric_sweep_fn sweep, void *arg,
		   const uint64_t *allow, uint32_t *cid, uint64_t *incarnation);
void gz_fabric_leave(struct gz_fabric *f, uint32_t cid, uint64_t incarnation);
/*
 * The live member holding @cid, without a lock (never blocks).
 * Return: 0 and *m, -EHOSTUNREACH (free, or its holder is dead),
 * -EAGAIN (the slot stayed mid-update: a writer stopped or garbage), or
 * another -errno when liveness cannot be checked (-EMFILE).
 */
int gz_fabric_lookup(const struct gz_fabric *f, uint32_t cid,
		     struct gz_fabric_member *m);
/* As gz_fabric_lookup(), but a slot whose holder died without leaving
 * (not yet reclaimed) is -ESRCH, with *@m saying who it was. */
int gz_fabric_probe(const struct gz_fabric *f, uint32_t cid,
		    struct gz_fabric_member *m);

#endif /* GZ_FABRIC_FABRIC_H */
