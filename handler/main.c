/* ./bootstrap: the Lambda entry point (README.md, "Result": its last lines).
 *
 *   bootstrap                      the Runtime API loop (AWS_LAMBDA_RUNTIME_API set)
 *   bootstrap --invoke FILE|-      one invocation outside Lambda; the result or
 *                                  error JSON on stdout, logs on stderr;
 *                                  exit 0 / 1 (handler error) / 2 (usage, config)
 *   bootstrap --version | --help
 *
 * --invoke takes an optional --timeout SECONDS (default 900, Lambda's
 * longest): the invocation's deadline, from which the failover wait and the
 * API calls are bounded as in Lambda. Logs always go to stderr. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <expat.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "handler/sync/config.h"
#include "handler/sync/handler.h"
#include "handler/sync/result.h"
#include "runtime/runtime.h"

#define EXIT_HANDLER_ERROR 1
#define EXIT_USAGE 2
#define DEFAULT_TIMEOUT_S 900
#define MAX_EVENT_BYTES (16u << 20)

static const char usage_text[] =
    "usage: bootstrap                     run the Lambda Runtime API loop (needs AWS_LAMBDA_RUNTIME_API)\n"
    "       bootstrap --invoke FILE|- [--timeout SECONDS]\n"
    "                                     handle one event outside Lambda (default timeout 900 s)\n"
    "       bootstrap --version | --help\n";

static const char help_about[] = "\n"
                                 "Keeps an NLB IP target group on the current address of an RDS/Aurora endpoint.\n"
                                 "\n";

/* What is linked in, as the libraries themselves report it at run time, so a
 * security team can tell what a deployed function contains. The packaged
 * build adds the Debian source versions it was built from (RNS_BUILT_FROM,
 * set by scripts/package.sh). */
static void print_version(FILE *out)
{
    fprintf(out, "rds-nlb-sync %s\n", RNS_VERSION);
    fprintf(out, "libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
    fprintf(out, "OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
    fprintf(out, "jansson %s\n", jansson_version_str());
    XML_Expat_Version expat = XML_ExpatVersionInfo();
    fprintf(out, "expat %d.%d.%d\n", expat.major, expat.minor, expat.micro);
#ifdef RNS_BUILT_FROM
    fprintf(out, "built from Debian sources: %s\n", RNS_BUILT_FROM);
#endif
}

static int usage(FILE *out, int status)
{
    fputs(usage_text, out);
    return status;
}

/* Reads the whole file (or stdin for "-"); NULL with errno set on failure. */
static char *read_event(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    rns_buf b;
    int rc, e;
    if (!f)
        return NULL;
    rns_buf_init(&b, MAX_EVENT_BYTES - 1);
    rc = rns_buf_read(&b, f);
    e = errno;
    if (f != stdin)
        fclose(f);
    if (rc == RNS_BUF_OK)
        return rns_buf_take(&b, len);
    rns_buf_free(&b);
    errno = rc == RNS_BUF_TOOBIG ? EFBIG : rc == RNS_BUF_NOMEM ? ENOMEM : e;
    return NULL;
}

static void print_error_json(rns_error_type type, const char *message)
{
    rns_error e;
    rns_error_set(&e, type, "%s", message);
    json_t *j = result_error(&e);
    char *text = j ? result_dump(j, NULL) : NULL;
    if (text)
        printf("%s\n", text);
    else
        printf("{\"errorType\":\"%s\",\"errorMessage\":\"\"}\n", rns_error_name(&e));
    fflush(stdout);
    free(text);
    json_decref(j);
}

static int parse_timeout(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 86400)
        return -1;
    *out = (int)v;
    return 0;
}

/* The command line. */
typedef struct args {
    const char *invoke; /* --invoke FILE|-, NULL: the Runtime API loop */
    int timeout_s;      /* --timeout SECONDS */
    int timeout_given;
    const char *alone; /* --version or --help, which take nothing else */
} args;

static int usage_error(const char *fmt, const char *arg)
{
    fputs("bootstrap: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return usage(stderr, EXIT_USAGE);
}

/* 0, or EXIT_USAGE after saying what is wrong. */
static int parse_args(int argc, char **argv, args *a)
{
    static const struct option longs[] = {
        {"invoke", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *bad_timeout = NULL;
    int c;
    memset(a, 0, sizeof *a);
    a->timeout_s = DEFAULT_TIMEOUT_S;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:", longs, NULL)) != -1) {
        switch (c) {
        case 'i': a->invoke = optarg; break;
        case 't':
            a->timeout_given = 1;
            if (parse_timeout(optarg, &a->timeout_s) != 0)
                bad_timeout = optarg;
            break;
        case 'v': a->alone = a->alone ? a->alone : "--version"; break;
        case 'h': a->alone = a->alone ? a->alone : "--help"; break;
        case ':':
            if (optopt == 'i')
                return usage_error("%s needs an event file, or - for stdin", "--invoke");
            return usage_error("bad arguments after --invoke FILE%s", "");
        default: return usage_error("unknown argument %s", argv[optind - 1]);
        }
    }
    if (a->alone && argc > 2)
        return usage_error("%s takes no arguments", a->alone);
    if (a->invoke && (bad_timeout || optind < argc))
        return usage_error("bad arguments after --invoke FILE%s", "");
    if (!a->invoke && (a->timeout_given || optind < argc))
        return usage_error("unknown argument %s", optind < argc ? argv[optind] : "--timeout");
    return 0;
}

/* What --version prints. */
static int run_invoke(const char *path, int timeout_s, logger *lg)
{
    config cfg;
    char err[2048];
    if (config_load(&cfg, config_getenv, NULL, err, sizeof err) != 0) {
        log_msg(lg, LOG_ERROR, "configuration error: %s", err);
        print_error_json(RNS_ERR_CONFIG, err);
        return EXIT_USAGE;
    }
    size_t len = 0;
    char *payload = read_event(path, &len);
    if (!payload) {
        log_msg(lg, LOG_ERROR, "cannot read the event from %s: %s", strcmp(path, "-") ? path : "stdin",
                strerror(errno));
        config_free(&cfg);
        return EXIT_USAGE;
    }
    int status = EXIT_HANDLER_ERROR;
    handler *h = handler_new(&cfg, lg, err, sizeof err);
    if (!h) {
        log_msg(lg, LOG_ERROR, "cannot start: %s", err);
        print_error_json(RNS_ERR_CONFIG, err);
        status = EXIT_USAGE;
    } else {
        handler_output out;
        handler_invoke(h, payload, len, rns_wall_ms() + (int64_t)timeout_s * 1000, &out);
        printf("%s\n", out.payload ? out.payload : "");
        fflush(stdout);
        status = out.ok ? 0 : EXIT_HANDLER_ERROR;
        handler_output_free(&out);
        handler_free(h);
    }
    free(payload);
    config_free(&cfg);
    return status;
}

static lambda_response on_invocation(const lambda_invocation *inv, void *user)
{
    handler *h = user;
    handler_output out;
    int64_t deadline = inv->deadline_ms ? inv->deadline_ms : rns_wall_ms() + DEFAULT_TIMEOUT_S * 1000;
    handler_invoke(h, inv->payload, inv->payload_len, deadline, &out);
    lambda_response r;
    if (out.ok) {
        r = lambda_response_success(out.payload, out.payload_len, "application/json");
        out.payload = NULL; /* now the response's */
    } else {
        r = lambda_response_failure(out.error.message, rns_error_name(&out.error));
    }
    handler_output_free(&out);
    return r;
}

static int run_loop(const char *api, logger *lg)
{
    char err[2048];
    lambda_runtime *rt = lambda_runtime_new(api, lg, err, sizeof err);
    if (!rt) {
        log_msg(lg, LOG_FATAL, "cannot use the Runtime API at %s: %s", api, err);
        return EXIT_FAILURE;
    }
    config cfg;
    if (config_load(&cfg, config_getenv, NULL, err, sizeof err) != 0) {
        log_msg(lg, LOG_FATAL, "configuration error: %s", err);
        lambda_runtime_init_error(rt, rns_error_type_name(RNS_ERR_CONFIG), err);
        lambda_runtime_free(rt);
        return EXIT_USAGE;
    }
    int status = EXIT_FAILURE;
    handler *h = handler_new(&cfg, lg, err, sizeof err);
    if (!h) {
        log_msg(lg, LOG_FATAL, "cannot start: %s", err);
        lambda_runtime_init_error(rt, rns_error_type_name(RNS_ERR_CONFIG), err);
        status = EXIT_USAGE;
    } else {
        status = lambda_runtime_run(rt, on_invocation, h);
        handler_free(h);
    }
    lambda_runtime_free(rt);
    config_free(&cfg);
    return status;
}

int main(int argc, char **argv)
{
    logger lg;
    args a;
    signal(SIGPIPE, SIG_IGN);
    logger_init(&lg, stderr);
    if (parse_args(argc, argv, &a) != 0)
        return EXIT_USAGE;
    if (a.alone && strcmp(a.alone, "--version") == 0) {
        print_version(stdout);
        return 0;
    }
    if (a.alone) {
        usage(stdout, 0);
        fputs(help_about, stdout);
        config_help(stdout);
        return 0;
    }
    if (a.invoke)
        return run_invoke(a.invoke, a.timeout_s, &lg);
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api || !*api) {
        fprintf(stderr, "bootstrap: AWS_LAMBDA_RUNTIME_API is not set (not running in Lambda?)\n");
        return usage(stderr, EXIT_USAGE);
    }
    return run_loop(api, &lg);
}
