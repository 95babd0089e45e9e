// SPDX-License-Identifier: MIT
/*
 * The fabric description format (genzio_fabric(5)): one declaration per
 * line, '#' to the end of a line is a comment.
 *   subnet SID                        following declarations' subnet
 *   switch NAME
 *   component NAME SWITCH [cid CID]   attached to a declared switch
 *   link SWITCH SWITCH
 * A mesh: cycles are fine, a link to itself or twice is not. The first
 * error is reported as "file:line: reason".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fabric/topo.h"

#define LINE_MAX_LEN 512
#define MAX_TOKENS 6
#define FILE_MAX (16u << 20)
#define CID_MAX 4095u

struct parse {
	struct gz_topo *t;
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
	uint32_t sid;
	uint8_t *auto_cid; /* per component: cid was not given */
	uint32_t capauto;
	uint64_t *links; /* open hashing: a << 32 | b, a < b */
	uint32_t lmask;
};

static uint32_t hash_u64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdull;
	v ^= v >> 33;
	return (uint32_t)v;
}

/* Remember the link a-b: 1 if it was there, 0, or -ENOMEM. */
static int link_seen(struct parse *p, uint32_t a, uint32_t b)
{
	uint64_t key = a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
	uint32_t i;

	if (p->t->nlink + 1 > (p->lmask + 1) / 2) {
		uint32_t slots = p->links ? 2 * (p->lmask + 1) : 64;
		uint64_t *n = malloc(slots * sizeof(*n));

		if (!n)
			return -ENOMEM;
		memset(n, 0xff, slots * sizeof(*n));
		for (uint32_t j = 0; p->links && j <= p->lmask; j++)
			if (p->links[j] != UINT64_MAX) {
				for (i = hash_u64(p->links[j]);
				     n[i & (slots - 1)] != UINT64_MAX; i++)
					;
				n[i & (slots - 1)] = p->links[j];
			}
		free(p->links);
		p->links = n;
		p->lmask = slots - 1;
	}
	for (i = hash_u64(key); p->links[i & p->lmask] != UINT64_MAX; i++)
		if (p->links[i & p->lmask] == key)
			return 1;
	p->links[i & p->lmask] = key;
	return 0;
}

__attribute__((format(printf, 2, 3))) static int fail(struct parse *p,
						      const char *fmt, ...)
{
	int n = snprintf(p->err, p->errlen, "%s:%u: ", p->file, p->line);
	va_list ap;

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A name starts with a letter (a GCID never does) and holds
 * [A-Za-z0-9_.-]: at most GZ_TOPO_NAME_MAX. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > GZ_TOPO_NAME_MAX ||
	    !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		      *s == '-'))
			return 0;
	return 1;
}

/* A decimal or 0x number in [lo, hi]. */
static int number(const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
	char *end;
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 0);
	if (errno || *end || n < lo || n > hi)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

static int new_name(struct parse *p, const char *what, const char *name)
{
	if (!name_ok(name))
		return fail(p,
			    "bad %s name '%.40s' (a letter, then letters, "
			    "digits, '_', '.', '-'; at most %d)",
			    what, name, GZ_TOPO_NAME_MAX);
	if (gz_topo_find_switch(p->t, name) != GZ_TOPO_NONE ||
	    gz_topo_find_comp(p->t, name) != GZ_TOPO_NONE)
		return fail(p, "duplicate name '%s'", name);
	return 0;
}

static int limits(struct parse *p, int ret)
{
	if (ret == -E2BIG)
		return fail(p, "too many (at most %u switches, %u components)",
			    GZ_TOPO_MAX_SWITCHES, GZ_TOPO_MAX_COMPS);
	return ret;
}

static uint32_t switch_named(struct parse *p, const char *name)
{
	uint32_t s = gz_topo_find_switch(p->t, name);

	if (s != GZ_TOPO_NONE)
		return s;
	if (gz_topo_find_comp(p->t, name) != GZ_TOPO_NONE)
		fail(p,
		     "'%s' is a component, not a switch (a component names "
		     "its switch; links join switches)",
		     name);
	else
		fail(p, "no switch '%.40s' declared before this line", name);
	return GZ_TOPO_NONE;
}

static int decl_component(struct parse *p, char **tok, int n)
{
	uint32_t sw, cid = 0;
	int ret;

	if (n != 3 && n != 5)
		return fail(p, "usage: component NAME SWITCH [cid CID]");
	if ((ret = new_name(p, "component", tok[1])))
		return ret;
	if ((sw = switch_named(p, tok[2])) == GZ_TOPO_NONE)
		return -EINVAL;
	if (n == 5) {
		if (strcmp(tok[3], "cid"))
			return fail(p, "unknown option '%.40s' (cid CID)",
				    tok[3]);
		if (number(tok[4], 1, CID_MAX, &cid))
			return fail(p, "CID '%.40s' out of range (1 to %u)",
				    tok[4], CID_MAX);
		if (gz_topo_find_gcid(p->t, p->sid << 12 | cid) != GZ_TOPO_NONE)
			return fail(p, "GCID %#x (subnet %#x, CID %u) is taken",
				    p->sid << 12 | cid, p->sid, cid);
	}
	if (p->t->ncomp >= p->capauto) {
		uint32_t c = p->capauto ? p->capauto * 2 : 64;
		uint8_t *a = realloc(p->auto_cid, c);

		if (!a)
			return -ENOMEM;
		p->auto_cid = a;
		p->capauto = c;
	}
	p->auto_cid[p->t->ncomp] = !cid;
	/* an unset CID is 0 until the end: no GCID lookup meets it */
	return limits(p,
		      gz_topo_add_comp(p->t, tok[1], p->sid << 12 | cid, sw));
}

static int decl_link(struct parse *p, char **tok, int n)
{
	uint32_t a, b;

	if (n != 3)
		return fail(p, "usage: link SWITCH SWITCH");
	if ((a = switch_named(p, tok[1])) == GZ_TOPO_NONE ||
	    (b = switch_named(p, tok[2])) == GZ_TOPO_NONE)
		return -EINVAL;
	if (a == b)
		return fail(p, "link from '%s' to itself", tok[1]);
	switch (link_seen(p, a, b)) {
	case 1:
		return fail(p, "duplicate link %s - %s", tok[1], tok[2]);
	case -ENOMEM:
		return -ENOMEM;
	}
	return limits(p, gz_topo_add_link(p->t, a, b));
}

static int line(struct parse *p, char *s)
{
	char *tok[MAX_TOKENS + 1], *save;
	int n = 0;

	s[strcspn(s, "#")] = 0;
	for (char *w = strtok_r(s, " \t\r", &save); w;
	     w = strtok_r(NULL, " \t\r", &save))
		if (n < MAX_TOKENS + 1)
			tok[n++] = w;
	if (!n)
		return 0;
	if (n > MAX_TOKENS)
		return fail(p, "too many words");
	if (!strcmp(tok[0], "subnet")) {
		if (n != 2 || number(tok[1], 1, 0xffff, &p->sid))
			return fail(p, "usage: subnet SID (1 to 0xffff)");
		return 0;
	}
	if (!strcmp(tok[0], "switch")) {
		int ret;

		if (n != 2)
			return fail(p, "usage: switch NAME");
		if ((ret = new_name(p, "switch", tok[1])))
			return ret;
		return limits(p, gz_topo_add_switch(p->t, tok[1], p->sid));
	}
	if (!strcmp(tok[0], "component"))
		return decl_component(p, tok, n);
	if (!strcmp(tok[0], "link"))
		return decl_link(p, tok, n);
	return fail(p,
		    "unknown keyword '%.40s' (subnet, switch, component, "
		    "link)",
		    tok[0]);
}

/* Components without a CID get the lowest free one of their subnet. */
static int assign_cids(struct parse *p)
{
	struct gz_topo *t = p->t;
	uint16_t *next = calloc(0x10000, sizeof(*next));
	int ret = 0;

	if (!next)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->ncomp && !ret; i++) {
		uint32_t sid = t->comp[i].gcid >> 12, cid = next[sid];

		if (!p->auto_cid[i])
			continue;
		do
			cid++;
		while (cid <= CID_MAX &&
		       gz_topo_find_gcid(t, sid << 12 | cid) != GZ_TOPO_NONE);
		if (cid > CID_MAX) {
			p->line = 0;
			ret = fail(p, "subnet %#x has more than %u components",
				   sid, CID_MAX);
			break;
		}
		next[sid] = (uint16_t)cid;
		ret = gz_topo_set_cid(t, i, sid << 12 | cid);
	}
	free(next);
	return ret;
}

int gz_topo_parse(const char *text, size_t len, const char *file,
		  struct gz_topo *t, char *err, size_t errlen)
{
	struct parse p = {
	    .t = t, .file = file, .err = err, .errlen = errlen, .sid = 1};
	char buf[LINE_MAX_LEN + 1];
	size_t at = 0;
	int ret = 0;

	gz_topo_init(t);
	if (errlen)
		*err = 0;
	while (at < len && !ret) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;

		p.line++;
		if (n > LINE_MAX_LEN)
			ret =
			    fail(&p, "line longer than %d bytes", LINE_MAX_LEN);
		else if (memchr(text + at, 0, n))
			ret = fail(&p, "a NUL byte: not a text file");
		else {
			memcpy(buf, text + at, n);
			buf[n] = 0;
			ret = line(&p, buf);
		}
		at += n + 1;
	}
	if (!ret && !t->nsw)
		ret = fail(&p, "declares no switch (a fabric needs one, at "
			   "least: \"switch sw0\")");
	if (!ret)
		ret = assign_cids(&p);
	if (!ret)
		ret = gz_topo_index(t);
	free(p.auto_cid);
	free(p.links);
	if (ret)
		gz_topo_free(t);
	return ret;
}

int gz_topo_load(const char *path, struct gz_topo *t, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text;
	ssize_t n;
	int ret;

	gz_topo_init(t);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		close(fd);
		snprintf(err, errlen,
			 "%s: not a regular file of at most %u "
			 "MiB",
			 path, FILE_MAX >> 20);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, text, (size_t)st.st_size);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret)
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
	else
		ret = gz_topo_parse(text, (size_t)n, path, t, err, errlen);
	free(text);
	return ret;
}
