/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Stream keys and stream URLs: pure parsing, no Varnish, no Redis.
 */

#define SR_KEY_MAX	128
#define SR_PATH_MAX	1024
#define SR_KEY_TEMPLATE_MAX	256

#define SR_URL_MAX	2048
/* the longest upstream URL: a path and the three LL-HLS directives */
#define SR_UPSTREAM_MAX	(SR_PATH_MAX + 64)

int sr_key_valid(const char *key, size_t len);
size_t sr_key_from_url(const char *url, const char *prefix,
    const char **key);
int sr_prefix_valid(const char *prefix);
const char *sr_url_upstream(const char *url, const char *prefix, char *buf,
    size_t buflen);

enum sr_url_type {
	SR_TYPE_OTHER = 0,
	SR_TYPE_MASTER,		/* live.m3u8 */
	SR_TYPE_PLAYLIST,	/* any other .m3u8, .mpd */
	SR_TYPE_SEGMENT,	/* .ts .m4s .mp4 .aac .vtt */
};

enum sr_url_type sr_url_type(const char *url);
const char *sr_url_type_name(enum sr_url_type);
int sr_url_blocking(const char *url);

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
/* "__keyspace@<db>__:" (34 at most), a template escaped, "*" */
#define SR_PATTERN_MAX	(40 + 2 * SR_KEY_TEMPLATE_MAX)
size_t sr_key_template_pattern(const struct sr_key_template *, long db,
    char *buf, size_t buflen);
