/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Entry points of the config module: loading a file or a string, and the
 * lookup/ACL helpers the rest of the daemon uses on a loaded struct tconf. */
#include "config/config_int.h"
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define CFG_MAX_FILE (4u << 20)

struct tconf *tconf_load_string(const char *name, const char *text, char *err, size_t errlen)
{
	struct cfg_err e = { .name = name ? name : "(string)", .buf = err, .len = errlen };
	if (err && errlen)
		err[0] = '\0';
	if (!text) {
		cfg_error(&e, 0, "no configuration text");
		return NULL;
	}
	if (strlen(e.name) >= TCONF_PATH_MAX) {
		cfg_error(&e, 0, "file name too long");
		return NULL;
	}
	struct cfg_node *root = cfg_parse(text, &e);
	if (!root)
		return NULL;
	struct tconf *c = cfg_schema_apply(root, e.name, &e);
	cfg_node_free(root);
	return c;
}

struct tconf *tconf_load_file(const char *path, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(EISDIR));
		fclose(f);
		return NULL;
	}
	char *buf = malloc(CFG_MAX_FILE + 1);
	if (!buf) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(ENOMEM));
		fclose(f);
		return NULL;
	}
	size_t n = fread(buf, 1, CFG_MAX_FILE + 1, f);
	int rerr = ferror(f) ? errno : 0;
	fclose(f);
	if (rerr) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(rerr));
		free(buf);
		return NULL;
	}
	if (n > CFG_MAX_FILE) {
		snprintf(err, errlen, "%s: file too large (more than %u bytes)", path, CFG_MAX_FILE);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	const char *nul = memchr(buf, '\0', n);
	if (nul) {
		int line = 1;
		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		snprintf(err, errlen, "%s:%d: NUL byte in file", path, line);
		free(buf);
		return NULL;
	}
	struct tconf *c = tconf_load_string(path, buf, err, errlen);
	free(buf);
	return c;
}

const struct tconf_portal_group *tconf_find_portal_group(const struct tconf *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->nportal_groups; i++)
		if (strcmp(c->portal_groups[i].name, name) == 0)
			return &c->portal_groups[i];
	return NULL;
}

const struct tconf_target *tconf_find_target(const struct tconf *c, const char *name)
{
	if (!c || !name)
		return NULL;
	/* iSCSI names are compared after case folding (RFC 3722) */
	for (size_t i = 0; i < c->ntargets; i++)
		if (strcasecmp(c->targets[i].name, name) == 0)
			return &c->targets[i];
	return NULL;
}

bool tconf_initiator_allowed(const struct tconf_target *t, const char *initiator)
{
	if (!t || !initiator || !initiator[0])
		return false;
	for (size_t i = 0; i < t->ndeny; i++)
		if (fnmatch(t->deny[i], initiator, FNM_CASEFOLD) == 0)
			return false;
	if (t->nallow == 0)
		return true;
	for (size_t i = 0; i < t->nallow; i++)
		if (fnmatch(t->allow[i], initiator, FNM_CASEFOLD) == 0)
			return true;
	return false;
}

bool tconf_target_in_portal_group(const struct tconf_target *t, const struct tconf_portal_group *pg)
{
	if (!t || !pg)
		return false;
	if (t->nportal_groups == 0)
		return true;
	for (size_t i = 0; i < t->nportal_groups; i++)
		if (strcmp(t->portal_groups[i], pg->name) == 0)
			return true;
	return false;
}

const char *tconf_backend_name(enum tconf_backend b)
{
	static const char *const names[] = {
		[TCONF_BACKEND_BLOCKIO] = "blockio",
		[TCONF_BACKEND_FILEIO] = "fileio",
		[TCONF_BACKEND_NULL] = "null",
	};
	return (unsigned)b < sizeof(names) / sizeof(names[0]) ? names[b] : "unknown";
}

const char *tconf_cache_name(enum tconf_cache c)
{
	static const char *const names[] = {
		[TCONF_CACHE_WRITE_THROUGH] = "write-through",
		[TCONF_CACHE_WRITE_BACK] = "write-back",
		[TCONF_CACHE_NV] = "nv-cache",
	};
	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}
