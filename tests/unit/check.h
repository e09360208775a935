/* Minimal unit-test helpers. Each test binary is one translation unit:
 *
 *   static void test_parse(void) { CHECK(parse("x") == 0); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(test_parse); return check_done(); }
 *
 * Output is the line protocol tests/run.py counts:
 *   ok - NAME  |  not ok - NAME: WHY  |  ok - NAME # SKIP WHY */
#ifndef RNS_CHECK_H
#define RNS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_case_failed;  /* failures inside the running case */
static int check_total_failed; /* failed cases in this binary */

#define CHECK(cond) check_at(!!(cond), __FILE__, __LINE__, #cond)

#define CHECK_INT(a, b)                                                                          \
    do {                                                                                         \
        long long a_ = (long long)(a), b_ = (long long)(b);                                      \
        if (a_ != b_)                                                                            \
            fprintf(stderr, "  %s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #a, a_, b_); \
        check_at(a_ == b_, __FILE__, __LINE__, #a " == " #b);                                    \
    } while (0)

#define CHECK_STR(a, b)                                                                                         \
    do {                                                                                                        \
        const char *a_ = (a), *b_ = (b);                                                                        \
        int eq_ = a_ && b_ && strcmp(a_, b_) == 0;                                                              \
        if (!eq_)                                                                                               \
            fprintf(stderr, "  %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", \
                    b_ ? b_ : "(null)");                                                                        \
        check_at(eq_, __FILE__, __LINE__, #a " == " #b);                                                        \
    } while (0)

#define RUN(fn) check_run(fn, #fn)

static inline void check_at(int ok, const char *file, int line, const char *what)
{
    if (!ok) {
        fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
        check_case_failed++;
    }
}

static inline void check_run(void (*fn)(void), const char *name)
{
    /* Called through a volatile pointer, so that no case is inlined into
     * main: with the sanitizers' redzones, every case's fakes in one frame
     * overflowed the stack. */
    void (*volatile call)(void) = fn;
    check_case_failed = 0;
    call();
    if (check_case_failed) {
        printf("not ok - %s: %d check(s) failed\n", name, check_case_failed);
        check_total_failed++;
    } else {
        printf("ok - %s\n", name);
    }
    fflush(stdout);
}

static inline void check_skip(const char *name, const char *why)
{
    printf("ok - %s # SKIP %s\n", name, why);
    fflush(stdout);
}

/* A whole file, NUL-terminated (malloc'd), its length in *len; NULL when it
 * cannot be read. */
static inline char *check_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    *len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

/* One of our fixtures, tests/fixtures/<folder>/<name> under $RNS_ROOT (else
 * the current folder); says so on stderr when it cannot be read. */
static inline char *check_fixture(const char *folder, const char *name, size_t *len)
{
    char path[1024];
    const char *root = getenv("RNS_ROOT");
    char *data;
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/%s", root ? root : ".", folder, name);
    if (!(data = check_read_file(path, len)))
        fprintf(stderr, "  cannot read fixture %s\n", path);
    return data;
}

static inline int check_done(void)
{
    return check_total_failed ? 1 : 0;
}

#endif
