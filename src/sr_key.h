/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Stream keys and stream URLs: pure parsing, no Varnish, no Redis.
 */

#define SR_KEY_MAX	128
#define SR_PATH_MAX	1024
#define SR_KEY_TEMPLATE_MAX	256

int sr_key_valid(const char *key, size_t len);
size_t sr_key_from_url(const char *url, const char *prefix,
    const char **key);

/* A Redis key made of a template such as "route:{key}". */
struct sr_key_template {
	char		*head;
	size_t		head_len;
	char		*tail;
	size_t		tail_len;
};

int sr_key_template_parse(struct sr_key_template *, const char *spec);
void sr_key_template_fini(struct sr_key_template *);
size_t sr_key_template_expand(const struct sr_key_template *,
    const char *key, size_t key_len, char *buf, size_t buflen);
