/* SPDX-License-Identifier: GPL-2.0-or-later */
/* UTF-8 checks for text that comes from the wire (iSCSI names and aliases)
 * and goes to operators (tandemctl status, JSON for scripts): a hostile
 * initiator must not put invalid UTF-8 (unparseable JSON) or terminal escape
 * sequences into what an operator reads. */
#ifndef TANDEM_UTIL_UTF8_H
#define TANDEM_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. p must be
 * NUL-terminated. */
size_t utf8_seq_len(const unsigned char *p);

/* s is well-formed UTF-8 without control characters (C0, DEL, C1). */
bool utf8_printable(const char *s);

#endif
