/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Stream keys travel into Redis commands and backend names, and the rest
 * of the URL travels to a media server: both are held to a small
 * character set so that neither can smuggle anything.
 */

#include <stdlib.h>
#include <string.h>

#include "sr_key.h"

static int
sr_key_char(char c)
{

	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
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
			if (!sr_key_char(*p) && *p != '~')
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
