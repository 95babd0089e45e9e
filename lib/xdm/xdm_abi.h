/* SPDX-License-Identifier: MIT */
/*
 * The queue ABI: command (XDM), completion and receive (RDM) entries as a
 * bridge device reads and writes them. One definition for every engine.
 * All fields are little-endian; every entry is 64 bytes, 64-byte aligned.
 */
#ifndef GZ_XDM_XDM_ABI_H
#define GZ_XDM_XDM_ABI_H

#include <stddef.h>
#include <stdint.h>

enum gz_xdm_opcode {
	GZ_XDM_NOP = 0x00,
	GZ_XDM_ENQA = 0x01,	/* message into the receiver's RDM queue */
	GZ_XDM_PUT = 0x02,
	GZ_XDM_GET = 0x03,
	GZ_XDM_PUTIMM = 0x04,	/* <= 32 bytes carried in the entry */
	GZ_XDM_GETIMM = 0x05,	/* <= 32 bytes returned in the completion */
	/* genzio's: a message of any length from the local buffer (laddr,
	 * length) into the receiver's next posted receive, as a bridge
	 * delivers SEND (ENQA carries 52 bytes at most) */
	GZ_XDM_SEND = 0x06,
	GZ_XDM_SYNC = 0x1f,
	GZ_XDM_SWAP = 0x20,
	GZ_XDM_ADD = 0x22,
	GZ_XDM_AND = 0x24,
	GZ_XDM_OR = 0x25,
	GZ_XDM_XOR = 0x26,
	GZ_XDM_SMIN = 0x28,
	GZ_XDM_SMAX = 0x29,
	GZ_XDM_UMIN = 0x2a,
	GZ_XDM_UMAX = 0x2b,
	GZ_XDM_CAS = 0x2c,
};

/*
 * Completion status: 0, or 0x80 | a Gen-Z reason code, or a genzio code
 * (0xc0 and up). The queue ABI owns these numbers; the public
 * enum genzio_wc_status repeats them so that a completion entry's status
 * reaches the application unchanged (checked in xdm.c).
 */
enum gz_xdm_status {
	GZ_XDM_ST_SUCCESS = 0x00,
	GZ_XDM_ST_BAD_RKEY = 0x87,	/* Gen-Z: invalid permission */
	GZ_XDM_ST_RDM_FULL = 0x93,	/* Gen-Z: RDM queue full */
	GZ_XDM_ST_RETRY_EXC = 0xa2,	/* Gen-Z: retries exceeded */
	GZ_XDM_ST_REM_BOUNDS = 0xc1,
	GZ_XDM_ST_LOC_PROT = 0xc2,
	GZ_XDM_ST_LOC_LEN = 0xc3,
	GZ_XDM_ST_REM_ACCESS = 0xc4,
	GZ_XDM_ST_REM_QP = 0xc5,
	GZ_XDM_ST_FLUSHED = 0xc6,
	GZ_XDM_ST_REM_INV_REQ = 0xc7,
	GZ_XDM_ST_REM_OP = 0xc8,
	GZ_XDM_ST_GENERAL_ERR = 0xff,
};

/* Bits of gz_xdm_cmd.opflags above the opcode byte. */
#define GZ_XDM_OPCODE_MASK 0x00ffu
#define GZ_XDM_FLAG_FENCE (1u << 8)	/* after every earlier command */
#define GZ_XDM_FLAG_SIGNAL (1u << 9)	/* write a completion on success */
#define GZ_XDM_FLAG_ATOMIC32 (1u << 10)	/* 32-bit atomic (default 64) */
/* SEND, PUT: the receiver's next posted receive completes with the low
 * 32 bits of op.operand as its immediate (SEND_IMM, WRITE_IMM) */
#define GZ_XDM_FLAG_IMM (1u << 11)

#define GZ_XDM_IMM_MAX 32

/* Command entry. */
struct gz_xdm_cmd {
	uint16_t opflags;	/* opcode | GZ_XDM_FLAG_* */
	uint16_t cidx;		/* completion index echoed back */
	uint32_t gcid;		/* destination component (28 bits) */
	uint32_t rkey;
	uint32_t length;	/* bytes (PUT/GET/IMM) */
	uint64_t raddr;		/* responder address */
	uint64_t context;	/* caller's 64-bit context (wr_id) */
	union {
		struct {
			uint64_t laddr;		/* local buffer */
			uint64_t operand;	/* atomics: add/swap/mask */
			uint64_t compare;	/* CAS */
			uint64_t reserved;
		} op;
		uint8_t imm[GZ_XDM_IMM_MAX];	/* PUTIMM payload */
	};
};

_Static_assert(sizeof(struct gz_xdm_cmd) == 64, "command entry is 64 bytes");
_Static_assert(offsetof(struct gz_xdm_cmd, cidx) == 2, "cidx at byte 2");
_Static_assert(offsetof(struct gz_xdm_cmd, raddr) == 16, "raddr at 16");
_Static_assert(offsetof(struct gz_xdm_cmd, context) == 24, "context at 24");
_Static_assert(offsetof(struct gz_xdm_cmd, imm) == 32, "operands at 32");

/* An ENQA command: a message carried whole in the entry. It shares the
 * first 8 bytes with struct gz_xdm_cmd (opcode, completion index,
 * destination); the wr_id stays with the producer, by completion index. */
#define GZ_XDM_ENQA_MAX 52

struct gz_xdm_enqa {
	uint16_t opflags;	/* GZ_XDM_ENQA | flags */
	uint16_t cidx;
	uint32_t gcid;		/* destination component (28 bits) */
	uint32_t ctxid;		/* bits 0-23: destination context (queue
				 * pair); bits 24-29: payload bytes - 1 */
	uint8_t payload[GZ_XDM_ENQA_MAX];
};

_Static_assert(sizeof(struct gz_xdm_enqa) == 64, "ENQA entry is 64 bytes");
_Static_assert(offsetof(struct gz_xdm_enqa, gcid) ==
		       offsetof(struct gz_xdm_cmd, gcid),
	       "ENQA shares the command header");

/* Completion entry. The producer writes everything, then flags last with
 * release ordering; GZ_XDM_CQE_PHASE flips every lap of the ring, so the
 * consumer never clears an entry. */
#define GZ_XDM_CQE_PHASE 0x01u

struct gz_xdm_cqe {
	uint8_t status;		/* enum genzio_wc_status */
	uint8_t opcode;		/* enum genzio_wc_opcode */
	uint16_t cidx;
	uint32_t byte_len;
	uint64_t context;	/* wr_id */
	uint32_t qp_num;
	uint32_t src_gcid;
	uint32_t imm_data;
	uint16_t wc_flags;
	uint8_t reserved;
	uint8_t phase;		/* GZ_XDM_CQE_PHASE: written last */
	uint8_t result[GZ_XDM_IMM_MAX];	/* atomic old value, GETIMM data */
};

_Static_assert(sizeof(struct gz_xdm_cqe) == 64, "completion entry is 64 bytes");
_Static_assert(offsetof(struct gz_xdm_cqe, phase) == 31, "phase at byte 31");
_Static_assert(offsetof(struct gz_xdm_cqe, result) == 32, "result at 32");

/* RDM (receive) entry. */
struct gz_xdm_rdm {
	uint32_t src_ctx;	/* bit 31: phase; bits 0-27: source GCID */
	uint32_t ctxid;		/* 24-bit context id */
	uint32_t length;
	uint32_t imm_data;
	uint8_t payload[48];
};

_Static_assert(sizeof(struct gz_xdm_rdm) == 64, "RDM entry is 64 bytes");

/*
 * A posted receive, as the receiver writes it into its receive ring and a
 * sender (or a bridge) reads it: the receiver's buffers by data-space
 * segment and offset, never by address, so a reader in another address
 * space can find them. Entries are num_sge-sized, within the ring's
 * stride.
 */
struct gz_xdm_sge {
	uint32_t seg;		/* receiver's data-space segment */
	uint32_t len;
	uint64_t off;		/* offset inside it */
};

struct gz_xdm_rqe {
	uint64_t wr_id;		/* a hint: the receiver keeps its own copy */
	uint32_t num_sge;
	uint32_t pad;
	struct gz_xdm_sge sge[];
};

_Static_assert(sizeof(struct gz_xdm_sge) == 16, "scatter entry is 16 bytes");
_Static_assert(sizeof(struct gz_xdm_rqe) == 16, "receive entry header");

#endif /* GZ_XDM_XDM_ABI_H */
