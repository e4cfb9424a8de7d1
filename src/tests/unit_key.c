/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 */

#include <limits.h>
#include <string.h>

#include "../sr_key.h"
#include "unit.h"

static int
key_is(const char *url, const char *prefix, const char *want)
{
	const char *k;
	size_t len;

	len = sr_key_from_url(url, prefix, &k);
	if (want == NULL)
		return (len == 0 && k == NULL);
	return (len == strlen(want) && !strncmp(k, want, len));
}

/* want: the upstream URL, or "!<reason>" for a refusal */
static int
up_is(const char *url, const char *prefix, const char *want)
{
	char buf[SR_UPSTREAM_MAX];
	const char *err;

	err = sr_url_upstream(url, prefix, buf, sizeof buf);
	if (*want == '!')
		return (err != NULL && !strcmp(err, want + 1));
	if (err != NULL || strcmp(buf, want)) {
		fprintf(stderr, "%s -> %s\n", url, err != NULL ? err : buf);
		return (0);
	}
	return (1);
}

int
main(void)
{
	char buf[600], url[1100];
	struct sr_key_template kt;

	/* keys */
	CHECK(sr_key_valid("abc", 3));
	CHECK(sr_key_valid("A-b_c.9", 7));
	CHECK(!sr_key_valid("", 0));
	CHECK(!sr_key_valid(".", 1));
	CHECK(!sr_key_valid("..", 2));
	CHECK(sr_key_valid("...", 3));
	CHECK(!sr_key_valid("a b", 3));
	CHECK(!sr_key_valid("a/b", 3));
	CHECK(!sr_key_valid("a%20", 4));
	CHECK(!sr_key_valid("a\r\nSET x y", 10));
	memset(buf, 'k', sizeof buf);
	CHECK(sr_key_valid(buf, SR_KEY_MAX));
	CHECK(!sr_key_valid(buf, SR_KEY_MAX + 1));
	CHECK(!sr_key_valid(NULL, 0));

	/* URLs */
	CHECK(key_is("/abc/live.m3u8", "", "abc"));
	CHECK(key_is("/abc/720p/index.m3u8", "", "abc"));
	CHECK(key_is("/abc/720p/20200612-1.ts?t=123", "", "abc"));
	CHECK(key_is("/abc/index.m3u8?_HLS_msn=5&_HLS_part=1", NULL, "abc"));
	CHECK(key_is("/live/abc/live.m3u8", "/live", "abc"));
	CHECK(key_is("/live/abc/live.m3u8", "/live/", "abc"));
	CHECK(key_is("/live/abc/live.m3u8", "", "live"));
	CHECK(key_is("/abc/live.m3u8", "/live", NULL));
	CHECK(key_is("/livex/abc/live.m3u8", "/live", NULL));
	CHECK(key_is("/live", "/live", NULL));
	CHECK(key_is("/live/", "/live", NULL));
	CHECK(key_is("/abc", "", NULL));
	CHECK(key_is("/abc/", "", NULL));
	CHECK(key_is("/abc/?x", "", NULL));
	CHECK(key_is("//live.m3u8", "", NULL));
	CHECK(key_is("/abc//live.m3u8", "", NULL));
	CHECK(key_is("/abc/../etc/passwd", "", NULL));
	CHECK(key_is("/abc/./live.m3u8", "", NULL));
	CHECK(key_is("/abc/x/..", "", NULL));
	CHECK(key_is("/../abc/live.m3u8", "", NULL));
	CHECK(key_is("/a%2e%2e/live.m3u8", "", NULL));
	CHECK(key_is("/abc/live%2em3u8", "", NULL));
	CHECK(key_is("/ab c/live.m3u8", "", NULL));
	CHECK(key_is("/abc/live.m3u8\r\n", "", NULL));
	CHECK(key_is("abc/live.m3u8", "", NULL));
	CHECK(key_is("", "", NULL));
	CHECK(key_is(NULL, "", NULL));
	CHECK(key_is("http://example.com/abc/live.m3u8", "", NULL));
	CHECK(key_is("/abc/~seg-1.ts", "", "abc"));

	memset(url, 0, sizeof url);
	url[0] = '/';
	memset(url + 1, 'k', SR_KEY_MAX);
	strcpy(url + 1 + SR_KEY_MAX, "/live.m3u8");
	CHECK(sr_key_from_url(url, "", &(const char *){NULL}) == SR_KEY_MAX);
	memset(url + 1, 'k', SR_KEY_MAX + 1);
	strcpy(url + 2 + SR_KEY_MAX, "/live.m3u8");
	CHECK(key_is(url, "", NULL));

	/* the path, not the query, is bounded */
	memset(url, 'x', sizeof url - 1);
	url[sizeof url - 1] = '\0';
	memcpy(url, "/abc/", 5);
	url[SR_PATH_MAX] = '\0';
	CHECK(key_is(url, "", "abc"));
	url[SR_PATH_MAX] = 'x';
	url[SR_PATH_MAX + 1] = '\0';
	CHECK(key_is(url, "", NULL));
	url[SR_PATH_MAX] = '?';
	CHECK(key_is(url, "", "abc"));

	/* upstream URLs: the prefix goes, at any depth */
	CHECK(up_is("/abc/live.m3u8", "", "/abc/live.m3u8"));
	CHECK(up_is("/live/abc/live.m3u8", "/live", "/abc/live.m3u8"));
	CHECK(up_is("/a/b/c/d/abc/720p/1.ts", "/a/b/c/d", "/abc/720p/1.ts"));
	CHECK(up_is("/a/b/c/d/abc/720p/1.ts", "/a/b/c/d/", "/abc/720p/1.ts"));
	CHECK(up_is("/a/b/c/abc/720p/1.ts", "/a/b/c/d", "!Bad stream path"));
	CHECK(up_is("/abc/../x.ts", "", "!Bad stream path"));
	CHECK(up_is("/abc", "", "!Bad stream path"));
	/* other query parameters, and directives off playlists, dropped */
	CHECK(up_is("/abc/720p/1.ts?t=1&_HLS_msn=5", "", "/abc/720p/1.ts"));
	CHECK(up_is("/abc/720p/1.ts?_HLS_msn=x", "", "/abc/720p/1.ts"));
	CHECK(up_is("/abc/720p/index.m3u8?t=1", "", "/abc/720p/index.m3u8"));
	CHECK(up_is("/abc/720p/index.m3u8?", "", "/abc/720p/index.m3u8"));
	/* the directives in one order, numbers without leading zeros */
	CHECK(up_is("/abc/i.m3u8?_HLS_skip=YES&_HLS_part=02&t=9&_HLS_msn=007",
	    "", "/abc/i.m3u8?_HLS_msn=7&_HLS_part=2&_HLS_skip=YES"));
	CHECK(up_is("/abc/i.M3U8?_HLS_msn=00", "", "/abc/i.M3U8?_HLS_msn=0"));
	CHECK(up_is("/abc/i.m3u8?_HLS_skip=v2", "", "/abc/i.m3u8?_HLS_skip=v2"));
	CHECK(up_is("/abc/i.m3u8?_HLS_msn=1&_HLS_msn=2", "",
	    "/abc/i.m3u8?_HLS_msn=2"));
	CHECK(up_is("/abc/i.m3u8?_HLS_msn=0001234567890", "",
	    "/abc/i.m3u8?_HLS_msn=1234567890"));
	CHECK(up_is("/abc/i.m3u8?x_HLS_msn=5", "", "/abc/i.m3u8"));
	CHECK(up_is("/abc/i.m3u8?_HLS_msn=5#_HLS_part=1", "",
	    "/abc/i.m3u8?_HLS_msn=5"));
	/* what the LL-HLS spec does not allow: 400 */
	CHECK(up_is("/abc/i.m3u8?_HLS_msn=12345678901", "",
	    "!Bad LL-HLS directive"));
	CHECK(up_is("/abc/i.m3u8?_HLS_msn=", "", "!Bad LL-HLS directive"));
	CHECK(up_is("/abc/i.m3u8?_HLS_msn=-1", "", "!Bad LL-HLS directive"));
	CHECK(up_is("/abc/i.m3u8?_HLS_part=1", "", "!Bad LL-HLS directive"));
	CHECK(up_is("/abc/i.m3u8?_HLS_msn=1&_HLS_part=x", "",
	    "!Bad LL-HLS directive"));
	CHECK(up_is("/abc/i.m3u8?_HLS_skip=yes", "", "!Bad LL-HLS directive"));
	CHECK(up_is("/abc/i.m3u8?_HLS_skip=YESS", "", "!Bad LL-HLS directive"));
	/* the whole URL is bounded, its query too */
	memset(url, 'x', sizeof url - 1);
	url[sizeof url - 1] = '\0';
	memcpy(url, "/abc/1.ts?", 10);
	CHECK(up_is(url, "", "/abc/1.ts"));
	{
		char big[SR_URL_MAX + 2];

		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		memcpy(big, "/abc/1.ts?", 10);
		CHECK(up_is(big, "", "!URL too long"));
		big[sizeof big - 2] = '\0';
		CHECK(up_is(big, "", "/abc/1.ts"));
	}

	/* prefixes */
	CHECK(sr_prefix_valid(""));
	CHECK(sr_prefix_valid(NULL));
	CHECK(sr_prefix_valid("/live"));
	CHECK(sr_prefix_valid("/live/"));
	CHECK(sr_prefix_valid("/a/b/c/d/e"));
	CHECK(!sr_prefix_valid("/"));
	CHECK(!sr_prefix_valid("live"));
	CHECK(!sr_prefix_valid("/a//b"));
	CHECK(!sr_prefix_valid("/a/../b"));
	CHECK(!sr_prefix_valid("/a b"));
	CHECK(!sr_prefix_valid("/a\"x"));

	/* types and blocking reloads */
	CHECK(sr_url_type("/abc/live.m3u8") == SR_TYPE_MASTER);
	CHECK(sr_url_type("/abc/LIVE.M3U8?_HLS_msn=1") == SR_TYPE_MASTER);
	CHECK(sr_url_type("/abc/720p/index.m3u8") == SR_TYPE_PLAYLIST);
	CHECK(sr_url_type("/abc/xlive.m3u8") == SR_TYPE_PLAYLIST);
	CHECK(sr_url_type("/abc/m.mpd") == SR_TYPE_PLAYLIST);
	CHECK(sr_url_type("/abc/720p/1.ts") == SR_TYPE_SEGMENT);
	CHECK(sr_url_type("/abc/1.m4s") == SR_TYPE_SEGMENT);
	CHECK(sr_url_type("/abc/1.MP4") == SR_TYPE_SEGMENT);
	CHECK(sr_url_type("/abc/1.aac") == SR_TYPE_SEGMENT);
	CHECK(sr_url_type("/abc/1.vtt") == SR_TYPE_SEGMENT);
	CHECK(sr_url_type("/abc/1.ts.txt") == SR_TYPE_OTHER);
	CHECK(sr_url_type("/abc/ts") == SR_TYPE_OTHER);
	CHECK(sr_url_type("/live.m3u8") == SR_TYPE_MASTER);
	CHECK(sr_url_type("live.m3u8") == SR_TYPE_PLAYLIST);
	CHECK(sr_url_type("/abc/x.live.m3u8") == SR_TYPE_PLAYLIST);
	CHECK(sr_url_type("/abc/.ts") == SR_TYPE_SEGMENT);
	CHECK(sr_url_type("/abc.ts/x") == SR_TYPE_OTHER);
	CHECK(sr_url_type("/abc/1.TS?x=.m3u8") == SR_TYPE_SEGMENT);
	CHECK(sr_url_type("/abc/1.m3u") == SR_TYPE_OTHER);
	CHECK(sr_url_type("/abc/1.ts5") == SR_TYPE_OTHER);
	CHECK(sr_url_type("") == SR_TYPE_OTHER);
	CHECK(sr_url_type(".ts") == SR_TYPE_SEGMENT);
	CHECK(sr_url_type(NULL) == SR_TYPE_OTHER);
	CHECK(!strcmp(sr_url_type_name(SR_TYPE_SEGMENT), "segment"));
	CHECK(!strcmp(sr_url_type_name(SR_TYPE_OTHER), "other"));
	CHECK(sr_url_blocking("/abc/i.m3u8?_HLS_msn=5"));
	CHECK(sr_url_blocking("/abc/i.m3u8?_HLS_skip=YES&_HLS_msn=5"));
	CHECK(!sr_url_blocking("/abc/i.m3u8?_HLS_skip=YES"));
	CHECK(!sr_url_blocking("/abc/i.m3u8"));
	CHECK(!sr_url_blocking(NULL));

	/* key templates */
	CHECK(sr_key_template_parse(&kt, "{key}") == 0);
	CHECK(sr_key_template_expand(&kt, "abc", 3, buf, sizeof buf) == 3);
	CHECK(!strcmp(buf, "abc"));
	sr_key_template_fini(&kt);
	CHECK(sr_key_template_parse(&kt, "route:{key}:v1") == 0);
	CHECK(sr_key_template_expand(&kt, "abc", 3, buf, sizeof buf) == 12);
	CHECK(!strcmp(buf, "route:abc:v1"));
	CHECK(sr_key_template_expand(&kt, "abc", 3, buf, 12) == 0);
	CHECK(sr_key_template_expand(&kt, "abc", 3, buf, 13) == 12);
	/* the keyspace pattern of the push: only route keys match */
	CHECK(sr_key_template_pattern(&kt, 0, buf, sizeof buf) == 15);
	CHECK(!strcmp(buf, "__keyspace@0__:route:*:v1"));
	CHECK(sr_key_template_pattern(&kt, 0, buf, 20) == 0);
	CHECK(sr_key_template_pattern(&kt, 0, buf, 26) == 15);
	CHECK(sr_key_template_pattern(&kt, 0, buf, 25) == 0);
	sr_key_template_fini(&kt);
	CHECK(sr_key_template_parse(&kt, "{key}") == 0);
	CHECK(sr_key_template_pattern(&kt, 12, buf, sizeof buf) == 16);
	CHECK(!strcmp(buf, "__keyspace@12__:*"));
	sr_key_template_fini(&kt);
	CHECK(sr_key_template_parse(&kt, "r[1]*?\\{key}") == 0);
	CHECK(sr_key_template_pattern(&kt, 0, buf, sizeof buf) == 15);
	CHECK(!strcmp(buf, "__keyspace@0__:r\\[1\\]\\*\\?\\\\*"));
	sr_key_template_fini(&kt);
	/* the worst template and database fit SR_PATTERN_MAX */
	{
		char tpl[SR_KEY_TEMPLATE_MAX], pat[SR_PATTERN_MAX];

		memset(tpl, '*', sizeof tpl);
		memcpy(tpl + sizeof tpl - 6, "{key}", 6);
		CHECK(sr_key_template_parse(&kt, tpl) == 0);
		CHECK(sr_key_template_pattern(&kt, LONG_MIN, pat,
		    sizeof pat) == 34);
		CHECK(sr_key_template_pattern(&kt, LONG_MAX, pat,
		    sizeof pat) == 33);
		sr_key_template_fini(&kt);
	}
	CHECK(sr_key_template_parse(&kt, "route:") == -1);
	CHECK(sr_key_template_parse(&kt, "{key}{key}") == -1);
	CHECK(sr_key_template_parse(&kt, NULL) == -1);
	memset(url, 'p', sizeof url);
	memcpy(url + SR_KEY_TEMPLATE_MAX - 6, "{key}", 6);
	CHECK(sr_key_template_parse(&kt, url) == 0);
	sr_key_template_fini(&kt);
	memcpy(url + SR_KEY_TEMPLATE_MAX - 5, "{key}", 6);
	CHECK(sr_key_template_parse(&kt, url) == -1);

	return (unit_report("unit_key"));
}
