/* A small JSON writer for log lines and the EMF line: text appended to one
 * growing buffer, the bytes json_dumps(JSON_COMPACT) would write (jansson's
 * escaping: \" \\ \b \f \n \r \t, other control characters as \u00XX in upper
 * case, '/', DEL and UTF-8 as they are). Building a line this way costs a
 * fraction of jansson objects plus json_dumps, which took a third of a warm
 * invocation's instructions.
 *
 *   jw w = {0};
 *   jw_lit(&w, "{\"n\":"); jw_int(&w, 42); jw_lit(&w, "}");
 *   char *line = jw_finish(&w, &len);   // malloc'd, or NULL
 *
 * Errors are sticky: after a failed step (out of memory, a jansson-checked
 * string that is not UTF-8) every call is a no-op and jw_finish returns NULL,
 * as json_dumps returns NULL. */
#ifndef RNS_COMMON_JSONW_H
#define RNS_COMMON_JSONW_H

#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"

typedef struct jw {
    rns_buf buf;
    int failed;
} jw;

void jw_raw(jw *w, const char *s, size_t n); /* bytes as they are (punctuation, plain keys) */
#define jw_lit(w, literal) jw_raw((w), "" literal, sizeof(literal) - 1) /* a string literal, as it is */
void jw_string(jw *w, const char *s, size_t n); /* a string; fails on invalid UTF-8, as json_stringn does */
/* A string of text that may hold anything: its clean form (common/utf8.h), at
 * most max bytes: what json_dumps made of rns_json_text(s, strlen(s), max). */
void jw_text(jw *w, const char *s, size_t max);
void jw_int(jw *w, long long v);
void jw_value(jw *w, const json_t *v); /* as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) */

/* The text, NUL-terminated and owned by the caller (its length in *len if
 * len is not NULL); NULL after a failure. The writer is empty afterwards. */
char *jw_finish(jw *w, size_t *len);

#endif
