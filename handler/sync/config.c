/* Configuration from the environment (config.h). Each check appends its own
 * message, so one start reports every problem at once. */
#include "handler/sync/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/digits.h"
#include "handler/aws/elbv2.h"
#include "handler/aws/http.h"
#include "handler/aws/query.h"
#include "handler/aws/rds.h"

#define DEFAULT_ALLOWED_CIDRS "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10"
#define DEFAULT_METRICS_NAMESPACE "RdsNlbSync"
#define SHOWN_MAX 80 /* longest value quoted in a message */

/* Collects problems; `failed` counts them, `err` holds as many as fit. */
typedef struct problems {
    char *err;
    size_t errlen;
    size_t used;
    int failed;
} problems;

static void problem(problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(problems *p, const char *fmt, ...)
{
    p->failed++;
    if (p->errlen == 0 || p->used + 1 >= p->errlen)
        return;
    if (p->used > 0)
        p->used += (size_t)snprintf(p->err + p->used, p->errlen - p->used, "; ");
    if (p->used + 1 >= p->errlen) {
        p->used = p->errlen - 1;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->err + p->used, p->errlen - p->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->used += (size_t)n;
    if (p->used >= p->errlen)
        p->used = p->errlen - 1;
}

const char *config_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

typedef struct reader {
    config_lookup_fn lookup;
    void *ctx;
} reader;

/* The value, or NULL when unset or empty. */
static const char *get(const reader *r, const char *name)
{
    const char *v = r->lookup(name, r->ctx);
    return v && v[0] ? v : NULL;
}

/* A value shortened for a message. */
static const char *shown(const char *v, char *buf, size_t buflen)
{
    if (strlen(v) <= SHOWN_MAX)
        return v;
    snprintf(buf, buflen, "%.*s...", SHOWN_MAX, v);
    return buf;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Strict decimal integer in [min, max]; no sign, blanks or trailing junk. */
static int parse_int(const char *s, long min, long max, int *out)
{
    uint64_t v;
    if (!s || rns_parse_digits(s, strlen(s), 9, &v) != 0 || (long)v < min || (long)v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static void read_int(const reader *r, problems *p, const char *name, long min, long max,
                     int dflt, int *out)
{
    const char *v = get(r, name);
    char buf[SHOWN_MAX + 8];
    *out = dflt;
    if (v && parse_int(v, min, max, out) != 0)
        problem(p, "%s=%s: must be %ld..%ld", name, shown(v, buf, sizeof buf), min, max);
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "1", "yes"};
    static const char *const no[] = {"false", "0", "no"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int all_chars(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

/* arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id> */
static int arn_valid_field(const char *f, size_t min, size_t max, const char *extra)
{
    size_t n = strlen(f);
    return n >= min && n <= max && all_chars(f, extra);
}

static int parse_arn(const char *arn, config *cfg)
{
    char buf[512];
    char *f[6];
    if (strlen(arn) >= sizeof buf)
        return -1;
    strcpy(buf, arn);
    char *s = buf;
    for (int i = 0; i < 5; i++) {
        f[i] = s;
        s = strchr(s, ':');
        if (!s)
            return -1;
        *s++ = '\0';
    }
    f[5] = s;
    if (strcmp(f[0], "arn") != 0 || !arn_valid_field(f[1], 3, 32, "-") ||
        strcmp(f[2], "elasticloadbalancing") != 0 || !aws_region_valid(f[3]) ||
        strlen(f[4]) != 12 || !all_chars(f[4], "") || strncmp(f[5], "targetgroup/", 12) != 0)
        return -1;
    char *name = f[5] + 12;
    char *slash = strchr(name, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    char *id = slash + 1;
    if (!arn_valid_field(name, 1, 32, "-") || name[0] == '-' || !arn_valid_field(id, 1, 64, ""))
        return -1;
    cfg->target_group_name = strdup(name);
    cfg->arn_region = strdup(f[3]);
    return 0;
}

static void read_arn(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "TARGET_GROUP_ARN");
    char buf[SHOWN_MAX + 8];
    if (!v) {
        problem(p, "TARGET_GROUP_ARN is required");
        return;
    }
    cfg->target_group_arn = strdup(v);
    if (parse_arn(v, cfg) != 0)
        problem(p, "TARGET_GROUP_ARN=%s: must look like "
                   "arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>",
                shown(v, buf, sizeof buf));
}

static int hostname_valid(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 254 || h[0] == '.')
        return 0;
    size_t label = 0;
    for (const char *s = h; *s; s++) {
        if (*s == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

/* An RDS DB cluster identifier: 1..63 letters, digits and hyphens, a letter
 * first, no hyphen last and no two in a row. */
static int cluster_id_valid(const char *v)
{
    size_t n = strlen(v);
    return n >= 1 && n <= 63 && isalpha((unsigned char)v[0]) && all_chars(v, "-") && v[n - 1] != '-' &&
           !strstr(v, "--");
}

static void read_cluster(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "DB_CLUSTER_IDENTIFIER");
    const char *role = get(r, "DB_ROLE");
    char buf[SHOWN_MAX + 8];
    cfg->role = DB_ROLE_WRITER;
    if (v) {
        cfg->cluster_id = strdup(v);
        if (!cluster_id_valid(v))
            problem(p, "DB_CLUSTER_IDENTIFIER=%s: must be a DB cluster identifier (1..63 letters, digits and "
                       "hyphens, a letter first, no hyphen last or twice in a row)",
                    shown(v, buf, sizeof buf));
    }
    if (!role || strcasecmp(role, "writer") == 0)
        return;
    if (strcasecmp(role, "readers") != 0)
        problem(p, "DB_ROLE=%s: must be writer or readers", shown(role, buf, sizeof buf));
    else if (!v)
        problem(p, "DB_ROLE=readers needs DB_CLUSTER_IDENTIFIER: a reader endpoint answers one reader per "
                   "lookup, the RDS API lists them all");
    else
        cfg->role = DB_ROLE_READERS;
}

static void read_endpoint(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "DB_ENDPOINT");
    char buf[SHOWN_MAX + 8];
    ip_addr a;
    if (!v) {
        if (!cfg->cluster_id)
            problem(p, "DB_ENDPOINT is required");
        return;
    }
    cfg->db_endpoint = strdup(v);
    if (!hostname_valid(v) && ip_addr_parse(v, &a) != 0)
        problem(p, "DB_ENDPOINT=%s: must be a DNS name (no scheme, port or path)",
                shown(v, buf, sizeof buf));
}

static void read_identifier(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "DB_IDENTIFIER");
    char buf[SHOWN_MAX + 8];
    if (v) {
        if (strlen(v) > 255 || !all_chars(v, "-_."))
            problem(p, "DB_IDENTIFIER=%s: must be an RDS identifier (letters, digits, hyphens)",
                    shown(v, buf, sizeof buf));
        cfg->db_identifier = strdup(v);
    } else if (cfg->cluster_id) {
        cfg->db_identifier = strdup(cfg->cluster_id);
    } else if (cfg->db_endpoint) {
        cfg->db_identifier = strndup(cfg->db_endpoint, strcspn(cfg->db_endpoint, "."));
    }
}

static void read_port(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "DB_PORT");
    char buf[SHOWN_MAX + 8];
    if (!v)
        problem(p, "DB_PORT is required");
    else if (parse_int(v, 1, 65535, &cfg->db_port) != 0)
        problem(p, "DB_PORT=%s: must be 1..65535", shown(v, buf, sizeof buf));
}

static void read_cidrs(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "ALLOWED_CIDRS");
    char why[256];
    if (cidr_list_parse(v ? v : DEFAULT_ALLOWED_CIDRS, &cfg->allowed, why, sizeof why) != 0)
        problem(p, "ALLOWED_CIDRS: %s", why);
}

static void read_family(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "IP_FAMILY");
    char buf[SHOWN_MAX + 8];
    cfg->family = IP_FAMILY_IPV4;
    if (!v || strcasecmp(v, "ipv4") == 0)
        return;
    if (strcasecmp(v, "ipv6") == 0)
        cfg->family = IP_FAMILY_IPV6;
    else if (strcasecmp(v, "dual") == 0)
        cfg->family = IP_FAMILY_DUAL;
    else
        problem(p, "IP_FAMILY=%s: must be ipv4, ipv6 or dual", shown(v, buf, sizeof buf));
}

static void read_dry_run(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "DRY_RUN");
    char buf[SHOWN_MAX + 8];
    cfg->dry_run = 0;
    if (v && parse_bool(v, &cfg->dry_run) != 0)
        problem(p, "DRY_RUN=%s: must be true or false (also 1/0, yes/no)", shown(v, buf, sizeof buf));
}

static void read_namespace(const reader *r, problems *p, config *cfg)
{
    const char *v = r->lookup("METRICS_NAMESPACE", r->ctx);
    char buf[SHOWN_MAX + 8];
    if (!v)
        v = DEFAULT_METRICS_NAMESPACE;
    cfg->metrics_namespace = strdup(v);
    if (!v[0])
        return;
    if (strncasecmp(v, "AWS/", 4) == 0)
        problem(p, "METRICS_NAMESPACE=%s: the AWS/ prefix is reserved for AWS services",
                shown(v, buf, sizeof buf));
    else if (strlen(v) > 255 || !all_chars(v, "._-/#: "))
        problem(p, "METRICS_NAMESPACE=%s: must be 1..255 letters, digits or . _ - / # : space",
                shown(v, buf, sizeof buf));
}

/* AWS_REGION, else AWS_DEFAULT_REGION, else the ARN's region. */
static void read_region(const reader *r, problems *p, config *cfg)
{
    const char *name = "AWS_REGION";
    const char *v = get(r, name);
    char buf[SHOWN_MAX + 8];
    if (!v) {
        name = "AWS_DEFAULT_REGION";
        v = get(r, name);
    }
    if (!v) {
        cfg->region = dup_or_null(cfg->arn_region);
        return;
    }
    cfg->region = strdup(v);
    if (!aws_region_valid(v))
        problem(p, "%s=%s: not a region name (like eu-west-1)", name, shown(v, buf, sizeof buf));
    else if (cfg->arn_region && strcmp(v, cfg->arn_region) != 0)
        problem(p, "%s=%s contradicts the region of TARGET_GROUP_ARN (%s)", name, v, cfg->arn_region);
}

static int printable_token(const char *s)
{
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return 0;
    return 1;
}

/* Secrets are named, never shown. */
static char *read_secret(const reader *r, problems *p, const char *name, int required)
{
    const char *v = get(r, name);
    if (!v) {
        if (required)
            problem(p, "%s is required (Lambda sets it; elsewhere export credentials)", name);
        return NULL;
    }
    if (!printable_token(v))
        problem(p, "%s contains blanks or control characters", name);
    return strdup(v);
}

static int url_valid(const char *u)
{
    size_t skip;
    if (strncasecmp(u, "https://", 8) == 0)
        skip = 8;
    else if (strncasecmp(u, "http://", 7) == 0)
        skip = 7;
    else
        return 0;
    return u[skip] && u[skip] != '/' && printable_token(u);
}

/* The Query client's own parse, so that a URL it would refuse at start (a bad
 * port, no host, a query) is reported here under the variable's name. A URL
 * holding userinfo is not quoted: it may carry a password. */
static void check_endpoint_url(problems *p, const char *name, const char *v)
{
    char buf[SHOWN_MAX + 8], why[160];
    query_endpoint ep;
    if (!url_valid(v)) {
        if (strchr(v, '@'))
            problem(p, "%s: must be an http:// or https:// URL", name);
        else
            problem(p, "%s=%s: must be an http:// or https:// URL", name, shown(v, buf, sizeof buf));
    } else if (query_parse_endpoint(v, &ep, why, sizeof why) != 0) {
        if (strchr(v, '@'))
            problem(p, "%s: %s", name, why);
        else
            problem(p, "%s=%s: %s", name, shown(v, buf, sizeof buf), why);
    }
}

/* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 1 when the endpoint variables are to be ignored. */
static int read_ignore_endpoints(const reader *r, problems *p)
{
    const char *v = get(r, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    char buf[SHOWN_MAX + 8];
    int ignored = 0;
    if (v && parse_bool(v, &ignored) != 0)
        problem(p, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=%s: must be true or false", shown(v, buf, sizeof buf));
    return ignored;
}

/* A service's endpoint: its own variable (AWS_ENDPOINT_URL_<SERVICE>), then
 * AWS_ENDPOINT_URL, else the region's default; *out stays NULL when there
 * is none. */
static void read_service_endpoint(const reader *r, problems *p, int ignored, const char *service_var,
                                  int (*default_endpoint)(const char *region, char *out, size_t outlen),
                                  const char *region, char **out)
{
    const char *name = service_var;
    const char *v = get(r, name);
    if (!v) {
        name = "AWS_ENDPOINT_URL";
        v = get(r, name);
    }
    if (v && !ignored) {
        *out = strdup(v);
        check_endpoint_url(p, name, v);
        return;
    }
    char url[256];
    if (region && aws_region_valid(region) && default_endpoint(region, url, sizeof url) == 0)
        *out = strdup(url);
}

static void read_az(const reader *r, problems *p, config *cfg)
{
    const char *v = get(r, "TARGET_AVAILABILITY_ZONE");
    char buf[SHOWN_MAX + 8];
    if (!v)
        return;
    cfg->target_az = strdup(v);
    if (strlen(v) > 63 || !all_chars(v, "-") || strpbrk(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        problem(p, "TARGET_AVAILABILITY_ZONE=%s: must be an Availability Zone name (like eu-west-1a) or all",
                shown(v, buf, sizeof buf));
}

static void read_ca_bundle(const reader *r, config *cfg)
{
    cfg->ca_bundle = dup_or_null(http_ca_bundle_from_env(r->lookup, r->ctx));
}

int config_load(config *cfg, config_lookup_fn lookup, void *ctx, char *err, size_t errlen)
{
    reader r = {lookup, ctx};
    problems p = {err, errlen, 0, 0};
    config c;
    memset(&c, 0, sizeof c);
    if (errlen)
        err[0] = '\0';
    read_arn(&r, &p, &c);
    read_cluster(&r, &p, &c);
    read_endpoint(&r, &p, &c);
    read_port(&r, &p, &c);
    read_identifier(&r, &p, &c);
    read_cidrs(&r, &p, &c);
    read_family(&r, &p, &c);
    read_int(&r, &p, "FAILOVER_WAIT_SECONDS", 0, 900, 60, &c.failover_wait_seconds);
    read_int(&r, &p, "DNS_POLL_MS", 50, 60000, 1000, &c.dns_poll_ms);
    read_dry_run(&r, &p, &c);
    read_namespace(&r, &p, &c);
    read_region(&r, &p, &c);
    c.access_key_id = read_secret(&r, &p, "AWS_ACCESS_KEY_ID", 1);
    c.secret_access_key = read_secret(&r, &p, "AWS_SECRET_ACCESS_KEY", 1);
    c.session_token = read_secret(&r, &p, "AWS_SESSION_TOKEN", 0);
    int ignored = read_ignore_endpoints(&r, &p);
    read_service_endpoint(&r, &p, ignored, "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", elb_default_endpoint,
                          c.region, &c.endpoint_url);
    if (c.cluster_id)
        read_service_endpoint(&r, &p, ignored, "AWS_ENDPOINT_URL_RDS", rds_default_endpoint, c.region,
                              &c.rds_endpoint_url);
    read_int(&r, &p, "AWS_MAX_ATTEMPTS", 1, 20, 3, &c.max_attempts);
    read_ca_bundle(&r, &c);
    read_az(&r, &p, &c);
    if (!p.failed && !c.endpoint_url)
        problem(&p, "AWS_REGION=%s: no known ELBv2 endpoint; set AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
                c.region ? c.region : "");
    if (!p.failed && c.cluster_id && !c.rds_endpoint_url)
        problem(&p, "AWS_REGION=%s: no known RDS endpoint; set AWS_ENDPOINT_URL_RDS", c.region ? c.region : "");
    if (p.failed) {
        config_free(&c);
        return -1;
    }
    *cfg = c;
    return 0;
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    volatile char *v = s;
    while (*v)
        *v++ = '\0';
    free(s);
}

void config_free(config *cfg)
{
    free(cfg->target_group_arn);
    free(cfg->target_group_name);
    free(cfg->arn_region);
    free(cfg->db_endpoint);
    free(cfg->db_identifier);
    cidr_list_free(&cfg->allowed);
    free(cfg->metrics_namespace);
    free(cfg->region);
    free(cfg->access_key_id);
    wipe_free(cfg->secret_access_key);
    wipe_free(cfg->session_token);
    free(cfg->endpoint_url);
    free(cfg->rds_endpoint_url);
    free(cfg->cluster_id);
    free(cfg->ca_bundle);
    free(cfg->target_az);
    memset(cfg, 0, sizeof *cfg);
}

int config_address_family(const config *cfg)
{
    return cfg->family == IP_FAMILY_IPV6 ? AF_INET6 : cfg->family == IP_FAMILY_DUAL ? AF_UNSPEC
                                                                                    : AF_INET;
}

const char *db_role_name(db_role r)
{
    return r == DB_ROLE_READERS ? "readers" : "writer";
}
