/* The pieces of SigV4 canonicalisation one by one: Trimall, URI encoding,
 * path normalisation, query canonicalisation, dates, and the raw request
 * parser (including random bytes, for ASan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4/sigv4.h"
#include "sigv4/sigv4_internal.h"
#include "tests/unit/check.h"

typedef char *(*transform)(const char *in, size_t n);

/* Runs f on a heap copy of exactly n bytes (no NUL after it), so that ASan
 * sees any read past the input. */
static char *exact(transform f, const char *in)
{
    size_t n = strlen(in);
    char *copy = calloc(1, n ? n : 1), *out;

    memcpy(copy, in, n);
    out = f(copy, n);
    free(copy);
    return out;
}

static char *run_out(void (*fn)(sv_out *, const char *, size_t), const char *in, size_t n, size_t cap)
{
    sv_out o = {malloc(cap + 1), 0, cap, 0};

    fn(&o, in, n);
    if (o.overflow) {
        free(o.p);
        return NULL;
    }
    o.p[o.len] = '\0';
    return o.p;
}

static char *trimall(const char *in, size_t n)
{
    return run_out(sv_trimall, in, n, n);
}
static char *path(const char *in, size_t n)
{
    return run_out(sv_canonical_path, in, n, 3 * n + 2);
}

static char *query(const char *in, size_t n)
{
    sv_out o = {malloc(4 * n + 1), 0, 4 * n, 0};

    if (sv_canonical_query(&o, in, n) != 0 || o.overflow) {
        free(o.p);
        return NULL;
    }
    o.p[o.len] = '\0';
    return o.p;
}

#define CHECK_MAP(f, in, want)     \
    do {                           \
        char *got_ = exact(f, in); \
        CHECK_STR(got_, want);     \
        free(got_);                \
    } while (0)

/* Every character Python's str.split() splits on, as UTF-8: botocore's
 * header canonicalisation is ' '.join(value.split()). */
static const char *const python_spaces[] = {
    "\t",           "\n",           "\v",           "\f",           "\r",
    "\x1c",         "\x1d",         "\x1e",         "\x1f",         " ",
    "\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81",
    "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86",
    "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8",
    "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
};

static void test_trimall_python_whitespace(void)
{
    char in[64];
    size_t i;

    CHECK_INT(sizeof python_spaces / sizeof *python_spaces, 29);
    for (i = 0; i < sizeof python_spaces / sizeof *python_spaces; i++) {
        snprintf(in, sizeof in, "%sa%s%sb%s", python_spaces[i], python_spaces[i], python_spaces[i], python_spaces[i]);
        CHECK_MAP(trimall, in, "a b");
        CHECK_INT(sv_space_len((const unsigned char *)python_spaces[i], strlen(python_spaces[i])),
                  strlen(python_spaces[i]));
    }
}

static void test_trimall_not_whitespace(void)
{
    /* Look-alikes Python does not split on stay as they are. */
    CHECK_MAP(trimall,
              "a\xe2\x80\x8b"
              "b",
              "a\xe2\x80\x8b"
              "b"); /* U+200B zero width space */
    CHECK_MAP(trimall,
              "a\xef\xbb\xbf"
              "b",
              "a\xef\xbb\xbf"
              "b"); /* U+FEFF */
    CHECK_MAP(trimall,
              "a\xe2\x80\x8c"
              "b",
              "a\xe2\x80\x8c"
              "b");                                                     /* U+200C */
    CHECK_MAP(trimall, "\xc2\xa2\xe1\x88\xb4", "\xc2\xa2\xe1\x88\xb4"); /* a lead byte of a space, not one */
    CHECK_MAP(trimall, "x\xc2", "x\xc2");                               /* truncated UTF-8 at the end */
    CHECK_MAP(trimall, "x\xe2\x80", "x\xe2\x80");
}

static void test_trimall_shapes(void)
{
    CHECK_MAP(trimall, "", "");
    CHECK_MAP(trimall, "   ", "");
    CHECK_MAP(trimall, "value", "value");
    CHECK_MAP(trimall, " value1", "value1");
    CHECK_MAP(trimall, "\"a   b   c\"", "\"a b c\"");
    CHECK_MAP(trimall, "text/plain; charset=utf-8", "text/plain; charset=utf-8");
    CHECK_MAP(trimall, "value1\n  value2\n     value3", "value1 value2 value3"); /* folded lines */
    CHECK_MAP(trimall, "value1\r\n\tvalue2", "value1 value2");
    CHECK_MAP(trimall, "a \t b", "a b");
    CHECK_MAP(trimall, "a ", "a");
}

static void test_uri_encode_every_byte(void)
{
    char in[1], want[4], *got;
    int c;

    for (c = 0; c < 256; c++) {
        sv_out o = {malloc(4), 0, 3, 0};
        int unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '.' || c == '_' || c == '~';

        in[0] = (char)c;
        if (unreserved)
            snprintf(want, sizeof want, "%c", c);
        else
            snprintf(want, sizeof want, "%%%02X", c); /* upper-case hex */
        sv_uri_encode(&o, in, 1, 0);
        o.p[o.len] = '\0';
        got = o.p;
        CHECK_STR(got, want);
        free(got);
    }
}

static void test_uri_encode_slash_and_bounds(void)
{
    char buf[16];
    sv_out o = {buf, 0, 9, 0};

    sv_uri_encode(&o, "/a/", 3, 1);
    CHECK_INT(o.len, 3);
    CHECK(memcmp(buf, "/a/", 3) == 0);
    o.len = 0;
    sv_uri_encode(&o, "/a/", 3, 0);
    CHECK_INT(o.len, 7);
    CHECK(memcmp(buf, "%2Fa%2F", 7) == 0);
    /* The encoder reserves 3 bytes per byte (the sizes are planned so):
     * with less room it refuses, writing nothing. */
    o.len = 0;
    o.cap = 8;
    sv_uri_encode(&o, "aaa", 3, 0);
    CHECK(o.overflow);
    CHECK_INT(o.len, 0);
}

static void test_path_dot_segments(void)
{
    /* RFC 3986 5.2.4 with empty segments dropped, as for every service but S3. */
    CHECK_MAP(path, "", "/");
    CHECK_MAP(path, "/", "/");
    CHECK_MAP(path, "//", "/");
    CHECK_MAP(path, "/./", "/");
    CHECK_MAP(path, "/..", "/");
    CHECK_MAP(path, "/../../a", "/a");
    CHECK_MAP(path, "/example/..", "/");
    CHECK_MAP(path, "/example/../", "/");
    CHECK_MAP(path, "/a/./b/../c", "/a/c");
    CHECK_MAP(path, "/a/b/../../c/", "/c/");
    CHECK_MAP(path, "//example//", "/example/");
    CHECK_MAP(path, "/a//b//", "/a/b/");
    CHECK_MAP(path, "/a/.", "/a"); /* botocore keeps no slash after a final "." */
    CHECK_MAP(path, "/./example", "/example");
    CHECK_MAP(path, "/...", "/...");
    CHECK_MAP(path, "/.a/a./..b", "/.a/a./..b");
}

static void test_path_encoding(void)
{
    CHECK_MAP(path, "/example space/", "/example%20space/");
    CHECK_MAP(path, "/example/$delete", "/example/%24delete");
    CHECK_MAP(path, "/\xe1\x88\xb4", "/%E1%88%B4");
    CHECK_MAP(path, "/-._~0123456789ABCXYZabcxyz", "/-._~0123456789ABCXYZabcxyz");
    /* The target is already URI-encoded once; non-S3 SigV4 encodes it again. */
    CHECK_MAP(path, "/a%2Fb/%41", "/a%252Fb/%2541");
    CHECK_MAP(path, "/%2E%2E/x", "/%252E%252E/x"); /* an encoded dot segment is no dot segment */
    CHECK_MAP(path, "/!*'();:@&=+$,[]", "/%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%5B%5D");
}

static void test_query_sorting(void)
{
    CHECK_MAP(query, "", "");
    CHECK_MAP(query, "Param1=value1", "Param1=value1");
    CHECK_MAP(query, "Param2=value2&Param1=value1", "Param1=value1&Param2=value2");
    CHECK_MAP(query, "Param1=value2&Param1=Value1", "Param1=Value1&Param1=value2"); /* byte order */
    CHECK_MAP(query, "Param1=value2&Param1=value1", "Param1=value1&Param1=value2");
    CHECK_MAP(query, "b=1&a=2&a=1&A=3", "A=3&a=1&a=2&b=1");
    /* By key, then by value: not by the whole "key=value" string ('-' < '='). */
    CHECK_MAP(query, "a-b=1&a=2", "a=2&a-b=1");
    CHECK_MAP(query, "a=z&a-b=1&a=", "a=&a=z&a-b=1");
    CHECK_MAP(query, "Param-3=Value3&Param=Value2&%E1%88%B4=Value1", "%E1%88%B4=Value1&Param=Value2&Param-3=Value3");
}

static void test_query_values(void)
{
    CHECK_MAP(query, "a", "a=");  /* a key without '=' */
    CHECK_MAP(query, "a=", "a="); /* an empty value */
    CHECK_MAP(query, "a=1&a", "a=&a=1");
    CHECK_MAP(query, "=1", "=1"); /* an empty key */
    CHECK_MAP(query, "&", "=&="); /* empty pairs, as botocore keeps them */
    CHECK_MAP(query, "a=1&&b=2", "=&a=1&b=2");
    CHECK_MAP(query, "a=b=c", "a=b%3Dc"); /* split at the first '=' */
}

static void test_query_encoding(void)
{
    /* Decoded, then encoded per RFC 3986: every spelling of a byte gives one form. */
    CHECK_MAP(query, "%e1%88%b4=1", "%E1%88%B4=1");
    CHECK_MAP(query, "\xe1\x88\xb4=1", "%E1%88%B4=1");
    CHECK_MAP(query, "%41%7e%2d=%7E", "A~-=~");
    CHECK_MAP(query, "a+b=c d", "a%2Bb=c%20d"); /* '+' is a plus, not a space */
    CHECK_MAP(query, "k=%2B%20%26%3D", "k=%2B%20%26%3D");
    CHECK_MAP(query, "p=/?:@!$'()*,;", "p=%2F%3F%3A%40%21%24%27%28%29%2A%2C%3B");
    /* A '%' that starts no escape is a literal '%'. */
    CHECK_MAP(query, "%zz=%", "%25zz=%25");
    CHECK_MAP(query, "a=%4", "a=%254");
    CHECK_MAP(query, "%4", "%254=");
    CHECK_MAP(query, "a=%", "a=%25");
    CHECK_MAP(query, "%%41=1", "%25A=1");
    CHECK_MAP(query, "%00=1", "%00=1");
}

static void test_dates(void)
{
    char out[17];

    CHECK(sv_valid_date("20150830T123600Z", 16));
    CHECK(sv_valid_date("20160229T000000Z", 16));  /* leap year */
    CHECK(sv_valid_date("20000229T235959Z", 16));  /* 400-year leap */
    CHECK(!sv_valid_date("21000229T000000Z", 16)); /* 100-year non-leap */
    CHECK(!sv_valid_date("20150229T000000Z", 16));
    CHECK(!sv_valid_date("20150431T000000Z", 16));
    CHECK(!sv_valid_date("20151301T000000Z", 16));
    CHECK(!sv_valid_date("20150001T000000Z", 16));
    CHECK(!sv_valid_date("20150100T000000Z", 16));
    CHECK(!sv_valid_date("20150830T240000Z", 16));
    CHECK(!sv_valid_date("20150830T236000Z", 16));
    CHECK(!sv_valid_date("20150830t123600z", 16));
    CHECK(!sv_valid_date("20150830 123600Z", 16));
    CHECK(!sv_valid_date("2015-08-30T12:36", 16));
    CHECK(!sv_valid_date("20150830T123600Z", 15));
    CHECK(!sv_valid_date("20150830T123600ZZ", 17));
    CHECK(!sv_valid_date("+0150830T123600Z", 16));
    /* Each field is exactly its digits, inside the longer string. */
    CHECK(sv_valid_date("00010101T000000Z", 16));
    CHECK(sv_valid_date("99991231T235960Z", 16)); /* a leap second */
    CHECK(!sv_valid_date("2015083xT123600Z", 16));
    CHECK(!sv_valid_date("20150830T12360 Z", 16));
    CHECK(!sv_valid_date("2015 830T123600Z", 16));
    sigv4_format_date(0, out);
    CHECK_STR(out, "19700101T000000Z");
    sigv4_format_date(1440938160, out);
    CHECK_STR(out, "20150830T123600Z");
    sigv4_format_date(951868799, out); /* 2000-02-29 23:59:59 */
    CHECK_STR(out, "20000229T235959Z");
}

static int parse(const char *text, sigv4_raw_request *req, char *err, size_t errlen)
{
    return sigv4_parse_raw_request(text, strlen(text), req, err, errlen);
}

static void test_raw_lf_and_crlf(void)
{
    const char *forms[] = {"POST /a?b=c HTTP/1.1\nHost:example.com\nMy-Header:  v1  \n\nbody\n\nmore",
                           "POST /a?b=c HTTP/1.1\r\nHost:example.com\r\nMy-Header:  v1  \r\n\r\nbody\n\nmore"};
    sigv4_raw_request req;
    char err[128];
    size_t i;

    for (i = 0; i < 2; i++) {
        CHECK_INT(parse(forms[i], &req, err, sizeof err), 0);
        CHECK_STR(req.method, "POST");
        CHECK_STR(req.target, "/a?b=c");
        CHECK_INT(req.header_count, 2);
        CHECK_STR(req.headers[0].name, "Host");
        CHECK_STR(req.headers[0].value, "example.com");
        CHECK_STR(req.headers[1].name, "My-Header");
        CHECK_STR(req.headers[1].value, "v1"); /* optional whitespace around a value dropped */
        CHECK_INT(req.body_len, 10);
        CHECK(memcmp(req.body, "body\n\nmore", 10) == 0);
        sigv4_raw_request_free(&req);
    }
}

static void test_raw_shapes(void)
{
    sigv4_raw_request req;
    char err[128];

    CHECK_INT(parse("GET /example space/ HTTP/1.1\nHost:h", &req, err, sizeof err), 0);
    CHECK_STR(req.target, "/example space/"); /* split at the first and the last space */
    CHECK_INT(req.body_len, 0);
    sigv4_raw_request_free(&req);

    CHECK_INT(parse("GET / HTTP/1.1\nMy-Header1:value1\n  value2\n     value3\nX:y", &req, err, sizeof err), 0);
    CHECK_INT(req.header_count, 2);
    CHECK_STR(req.headers[0].value, "value1\n  value2\n     value3"); /* folded lines kept */
    CHECK_STR(req.headers[1].value, "y");
    sigv4_raw_request_free(&req);

    CHECK_INT(parse("GET / HTTP/1.1", &req, err, sizeof err), 0);
    CHECK_INT(req.header_count, 0);
    sigv4_raw_request_free(&req);

    CHECK_INT(sigv4_parse_raw_request("GET / HTTP/1.1\n\n\0\xff", 18, &req, err, sizeof err), 0);
    CHECK_INT(req.body_len, 2); /* the body is bytes, NUL included */
    CHECK(req.body[0] == '\0' && (unsigned char)req.body[1] == 0xff);
    sigv4_raw_request_free(&req);

    CHECK_INT(parse("GET / HTTP/1.1\nEmpty:\nX: a b \t\n", &req, err, sizeof err), 0);
    CHECK_STR(req.headers[0].value, "");
    CHECK_STR(req.headers[1].value, "a b");
    sigv4_raw_request_free(&req);
}

static void expect_error(const char *text, size_t len, const char *want)
{
    sigv4_raw_request req;
    char err[128] = "";

    CHECK_INT(sigv4_parse_raw_request(text, len, &req, err, sizeof err), -1);
    if (!strstr(err, want))
        fprintf(stderr, "  error \"%s\" does not say \"%s\"\n", err, want);
    CHECK(strstr(err, want) != NULL);
    CHECK(req.storage == NULL && req.headers == NULL); /* nothing to free */
}

static void test_raw_errors(void)
{
    expect_error("", 0, "empty request");
    expect_error("\nGET / HTTP/1.1\n", 16, "no request line");
    expect_error("Host: example.com\n\n", 19, "request line");
    expect_error("GET /\nHost:h\n", 13, "request line");
    expect_error("GET / HTTP/1.1 \n", 16, "HTTP/1.1");
    expect_error("GET / FTP/1.1\n", 14, "HTTP/1.1");
    expect_error("G(T / HTTP/1.1\n", 15, "method");
    expect_error(" / HTTP/1.1\n", 12, "method");
    expect_error("GET  HTTP/1.1\n", 14, "target is empty");
    expect_error("GET / HTTP/1.1\nHost example.com\n", 32, "line 2: header line has no ':'");
    expect_error("GET / HTTP/1.1\nHost:h\nBad Name:x\n", 33, "line 3: header name");
    expect_error("GET / HTTP/1.1\n:x\n", 18, "line 2: header name is empty");
    expect_error("GET / HTTP/1.1\n  folded\n", 24, "continuation line before any header");
    expect_error("GET / HTTP/1.1\nA:\0b\n", 20, "line 2 contains a NUL");
    expect_error("GET /\0 HTTP/1.1\n", 16, "line 1 contains a NUL");
}

static unsigned long next(unsigned long *x)
{
    *x = *x * 6364136223846793005UL + 1442695040888963407UL;
    return *x >> 33;
}

/* Valid requests with a few random bytes replaced, inserted or dropped, so
 * parsing and signing get deep; ASan and UBSan watch. Neither may crash. */
static size_t mutated(unsigned long *x, char *buf, size_t cap)
{
    static const char *const bases[] = {
        "GET /a/./b/../c?x=%41&y&z= HTTP/1.1\nHost: h\nX-Amz-Date: 20150830T123600Z\n\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: a  b\r\nFold: 1\r\n  2\r\n\r\nbody",
        "GET /%e1%88%b4//x/ HTTP/1.1\nhost:h\nX-Amz-Security-Token: t\nA:1\na:2\n",
    };
    static const char bytes[] = "/?&=%#: \t\r\n\0aZ.\xe2\x80\xc2\xa0";
    const char *base = bases[next(x) % 3];
    size_t n = strlen(base), edits = next(x) % 5, i;

    memcpy(buf, base, n);
    for (i = 0; i < edits && n > 1 && n < cap; i++) {
        size_t at = next(x) % n;
        char c = bytes[next(x) % (sizeof bytes - 1)];

        switch (next(x) % 3) {
        case 0: buf[at] = c; break;
        case 1:
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = c;
            n++;
            break;
        default:
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
            break;
        }
    }
    return n;
}

static void test_raw_random_bytes(void)
{
    const sigv4_credentials creds = {"AKID", "secret", "token"};
    const sigv4_params params = {"r", "s", "20150830T123600Z"};
    sigv4_signer *signer = sigv4_signer_new();
    unsigned long x = 12345;
    static const char prefix[] = "AWS4-HMAC-SHA256 Credential=AKID/20150830/r/s/aws4_request, ";
    int parsed = 0, signed_ = 0, failed = 0, bad_prefix = 0, i;

    for (i = 0; i < 20000; i++) {
        char buf[256], err[128];
        size_t n = mutated(&x, buf, sizeof buf);
        sigv4_raw_request req;
        sigv4_signature sig;

        if (sigv4_parse_raw_request(buf, n, &req, err, sizeof err) != 0) {
            failed += err[0] != '\0';
            continue;
        }
        sigv4_request r = {req.method, req.target, req.headers, req.header_count, req.body, req.body_len};
        parsed++;
        if (sigv4_sign(signer, &r, &creds, &params, &sig, err, sizeof err) == 0) {
            signed_++;
            bad_prefix += strncmp(sig.authorization, prefix, strlen(prefix)) != 0;
            sigv4_signature_free(&sig);
        } else {
            CHECK(err[0] != '\0');
        }
        sigv4_raw_request_free(&req);
    }
    CHECK(parsed > 2000);
    CHECK(signed_ > 1000);
    CHECK(failed > 1000);
    CHECK_INT(bad_prefix, 0);
    sigv4_signer_free(signer);
}

int main(void)
{
    RUN(test_trimall_python_whitespace);
    RUN(test_trimall_not_whitespace);
    RUN(test_trimall_shapes);
    RUN(test_uri_encode_every_byte);
    RUN(test_uri_encode_slash_and_bounds);
    RUN(test_path_dot_segments);
    RUN(test_path_encoding);
    RUN(test_query_sorting);
    RUN(test_query_values);
    RUN(test_query_encoding);
    RUN(test_dates);
    RUN(test_raw_lf_and_crlf);
    RUN(test_raw_shapes);
    RUN(test_raw_errors);
    RUN(test_raw_random_bytes);
    return check_done();
}
