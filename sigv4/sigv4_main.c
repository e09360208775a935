/* build/sigv4: signs a raw HTTP/1.1 request read on stdin (README.md, "Development"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "sigv4/sigv4.h"
#include "sigv4/sigv4_internal.h"

#define EXIT_USAGE 2

static const char usage[] = "usage: sigv4 --access-key ID --secret-key KEY [--session-token TOKEN]\n"
                            "             --region R --service S --date YYYYMMDDTHHMMSSZ\n"
                            "             [--output all|creq|sts|authz|json] < request\n"
                            "\n"
                            "Signs the raw HTTP/1.1 request on stdin (request line, header lines, empty\n"
                            "line, body; LF or CRLF line ends; folded header lines allowed) with AWS\n"
                            "Signature Version 4 (AWS4-HMAC-SHA256, non-S3 rules).\n"
                            "\n"
                            "The timestamp is the request's X-Amz-Date header; when it has none, --date is\n"
                            "used (and required) and an X-Amz-Date header is added. With --session-token the token is\n"
                            "signed as X-Amz-Security-Token (and replaces any such header of the request).\n"
                            "A request's Authorization header is ignored and replaced.\n"
                            "\n"
                            "--output (default all):\n"
                            "  creq   the canonical request\n"
                            "  sts    the string to sign\n"
                            "  authz  the Authorization header's value\n"
                            "  all    the three above, each after a line '--- canonical request',\n"
                            "         '--- string to sign', '--- authorization'\n"
                            "  json   one object: canonical_request, string_to_sign, authorization,\n"
                            "         signed_request (the request with its X-Amz-Date,\n"
                            "         X-Amz-Security-Token and Authorization headers; bytes that are not\n"
                            "         UTF-8 are shown as U+FFFD)\n"
                            "creq, sts and authz print the value exactly, as the test suite's .creq, .sts\n"
                            "and .authz files hold it: no newline after it (one is added when stdout is a\n"
                            "terminal). all and json end with a newline.\n"
                            "\n"
                            "Exit status: 0 signed, 2 malformed request or arguments, 1 other failure.\n";

typedef struct options {
    sigv4_credentials creds;
    sigv4_params params;
    const char *output;
} options;

static int fail_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "sigv4: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(sigv4 --help for usage)\n");
    return -1;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"access-key", required_argument, NULL, 'a'},
        {"secret-key", required_argument, NULL, 'k'},
        {"session-token", required_argument, NULL, 't'},
        {"region", required_argument, NULL, 'r'},
        {"service", required_argument, NULL, 's'},
        {"date", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof *o);
    o->output = "all";
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
        switch (c) {
        case 'a': o->creds.access_key_id = optarg; break;
        case 'k': o->creds.secret_access_key = optarg; break;
        case 't': o->creds.session_token = optarg; break;
        case 'r': o->params.region = optarg; break;
        case 's': o->params.service = optarg; break;
        case 'd': o->params.amz_date = optarg; break;
        case 'o': o->output = optarg; break;
        case 'h': return 1;
        case ':': return fail_usage("%s needs a value", argv[optind - 1]);
        default: return fail_usage("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail_usage("unexpected argument %s", argv[optind]);
    if (!o->creds.access_key_id)
        return fail_usage("%s is required", "--access-key");
    if (!o->creds.secret_access_key)
        return fail_usage("%s is required", "--secret-key");
    if (!o->params.region)
        return fail_usage("%s is required", "--region");
    if (!o->params.service)
        return fail_usage("%s is required", "--service");
    /* --date may be left out when the request carries X-Amz-Date; sigv4_sign
     * says so when it does not. */
    if (o->params.amz_date && !sv_valid_date(o->params.amz_date, strlen(o->params.amz_date)))
        return fail_usage("--date must be a valid YYYYMMDDTHHMMSSZ (UTC), not '%s'", o->params.amz_date);
    if (strcmp(o->output, "all") && strcmp(o->output, "creq") && strcmp(o->output, "sts") &&
        strcmp(o->output, "authz") && strcmp(o->output, "json"))
        return fail_usage("--output must be all, creq, sts, authz or json, not '%s'", o->output);
    return 0;
}

static json_t *json_text(const char *s, size_t n)
{
    return rns_json_text(s, n, (size_t)-1);
}

static int replaced(const sigv4_signature *sig, const char *name)
{
    size_t i;

    for (i = 0; i < sig->add_count; i++)
        if (strcasecmp(sig->add[i].name, name) == 0)
            return 1;
    return 0;
}

/* The request as it is sent: its first line as read, its headers (minus
 * those the signature replaces), the added ones, the body. */
static char *signed_request(const char *in, size_t in_len, const sigv4_raw_request *req, const sigv4_signature *sig,
                            size_t *len)
{
    const char *nl = memchr(in, '\n', in_len);
    size_t first = nl ? (size_t)(nl - in) : in_len, i;
    const char *eol = first && in[first - 1] == '\r' ? "\r\n" : "\n";
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    if (!f)
        return NULL;
    if (*eol == '\r')
        first--;
    fwrite(in, 1, first, f);
    fputs(eol, f);
    for (i = 0; i < req->header_count; i++)
        if (!replaced(sig, req->headers[i].name))
            fprintf(f, "%s: %s%s", req->headers[i].name, req->headers[i].value, eol);
    for (i = 0; i < sig->add_count; i++)
        fprintf(f, "%s: %s%s", sig->add[i].name, sig->add[i].value, eol);
    fputs(eol, f);
    fwrite(req->body, 1, req->body_len, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int print_json(const char *in, size_t in_len, const sigv4_raw_request *req, const sigv4_signature *sig)
{
    size_t len = 0;
    char *sreq = signed_request(in, in_len, req, sig, &len);
    json_t *o = json_object();
    int rc = -1;

    if (sreq && o &&
        !json_object_set_new(o, "canonical_request",
                             json_text(sig->canonical_request, strlen(sig->canonical_request))) &&
        !json_object_set_new(o, "string_to_sign", json_string(sig->string_to_sign)) &&
        !json_object_set_new(o, "authorization", json_string(sig->authorization)) &&
        !json_object_set_new(o, "signed_request", json_text(sreq, len)) && json_dumpf(o, stdout, JSON_INDENT(2)) == 0 &&
        fputc('\n', stdout) != EOF)
        rc = 0;
    json_decref(o);
    free(sreq);
    return rc;
}

/* One value, byte for byte; the newline is for a person at a terminal only. */
static int print_value(const char *value)
{
    return fputs(value, stdout) < 0 || (isatty(STDOUT_FILENO) && putchar('\n') == EOF) ? -1 : 0;
}

static int print(const char *output, const char *in, size_t in_len, const sigv4_raw_request *req,
                 const sigv4_signature *sig)
{
    if (strcmp(output, "creq") == 0)
        return print_value(sig->canonical_request);
    if (strcmp(output, "sts") == 0)
        return print_value(sig->string_to_sign);
    if (strcmp(output, "authz") == 0)
        return print_value(sig->authorization);
    if (strcmp(output, "json") == 0)
        return print_json(in, in_len, req, sig);
    return printf("--- canonical request\n%s\n--- string to sign\n%s\n--- authorization\n%s\n", sig->canonical_request,
                  sig->string_to_sign, sig->authorization) < 0
               ? -1
               : 0;
}

static int has_header(const sigv4_raw_request *raw, const char *name)
{
    for (size_t i = 0; i < raw->header_count; i++)
        if (strcasecmp(raw->headers[i].name, name) == 0)
            return 1;
    return 0;
}

static int sign_and_print(const options *o, const char *in, size_t len)
{
    char err[256];
    sigv4_raw_request raw;
    sigv4_signature sig;
    sigv4_signer *signer;
    int rc;

    if (sigv4_parse_raw_request(in, len, &raw, err, sizeof err) != 0) {
        fprintf(stderr, "sigv4: malformed request: %s\n", err);
        return EXIT_USAGE;
    }
    if (!o->params.amz_date && !has_header(&raw, "X-Amz-Date")) {
        sigv4_raw_request_free(&raw);
        fprintf(stderr, "sigv4: --date is required: the request has no X-Amz-Date header\n");
        return EXIT_USAGE;
    }
    signer = sigv4_signer_new();
    if (!signer) {
        sigv4_raw_request_free(&raw);
        fprintf(stderr, "sigv4: cannot set up OpenSSL SHA-256/HMAC\n");
        return 1;
    }
    sigv4_request req = {raw.method, raw.target, raw.headers, raw.header_count, raw.body, raw.body_len};
    if (sigv4_sign(signer, &req, &o->creds, &o->params, &sig, err, sizeof err) != 0) {
        fprintf(stderr, "sigv4: cannot sign: %s\n", err);
        rc = EXIT_USAGE;
    } else {
        rc = print(o->output, in, len, &raw, &sig) == 0 && fflush(stdout) == 0 ? 0 : 1;
        if (rc)
            fprintf(stderr, "sigv4: cannot write the output\n");
        sigv4_signature_free(&sig);
    }
    sigv4_signer_free(signer);
    sigv4_raw_request_free(&raw);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    rns_buf in;
    int rc = parse_options(argc, argv, &o);

    if (rc > 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (rc < 0)
        return EXIT_USAGE;
    rns_buf_init(&in, 0);
    if (rns_buf_read(&in, stdin) != RNS_BUF_OK) {
        rns_buf_free(&in);
        fprintf(stderr, "sigv4: cannot read the request on stdin\n");
        return 1;
    }
    if (in.len == 0) {
        rns_buf_free(&in);
        fprintf(stderr, "sigv4: empty request on stdin\n");
        return EXIT_USAGE;
    }
    rc = sign_and_print(&o, in.data, in.len);
    rns_buf_free(&in);
    return rc;
}
