/* SPDX-License-Identifier: GPL-2.0-or-later */
/* On-disk layout of the replication metadata file (repl/md.c), as byte offsets
 * so that the code, the unit tests and docs/REPLICATION_MD.md agree on one
 * definition. All multi-byte integers are big-endian (util/be.h) except the
 * bitmap, which is a plain bit string: bit n is bit (n % 8) of byte n / 8. */
#ifndef TANDEM_REPL_MD_FORMAT_H
#define TANDEM_REPL_MD_FORMAT_H
#include "repl/md.h"

#define MD_BLOCK 4096u                   /* every area is made of 4 KiB blocks */
#define MD_VERSION 1u
#define MD_MAGIC "TNDMMD01"              /* 8 bytes, no NUL on disk */
#define MD_AL_MAGIC "TNDMAL01"

/* File areas */
#define MD_SLOT_A_OFF 0u
#define MD_SLOT_B_OFF 4096u
#define MD_AL_OFF 8192u                  /* activity-log ring */
#define MD_AL_BLOCKS 30u                 /* ring of 30 transaction blocks (120 KiB) */
#define MD_BM_OFF (128u * 1024)          /* bitmap, up to the end of the file */

/* Superblock slot (one 4 KiB block; bytes past MD_SB_END are zero) */
enum {
	MD_SB_MAGIC = 0,         /* 8  "TNDMMD01" */
	MD_SB_VERSION = 8,       /* 4  MD_VERSION */
	MD_SB_SLOT_BYTES = 12,   /* 4  4096 */
	MD_SB_SEQ = 16,          /* 8  incremented by every superblock write */
	MD_SB_CRC = 24,          /* 4  CRC32C over the 4096-byte slot with this field zero */
	MD_SB_CHUNK = 28,        /* 4  device bytes per bitmap bit */
	MD_SB_DEV_BYTES = 32,    /* 8  device size the metadata was created for */
	MD_SB_MD_ID = 40,        /* 8  random id of this metadata instance (AL blocks carry it) */
	MD_SB_GEN_CURRENT = 48,  /* 8 */
	MD_SB_GEN_BITMAP = 56,   /* 8 */
	MD_SB_GEN_HISTORY0 = 64, /* 8 */
	MD_SB_GEN_HISTORY1 = 72, /* 8 */
	MD_SB_DISK = 80,         /* 4  enum repl_disk_state */
	MD_SB_FLAGS = 84,        /* 4  REPL_MD_F_* */
	MD_SB_CLEAN = 88,        /* 4  1 = closed cleanly, 0 = open (or crashed) */
	MD_SB_AL_EXTENT = 92,    /* 4  bytes per AL extent (REPL_MD_AL_EXTENT) */
	MD_SB_AL_CAPACITY = 96,  /* 4  active extents at most (REPL_MD_AL_EXTENTS) */
	MD_SB_AL_BLOCKS = 100,   /* 4  blocks in the AL ring */
	MD_SB_AL_OFF = 104,      /* 8  byte offset of the AL ring */
	MD_SB_AL_SEQ = 112,      /* 8  last AL transaction sequence when written (hint) */
	MD_SB_AL_POS = 120,      /* 4  next AL ring block when written (hint) */
	MD_SB_RESERVED = 124,    /* 4  zero */
	MD_SB_BM_OFF = 128,      /* 8  byte offset of the bitmap */
	MD_SB_BM_BITS = 136,     /* 8  ceil(dev_bytes / chunk) */
	MD_SB_BM_BYTES = 144,    /* 8  bitmap area size, a multiple of 4096 */
	MD_SB_END = 152,
};
_Static_assert(MD_SB_END <= MD_BLOCK, "superblock fits one block");

/* Activity-log transaction block. A transaction is the full active set, in
 * 1 or 2 consecutive blocks (parts) written with one pwrite + fdatasync. */
enum {
	MD_AL_MAGIC_OFF = 0,     /* 8  "TNDMAL01" */
	MD_AL_MD_ID = 8,         /* 8  must equal the superblock's md id */
	MD_AL_SEQ = 16,          /* 8  transaction sequence, +1 per transaction */
	MD_AL_CRC = 24,          /* 4  CRC32C over the block with this field zero */
	MD_AL_PART = 28,         /* 2  part index */
	MD_AL_PARTS = 30,        /* 2  parts in this transaction */
	MD_AL_TOTAL = 32,        /* 4  extents in the whole transaction */
	MD_AL_COUNT = 36,        /* 4  extents in this block */
	MD_AL_EXTENTS_OFF = 40,  /* 4 each: extent numbers (device offset / REPL_MD_AL_EXTENT) */
};
#define MD_AL_PER_BLOCK ((MD_BLOCK - MD_AL_EXTENTS_OFF) / 4u)   /* 1014 */
#define MD_AL_MAX_PARTS ((REPL_MD_AL_EXTENTS + MD_AL_PER_BLOCK - 1) / MD_AL_PER_BLOCK)
_Static_assert(MD_AL_PER_BLOCK == 1014, "AL block holds 1014 extents");
_Static_assert(MD_AL_MAX_PARTS == 2, "a full active set takes at most 2 blocks");
_Static_assert(MD_AL_BLOCKS >= 2 * MD_AL_MAX_PARTS + 1, "ring keeps the previous transaction intact");
_Static_assert(MD_AL_OFF + MD_AL_BLOCKS * MD_BLOCK <= MD_BM_OFF, "AL ring ends before the bitmap");

/* Bitmap: page p (4 KiB at MD_BM_OFF + p * 4096) holds bits [p * 32768, (p + 1) * 32768). */
#define MD_BM_BITS_PER_PAGE (MD_BLOCK * 8u)
#endif
