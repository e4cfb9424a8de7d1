/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libFuzzer harness for what sr_key.c parses from outside: request URLs
 * (key extraction, the upstream URL and its LL-HLS directives, the URL
 * type), prefixes and key templates.  Besides the sanitizers' checks it
 * asserts what the VMOD relies on: a key found is a valid key inside the
 * URL, an upstream URL fits its buffer and is its own upstream URL.
 *
 * Input: one byte picks the prefix, the rest is the string (NUL-ended in
 * a buffer of its exact size, so that an over-read is an ASan report).
 */

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../sr_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char * const prefixes[] = {
	"", "/live", "/live/", "/a/b", "/", NULL
};

static void
fuzz_url(const char *url, size_t len, const char *prefix)
{
	char buf[SR_UPSTREAM_MAX], again[SR_UPSTREAM_MAX];
	const char *key, *err;
	size_t klen;

	klen = sr_key_from_url(url, prefix, &key);
	if (klen > 0) {
		assert(key > url && key + klen <= url + len);
		assert(key[-1] == '/');
		assert(sr_key_valid(key, klen));
	} else
		assert(key == NULL);

	err = sr_url_upstream(url, prefix, buf, sizeof buf);
	if (err == NULL) {
		assert(klen > 0);
		assert(strlen(buf) < sizeof buf);
		assert(buf[0] == '/');
		/* what the media server gets is its own upstream URL */
		assert(sr_url_upstream(buf, "", again, sizeof again) == NULL);
		assert(!strcmp(buf, again));
	}
	(void)sr_url_type_name(sr_url_type(url));
	(void)sr_url_blocking(url);
}

static void
fuzz_template(const char *spec, long db)
{
	struct sr_key_template kt;
	char buf[SR_KEY_TEMPLATE_MAX + SR_KEY_MAX], pat[SR_PATTERN_MAX];
	size_t n;

	if (sr_key_template_parse(&kt, spec))
		return;
	n = sr_key_template_expand(&kt, "stream-1", 8, buf, sizeof buf);
	assert(n == strlen(spec) - 5 + 8);
	assert(strlen(buf) == n);
	/* SR_PATTERN_MAX holds the pattern of every template parsed */
	assert(sr_key_template_pattern(&kt, db, pat, sizeof pat) > 0);
	sr_key_template_fini(&kt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *prefix;
	char *s;
	size_t len;

	if (size < 1)
		return (0);
	prefix = prefixes[data[0] % (sizeof prefixes / sizeof *prefixes - 1)];
	len = size - 1;
	s = malloc(len + 1);
	assert(s != NULL);
	memcpy(s, data + 1, len);
	s[len] = '\0';
	/* a string with a NUL in it is a shorter one */
	len = strlen(s);

	fuzz_url(s, len, prefix);
	if (sr_prefix_valid(s))
		fuzz_url("/k/live.m3u8", 12, s);
	fuzz_template(s, data[0] & 0x80 ? LONG_MIN : (long)data[0]);
	free(s);
	return (0);
}
