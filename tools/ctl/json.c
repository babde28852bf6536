// SPDX-License-Identifier: GPL-2.0
/*
 * eptctl: a small JSON writer. Numbers are written as numbers (unsigned
 * 64-bit values in full: JSON has no limit, though JavaScript's doubles
 * hold only 53 bits exactly), strings escaped as RFC 8259 wants. Compact
 * by default, one document per line; pretty (-p) indents by two spaces.
 * The writer tracks nesting only to place commas and newlines.
 */
#include <stdio.h>
#include <string.h>

#include "eptctl.h"

#define JSON_DEPTH	16

static struct {
	FILE *f;
	bool pretty;
	int depth;
	bool first[JSON_DEPTH];	/* nothing written yet at that depth */
	char closer[JSON_DEPTH];	/* '}' or ']' */
} jw;

void json_set_pretty(bool pretty)
{
	jw.pretty = pretty;
}

static unsigned long documents;

/* Bytes of the UTF-8 sequence at @s, or 0 when it is not valid UTF-8. */
static int utf8_len(const unsigned char *s)
{
	int n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/* @s as a JSON string; bytes that are not UTF-8 (a guest's console) as U+FFFD. */
static void json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	FILE *f = jw.f;
	int n;

	fputc('"', f);
	while (*p) {
		unsigned char c = *p;

		n = utf8_len(p);
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else if (!n)
			fputs("\\ufffd", f);
		else
			fwrite(p, 1, n, f);
		p += n ? n : 1;
	}
	fputc('"', f);
}

/* The comma, newline and indent before a value, and its key. */
static void json_lead(const char *key)
{
	int i;

	if (jw.depth > 0) {
		if (!jw.first[jw.depth])
			fputc(',', jw.f);
		jw.first[jw.depth] = false;
		if (jw.pretty) {
			fputc('\n', jw.f);
			for (i = 0; i < jw.depth; i++)
				fputs("  ", jw.f);
		}
	}
	if (key) {
		json_string(key);
		fputs(jw.pretty ? ": " : ":", jw.f);
	}
}

static void json_open(const char *key, char c)
{
	json_lead(key);
	fputc(c, jw.f);
	if (jw.depth + 1 < JSON_DEPTH)
		jw.depth++;
	jw.first[jw.depth] = true;
	jw.closer[jw.depth] = c == '{' ? '}' : ']';
}

static void json_close(void)
{
	bool empty = jw.first[jw.depth];
	char c = jw.closer[jw.depth];
	int i;

	jw.depth--;
	if (jw.pretty && !empty) {
		fputc('\n', jw.f);
		for (i = 0; i < jw.depth; i++)
			fputs("  ", jw.f);
	}
	fputc(c, jw.f);
}

/* {"schema":N,"command":CMD ... : one document per command, on stdout. */
void json_begin(const char *cmd)
{
	jw.f = stdout;
	jw.depth = 0;
	json_open(NULL, '{');
	json_u64("schema", EPTCTL_JSON_SCHEMA);
	if (cmd)
		json_str("command", cmd);
	else
		json_null("command");
}

void json_end(void)
{
	while (jw.depth > 0)
		json_close();
	fputc('\n', jw.f);
	documents++;
}

void json_obj(const char *key)
{
	json_open(key, '{');
}

void json_obj_end(void)
{
	json_close();
}

void json_arr(const char *key)
{
	json_open(key, '[');
}

void json_arr_end(void)
{
	json_close();
}

void json_u64(const char *key, u64 v)
{
	json_lead(key);
	fprintf(jw.f, "%llu", (unsigned long long)v);
}

void json_int(const char *key, long long v)
{
	json_lead(key);
	fprintf(jw.f, "%lld", v);
}

void json_bool(const char *key, bool v)
{
	json_lead(key);
	fputs(v ? "true" : "false", jw.f);
}

void json_str(const char *key, const char *s)
{
	json_lead(key);
	json_string(s);
}

void json_null(const char *key)
{
	json_lead(key);
	fputs("null", jw.f);
}

/* A string, or null for NULL. */
void json_str_or_null(const char *key, const char *s)
{
	if (s)
		json_str(key, s);
	else
		json_null(key);
}


/* How many documents json_end() has finished so far. */
unsigned long json_documents(void)
{
	return documents;
}

/* Is a document open (begun, not ended)? */
bool json_open_document(void)
{
	return jw.depth > 0;
}

/* Close what is open inside the document, back to its top level. */
void json_unwind(void)
{
	while (jw.depth > 1)
		json_close();
}
