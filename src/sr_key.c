/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Stream keys travel into Redis commands and backend names, and the rest
 * of the URL travels to a media server: both are held to a small
 * character set so that neither can smuggle anything.
 */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_key.h"

/*
 * The characters of a key, and of the other path segments (a key's and
 * '~'): a table, because every request's URL is checked character by
 * character, twice on a miss.
 */
#define SR_C_KEY	1
#define SR_C_PATH	2
static const unsigned char sr_url_char[256] = {
	['a' ... 'z'] = SR_C_KEY | SR_C_PATH,
	['A' ... 'Z'] = SR_C_KEY | SR_C_PATH,
	['0' ... '9'] = SR_C_KEY | SR_C_PATH,
	['.'] = SR_C_KEY | SR_C_PATH,
	['_'] = SR_C_KEY | SR_C_PATH,
	['-'] = SR_C_KEY | SR_C_PATH,
	['~'] = SR_C_PATH,
};

static inline int
sr_key_char(char c)
{

	return (sr_url_char[(unsigned char)c] & SR_C_KEY);
}

static inline int
sr_path_char(char c)
{

	return (sr_url_char[(unsigned char)c] & SR_C_PATH);
}

static int
sr_dot_segment(const char *s, size_t len)
{

	return ((len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'));
}

int
sr_key_valid(const char *key, size_t len)
{
	size_t i;

	if (key == NULL || len == 0 || len > SR_KEY_MAX)
		return (0);
	if (sr_dot_segment(key, len))
		return (0);
	for (i = 0; i < len; i++)
		if (!sr_key_char(key[i]))
			return (0);
	return (1);
}

/*
 * "<prefix>/<key>/<segment>[/<segment>...][?query]": returns the length
 * of the key and points *key at it, or returns 0 if the URL is not one
 * this origin serves.
 */
size_t
sr_key_from_url(const char *url, const char *prefix, const char **key)
{
	const char *p, *end, *seg, *k;
	size_t plen, klen, nseg;

	*key = NULL;
	if (url == NULL || *url != '/')
		return (0);
	end = strchr(url, '?');
	if (end == NULL)
		end = strchr(url, '\0');
	if ((size_t)(end - url) > SR_PATH_MAX)
		return (0);

	p = url;
	if (prefix != NULL && *prefix != '\0') {
		plen = strlen(prefix);
		if (prefix[plen - 1] == '/')
			plen--;
		if ((size_t)(end - p) <= plen || strncmp(p, prefix, plen) ||
		    p[plen] != '/')
			return (0);
		p += plen;
	}

	/* p is at the '/' before the key */
	k = ++p;
	while (p < end && *p != '/')
		p++;
	klen = (size_t)(p - k);
	if (!sr_key_valid(k, klen) || p == end)
		return (0);

	/* the rest: one or more non-empty, non-dot segments */
	nseg = 0;
	while (p < end) {
		seg = ++p;
		while (p < end && *p != '/') {
			if (!sr_path_char(*p))
				return (0);
			p++;
		}
		if (p == seg || sr_dot_segment(seg, (size_t)(p - seg)))
			return (0);
		nseg++;
	}
	if (nseg == 0)
		return (0);
	*key = k;
	return (klen);
}

/*
 * A prefix is "" or one or more "/<segment>" of key characters; a
 * trailing slash is tolerated, as sr_key_from_url() does.
 */
int
sr_prefix_valid(const char *prefix)
{
	const char *p, *seg;

	if (prefix == NULL || *prefix == '\0')
		return (1);
	if (strlen(prefix) > SR_PATH_MAX)
		return (0);
	p = prefix;
	while (*p == '/') {
		seg = ++p;
		while (*p != '\0' && *p != '/' && sr_key_char(*p))
			p++;
		if (p == seg)
			return (*p == '\0' && p - prefix > 1);
		if (sr_dot_segment(seg, (size_t)(p - seg)))
			return (0);
	}
	return (*p == '\0');
}

static int
sr_suffix(const char *s, size_t len, const char *suffix)
{
	size_t slen;

	slen = strlen(suffix);
	return (len >= slen && !strncasecmp(s + len - slen, suffix, slen));
}

/*
 * The value of the last "name=" parameter of the query q..e (as a
 * greedy regex would find it), or NULL.
 */
static const char *
sr_query_param(const char *q, const char *e, const char *name, size_t *len)
{
	const char *p, *v, *found;
	size_t nlen;

	nlen = strlen(name);
	found = NULL;
	for (p = q; p < e; p++) {
		if (*p != '?' && *p != '&')
			continue;
		if ((size_t)(e - p - 1) < nlen || strncmp(p + 1, name, nlen))
			continue;
		found = p + 1 + nlen;
	}
	if (found == NULL)
		return (NULL);
	for (v = found; v < e && *v != '&'; v++)
		continue;
	*len = (size_t)(v - found);
	return (found);
}

/*
 * An LL-HLS number: digits, leading zeros dropped ("007" is "7", "00"
 * is "0") so that one directive is one cache object, at most 10 digits
 * left.  Returns the number's length, 0 if it is not one.
 */
static size_t
sr_llhls_number(const char **v, size_t len)
{
	size_t i;

	if (len == 0)
		return (0);
	for (i = 0; i < len; i++)
		if ((*v)[i] < '0' || (*v)[i] > '9')
			return (0);
	while (len > 1 && **v == '0') {
		(*v)++;
		len--;
	}
	return (len <= 10 ? len : 0);
}

/*
 * The URL a media server gets for a request URL, which is also the cache
 * key: the path without the prefix, plus, on a playlist, the Low-Latency
 * HLS delivery directives in one fixed order.  Every other query
 * parameter (cache busters, tokens), and the directives on anything but
 * a playlist, where they mean nothing, are dropped: they would split the
 * cache (and make a segment fetch a blocking reload) without changing
 * the answer.  Returns NULL and the URL in buf, or the reason the
 * request is refused (answer 400).
 */
const char *
sr_url_upstream(const char *url, const char *prefix, char *buf,
    size_t buflen)
{
	const char *k, *path, *pe, *q, *qe, *msn, *part, *skip;
	size_t klen, plen, msnlen, partlen, skiplen;
	int n;

	assert(buflen >= SR_UPSTREAM_MAX);
	if (url == NULL || strlen(url) > SR_URL_MAX)
		return ("URL too long");
	klen = sr_key_from_url(url, prefix, &k);
	if (klen == 0)
		return ("Bad stream path");
	path = k - 1;
	pe = strchr(path, '?');
	if (pe == NULL)
		pe = strchr(path, '\0');
	plen = (size_t)(pe - path);
	assert(plen < buflen);
	memcpy(buf, path, plen);
	buf[plen] = '\0';
	if (*pe != '?' || !sr_suffix(path, plen, ".m3u8"))
		return (NULL);

	q = pe;
	qe = strchr(q, '#');
	if (qe == NULL)
		qe = strchr(q, '\0');
	msn = sr_query_param(q, qe, "_HLS_msn=", &msnlen);
	part = sr_query_param(q, qe, "_HLS_part=", &partlen);
	skip = sr_query_param(q, qe, "_HLS_skip=", &skiplen);
	/* What the LL-HLS spec allows: _HLS_part only with _HLS_msn. */
	if (msn != NULL && (msnlen = sr_llhls_number(&msn, msnlen)) == 0)
		return ("Bad LL-HLS directive");
	if (part != NULL && (msn == NULL ||
	    (partlen = sr_llhls_number(&part, partlen)) == 0))
		return ("Bad LL-HLS directive");
	if (skip != NULL && !(skiplen == 3 && !strncmp(skip, "YES", 3)) &&
	    !(skiplen == 2 && !strncmp(skip, "v2", 2)))
		return ("Bad LL-HLS directive");

	n = 0;
	if (msn != NULL)
		n = snprintf(buf + plen, buflen - plen, "?_HLS_msn=%.*s",
		    (int)msnlen, msn);
	if (part != NULL)
		n += snprintf(buf + plen + n, buflen - plen - n,
		    "&_HLS_part=%.*s", (int)partlen, part);
	if (skip != NULL)
		n += snprintf(buf + plen + n, buflen - plen - n,
		    "%s_HLS_skip=%.*s", n ? "&" : "?", (int)skiplen, skip);
	assert(plen + n < buflen);
	return (NULL);
}

/*
 * The type of a media URL, from its path; the query is ignored.  Called
 * several times per fetch: the extension is found once, by one scan
 * back from the end of the path, then told by its length.
 */
enum sr_url_type
sr_url_type(const char *url)
{
	const char *end, *ext;
	size_t elen;

	if (url == NULL)
		return (SR_TYPE_OTHER);
	end = strchr(url, '?');
	if (end == NULL)
		end = strchr(url, '\0');
	for (ext = end; ext > url && ext[-1] != '.' && ext[-1] != '/'; ext--)
		continue;
	if (ext == url || ext[-1] != '.')
		return (SR_TYPE_OTHER);
	elen = (size_t)(end - ext);
	switch (elen) {
	case 2:
		if (!strncasecmp(ext, "ts", 2))
			return (SR_TYPE_SEGMENT);
		break;
	case 3:
		if (!strncasecmp(ext, "mpd", 3))
			return (SR_TYPE_PLAYLIST);
		if (!strncasecmp(ext, "m4s", 3) || !strncasecmp(ext, "mp4", 3) ||
		    !strncasecmp(ext, "aac", 3) || !strncasecmp(ext, "vtt", 3))
			return (SR_TYPE_SEGMENT);
		break;
	case 4:
		if (strncasecmp(ext, "m3u8", 4))
			break;
		/* "live.m3u8": the name is the whole path segment */
		if (ext - url >= 6 && !strncasecmp(ext - 6, "/live.", 6))
			return (SR_TYPE_MASTER);
		return (SR_TYPE_PLAYLIST);
	default:
		break;
	}
	return (SR_TYPE_OTHER);
}

const char *
sr_url_type_name(enum sr_url_type t)
{

	switch (t) {
	case SR_TYPE_MASTER:	return ("master");
	case SR_TYPE_PLAYLIST:	return ("playlist");
	case SR_TYPE_SEGMENT:	return ("segment");
	default:		return ("other");
	}
}

/* An LL-HLS blocking playlist reload: _HLS_msn in the query. */
int
sr_url_blocking(const char *url)
{
	const char *q;
	size_t len;

	if (url == NULL || (q = strchr(url, '?')) == NULL)
		return (0);
	return (sr_query_param(q, strchr(q, '\0'), "_HLS_msn=", &len) !=
	    NULL);
}

int
sr_key_template_parse(struct sr_key_template *kt, const char *spec)
{
	const char *mark;

	memset(kt, 0, sizeof *kt);
	if (spec == NULL || strlen(spec) >= SR_KEY_TEMPLATE_MAX)
		return (-1);
	mark = strstr(spec, "{key}");
	if (mark == NULL || strstr(mark + 5, "{key}") != NULL)
		return (-1);
	kt->head_len = (size_t)(mark - spec);
	kt->head = strndup(spec, kt->head_len);
	kt->tail = strdup(mark + 5);
	if (kt->head == NULL || kt->tail == NULL) {
		sr_key_template_fini(kt);
		return (-1);
	}
	kt->tail_len = strlen(kt->tail);
	return (0);
}

void
sr_key_template_fini(struct sr_key_template *kt)
{

	free(kt->head);
	free(kt->tail);
	memset(kt, 0, sizeof *kt);
}

/* Returns the length written, or 0 if buf is too small. */
size_t
sr_key_template_expand(const struct sr_key_template *kt, const char *key,
    size_t key_len, char *buf, size_t buflen)
{
	size_t len;

	len = kt->head_len + key_len + kt->tail_len;
	if (len + 1 > buflen)
		return (0);
	memcpy(buf, kt->head, kt->head_len);
	memcpy(buf + kt->head_len, key, key_len);
	memcpy(buf + kt->head_len + key_len, kt->tail, kt->tail_len);
	buf[len] = '\0';
	return (len);
}

/* Appends s as a glob that matches only s; returns -1 when out of room */
static int
sr_glob_cat(char *buf, size_t buflen, size_t *n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (strchr("*?[]\\", s[i]) != NULL) {
			if (*n + 1 >= buflen)
				return (-1);
			buf[(*n)++] = '\\';
		}
		if (*n + 1 >= buflen)
			return (-1);
		buf[(*n)++] = s[i];
	}
	return (0);
}

/*
 * The channel pattern of a template's keyspace notifications:
 * "__keyspace@<db>__:" and the template with "*" for the key, the
 * template's own glob characters escaped, so that only route keys
 * match.  Returns the length of the prefix before the Redis key (what
 * a notification's channel starts with), or 0 if buf is too small.
 */
size_t
sr_key_template_pattern(const struct sr_key_template *kt, long db,
    char *buf, size_t buflen)
{
	size_t n, prefix;
	int l;

	l = snprintf(buf, buflen, "__keyspace@%ld__:", db);
	if (l < 0 || (size_t)l >= buflen)
		return (0);
	prefix = n = (size_t)l;
	if (sr_glob_cat(buf, buflen, &n, kt->head, kt->head_len) ||
	    n + 1 >= buflen)
		return (0);
	buf[n++] = '*';
	if (sr_glob_cat(buf, buflen, &n, kt->tail, kt->tail_len))
		return (0);
	buf[n] = '\0';
	return (prefix);
}
