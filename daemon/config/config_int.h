/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private interface between the config lexer, parser, schema and defaults:
 * tokens, the generic section/key tree and error reporting. */
#ifndef TANDEM_CONFIG_INT_H
#define TANDEM_CONFIG_INT_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config/config.h"

/* Where errors go: the first error wins, later ones are dropped. */
struct cfg_err {
	const char *name;                   /* file name used in messages */
	char *buf;
	size_t len;
	bool set;
};

int cfg_error(struct cfg_err *e, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

enum cfg_tok_type {
	CFG_TOK_EOF,
	CFG_TOK_WORD,       /* bare word: section name, key, section argument */
	CFG_TOK_STRING,     /* "quoted" section argument */
	CFG_TOK_COLON,
	CFG_TOK_VALUE,      /* everything after "key:" up to end of line/comment */
	CFG_TOK_LBRACE,
	CFG_TOK_RBRACE,
	CFG_TOK_ERROR,
};

struct cfg_tok {
	enum cfg_tok_type type;
	char *text;                         /* malloc'd for WORD/STRING/VALUE */
	bool quoted;                        /* VALUE came from a "quoted string" */
	int line;
};

struct cfg_lexer {
	const char *p;
	int line;
	bool stmt_start;                    /* next word is a key/section name */
	bool value_mode;                    /* after ':' */
	struct cfg_err *err;
};

void cfg_lex_init(struct cfg_lexer *lx, const char *text, struct cfg_err *err);
/* Next token; CFG_TOK_ERROR after reporting to lx->err. Caller frees tok->text. */
void cfg_lex_next(struct cfg_lexer *lx, struct cfg_tok *tok);
const char *cfg_tok_name(enum cfg_tok_type t);

/* Generic tree: a section has children, a key has a value. */
struct cfg_node {
	char *name;
	char *arg;                          /* section argument or NULL */
	char *value;                        /* key value (NULL for sections) */
	bool section;
	bool quoted;
	int line;
	struct cfg_node *child, *next;
};

/* Parse text into a tree (root is an unnamed section). NULL on error. */
struct cfg_node *cfg_parse(const char *text, struct cfg_err *err);
void cfg_node_free(struct cfg_node *n);

/* Map a tree onto a struct tconf, validating everything. */
struct tconf *cfg_schema_apply(const struct cfg_node *root, const char *name, struct cfg_err *err);

/* Defaults (defaults.c). */
void cfg_global_defaults(struct tconf_global *g);
void cfg_lun_defaults(struct tconf_lun *l);
/* Deterministic identity for a LUN that has none configured. */
void cfg_default_serial(const char *target, const char *alias, uint32_t lun, char out[65]);
void cfg_default_naa(const char *target, uint32_t lun, uint8_t naa[16], uint8_t *naa_len);
int cfg_add_default_portal_group(struct tconf *c);

/* ALUA topology (alua_conf.c). */
int cfg_alua_section(struct cfg_err *e, struct tconf *c, const struct cfg_node *sec);
int cfg_alua_pg_key(struct cfg_err *e, struct tconf_portal_group *pg, const struct cfg_node *n);
int cfg_alua_resolve(struct cfg_err *e, struct tconf *c);
void cfg_alua_free(struct tconf *c);
#endif
