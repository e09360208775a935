/* AWS Signature Version 4 (AWS4-HMAC-SHA256) for non-S3 services.
 *
 * The caller describes a request as it will be sent; sigv4_sign() computes the
 * canonical request, the string to sign and the Authorization value, and lists
 * the headers the caller must add before sending (X-Amz-Date when the request
 * had none, X-Amz-Security-Token when a session token is given and the request
 * had none, and Authorization). Each added header replaces any header of the
 * same name: as in botocore, a request's Authorization is never signed, and
 * with a session token given, the request's X-Amz-Security-Token headers are
 * replaced by it (it is then listed to add unless the request carried exactly
 * that value once).
 *
 * What is signed follows botocore's SigV4Auth (non-S3): every header but
 * Authorization, User-Agent, Expect and X-Amzn-Trace-Id; values trimmed, inner
 * whitespace runs (Python's str.split() set, Unicode spaces included) made one
 * space, repeated names joined with ',' in order; the path normalised (dot
 * segments, repeated slashes) and URI-encoded again; the query decoded and
 * re-encoded per RFC 3986, sorted by key then value; the body's SHA-256, or
 * the X-Amz-Content-SHA256 header's value when there is one. The timestamp is
 * the request's X-Amz-Date, else params->amz_date. A Date header is signed as
 * it is (botocore would rewrite it to the signing time and drop X-Amz-Date).
 *
 * A sigv4_signer caches the derived signing key per (date, region, service,
 * secret); key material is wiped with OPENSSL_cleanse when replaced or freed.
 * A signer is not thread-safe; use one per thread. */
#ifndef RNS_SIGV4_H
#define RNS_SIGV4_H

#include <stddef.h>
#include <time.h>

typedef struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when there is none */
} sigv4_credentials;

typedef struct sigv4_header {
    const char *name;
    const char *value;
} sigv4_header;

/* A request to sign; every string is borrowed. `target` is the request-target
 * as it appears on the request line: a path with an optional "?query", raw
 * (not yet normalised or encoded). Headers must include Host. */
typedef struct sigv4_request {
    const char *method;
    const char *target;
    const sigv4_header *headers;
    size_t header_count;
    const void *body;
    size_t body_len;
} sigv4_request;

typedef struct sigv4_params {
    const char *region;
    const char *service;
    const char *amz_date; /* YYYYMMDDTHHMMSSZ; used when the request has no X-Amz-Date */
} sigv4_params;

/* The result of a signing; every string is owned, released (and wiped) by
 * sigv4_signature_free. The strings share one allocation: never free one alone. */
typedef struct sigv4_signature {
    char *canonical_request;
    char *string_to_sign;
    char *authorization; /* the Authorization header's value */
    struct {             /* headers to add to the request, in this order */
        char *name;
        char *value;
    } add[3];
    size_t add_count;
} sigv4_signature;

typedef struct sigv4_signer sigv4_signer;

sigv4_signer *sigv4_signer_new(void);
void sigv4_signer_free(sigv4_signer *signer);

/* How many signing keys the signer has derived (cache misses); for tests. */
unsigned long sigv4_signer_derivations(const sigv4_signer *signer);

/* Returns 0 and fills *out, or -1 with a message in err (never containing the
 * secret key, the session token or a signature). On error *out needs no free. */
int sigv4_sign(sigv4_signer *signer, const sigv4_request *req, const sigv4_credentials *creds,
               const sigv4_params *params, sigv4_signature *out, char *err, size_t errlen);

void sigv4_signature_free(sigv4_signature *sig);

/* Formats t (UTC) as YYYYMMDDTHHMMSSZ into out, which holds at least 17 bytes. */
void sigv4_format_date(time_t t, char out[17]);

/* A raw HTTP/1.1 request as read by build/sigv4 (request line, header lines,
 * empty line, body; LF or CRLF line ends; folded header lines kept as such).
 * Every pointer points into `storage`, which the struct owns. */
typedef struct sigv4_raw_request {
    char *method;
    char *target;
    sigv4_header *headers;
    size_t header_count;
    const char *body;
    size_t body_len;
    char *storage;
} sigv4_raw_request;

/* Returns 0, or -1 with a message in err naming what is malformed. */
int sigv4_parse_raw_request(const char *data, size_t len, sigv4_raw_request *out, char *err, size_t errlen);
void sigv4_raw_request_free(sigv4_raw_request *req);

#endif
