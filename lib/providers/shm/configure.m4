dnl SPDX-License-Identifier: MIT
dnl GZ_SHM_CONFIGURE([if-ok], [if-not]): the shm provider needs only POSIX
dnl shared memory and the kernel's robust futex list, so it is always built.
AC_DEFUN([GZ_SHM_CONFIGURE], [
	AC_CHECK_HEADERS([sys/mman.h], [$1], [$2])
])
