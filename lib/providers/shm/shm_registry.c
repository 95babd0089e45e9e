// SPDX-License-Identifier: MIT
/*
 * The host fabric registry: which process holds which GCID. A robust mutex
 * guards it, so a holder killed inside the critical section cannot wedge
 * the fabric; a slot whose process is gone (pid + start time no longer
 * match) is reclaimed, with its files, by the next process that joins.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/shm/shm.h"

static void reg_path(char *buf, size_t len, const char *fabric)
{
	snprintf(buf, len, GZ_SHM_DIR "/genzio-%s.reg", fabric);
}

static int map_reg(int fd, struct gz_shm_registry **reg)
{
	void *p = mmap(NULL, sizeof(**reg), PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*reg = p;
	return 0;
}

/* Build the registry in a private file, then link it into place: whoever
 * opens the name sees a complete registry or none. */
static int create_reg(const char *path, uint32_t subnet)
{
	char tmp[PATH_MAX + 32];
	struct gz_shm_registry *reg = NULL;
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(*reg))) {
		ret = -errno;
		goto out;
	}
	ret = map_reg(fd, &reg);
	if (ret)
		goto out;
	reg->version = GZ_SHM_VERSION;
	reg->subnet = subnet;
	reg->next_incarnation = 1;
	ret = gz_sys_robust_init(&reg->lock);
	reg->magic = GZ_SHM_MAGIC_REG;
	munmap(reg, sizeof(*reg));
	if (!ret && link(tmp, path) && errno != EEXIST)
		ret = -errno;
out:
	unlink(tmp);
	close(fd);
	return ret;
}

int gz_shm_registry_open(const char *fabric, uint32_t subnet,
			 struct gz_shm_registry **out)
{
	char path[PATH_MAX];
	struct gz_shm_registry *reg = NULL;
	struct stat st;
	int fd, ret;

	reg_path(path, sizeof(path), fabric);
	for (int tries = 0;; tries++) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || tries == 2)
			break;
		ret = create_reg(path, subnet);
		if (ret)
			return gz_err(ret, "cannot create %s: %s", path,
				      strerror(-ret));
	}
	if (fd < 0 && errno == EACCES)
		return gz_err(-EACCES, "cannot open %s: it belongs to another "
			      "user (fabric files are owner-only): pick another "
			      "fabric with GENZIO_FABRIC", path);
	if (fd < 0)
		return gz_err(-errno, "cannot open %s: %s (is /dev/shm mounted "
			      "and writable?)", path, strerror(errno));
	if (fstat(fd, &st) || (size_t)st.st_size != sizeof(*reg)) {
		close(fd);
		return gz_err(-EPROTO, "%s has the wrong size: written by another "
			      "genzio version? remove it", path);
	}
	ret = map_reg(fd, &reg);
	close(fd);
	if (ret)
		return gz_err(ret, "mmap %s: %s", path, strerror(-ret));
	if (reg->magic != GZ_SHM_MAGIC_REG || reg->version != GZ_SHM_VERSION) {
		munmap(reg, sizeof(*reg));
		return gz_err(-EPROTO, "%s is not a genzio v%u registry", path,
			      GZ_SHM_VERSION);
	}
	if (reg->subnet != subnet) {
		uint32_t have = reg->subnet;

		munmap(reg, sizeof(*reg));
		return gz_err(-EINVAL, "fabric %s has subnet %u, not %u", fabric,
			      have, subnet);
	}
	*out = reg;
	return 0;
}

void gz_shm_registry_close(struct gz_shm_registry *reg)
{
	munmap(reg, sizeof(*reg));
}

void gz_shm_registry_sweep(const char *fabric, uint32_t cid, uint64_t inc)
{
	char prefix[96], dir[PATH_MAX], path[PATH_MAX * 2];
	const char *dirs[3] = { GZ_SHM_DIR, NULL, NULL };
	uint64_t sizes[2] = { GZ_PAGE_2M, GZ_PAGE_1G };
	size_t plen;

	snprintf(prefix, sizeof(prefix), "genzio-%s-%u-%" PRIu64, fabric, cid,
		 inc);
	plen = strlen(prefix);
	for (int i = 0; i < 2; i++)
		if (!gz_sys_hugetlbfs_find(sizes[i], dir, sizeof(dir)))
			dirs[1 + i] = strdupa(dir);
	for (int i = 0; i < 3; i++) {
		DIR *d = dirs[i] ? opendir(dirs[i]) : NULL;
		struct dirent *de;

		if (!d)
			continue;
		while ((de = readdir(d))) {
			/* "<prefix>.comp" or "<prefix>-<seg>" */
			if (strncmp(de->d_name, prefix, plen) ||
			    (de->d_name[plen] != '.' && de->d_name[plen] != '-'))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i],
				 de->d_name);
			unlink(path);
		}
		closedir(d);
	}
}

int gz_shm_registry_join(struct gz_shm_registry *reg, const char *fabric,
			 uint32_t *cid, uint64_t *incarnation)
{
	uint64_t me_start;
	int ret, found = -1;

	ret = gz_sys_proc_starttime(getpid(), &me_start);
	if (ret)
		return gz_err(ret, "cannot read /proc/self/stat");
	ret = gz_sys_robust_lock(&reg->lock);
	if (ret)
		return gz_err(ret, "registry lock: %s", strerror(-ret));
	for (uint32_t i = 0; i < GZ_SHM_MAX_CID; i++) {
		struct gz_shm_slot *s = &reg->slot[i];

		if (s->used && !gz_sys_proc_alive(s->pid, s->starttime)) {
			/* Killed without leaving: reclaim GCID and files. */
			gz_shm_registry_sweep(fabric, i + 1, s->incarnation);
			s->used = 0;
		}
		if (!s->used && found < 0)
			found = (int)i;
	}
	if (found >= 0) {
		struct gz_shm_slot *s = &reg->slot[found];

		s->pid = getpid();
		s->starttime = me_start;
		s->incarnation = reg->next_incarnation++;
		s->used = 1;
		*cid = (uint32_t)found + 1;
		*incarnation = s->incarnation;
	}
	pthread_mutex_unlock(&reg->lock);
	if (found < 0)
		return gz_err(-ENOSPC, "fabric %s has all %u GCIDs in use", fabric,
			      GZ_SHM_MAX_CID);
	return 0;
}

void gz_shm_registry_leave(struct gz_shm_registry *reg, uint32_t cid,
			   uint64_t incarnation)
{
	struct gz_shm_slot *s = &reg->slot[cid - 1];

	if (gz_sys_robust_lock(&reg->lock))
		return;
	if (s->used && s->incarnation == incarnation)
		s->used = 0;
	pthread_mutex_unlock(&reg->lock);
}

int gz_shm_registry_lookup(struct gz_shm_registry *reg, uint32_t cid,
			   uint64_t *incarnation)
{
	struct gz_shm_slot *s;
	int ret = -EHOSTUNREACH;

	if (cid < 1 || cid > GZ_SHM_MAX_CID)
		return ret;
	s = &reg->slot[cid - 1];
	if (gz_sys_robust_lock(&reg->lock))
		return ret;
	if (s->used && gz_sys_proc_alive(s->pid, s->starttime)) {
		*incarnation = s->incarnation;
		ret = 0;
	}
	pthread_mutex_unlock(&reg->lock);
	return ret;
}
