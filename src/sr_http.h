/*-
 * Copyright (c) 2026 The streamroute authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Header values the origin writes: pure formatting, no Varnish, and no
 * printf (it runs on every fetch).
 */

/* the longest value sr_cache_control() writes, with its NUL */
#define SR_CACHE_CONTROL_MAX	96

size_t sr_cache_control(char *buf, size_t len, double ttl, double grace,
    int stale_while_revalidate);
char *sr_put_uint(char *p, unsigned long v);
