/* common/: the buffer, UTF-8 cleaning, percent-encoding, array growth, the
 * retry policy and the sleep. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/digits.h"
#include "common/grow.h"
#include "common/pct.h"
#include "common/retry.h"
#include "common/utf8.h"
#include "tests/unit/check.h"

/* A string literal cleaned to at most max bytes. */
#define CLEAN(lit, max, len) rns_utf8_clean((lit), sizeof(lit) - 1, (max), (len))

static void test_utf8_clean(void)
{
    size_t len;
    char *s = CLEAN("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80", 100, &len);
    CHECK_STR(s, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
    CHECK_INT(len, 15);
    free(s);
    /* overlong, surrogate, above U+10FFFF, stray continuation: one U+FFFD a
     * byte; a truncated sequence is one maximal subpart: one U+FFFD (as
     * Python's errors="replace") */
    s = CLEAN("a\xC0\xAF"
              "b\xED\xA0\x80"
              "c\xF4\x90\x80\x80"
              "d\x80"
              "e\xE2\x82",
              100, &len);
    CHECK_STR(s, "a\xEF\xBF\xBD\xEF\xBF\xBD"
                 "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                 "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                 "d\xEF\xBF\xBD"
                 "e\xEF\xBF\xBD");
    free(s);
    s = CLEAN("ok\xff\xe1\x88", 100, &len);
    CHECK_STR(s, "ok\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
    /* never half a character */
    s = CLEAN("ab\xE2\x82\xAC", 4, &len);
    CHECK_STR(s, "ab");
    free(s);
    s = rns_utf8_clean(NULL, 0, 10, &len);
    CHECK_STR(s, "");
    CHECK_INT(len, 0);
    free(s);
    s = CLEAN("\xff\xff\xff", 9, &len);
    CHECK_INT(len, 9);
    free(s);
}

static void test_utf8_copy_and_json(void)
{
    char out[6];
    rns_utf8_copy(out, sizeof out,
                  "ab\xE2\x82\xAC"
                  "cd");
    CHECK_STR(out, "ab\xE2\x82\xAC");
    rns_utf8_copy(out, sizeof out, "x\xff");
    CHECK_STR(out, "x\xEF\xBF\xBD");
    rns_utf8_copy(out, sizeof out, NULL);
    CHECK_STR(out, "");
    json_t *j = rns_json_text("a\0b\xfe", 4, 100);
    CHECK(j != NULL);
    CHECK_INT(json_string_length(j), 6);
    CHECK(memcmp(json_string_value(j), "a\0b\xEF\xBF\xBD", 6) == 0);
    json_decref(j);
}

static void test_buf(void)
{
    rns_buf b;
    rns_buf_init(&b, 0);
    CHECK_INT(rns_buf_add(&b, "abc", 3), 0);
    CHECK_INT(rns_buf_add(&b, "", 0), 0);
    CHECK_STR(b.data, "abc");
    char big[10000];
    memset(big, 'z', sizeof big);
    CHECK_INT(rns_buf_add(&b, big, sizeof big), 0);
    CHECK_INT(b.len, 10003);
    CHECK(b.data[b.len] == '\0');
    rns_buf_reset(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.data, "");
    CHECK_INT(rns_buf_addf(&b, "%s=%d", "n", 42), 0);
    CHECK_STR(b.data, "n=42");
    rns_buf_free(&b);
    CHECK(b.data == NULL && b.cap == 0);
}

static void test_buf_limit_and_take(void)
{
    rns_buf b;
    size_t len = 99;
    rns_buf_init(&b, 5);
    CHECK_INT(rns_buf_add(&b, "abcd", 4), RNS_BUF_OK);
    CHECK_INT(rns_buf_add(&b, "ef", 2), RNS_BUF_TOOBIG);
    CHECK_STR(b.data, "abcd"); /* unchanged by the failed add */
    CHECK_INT(rns_buf_add(&b, "e", 1), RNS_BUF_OK);
    char *p = rns_buf_take(&b, &len);
    CHECK_STR(p, "abcde");
    CHECK_INT(len, 5);
    CHECK(b.data == NULL && b.len == 0);
    free(p);
    p = rns_buf_take(&b, &len); /* empty: "" */
    CHECK_STR(p, "");
    CHECK_INT(len, 0);
    free(p);
}

static void test_buf_read(void)
{
    rns_buf b;
    FILE *f = tmpfile();
    CHECK(f != NULL);
    for (int i = 0; i < 20000; i++)
        fputs("0123456789", f);
    rewind(f);
    rns_buf_init(&b, 0);
    CHECK_INT(rns_buf_read(&b, f), RNS_BUF_OK);
    CHECK_INT(b.len, 200000);
    rns_buf_free(&b);
    rewind(f);
    rns_buf_init(&b, 199999);
    CHECK_INT(rns_buf_read(&b, f), RNS_BUF_TOOBIG);
    rns_buf_free(&b);
    rewind(f);
    rns_buf_init(&b, 200000);
    CHECK_INT(rns_buf_read(&b, f), RNS_BUF_OK); /* exactly the limit */
    rns_buf_free(&b);
    fclose(f);
}

static void test_pct(void)
{
    char out[64];
    size_t n = rns_pct_encode(out, "a/b c~é", strlen("a/b c~é"), 0);
    out[n] = '\0';
    CHECK_STR(out, "a%2Fb%20c~%C3%A9");
    n = rns_pct_encode(out, "/a b/", 5, 1);
    out[n] = '\0';
    CHECK_STR(out, "/a%20b/");
    rns_buf b;
    rns_buf_init(&b, 0);
    CHECK_INT(rns_pct_encode_buf(&b, "x=y&z", 5), 0);
    CHECK_STR(b.data, "x%3Dy%26z");
    rns_buf_free(&b);
}

typedef struct ints {
    int *items;
    size_t count;
} ints;

static void test_parse_digits(void)
{
    uint64_t v = 7;
    CHECK_INT(rns_parse_digits("0", 1, 1, &v), 0);
    CHECK_INT(v, 0);
    CHECK_INT(rns_parse_digits("65535x", 5, 5, &v), 0); /* only s[0..n) is read */
    CHECK_INT(v, 65535);
    CHECK_INT(rns_parse_digits("9999999999999999999", 19, 19, &v), 0);
    CHECK(v == 9999999999999999999ULL);
    CHECK_INT(rns_parse_digits("00042", 5, 9, &v), 0);
    CHECK_INT(v, 42);
    v = 7;
    const char *bad[] = {"", "123456", "-1", "+1", " 1", "1 ", "1x", "0x1", "\0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_INT(rns_parse_digits(bad[i], i == 0 ? 0 : (bad[i][0] ? strlen(bad[i]) : 1), 5, &v), -1);
    CHECK_INT(rns_parse_digits("12345678901234567890", 20, 20, &v), -1); /* could overflow */
    CHECK_INT(v, 7);                                                     /* untouched on failure */
}

static void test_parse_decimal(void)
{
    uint64_t v = 7;
    CHECK_INT(rns_parse_decimal("255", 3, 255, &v), 0);
    CHECK_INT(v, 255);
    CHECK_INT(rns_parse_decimal("0000000000000000000000000255", 28, 255, &v), 0); /* zeros are free */
    CHECK_INT(v, 255);
    CHECK_INT(rns_parse_decimal("18446744073709551615", 20, UINT64_MAX, &v), 0);
    CHECK(v == UINT64_MAX);
    CHECK_INT(rns_parse_decimal("0", 1, 0, &v), 0);
    CHECK_INT(v, 0);
    v = 7;
    CHECK_INT(rns_parse_decimal("256", 3, 255, &v), -1);
    CHECK_INT(rns_parse_decimal("1000", 4, 255, &v), -1);
    CHECK_INT(rns_parse_decimal("6", 1, 5, &v), -1); /* one digit above a small max */
    CHECK_INT(rns_parse_decimal("18446744073709551616", 20, UINT64_MAX, &v), -1);
    CHECK_INT(rns_parse_decimal("99999999999999999999", 20, UINT64_MAX, &v), -1);
    CHECK_INT(rns_parse_decimal("", 0, 255, &v), -1);
    CHECK_INT(rns_parse_decimal("1a", 2, 255, &v), -1);
    CHECK_INT(rns_parse_decimal("-1", 2, 255, &v), -1);
    CHECK_INT(v, 7);
}

static void test_hex_digits(void)
{
    CHECK_STR(rns_hex_upper, "0123456789ABCDEF");
    for (int i = 0; i < 16; i++)
        CHECK_INT(rns_hex_value(rns_hex_upper[i]), i);
    CHECK_INT(rns_hex_value('a'), 10);
    CHECK_INT(rns_hex_value('f'), 15);
    const char *bad = "gG/:@`x \0";
    for (size_t i = 0; i <= strlen(bad); i++)
        CHECK_INT(rns_hex_value(bad[i]), -1);
}

static void test_grow_list(void)
{
    ints l = {NULL, 0};
    for (int i = 0; i < 1000; i++) {
        CHECK_INT(RNS_GROW_LIST(&l, 1), 0);
        l.items[l.count++] = i;
    }
    CHECK_INT(RNS_GROW_LIST(&l, 300), 0);
    for (int i = 0; i < 300; i++)
        l.items[l.count++] = 1000 + i;
    int ok = 1;
    for (size_t i = 0; i < l.count; i++)
        ok &= l.items[i] == (int)i;
    CHECK(ok);
    CHECK_INT(rns_grow_list(&l.items, l.count, SIZE_MAX, sizeof *l.items), -1);
    free(l.items);
}

static void test_retry_backoff(void)
{
    /* the AWS policy: full jitter under min(base * 2^(n-1), 20 s) */
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 1, 1, 0.999999), 999);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 6, 1, 0.999999), 19999);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_aws, 2, 0, 0.5), 50);
    /* without jitter: the capped backoff itself */
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_cfn_put, 1, 0, 0.3), 250);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_cfn_put, 3, 0, 0.3), 1000);
    CHECK_INT(rns_retry_backoff_ms(&rns_retry_runtime_api, 4, 0, 0), 400);
}

static void test_retry_next(void)
{
    rns_retry_state s;
    long wait;
    int cost;
    rns_retry_state_init(&s);
    CHECK_INT(s.tokens, RNS_RETRY_QUOTA_MAX);
    rns_retry_failure f = {1, 3, 1, 0, 0};
    CHECK_INT(rns_retry_next(&rns_retry_aws, &s, &f, 1000, 0, &wait, &cost), RNS_RETRY_WAIT);
    CHECK(wait >= 0 && wait < 50);
    CHECK_INT(cost, RNS_RETRY_COST);
    CHECK_INT(s.tokens, RNS_RETRY_QUOTA_MAX - RNS_RETRY_COST);
    rns_retry_refund(&s, cost);
    CHECK_INT(s.tokens, RNS_RETRY_QUOTA_MAX);
    f.timed_out = 1;
    CHECK_INT(rns_retry_next(&rns_retry_aws, &s, &f, 1000, 0, &wait, &cost), RNS_RETRY_WAIT);
    CHECK_INT(cost, RNS_RETRY_TIMEOUT_COST);
    f.attempt = 3; /* the last */
    CHECK_INT(rns_retry_next(&rns_retry_aws, &s, &f, 1000, 0, &wait, &cost), RNS_RETRY_FINAL);
    f.attempt = 1;
    f.retryable = 0;
    CHECK_INT(rns_retry_next(&rns_retry_aws, &s, &f, 1000, 0, &wait, &cost), RNS_RETRY_FINAL);
    f.retryable = 1;
    s.tokens = RNS_RETRY_TIMEOUT_COST - 1;
    CHECK_INT(rns_retry_next(&rns_retry_aws, &s, &f, 1000, 0, &wait, &cost), RNS_RETRY_NO_TOKENS);
    CHECK_INT(s.tokens, RNS_RETRY_TIMEOUT_COST - 1); /* nothing taken */
    /* the deadline: 250 ms from now, and the wait is 250 ms */
    f = (rns_retry_failure){1, 4, 1, 0, 0};
    CHECK_INT(rns_retry_next(&rns_retry_cfn_put, NULL, &f, 1000, 1250, &wait, &cost), RNS_RETRY_PAST_DEADLINE);
    CHECK_INT(rns_retry_next(&rns_retry_cfn_put, NULL, &f, 1000, 1251, &wait, &cost), RNS_RETRY_WAIT);
    CHECK_INT(wait, 250);
    CHECK_INT(cost, 0);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* A signal in the middle of the sleep does not end it: it resumes with the
 * time left (the sleep lasts at least as long as asked). */
static void test_sleep_resumes_after_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: nanosleep returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 20000}}; /* one SIGALRM after 20 ms */
    int64_t start = rns_mono_ms();
    setitimer(ITIMER_REAL, &it, NULL);
    rns_sleep_ms(120);
    CHECK_INT(alarms, 1);
    CHECK(rns_mono_ms() - start >= 120);
    signal(SIGALRM, SIG_DFL);
    rns_sleep_ms(0);
    rns_sleep_ms(-5); /* nothing to do: returns */
    CHECK(rns_wall_ms() > 1700000000000LL);
}

int main(void)
{
    RUN(test_utf8_clean);
    RUN(test_utf8_copy_and_json);
    RUN(test_buf);
    RUN(test_buf_limit_and_take);
    RUN(test_buf_read);
    RUN(test_pct);
    RUN(test_parse_digits);
    RUN(test_parse_decimal);
    RUN(test_hex_digits);
    RUN(test_grow_list);
    RUN(test_retry_backoff);
    RUN(test_retry_next);
    RUN(test_sleep_resumes_after_signal);
    return check_done();
}
