/* A small JSON writer for log lines and the EMF line: text appended to one
 * growing buffer, the bytes json_dumps(JSON_COMPACT) would write (jansson's
 * escaping: \" \\ \b \f \n \r \t, other control characters as \u00XX in upper
 * case, '/', DEL and UTF-8 as they are). Building a line this way costs a
 * fraction of jansson objects plus json_dumps, which was a third of a warm
 * invocation's instructions.
 *
 * Errors are sticky: after a failed step (out of memory, a jansson-checked
 * string that is not UTF-8) every call is a no-op and jw_finish returns NULL,
 * as json_dumps returns NULL. */
#ifndef RNS_JSONW_H
#define RNS_JSONW_H

#include <stddef.h>

#include <jansson.h>

typedef struct jw {
    char *data;
    size_t len, cap;
    int failed;
} jw;

void jw_raw(jw *w, const char *s, size_t n);      /* bytes as they are (punctuation, keys known to be plain) */
#define jw_lit(w, literal) jw_raw((w), "" literal, sizeof(literal) - 1) /* a string literal, as it is */
void jw_string(jw *w, const char *s, size_t n);   /* a string; fails on invalid UTF-8, as json_stringn does */
/* A string of text that may hold anything: invalid UTF-8 becomes U+FFFD and
 * the text is cut to at most max bytes at a character boundary (the value of
 * json_stringn of rt_utf8_clean). */
void jw_text(jw *w, const char *s, size_t max);
void jw_int(jw *w, long long v);
int jw_utf8_valid(const char *s, size_t n);       /* 1 when jw_string would take it */
void jw_value(jw *w, const json_t *v);            /* as json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) */

/* The text, NUL-terminated and owned by the caller (its length in *len if
 * len is not NULL); NULL after a failure. The writer is empty afterwards. */
char *jw_finish(jw *w, size_t *len);
void jw_free(jw *w);

#endif
