// SPDX-License-Identifier: GPL-2.0
/* Parsing and formatting for 'dmabridge heap': pure functions, host-tested. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "dmabridge.h"
#include "cli.h"

enum parse_result parse_heap_alloc(int argc, char **argv,
				   struct heap_alloc_opts *o,
				   char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{ "name",   required_argument, NULL, 'n' },
		{ "fill",   required_argument, NULL, 'f' },
		{ "verify", no_argument,       NULL, 'V' },
		{ "exec",   required_argument, NULL, 'e' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	/* Options may come before, between or after NAME and SIZE. */
	while ((c = getopt_long(argc, argv, ":n:f:e:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_name_opt(optarg, &o->name, err, errlen))
				return PARSE_ERROR;
			break;
		case 'f':
			if (parse_fill_opt(optarg, &o->fill, &o->fill_set,
					   err, errlen))
				return PARSE_ERROR;
			break;
		case 'V':
			o->verify = 1;
			break;
		case 'e':
			o->exec = optarg;
			break;
		case 'h':
			return PARSE_HELP;
		default:
			return parse_getopt_error(c, argv, err, errlen);
		}
	}
	if (argc - optind < 2) {
		snprintf(err, errlen, argc - optind == 0 ?
			 "which heap? give NAME and SIZE" : "how much? give SIZE");
		return PARSE_ERROR;
	}
	if (argc - optind > 2) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind + 2]);
		return PARSE_ERROR;
	}
	o->heap = argv[optind];
	if (o->heap[0] != '/' &&
	    (!o->heap[0] || strchr(o->heap, '/') || !strcmp(o->heap, ".") ||
	     !strcmp(o->heap, "..") ||
	     strlen(o->heap) >= DMABRIDGE_HEAP_NAME_MAX)) {
		snprintf(err, errlen,
			 "invalid heap '%s' (a name in %s, or a path)",
			 o->heap, DMABRIDGE_HEAP_DIR);
		return PARSE_ERROR;
	}
	if (parse_size_opt(argv[optind + 1], &o->size, err, errlen))
		return PARSE_ERROR;
	return PARSE_OK;
}

enum parse_result parse_heap_list(int argc, char **argv,
				  struct heap_list_opts *o,
				  char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{ "names", no_argument, NULL, 'N' },
		{ "ours",  no_argument, NULL, 'o' },
		{ "help",  no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'N':
			o->names_only = 1;
			break;
		case 'o':
			o->ours_only = 1;
			break;
		case 'h':
			return PARSE_HELP;
		default:
			return parse_getopt_error(c, argv, err, errlen);
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return PARSE_ERROR;
	}
	return PARSE_OK;
}

void format_heap_props(unsigned int props, char *buf, size_t len)
{
	static const struct {
		unsigned int bit;
		const char *text;
	} names[] = {
		{ DMABRIDGE_HEAP_PROP_CACHED, "cached" },
		{ DMABRIDGE_HEAP_PROP_WC, "write-combined" },
		{ DMABRIDGE_HEAP_PROP_CONTIGUOUS, "physically contiguous" },
		{ DMABRIDGE_HEAP_PROP_POOLED, "page pools" },
		{ DMABRIDGE_HEAP_PROP_MEMCG, "charged to the memory cgroup" },
	};
	size_t i, n = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int w;

		if (!(props & names[i].bit))
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
			     names[i].text);
		if (w < 0 || (size_t)w >= len - n)
			return;
		n += (size_t)w;
	}
	if (!n)
		snprintf(buf, len, "unknown");
}
