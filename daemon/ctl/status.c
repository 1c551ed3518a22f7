/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes the configuration part of `tandemctl status` (portal groups, targets,
 * LUNs) so that main.c only has to add the live session data. */
#include "ctl/ctl.h"
#include "config/config.h"
#include <stdio.h>
#include <string.h>

void ctl_status_config(struct json_writer *w, const struct tconf *c,
		       void (*target_extra)(struct json_writer *w, const struct tconf_target *t, void *arg),
		       void *arg)
{
	if (!c)
		return;
	json_str(w, "config", c->path);
	json_arr_begin(w, "portal_groups");
	for (size_t i = 0; i < c->nportal_groups; i++) {
		const struct tconf_portal_group *pg = &c->portal_groups[i];
		json_obj_begin(w, NULL);
		json_str(w, "name", pg->name);
		json_uint(w, "tag", pg->tag);
		json_arr_begin(w, "listen");
		for (size_t j = 0; j < pg->nlisten; j++) {
			char a[80];
			const struct tconf_listen *l = &pg->listen[j];
			snprintf(a, sizeof(a), strchr(l->addr, ':') ? "[%s]:%u" : "%s:%u", l->addr, l->port);
			json_str(w, NULL, a);
		}
		json_arr_end(w);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_arr_begin(w, "targets");
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct tconf_target *t = &c->targets[i];
		json_obj_begin(w, NULL);
		json_str(w, "name", t->name);
		json_str(w, "alias", t->alias);
		json_arr_begin(w, "portal_groups");
		for (size_t j = 0; j < c->nportal_groups; j++)
			if (tconf_target_in_portal_group(t, &c->portal_groups[j]))
				json_str(w, NULL, c->portal_groups[j].name);
		json_arr_end(w);
		json_bool(w, "chap", t->chap_enabled);
		json_arr_begin(w, "luns");
		for (size_t j = 0; j < t->nluns; j++) {
			const struct tconf_lun *l = &t->luns[j];
			json_obj_begin(w, NULL);
			json_uint(w, "lun", l->lun);
			json_str(w, "backend", tconf_backend_name(l->backend));
			json_str(w, "path", l->path);
			json_uint(w, "size", l->size);
			json_uint(w, "block_size", l->block_size);
			json_str(w, "cache", tconf_cache_name(l->cache));
			json_bool(w, "readonly", l->readonly);
			json_str(w, "serial", l->serial);
			char naa[40] = "";
			for (unsigned k = 0; k < l->naa_len && k < 16; k++)
				snprintf(naa + 2 * k, sizeof(naa) - 2 * k, "%02x", l->naa[k]);
			json_str(w, "naa", naa);
			json_obj_end(w);
		}
		json_arr_end(w);
		if (target_extra)
			target_extra(w, t, arg);
		json_obj_end(w);
	}
	json_arr_end(w);
}
