/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: tandem.conf parsing and validation (tconf_load_string).
 * The input is the file text; on success the tree is walked through the
 * helpers the daemon uses (find target / portal group, ACL check). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	char *text;
	struct tconf *c;

	if (size > 65536)
		return -1;
	text = malloc(size + 1);
	if (!text)
		FUZZ_DIE("oom");
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	c = tconf_load_string("fuzz.conf", text, err, sizeof(err));
	if (!c) {
		if (!err[0])
			FUZZ_DIE("load failed without a message");
	} else {
		for (size_t i = 0; i < c->ntargets; i++) {
			const struct tconf_target *t = &c->targets[i];
			if (tconf_find_target(c, t->name) == NULL)
				FUZZ_DIE("target %s not found by name", t->name);
			(void)tconf_initiator_allowed(t, "iqn.1994-05.com.example:fuzz");
			for (size_t p = 0; p < c->nportal_groups; p++)
				(void)tconf_target_in_portal_group(t, &c->portal_groups[p]);
			for (size_t l = 0; l < t->nluns; l++) {
				if (!t->luns[l].serial[0] || !t->luns[l].naa_len)
					FUZZ_DIE("LUN %u of %s without identity", t->luns[l].lun, t->name);
				(void)tconf_backend_name(t->luns[l].backend);
				(void)tconf_cache_name(t->luns[l].cache);
			}
		}
		for (size_t p = 0; p < c->nportal_groups; p++)
			(void)tconf_find_portal_group(c, c->portal_groups[p].name);
		for (size_t a = 0; a < c->nalua_groups; a++)
			(void)tconf_find_alua_group(c, c->alua_groups[a].name);
		tconf_free(c);
	}
	free(text);
	return 0;
}
