// SPDX-License-Identifier: MIT
/* The host fabric registry: GCIDs for components; see fabric.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fabric/fabric.h"
#include "sys/sys.h"

#define GZ_FABRIC_SUBNET_ANY UINT32_MAX	/* check_reg: any subnet */
#define REG_MAGIC 0x475a5247u	/* "GZRG" */
#define REG_VERSION 2u
#define SEQ_TRIES 1000

int gz_fabric_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > GZ_FABRIC_NAME_MAX)
		return 0;
	for (; *s; s++)
		/* no '-' or '.': file names split on them */
		if (!(*s == '_' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

/* A creator killed mid-build leaves ".<name>.reg.<pid>.<rand>": remove
 * those of dead creators, so a restart meets a clean directory. */
static void sweep_tmp(int dirfd, const char *name)
{
	char prefix[GZ_FABRIC_NAME_MAX + 8];
	/* a fresh open, not dup(): a dup shares dirfd's offset */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	snprintf(prefix, sizeof(prefix), ".%s.reg.", name);
	while ((de = readdir(d))) {
		int pid;

		if (strncmp(de->d_name, prefix, strlen(prefix)) ||
		    sscanf(de->d_name + strlen(prefix), "%d.", &pid) != 1)
			continue;
		if (pid > 0 && kill(pid, 0) && errno == ESRCH)
			unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

/* Build the registry under a private name, then rename it into place
 * (no-replace): whoever opens the name sees a complete registry, with
 * one link, or none. */
static int create_reg(int dirfd, const char *name, uint32_t subnet)
{
	char tmp[GZ_FABRIC_NAME_MAX + 48], final[GZ_FABRIC_NAME_MAX + 8];
	struct gz_fabric_regfile *reg;
	uint32_t rnd = 0;
	uint64_t pidns;
	int fd, ret;

	ret = gz_sys_pidns_id(&pidns);
	if (ret)
		return ret;
	sweep_tmp(dirfd, name);
	gz_sys_random(&rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), ".%s.reg.%d.%08x", name, (int)getpid(), rnd);
	snprintf(final, sizeof(final), "%s.reg", name);
	fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
				      O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* allocated now, not on first touch: a store into a hole of a full
	 * tmpfs (another user can fill /dev/shm) would be a SIGBUS later */
	ret = -posix_fallocate(fd, 0, sizeof(*reg));
	if (ret)
		goto out;
	reg = mmap(NULL, sizeof(*reg), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	if (reg == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	reg->version = REG_VERSION;
	reg->subnet = subnet;
	reg->pidns = pidns;
	reg->next_incarnation = 1;
	reg->magic = REG_MAGIC;
	munmap(reg, sizeof(*reg));
	if (!renameat2(dirfd, tmp, dirfd, final, RENAME_NOREPLACE)) {
		close(fd);
		return 0;
	}
	/* EEXIST: another process won the race, and we use theirs */
	ret = errno == EEXIST ? 0 : -errno;
out:
	unlinkat(dirfd, tmp, 0);
	close(fd);
	return ret;
}

/* Check what we mapped: every field read once, into locals. */
/* Check @reg once; *@have gets its subnet (read once, checked). */
static int check_reg(const struct gz_fabric_regfile *reg, const char *name,
		     uint32_t subnet, uint32_t *have_out)
{
	uint32_t magic = reg->magic, version = reg->version;
	uint32_t have = __atomic_load_n(&reg->subnet, __ATOMIC_RELAXED);
	uint64_t ns = reg->pidns, mine = 0;

	if (magic != REG_MAGIC || version != REG_VERSION)
		return gz_err(-EPROTO, "fabric %s: its registry is not a genzio "
			      "v%u registry (another version?): remove %s.reg "
			      "from the genzio directory, or use another "
			      "GENZIO_FABRIC", name, REG_VERSION, name);
	if (have > 0xffff)
		return gz_err(-EPROTO, "fabric %s: its registry says subnet "
			      "%#x, which is no 16-bit subnet", name, have);
	if (subnet != GZ_FABRIC_SUBNET_ANY && have != subnet)
		return gz_err(-EINVAL, "fabric %s has subnet %u, not %u", name,
			      have, subnet);
	if (!gz_sys_pidns_id(&mine) && ns != mine)
		return gz_err(-EXDEV, "fabric %s was made in another PID "
			      "namespace: processes of one fabric must share "
			      "one (containers: share the PID namespace, or set "
			      "GENZIO_FABRIC or GENZIO_SHM_DIR apart)", name);
	*have_out = have;
	return 0;
}

/* Map the registry open on @fd into @f and check it; @fd is @f's after,
 * or closed on failure. */
static int map_reg(int fd, int prot, const char *name, uint32_t subnet,
		   struct gz_fabric *f)
{
	struct gz_fabric_regfile *reg;
	int ret;

	reg = mmap(NULL, sizeof(*reg), prot, MAP_SHARED, fd, 0);
	if (reg == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return gz_err(ret, "mmap the registry of %s: %s", name,
			      strerror(-ret));
	}
	ret = check_reg(reg, name, subnet, &f->subnet);
	if (ret) {
		munmap(reg, sizeof(*reg));
		close(fd);
		return ret;
	}
	f->fd = fd;
	f->reg = reg;
	snprintf(f->name, sizeof(f->name), "%s", name);
	return 0;
}

int gz_fabric_view(int dirfd, const char *name, struct gz_fabric *f)
{
	char path[GZ_FABRIC_NAME_MAX + 8];
	int fd;

	snprintf(path, sizeof(path), "%s.reg", name);
	fd = gz_sys_open_owned(dirfd, path, O_RDONLY, S_IFREG,
			       sizeof(struct gz_fabric_regfile), NULL);
	if (fd < 0)
		return fd == -ENOENT ? fd :
				       gz_err(fd, "fabric %s: cannot open its "
					      "registry: %s", name,
					      strerror(-fd));
	return map_reg(fd, PROT_READ, name, GZ_FABRIC_SUBNET_ANY, f);
}

int gz_fabric_open(int dirfd, const char *name, uint32_t subnet,
		   struct gz_fabric *f)
{
	char path[GZ_FABRIC_NAME_MAX + 8];
	int fd = -ENOENT, ret;

	snprintf(path, sizeof(path), "%s.reg", name);
	for (int tries = 0; tries < 3 && fd == -ENOENT; tries++) {
		fd = gz_sys_open_owned(dirfd, path, O_RDWR, S_IFREG,
				       sizeof(struct gz_fabric_regfile), NULL);
		if (fd == -ENOENT) {
			ret = create_reg(dirfd, name, subnet);
			if (ret && ret != -ENOENT)
				return gz_err(ret, "cannot create the registry "
					      "of fabric %s: %s", name,
					      strerror(-ret));
		}
	}
	if (fd < 0)
		return gz_err(fd, "fabric %s: cannot open its registry: %s",
			      name, strerror(-fd));
	return map_reg(fd, PROT_READ | PROT_WRITE, name, subnet, f);
}

void gz_fabric_close(struct gz_fabric *f)
{
	munmap(f->reg, sizeof(*f->reg));
	close(f->fd);
}

static int lock(struct gz_fabric *f)
{
	int ret = gz_sys_filelock(f->fd, gz_sys_setup_timeout_ms());

	if (ret == -ETIMEDOUT) {
		int32_t holder = atomic_load(&f->reg->holder);

		return gz_err(ret, "fabric %s: its registry has been locked for "
			      "%d ms by pid %d (stopped, or in a debugger?): "
			      "resume or kill it, or raise "
			      "GENZIO_SETUP_TIMEOUT_MS", f->name,
			      gz_sys_setup_timeout_ms(), (int)holder);
	}
	if (ret)
		return gz_err(ret, "fabric %s: registry lock: %s", f->name,
			      strerror(-ret));
	atomic_store(&f->reg->holder, (int32_t)getpid());
	return 0;
}

static void unlock(struct gz_fabric *f)
{
	atomic_store(&f->reg->holder, 0);
	gz_sys_fileunlock(f->fd);
}

/* Rewrite a slot under the lock; readers see seq odd meanwhile. */
static void slot_write(struct gz_fabric_slot *s, uint32_t used, int32_t pid,
		       uint64_t start, uint64_t inc)
{
	uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);

	/* odd whatever garbage was there; the field stores are releases,
	 * so a reader that sees one sees seq odd too */
	atomic_store_explicit(&s->seq, q | 1, memory_order_relaxed);
	__atomic_store_n(&s->used, used, __ATOMIC_RELEASE);
	__atomic_store_n(&s->pid, pid, __ATOMIC_RELEASE);
	__atomic_store_n(&s->starttime, start, __ATOMIC_RELEASE);
	__atomic_store_n(&s->incarnation, inc, __ATOMIC_RELEASE);
	/* Release pairs with the acquire in slot_read(). */
	atomic_store_explicit(&s->seq, (q | 1) + 1, memory_order_release);
}

/* A consistent copy of a slot: 0, or -EAGAIN if it never settles. */
static int slot_read(const struct gz_fabric_slot *s, uint32_t *used,
		     struct gz_fabric_member *m)
{
	for (int tries = 0; tries < SEQ_TRIES; tries++) {
		uint32_t q = atomic_load_explicit(
			(_Atomic uint32_t *)&s->seq, memory_order_acquire);

		if (q & 1)
			continue;
		/* acquire loads keep the re-read of seq after them */
		*used = __atomic_load_n(&s->used, __ATOMIC_ACQUIRE);
		m->pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
		m->starttime = __atomic_load_n(&s->starttime, __ATOMIC_ACQUIRE);
		m->incarnation = __atomic_load_n(&s->incarnation,
						 __ATOMIC_ACQUIRE);
		if (atomic_load_explicit((_Atomic uint32_t *)&s->seq,
					 memory_order_relaxed) == q)
			return 0;
	}
	return -EAGAIN;
}

int gz_fabric_join(struct gz_fabric *f, gz_fabric_sweep_fn sweep, void *arg,
		   const uint64_t *allow, uint32_t *cid, uint64_t *incarnation)
{
	uint64_t me_start, inc;
	int ret, found = -1;

	ret = gz_sys_proc_starttime(getpid(), &me_start);
	if (ret)
		return gz_err(ret, "cannot read /proc/self/stat");
	ret = lock(f);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < GZ_FABRIC_MAX_CID; i++) {
		struct gz_fabric_slot *s = &f->reg->slot[i];
		struct gz_fabric_member m;
		uint32_t used;

		/* we hold the lock: a slot left odd is a dead writer's */
		if (slot_read(s, &used, &m))
			used = 1, m.pid = 0;
		/* only what is surely dead: "cannot tell" keeps its slot */
		if (used && !gz_sys_proc_alive(m.pid, m.starttime)) {
			/* Killed without leaving: reclaim GCID and files. */
			if (sweep && m.pid)
				sweep(arg, i + 1, m.incarnation);
			slot_write(s, 0, 0, 0, 0);
			used = 0;
		}
		if (!used && found < 0 &&
		    (!allow || (allow[i / 64] >> (i % 64) & 1)))
			found = (int)i;
	}
	if (found >= 0) {
		inc = f->reg->next_incarnation;
		/* zero is "none" everywhere: skip it, even on wrap */
		f->reg->next_incarnation = inc + 1 ? inc + 1 : 1;
		if (!inc)
			inc = 1;
		slot_write(&f->reg->slot[found], 1, (int32_t)getpid(), me_start,
			   inc);
		*cid = (uint32_t)found + 1;
		*incarnation = inc;
	}
	unlock(f);
	if (found < 0 && allow)
		return gz_err(-ENOSPC, "fabric %s: every component its "
			      "description lets this process take is in use",
			      f->name);
	if (found < 0)
		return gz_err(-ENOSPC, "fabric %s has all %u GCIDs in use",
			      f->name, GZ_FABRIC_MAX_CID);
	return 0;
}

void gz_fabric_leave(struct gz_fabric *f, uint32_t cid, uint64_t incarnation)
{
	struct gz_fabric_member m;
	uint32_t used;

	if (cid < 1 || cid > GZ_FABRIC_MAX_CID || lock(f))
		return;
	if (!slot_read(&f->reg->slot[cid - 1], &used, &m) && used &&
	    m.incarnation == incarnation)
		slot_write(&f->reg->slot[cid - 1], 0, 0, 0, 0);
	unlock(f);
}

int gz_fabric_probe(const struct gz_fabric *f, uint32_t cid,
		    struct gz_fabric_member *m)
{
	uint32_t used;
	int ret;

	if (cid < 1 || cid > GZ_FABRIC_MAX_CID)
		return -EHOSTUNREACH;
	ret = slot_read(&f->reg->slot[cid - 1], &used, m);
	if (ret)
		return ret;
	if (!used)
		return -EHOSTUNREACH;
	ret = gz_sys_proc_alive(m->pid, m->starttime);
	return ret < 0 ? ret : ret ? 0 : -ESRCH;
}

int gz_fabric_lookup(const struct gz_fabric *f, uint32_t cid,
		     struct gz_fabric_member *m)
{
	int ret = gz_fabric_probe(f, cid, m);

	return ret == -ESRCH ? -EHOSTUNREACH : ret;
}
