dnl SPDX-License-Identifier: MIT
dnl GZ_VERBS_CONFIGURE: the verbs provider is built when rdma-core's
dnl libibverbs is there (Debian: libibverbs-dev), unless --without-verbs.
AC_DEFUN([GZ_VERBS_CONFIGURE], [
	AC_ARG_WITH([verbs],
		[AS_HELP_STRING([--without-verbs],
			[build no verbs provider (libibverbs)])],
		[], [with_verbs=check])
	have_verbs=no
	AS_IF([test "x$with_verbs" != xno], [
		dnl ibv_query_gid_ex is an inline of rdma-core v32 and up:
		dnl a link test, not AC_CHECK_LIB
		save_LIBS=$LIBS
		LIBS="-libverbs $LIBS"
		AC_MSG_CHECKING([for libibverbs with ibv_query_gid_ex])
		AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <infiniband/verbs.h>]],
			[[struct ibv_gid_entry e;
			  return ibv_query_gid_ex(0, 1, 0, &e, 0);]])],
			[have_verbs=yes])
		AC_MSG_RESULT([$have_verbs])
		LIBS=$save_LIBS
		AS_IF([test "x$have_verbs$with_verbs" = xnoyes],
			[AC_MSG_ERROR([--with-verbs: libibverbs not found (apt-get install libibverbs-dev)])])
		AS_IF([test "x$have_verbs" = xno],
			[AC_MSG_WARN([libibverbs not found: no verbs provider (apt-get install libibverbs-dev)])])
	])
	AS_IF([test "x$have_verbs" = xyes], [
		AC_DEFINE([GZ_HAVE_VERBS], [1], [the verbs provider is built])
		AC_SUBST([VERBS_LIBS], [-libverbs])
	])
	AM_CONDITIONAL([HAVE_VERBS], [test "x$have_verbs" = xyes])
])
