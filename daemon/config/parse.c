/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parser for tandem.conf: turns tokens into a generic tree of
 * `section [arg] { ... }` and `key: value` nodes, without knowing the schema. */
#include "config/config_int.h"
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_NESTING 8

void cfg_node_free(struct cfg_node *n)
{
	while (n) {
		struct cfg_node *next = n->next;
		cfg_node_free(n->child);
		free(n->name);
		free(n->arg);
		free(n->value);
		free(n);
		n = next;
	}
}

static void tok_free(struct cfg_tok *t)
{
	free(t->text);
	t->text = NULL;
}

/* Describe a token for "unexpected X" messages. */
static const char *tok_desc(const struct cfg_tok *t)
{
	return t->type == CFG_TOK_WORD ? t->text : cfg_tok_name(t->type);
}

/* Parse statements into parent until '}' (or EOF at top level). */
static int parse_block(struct cfg_lexer *lx, struct cfg_node *parent, int depth)
{
	struct cfg_node **tail = &parent->child;
	for (;;) {
		struct cfg_tok t, t2, t3;
		cfg_lex_next(lx, &t);
		if (t.type == CFG_TOK_ERROR)
			return -1;
		if (t.type == CFG_TOK_EOF) {
			if (depth > 0)
				return cfg_error(lx->err, parent->line, "missing '}' for section '%s' opened here",
						 parent->name);
			return 0;
		}
		if (t.type == CFG_TOK_RBRACE) {
			if (depth == 0)
				return cfg_error(lx->err, t.line, "unexpected '}' without matching '{'");
			return 0;
		}
		if (t.type != CFG_TOK_WORD) {
			int line = t.line;
			tok_free(&t);
			return cfg_error(lx->err, line, "unexpected %s, expected a key or section name",
					 cfg_tok_name(t.type));
		}
		struct cfg_node *n = calloc(1, sizeof(*n));
		if (!n) {
			tok_free(&t);
			return cfg_error(lx->err, t.line, "out of memory");
		}
		n->name = t.text;
		n->line = t.line;
		*tail = n;
		tail = &n->next;

		cfg_lex_next(lx, &t2);
		switch (t2.type) {
		case CFG_TOK_ERROR:
			return -1;
		case CFG_TOK_COLON:
			cfg_lex_next(lx, &t3);
			if (t3.type == CFG_TOK_ERROR)
				return -1;
			if (!t3.quoted && t3.text[0] == '\0') {
				tok_free(&t3);
				return cfg_error(lx->err, n->line, "missing value for key '%s'", n->name);
			}
			n->value = t3.text;
			n->quoted = t3.quoted;
			continue;
		case CFG_TOK_LBRACE:
			break;
		case CFG_TOK_WORD:
		case CFG_TOK_STRING:
			if (t2.line != n->line) {
				tok_free(&t2);
				return cfg_error(lx->err, n->line, "expected ':' or '{' after '%s'", n->name);
			}
			n->arg = t2.text;
			cfg_lex_next(lx, &t3);
			if (t3.type == CFG_TOK_ERROR)
				return -1;
			if (t3.type != CFG_TOK_LBRACE) {
				int line = t3.line;
				const char *what = tok_desc(&t3);
				cfg_error(lx->err, line, "expected '{' after '%s %s', found '%s'", n->name, n->arg,
					  what);
				tok_free(&t3);
				return -1;
			}
			break;
		default:
			tok_free(&t2);
			return cfg_error(lx->err, n->line, "expected ':' or '{' after '%s'", n->name);
		}
		n->section = true;
		if (depth + 1 >= CFG_MAX_NESTING)
			return cfg_error(lx->err, n->line, "sections nested too deeply");
		if (parse_block(lx, n, depth + 1) < 0)
			return -1;
	}
}

struct cfg_node *cfg_parse(const char *text, struct cfg_err *err)
{
	struct cfg_lexer lx;
	struct cfg_node *root = calloc(1, sizeof(*root));
	if (!root) {
		cfg_error(err, 0, "out of memory");
		return NULL;
	}
	cfg_lex_init(&lx, text, err);
	if (parse_block(&lx, root, 0) < 0) {
		cfg_node_free(root);
		return NULL;
	}
	return root;
}
