/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tokenizer for tandem.conf: words, quoted strings, braces and "key: value"
 * lines, each token tagged with its line number for error messages. */
#include "config/config_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cfg_error(struct cfg_err *e, int line, const char *fmt, ...)
{
	if (e->set)
		return -1;
	e->set = true;
	if (!e->buf || e->len == 0)
		return -1;
	int n = line > 0 ? snprintf(e->buf, e->len, "%s:%d: ", e->name, line)
			 : snprintf(e->buf, e->len, "%s: ", e->name);
	if (n < 0 || (size_t)n >= e->len)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

const char *cfg_tok_name(enum cfg_tok_type t)
{
	static const char *const names[] = {
		[CFG_TOK_EOF] = "end of file",
		[CFG_TOK_WORD] = "word",
		[CFG_TOK_STRING] = "quoted string",
		[CFG_TOK_COLON] = "':'",
		[CFG_TOK_VALUE] = "value",
		[CFG_TOK_LBRACE] = "'{'",
		[CFG_TOK_RBRACE] = "'}'",
		[CFG_TOK_ERROR] = "error",
	};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

void cfg_lex_init(struct cfg_lexer *lx, const char *text, struct cfg_err *err)
{
	memset(lx, 0, sizeof(*lx));
	lx->p = text;
	lx->line = 1;
	lx->stmt_start = true;
	lx->err = err;
}

static bool lex_bad_char(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
}

static void lex_fail(struct cfg_lexer *lx, struct cfg_tok *tok)
{
	free(tok->text);
	tok->text = NULL;
	tok->type = CFG_TOK_ERROR;
}

/* "..." with \" \\ \n \t escapes; lx->p is on the opening quote. */
static int lex_quoted(struct cfg_lexer *lx, struct cfg_tok *tok)
{
	const char *s = lx->p + 1;
	size_t n = 0;
	char *out = malloc(strlen(s) + 1);
	if (!out)
		return cfg_error(lx->err, lx->line, "out of memory");
	for (;;) {
		unsigned char c = (unsigned char)*s;
		if (c == '\0' || c == '\n') {
			free(out);
			return cfg_error(lx->err, lx->line, "unterminated quoted string");
		}
		if (c == '"')
			break;
		if (lex_bad_char(c)) {
			free(out);
			return cfg_error(lx->err, lx->line, "invalid control character 0x%02x in quoted string", c);
		}
		if (c == '\\') {
			switch (s[1]) {
			case '"': out[n++] = '"'; break;
			case '\\': out[n++] = '\\'; break;
			case 'n': out[n++] = '\n'; break;
			case 't': out[n++] = '\t'; break;
			default:
				free(out);
				return cfg_error(lx->err, lx->line, "invalid escape '\\%c' in quoted string",
						 s[1] && !lex_bad_char((unsigned char)s[1]) ? s[1] : '?');
			}
			s += 2;
			continue;
		}
		out[n++] = (char)c;
		s++;
	}
	out[n] = '\0';
	tok->text = out;
	lx->p = s + 1;
	return 0;
}

static void lex_value(struct cfg_lexer *lx, struct cfg_tok *tok)
{
	lx->value_mode = false;
	lx->stmt_start = true;
	while (*lx->p == ' ' || *lx->p == '\t')
		lx->p++;
	tok->type = CFG_TOK_VALUE;
	tok->line = lx->line;
	if (*lx->p == '"') {
		if (lex_quoted(lx, tok) < 0)
			return lex_fail(lx, tok);
		tok->quoted = true;
		while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r')
			lx->p++;
		if (*lx->p != '\0' && *lx->p != '\n' && *lx->p != '#' && *lx->p != '}') {
			cfg_error(lx->err, lx->line, "unexpected text after quoted string");
			return lex_fail(lx, tok);
		}
		return;
	}
	const char *start = lx->p, *end;
	/* A '}' ends the value so that one-line sections work: lun 0 { path: /x } */
	while (*lx->p && *lx->p != '\n' && *lx->p != '#' && *lx->p != '}') {
		unsigned char c = (unsigned char)*lx->p;
		if (lex_bad_char(c) && c != '\r') {
			cfg_error(lx->err, lx->line, "invalid control character 0x%02x", c);
			return lex_fail(lx, tok);
		}
		if (c == '{' || c == '"') {
			cfg_error(lx->err, lx->line, "unexpected '%c' in value (quote the whole value)", c);
			return lex_fail(lx, tok);
		}
		lx->p++;
	}
	end = lx->p;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	tok->text = strndup(start, (size_t)(end - start));
	if (!tok->text) {
		cfg_error(lx->err, lx->line, "out of memory");
		return lex_fail(lx, tok);
	}
}

void cfg_lex_next(struct cfg_lexer *lx, struct cfg_tok *tok)
{
	memset(tok, 0, sizeof(*tok));
	if (lx->value_mode)
		return lex_value(lx, tok);
	for (;;) {
		char c = *lx->p;
		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '#') {
			while (*lx->p && *lx->p != '\n')
				lx->p++;
		} else {
			break;
		}
	}
	tok->line = lx->line;
	unsigned char c = (unsigned char)*lx->p;
	switch (c) {
	case '\0':
		tok->type = CFG_TOK_EOF;
		return;
	case '{':
		lx->p++;
		tok->type = CFG_TOK_LBRACE;
		lx->stmt_start = true;
		return;
	case '}':
		lx->p++;
		tok->type = CFG_TOK_RBRACE;
		lx->stmt_start = true;
		return;
	case ':':
		lx->p++;
		tok->type = CFG_TOK_COLON;
		lx->value_mode = true;
		return;
	case '"':
		if (lex_quoted(lx, tok) < 0)
			return lex_fail(lx, tok);
		tok->type = CFG_TOK_STRING;
		lx->stmt_start = false;
		return;
	default:
		break;
	}
	if (lex_bad_char(c)) {
		cfg_error(lx->err, lx->line, "invalid control character 0x%02x", c);
		return lex_fail(lx, tok);
	}
	/* A word. At the start of a statement it stops at ':' (key: value);
	 * a section argument such as an IQN may contain colons. */
	const char *start = lx->p;
	while (*lx->p) {
		c = (unsigned char)*lx->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{' || c == '}' ||
		    c == '#' || c == '"' || (c == ':' && lx->stmt_start))
			break;
		if (lex_bad_char(c)) {
			cfg_error(lx->err, lx->line, "invalid control character 0x%02x", c);
			return lex_fail(lx, tok);
		}
		lx->p++;
	}
	tok->type = CFG_TOK_WORD;
	tok->text = strndup(start, (size_t)(lx->p - start));
	lx->stmt_start = false;
	if (!tok->text) {
		cfg_error(lx->err, lx->line, "out of memory");
		return lex_fail(lx, tok);
	}
}
