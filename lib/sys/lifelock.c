// SPDX-License-Identifier: MIT
/* Robust process-shared mutexes: registry locks and life locks. */
#include <errno.h>
#include <pthread.h>

#include "sys/sys.h"

int gz_sys_robust_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int ret;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	ret = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -ret;
}

int gz_sys_robust_lock(pthread_mutex_t *m)
{
	int ret = pthread_mutex_lock(m);

	/* The last owner died holding it: the data it guards is checked by
	 * the caller's own reclaim logic, so the lock is usable again. */
	if (ret == EOWNERDEAD)
		ret = pthread_mutex_consistent(m);
	return -ret;
}

int gz_sys_lifelock_init(pthread_mutex_t *m)
{
	return gz_sys_robust_init(m);
}

int gz_sys_lifelock_hold(pthread_mutex_t *m)
{
	return gz_sys_robust_lock(m);
}

int gz_sys_lifelock_release(pthread_mutex_t *m)
{
	if (!pthread_mutex_unlock(m))
		return 1;
	/* Not ours to unlock (EPERM): announce the end by hand. Nobody
	 * waits on this futex, so no wake-up is owed. */
	__atomic_store_n((uint32_t *)(void *)m, 0, __ATOMIC_RELEASE);
	return 0;
}
