// SPDX-License-Identifier: MIT
/* lib/xdm/xdm.[ch]: command execution and atomics against a fake target. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "unit/keys.h"
#include "xdm/xdm.h"

#define SLOTS 16u
#define ALL (GENZIO_ACCESS_REMOTE_READ | GENZIO_ACCESS_REMOTE_WRITE | \
	     GENZIO_ACCESS_REMOTE_ATOMIC)
#define KEY 0x1000aa
#define BASE 0x7000000ull	/* the owner's address of the region */

static uint8_t mem[4096] __attribute__((aligned(64)));
static struct gz_xdm_seg segs[2];
static int maps;

static int fake_map(struct gz_xdm_target *t, uint32_t idx)
{
	maps++;
	t->seg[idx].len = sizeof(mem);
	t->seg[idx].base = mem;
	return 0;
}

static struct gz_xdm_target *target(void)
{
	static struct gz_xdm_target t;
	struct gz_key_entry *k = NULL;

	cr_assert_eq(posix_memalign((void **)&k, 64, SLOTS * sizeof(*k)), 0);
	memset(k, 0, SLOTS * sizeof(*k));
	memset(mem, 0, sizeof(mem));
	memset(segs, 0, sizeof(segs));
	maps = 0;
	/* region: 1024 bytes at BASE, which is offset 512 of segment 1 */
	cr_assert_eq(gzt_key_insert(k, SLOTS - 1, KEY, ALL, 1, BASE, 1024,
				      512), 0);
	t = (struct gz_xdm_target){ .keys = k, .key_mask = SLOTS - 1,
				    .nseg = 2, .seg = segs,
				    .map_seg = fake_map };
	return &t;
}

static struct gz_xdm_cmd cmd(uint16_t op, uint64_t raddr, uint32_t len)
{
	struct gz_xdm_cmd c;

	memset(&c, 0, sizeof(c));
	c.opflags = op;
	c.cidx = 77;
	c.rkey = KEY;
	c.raddr = raddr;
	c.length = len;
	c.context = 0xfeed;
	return c;
}

/* The command, from a software engine in our process. */
static uint8_t run(const struct gz_xdm_cmd *c, struct gz_xdm_target *t,
		   struct gz_xdm_cqe *e)
{
	return gz_xdm_cmd_exec(c, NULL, t, GZT_DOMAIN, e);
}

TestSuite(xdm, .timeout = 30);

Test(xdm, put_and_get_move_bytes_and_echo_cidx_and_context)
{
	struct gz_xdm_target *t = target();
	uint8_t src[100], dst[100];
	struct gz_xdm_cqe e;
	struct gz_xdm_cmd c = cmd(GZ_XDM_PUT, BASE + 10, sizeof(src));

	for (int i = 0; i < 100; i++)
		src[i] = (uint8_t)(i * 3 + 1);
	c.op.laddr = (uintptr_t)src;
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_SUCCESS);
	cr_assert_eq(maps, 1, "segment mapped on first use");
	cr_assert_eq(memcmp(mem + 522, src, 100), 0);
	cr_assert_eq(e.cidx, 77);
	cr_assert_eq(e.context, 0xfeed);
	cr_assert_eq(e.byte_len, 100);
	cr_assert_eq(e.opcode, GENZIO_WC_WRITE);
	c = cmd(GZ_XDM_GET, BASE + 10, sizeof(dst));
	c.op.laddr = (uintptr_t)dst;
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_SUCCESS);
	cr_assert_eq(maps, 1, "mapped once only");
	cr_assert_eq(memcmp(dst, src, 100), 0);
	cr_assert_eq(e.opcode, GENZIO_WC_READ);
}

Test(xdm, putimm_and_getimm_carry_up_to_32_bytes_in_the_entries)
{
	struct gz_xdm_target *t = target();
	struct gz_xdm_cqe e;
	struct gz_xdm_cmd c = cmd(GZ_XDM_PUTIMM, BASE, 32);

	memset(c.imm, 0x5c, 32);
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_SUCCESS);
	cr_assert_eq(mem[512], 0x5c);
	cr_assert_eq(mem[512 + 31], 0x5c);
	cr_assert_eq(mem[512 + 32], 0);
	c = cmd(GZ_XDM_GETIMM, BASE, 32);
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_SUCCESS);
	cr_assert_eq(e.result[31], 0x5c);
	c = cmd(GZ_XDM_PUTIMM, BASE, 33);
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_LOC_LEN);
	cr_assert_eq(mem[512 + 32], 0);
}

Test(xdm, faults_complete_with_status_and_touch_nothing)
{
	struct gz_xdm_target *t = target();
	uint8_t src[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct gz_xdm_cqe e;
	struct gz_xdm_cmd c = cmd(GZ_XDM_PUT, BASE + 1020, 8);
	uint8_t zero[sizeof(mem)] = { 0 };

	c.op.laddr = (uintptr_t)src;
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_REM_BOUNDS);
	cr_assert_eq(e.status, GENZIO_WC_REM_BOUNDS);
	cr_assert_eq(e.byte_len, 0);
	c.raddr = BASE;
	c.rkey = KEY + 1;
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_BAD_RKEY);
	c = cmd(GZ_XDM_ADD, BASE + 4, 0);
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_REM_BOUNDS,
		     "misaligned 64-bit atomic");
	c = cmd(0x7e, BASE, 8);
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_GENERAL_ERR);
	cr_assert_eq(memcmp(mem, zero, sizeof(mem)), 0);
}

Test(xdm, owner_entry_pointing_past_the_segment_is_refused)
{
	struct gz_xdm_target *t = target();
	uint8_t *p;

	/* a corrupt or hostile table: region beyond the mapped segment */
	cr_assert_eq(gzt_key_insert((struct gz_key_entry *)t->keys,
				      t->key_mask, 0x2000bb, ALL, 1, 0, 1 << 20,
				      4000), 0);
	cr_assert_eq(gz_xdm_resolve(t, GZT_DOMAIN, 0x2000bb, 0, 200,
				    GENZIO_ACCESS_REMOTE_READ, &p, NULL),
		     GENZIO_WC_REM_BOUNDS);
	/* an offset that would wrap past the end of the mapping */
	cr_assert_eq(gzt_key_insert((struct gz_key_entry *)t->keys,
				      t->key_mask, 0x4000dd, ALL, 1, 0x1000, 64,
				      UINT64_MAX - 8), 0);
	cr_assert_eq(gz_xdm_resolve(t, GZT_DOMAIN, 0x4000dd, 0x1010, 8,
				    GENZIO_ACCESS_REMOTE_READ, &p, NULL),
		     GENZIO_WC_REM_BOUNDS);
	cr_assert_eq(gzt_key_insert((struct gz_key_entry *)t->keys,
				      t->key_mask, 0x3000cc, ALL, 5, 0, 64, 0),
		     0);
	cr_assert_eq(gz_xdm_resolve(t, GZT_DOMAIN, 0x3000cc, 0, 8, 0, &p, NULL),
		     GENZIO_WC_BAD_RKEY, "segment index beyond the table");
}

Test(xdm, atomic_commands_return_old_value_in_result)
{
	struct gz_xdm_target *t = target();
	struct gz_xdm_cqe e;
	struct gz_xdm_cmd c = cmd(GZ_XDM_CAS, BASE + 8, 0);
	uint64_t old;

	*(uint64_t *)(mem + 520) = 10;
	c.op.compare = 10;
	c.op.operand = 20;
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_SUCCESS);
	memcpy(&old, e.result, 8);
	cr_assert_eq(old, 10);
	cr_assert_eq(*(uint64_t *)(mem + 520), 20);
	cr_assert_eq(e.byte_len, 8);
	c = cmd(GZ_XDM_ADD | GZ_XDM_FLAG_ATOMIC32, BASE + 8, 0);
	c.op.operand = 5;
	cr_assert_eq(run(&c, t, &e), GENZIO_WC_SUCCESS);
	cr_assert_eq(e.byte_len, 4);
	cr_assert_eq(*(uint32_t *)(mem + 520), 25);
}

Test(xdm, min_max_compare_signed_and_unsigned_at_both_widths)
{
	uint64_t w = 5;
	uint32_t h = 5;

	cr_assert_eq(gz_xdm_atomic(GZ_XDM_SMIN, &w, 8, (uint64_t)-1, 0), 5);
	cr_assert_eq(w, (uint64_t)-1);
	cr_assert_eq(gz_xdm_atomic(GZ_XDM_UMIN, &w, 8, 3, 0), (uint64_t)-1);
	cr_assert_eq(w, 3);
	cr_assert_eq(gz_xdm_atomic(GZ_XDM_SMAX, &w, 8, (uint64_t)-9, 0), 3);
	cr_assert_eq(w, 3);
	cr_assert_eq(gz_xdm_atomic(GZ_XDM_UMAX, &w, 8, (uint64_t)-9, 0), 3);
	cr_assert_eq(w, (uint64_t)-9);
	cr_assert_eq(gz_xdm_atomic(GZ_XDM_SMIN, &h, 4, 0xfffffffeu, 0), 5);
	cr_assert_eq(h, 0xfffffffeu);
	cr_assert_eq(gz_xdm_atomic(GZ_XDM_UMIN, &h, 4, 7, 0), 0xfffffffeu);
	cr_assert_eq(h, 7);
	cr_assert_eq(gz_xdm_atomic(GZ_XDM_SMAX, &h, 4, 0x80000000u, 0), 7);
	cr_assert_eq(h, 7);
	cr_assert_eq(gz_xdm_atomic(GZ_XDM_UMAX, &h, 4, 0x80000000u, 0), 7);
	cr_assert_eq(h, 0x80000000u);
}

Test(xdm, atomic_opcode_map_covers_every_work_request_atomic)
{
	for (uint32_t op = GENZIO_WR_ATOMIC_SWAP; op <= GENZIO_WR_ATOMIC_UMAX;
	     op++)
		cr_assert_neq(gz_xdm_atomic_opcode(op), 0, "op %u", op);
	cr_assert_eq(gz_xdm_atomic_opcode(GENZIO_WR_WRITE), 0);
	cr_assert_eq(gz_xdm_atomic_opcode(GENZIO_WR_OPCODE_MAX + 5), 0);
}

Test(xdm, streaming_copy_keeps_every_byte_at_odd_alignments)
{
	size_t len = (1u << 20) + 77;
	uint8_t *src = malloc(len + 64), *dst = malloc(len + 64);

	cr_assert(src && dst);
	for (size_t i = 0; i < len + 64; i++)
		src[i] = (uint8_t)(i * 13 + 5);
	for (size_t off = 0; off < 3; off++) {
		memset(dst, 0xee, len + 64);
		gz_xdm_copy_nt(dst + 1 + off * 7, src + off, len);
		cr_assert_eq(memcmp(dst + 1 + off * 7, src + off, len), 0,
			     "offset %zu", off);
		cr_assert_eq(dst[0], 0xee, "no byte before");
		cr_assert_eq(dst[1 + off * 7 + len], 0xee, "no byte after");
	}
	free(src);
	free(dst);
}

Test(xdm, a_key_of_another_protection_domain_is_a_remote_access_error)
{
	struct gz_xdm_target *t = target();
	uint8_t *p;

	cr_assert_eq(gz_xdm_resolve(t, GZT_DOMAIN, KEY, BASE, 8,
				    GENZIO_ACCESS_REMOTE_READ, &p, NULL),
		     GZ_XDM_ST_SUCCESS);
	cr_assert_eq(gz_xdm_resolve(t, GZT_DOMAIN + 1, KEY, BASE, 8,
				    GENZIO_ACCESS_REMOTE_READ, &p, NULL),
		     GZ_XDM_ST_REM_ACCESS);
}

Test(xdm, the_key_cache_serves_until_the_entry_changes)
{
	struct gz_xdm_target *t = target();
	struct gz_xdm_kcache kc = { 0 };
	uint8_t *p = NULL, *q = NULL;

	cr_assert_eq(gz_xdm_resolve_cached(t, &kc, GZT_DOMAIN, KEY, BASE + 16,
					   8, GENZIO_ACCESS_REMOTE_WRITE, &p),
		     0);
	cr_assert_eq(kc.rkey, KEY, "filled");
	cr_assert_eq(p, mem + 512 + 16);
	cr_assert_eq(gz_xdm_resolve_cached(t, &kc, GZT_DOMAIN, KEY, BASE + 24,
					   8, GENZIO_ACCESS_REMOTE_WRITE, &q),
		     0);
	cr_assert_eq(q, p + 8, "served from the cache");
	/* the cache checks bounds, rights and domain like the table */
	cr_assert_eq(gz_xdm_resolve_cached(t, &kc, GZT_DOMAIN, KEY, BASE + 1020,
					   8, GENZIO_ACCESS_REMOTE_WRITE, &q),
		     GZ_XDM_ST_REM_BOUNDS);
	cr_assert_eq(gz_xdm_resolve_cached(t, &kc, GZT_DOMAIN + 1, KEY, BASE,
					   8, GENZIO_ACCESS_REMOTE_WRITE, &q),
		     GZ_XDM_ST_REM_ACCESS);
	/* deregistered and registered again elsewhere: the entry's sequence
	 * number moved, so the cache is not trusted */
	cr_assert_eq(gz_keytab_remove((struct gz_key_entry *)t->keys,
				      t->key_mask, KEY), 0);
	cr_assert_eq(gz_xdm_resolve_cached(t, &kc, GZT_DOMAIN, KEY, BASE + 16,
					   8, GENZIO_ACCESS_REMOTE_WRITE, &q),
		     GZ_XDM_ST_BAD_RKEY);
	cr_assert_eq(gzt_key_insert((struct gz_key_entry *)t->keys,
				    t->key_mask, KEY, ALL, 1, BASE, 1024, 0),
		     0);
	cr_assert_eq(gz_xdm_resolve_cached(t, &kc, GZT_DOMAIN, KEY, BASE + 16,
					   8, GENZIO_ACCESS_REMOTE_WRITE, &q),
		     0);
	cr_assert_eq(q, mem + 16, "resolved again at the new offset");
}

/* What a target's proc_copy was asked to do, and what it answers. */
static struct {
	uint64_t raddr, len;
	uint32_t n;
	int write, calls;
} proc;

static uint8_t fake_proc(struct gz_xdm_target *t, uint64_t raddr,
			 const struct gz_xdm_iov *v, uint32_t n, uint64_t len,
			 int write)
{
	(void)t;
	(void)v;
	proc.raddr = raddr;
	proc.len = len;
	proc.n = n;
	proc.write = write;
	proc.calls++;
	return GZ_XDM_ST_SUCCESS;
}

#define PKEY 0x2000bb	/* a key of the owner's memory outside segments */

Test(xdm, a_key_of_process_memory_goes_through_proc_copy_after_the_checks)
{
	struct gz_xdm_target *t = target();
	struct gz_xdm_kcache kc = { 0 };
	uint8_t buf[16];
	struct gz_xdm_iov v[2] = { { buf, 8 }, { buf + 8, 8 } };
	uint64_t old;

	cr_assert_eq(gzt_key_insert((struct gz_key_entry *)t->keys,
				    t->key_mask, PKEY, ALL, GZ_KEY_SEG_PROC,
				    BASE + 3, 100, 0), 0);
	/* the checks passed, nothing moved: the caller moves it */
	cr_assert_eq(gz_xdm_put(t, &kc, GZT_DOMAIN, PKEY, BASE + 3, v, 2, 16),
		     GZ_XDM_ST_PROC);
	/* without proc_copy the target has no such memory */
	cr_assert_eq(gz_xdm_proc(t, BASE + 3, v, 2, 16, 1),
		     GZ_XDM_ST_REM_ACCESS);
	t->proc_copy = fake_proc;
	memset(&proc, 0, sizeof(proc));
	cr_assert_eq(gz_xdm_proc(t, BASE + 10, v, 2, 16, 1),
		     GZ_XDM_ST_SUCCESS);
	cr_assert_eq(proc.calls, 1);
	cr_assert_eq(proc.raddr, BASE + 10);
	cr_assert_eq(proc.len, 16);
	cr_assert_eq(proc.n, 2);
	cr_assert_eq(proc.write, 1);
	cr_assert_null(kc.k.e, "never cached: there is no pointer to cache");
	cr_assert_eq(gz_xdm_get(t, &kc, GZT_DOMAIN, PKEY, BASE + 3, v, 1, 8),
		     GZ_XDM_ST_PROC);
	cr_assert_eq(gz_xdm_proc(t, BASE + 3, v, 1, 8, 0), GZ_XDM_ST_SUCCESS);
	cr_assert_eq(proc.write, 0);
	/* the key's checks come first: bounds, rights, domain */
	cr_assert_eq(gz_xdm_put(t, &kc, GZT_DOMAIN, PKEY, BASE + 96, v, 1, 8),
		     GZ_XDM_ST_REM_BOUNDS);
	cr_assert_eq(gz_xdm_get(t, &kc, GZT_DOMAIN + 1, PKEY, BASE + 3, v, 1,
				8),
		     GZ_XDM_ST_REM_ACCESS);
	cr_assert_eq(proc.calls, 2, "no call for a request that failed them");
	/* no atomics through the kernel */
	cr_assert_eq(gz_xdm_amo(t, &kc, GZT_DOMAIN, PKEY, BASE + 8, GZ_XDM_ADD,
				8, 1, 0, &old),
		     GZ_XDM_ST_REM_ACCESS);
	/* and no pointer from resolve, only the status that says so */
	uint8_t *p = NULL;
	cr_assert_eq(gz_xdm_resolve(t, GZT_DOMAIN, PKEY, BASE + 3, 8,
				    GENZIO_ACCESS_REMOTE_READ, &p, NULL),
		     GZ_XDM_ST_PROC);
	cr_assert_null(p);
}

static uint8_t window[256];

/* An engine in another address space: the requester's addresses are
 * offsets into a window it shares with us, and nothing else. */
static void *in_window(void *arg, uint64_t laddr, uint64_t len)
{
	(void)arg;
	if (laddr > sizeof(window) || len > sizeof(window) - laddr)
		return NULL;
	return window + laddr;
}

Test(xdm, local_addresses_go_through_the_initiators_translation)
{
	struct gz_xdm_target *t = target();
	struct gz_xdm_initiator in = { in_window, NULL };
	struct gz_xdm_cmd c = cmd(GZ_XDM_PUT, BASE, 16);
	struct gz_xdm_cqe e;

	memset(window + 100, 0x5a, 16);
	c.op.laddr = 100;	/* not an address of ours */
	cr_assert_eq(gz_xdm_cmd_exec(&c, &in, t, GZT_DOMAIN, &e), 0);
	cr_assert_eq(memcmp(mem + 512, window + 100, 16), 0);
	c.op.laddr = 250;	/* runs past the window */
	cr_assert_eq(gz_xdm_cmd_exec(&c, &in, t, GZT_DOMAIN, &e),
		     GZ_XDM_ST_LOC_PROT);
	cr_assert_eq(e.status, GZ_XDM_ST_LOC_PROT);
	cr_assert_eq(e.byte_len, 0);
}

Test(xdm, an_enqa_entry_carries_52_bytes_after_the_shared_header)
{
	struct gz_xdm_enqa q;

	cr_assert_eq(sizeof(q.payload), 52);
	cr_assert_eq(offsetof(struct gz_xdm_enqa, payload), 12);
	cr_assert_eq(offsetof(struct gz_xdm_enqa, cidx),
		     offsetof(struct gz_xdm_cmd, cidx));
}
