/* Configuration from the environment (config.h): one table (vars[], at the
 * end) names each variable, when it is required, its range and its meaning;
 * config_load walks it and config_help prints it. Each check appends its
 * own message, so one start reports every problem at once. */
#include "handler/sync/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
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

/* One walk of the table: where values come from, the problems, the result. */
typedef struct load {
    reader r;
    problems p;
    config *cfg;
    int ignore_endpoints; /* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS */
} load;

/* A row of the table. An integer has its range, default and field here;
 * read is NULL for a variable read with the row above it (a fallback) or
 * by the logger. */
typedef struct var {
    const char *name;
    const char *required; /* "yes", "no", or when */
    const char *range;    /* accepted values, NULL for an integer (min..max) or any text */
    const char *dflt;     /* the default as shown, NULL: none */
    const char *meaning;
    void (*read)(const struct var *v, load *l);
    long min, max;
    int int_default;
    size_t field; /* offsetof(config, the int) */
} var;

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

/* An integer row: its range and default from the table. */
static void read_int(const var *row, load *l)
{
    const char *v = get(&l->r, row->name);
    int *out = (int *)((char *)l->cfg + row->field);
    char buf[SHOWN_MAX + 8];
    *out = row->int_default;
    if (v && parse_int(v, row->min, row->max, out) != 0)
        problem(&l->p, "%s=%s: must be %ld..%ld", row->name, shown(v, buf, sizeof buf), row->min, row->max);
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
    if (strcmp(f[0], "arn") != 0 || !arn_valid_field(f[1], 3, 32, "-") || strcmp(f[2], "elasticloadbalancing") != 0 ||
        !aws_region_valid(f[3]) || strlen(f[4]) != 12 || !all_chars(f[4], "") || strncmp(f[5], "targetgroup/", 12) != 0)
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

/* arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/net/<name>/<id> */
static int lb_arn_valid(const char *arn, char *region, size_t region_len)
{
    char part[40], reg[40], acct[16], name[40], id[40];
    int n = 0;
    if (strlen(arn) > 200 ||
        sscanf(
            arn,
            "arn:%39[a-z-]:elasticloadbalancing:%39[a-z0-9-]:%15[0-9]:loadbalancer/net/%39[A-Za-z0-9-]/%39[0-9a-f]%n",
            part, reg, acct, name, id, &n) != 5 ||
        arn[n] != '\0' || strlen(acct) != 12 || !aws_region_valid(reg))
        return 0;
    snprintf(region, region_len, "%s", reg);
    return 1;
}

static int fleet_add(config *cfg, const char *arn)
{
    char **grown = realloc(cfg->fleet_lbs, (cfg->fleet_lb_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    cfg->fleet_lbs = grown;
    return (cfg->fleet_lbs[cfg->fleet_lb_count++] = strdup(arn)) ? 0 : -1;
}

/* FLEET_LOAD_BALANCER_ARNS: 1..20 NLB ARNs of one region, spaces around the commas allowed. */
static void read_fleet(const var *row, load *l)
{
    const char *v = get(&l->r, row->name);
    char buf[SHOWN_MAX + 8], item[256], region[40];
    if (!v)
        return;
    for (const char *s = v; *s;) {
        size_t n = strcspn(s, ",");
        const char *a = s, *e = s + n;
        while (a < e && isspace((unsigned char)*a))
            a++;
        while (e > a && isspace((unsigned char)e[-1]))
            e--;
        snprintf(item, sizeof item, "%.*s", (int)(e - a), a);
        s += n + (s[n] == ',');
        if ((size_t)(e - a) >= sizeof item || !lb_arn_valid(item, region, sizeof region)) {
            problem(&l->p,
                    "%s: %s is not a Network Load Balancer ARN "
                    "(arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/net/<name>/<id>)",
                    row->name, shown(item, buf, sizeof buf));
            continue;
        }
        if (!l->cfg->arn_region)
            l->cfg->arn_region = strdup(region);
        else if (strcmp(region, l->cfg->arn_region) != 0)
            problem(&l->p, "%s: %s is in %s, the first load balancer in %s: one region per function", row->name,
                    shown(item, buf, sizeof buf), region, l->cfg->arn_region);
        if (fleet_add(l->cfg, item) != 0)
            problem(&l->p, "%s: out of memory", row->name);
    }
    if (l->cfg->fleet_lb_count == 0 || l->cfg->fleet_lb_count > CONFIG_MAX_LOAD_BALANCERS)
        problem(&l->p, "%s: 1 to 20 load balancer ARNs, not %zu", row->name, l->cfg->fleet_lb_count);
}

/* In fleet mode the binding's variables come from its target group's tags. */
static int fleet_forbids(load *l, const char *name)
{
    if (!l->cfg->fleet_lbs || !get(&l->r, name))
        return 0;
    problem(&l->p, "%s must be unset with FLEET_LOAD_BALANCER_ARNS (each target group's tags say it)", name);
    return 1;
}

static void read_arn(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = get(r, row->name);
    char buf[SHOWN_MAX + 8];
    if (cfg->fleet_lbs) {
        fleet_forbids(l, row->name);
        return;
    }
    if (!v && get(r, "LISTENER_ARN"))
        return; /* the fast switch: optional and unused */
    if (!v) {
        problem(p, "%s is required", row->name);
        return;
    }
    cfg->target_group_arn = strdup(v);
    if (parse_arn(v, cfg) != 0)
        problem(p,
                "%s=%s: must look like "
                "arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>",
                row->name, shown(v, buf, sizeof buf));
}

/* arn:<partition>:elasticloadbalancing:<region>:<account>:listener/net/<lb>/<id>/<id>:
 * the region (when TARGET_GROUP_ARN gave none) and the load balancer's name
 * (metrics and CloudFormation's physical id, when TARGET_GROUP_ARN is unset). */
static int parse_listener_arn(const char *arn, config *cfg)
{
    char part[33], region[64], lb[33], id1[65], id2[65], account[13];
    int n = 0;
    if (sscanf(arn, "arn:%32[^:]:elasticloadbalancing:%63[^:]:%12[0-9]:listener/net/%32[^/]/%64[^/]/%64[^/]%n", part,
               region, account, lb, id1, id2, &n) != 6 ||
        (size_t)n != strlen(arn) || strlen(account) != 12 || !aws_region_valid(region) ||
        !arn_valid_field(lb, 1, 32, "-") || !arn_valid_field(id1, 1, 64, "") || !arn_valid_field(id2, 1, 64, ""))
        return -1;
    if (cfg->arn_region && strcmp(cfg->arn_region, region) != 0)
        return -2;
    if (!cfg->arn_region)
        cfg->arn_region = strdup(region);
    if (!cfg->target_group_name)
        cfg->target_group_name = strdup(lb);
    return 0;
}

/* After DB_ROLE and IP_FAMILY: the fast switch follows one writer's address. */
static void read_listener(const var *row, load *l)
{
    config *cfg = l->cfg;
    const char *v = get(&l->r, row->name);
    char buf[SHOWN_MAX + 8];
    int rc;
    if (!v || fleet_forbids(l, row->name))
        return;
    cfg->listener_arn = strdup(v);
    if ((rc = parse_listener_arn(v, cfg)) == -1)
        problem(&l->p,
                "%s=%s: must look like arn:aws:elasticloadbalancing:<region>:<account>:listener/net/<name>/<id>/<id>",
                row->name, shown(v, buf, sizeof buf));
    else if (rc == -2)
        problem(&l->p, "%s=%s: its region is not that of TARGET_GROUP_ARN (%s)", row->name, shown(v, buf, sizeof buf),
                cfg->arn_region);
    if (cfg->cluster_id && cfg->role == DB_ROLE_READERS)
        problem(&l->p, "%s with DB_ROLE=readers: the fast switch follows one writer; readers keep one target group",
                row->name);
    if (cfg->family == IP_FAMILY_DUAL)
        problem(&l->p, "%s with IP_FAMILY=dual: the fast switch follows one primary address; use ipv4 or ipv6",
                row->name);
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
int config_cluster_id_valid(const char *v)
{
    size_t n = strlen(v);
    return n >= 1 && n <= 63 && isalpha((unsigned char)v[0]) && all_chars(v, "-") && v[n - 1] != '-' &&
           !strstr(v, "--");
}

int config_endpoint_valid(const char *v)
{
    ip_addr a;
    return hostname_valid(v) || ip_addr_parse(v, &a) == 0;
}

int config_identifier_valid(const char *v)
{
    return strlen(v) <= CONFIG_IDENTIFIER_MAX && all_chars(v, "-_.");
}

size_t config_default_identifier_len(const char *name)
{
    return strcspn(name, ".");
}

static void read_cluster(const var *row, load *l)
{
    const char *v = get(&l->r, row->name);
    char buf[SHOWN_MAX + 8];
    if (!v || fleet_forbids(l, row->name))
        return;
    l->cfg->cluster_id = strdup(v);
    if (!config_cluster_id_valid(v))
        problem(&l->p,
                "%s=%s: must be a DB cluster identifier (1..63 letters, digits and "
                "hyphens, a letter first, no hyphen last or twice in a row)",
                row->name, shown(v, buf, sizeof buf));
}

/* After DB_CLUSTER_IDENTIFIER: readers need a cluster. */
static void read_role(const var *row, load *l)
{
    const char *role = get(&l->r, row->name);
    char buf[SHOWN_MAX + 8];
    db_role r;
    l->cfg->role = DB_ROLE_WRITER;
    if (fleet_forbids(l, row->name))
        return;
    if (db_role_parse(role, &r) != 0)
        problem(&l->p, "DB_ROLE=%s: must be writer or readers", shown(role, buf, sizeof buf));
    else if (r == DB_ROLE_READERS && !l->cfg->cluster_id)
        problem(&l->p, "DB_ROLE=readers needs DB_CLUSTER_IDENTIFIER: a reader endpoint answers one reader per "
                       "lookup, the RDS API lists them all");
    else
        l->cfg->role = r;
}

static void read_endpoint(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = get(r, row->name);
    char buf[SHOWN_MAX + 8];
    if (fleet_forbids(l, row->name))
        return;
    if (!v) {
        if (!cfg->cluster_id && !cfg->fleet_lbs)
            problem(p, "%s is required", row->name);
        return;
    }
    cfg->db_endpoint = strdup(v);
    if (!config_endpoint_valid(v))
        problem(p, "%s=%s: must be a DNS name (no scheme, port or path)", row->name, shown(v, buf, sizeof buf));
}

static void read_identifier(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = get(r, row->name);
    char buf[SHOWN_MAX + 8];
    if (fleet_forbids(l, row->name))
        return;
    if (v) {
        if (!config_identifier_valid(v))
            problem(p, "%s=%s: must be an RDS identifier (letters, digits, hyphens)", row->name,
                    shown(v, buf, sizeof buf));
        cfg->db_identifier = strdup(v);
    } else if (cfg->cluster_id) {
        cfg->db_identifier = strdup(cfg->cluster_id);
    } else if (cfg->db_endpoint) {
        cfg->db_identifier = strndup(cfg->db_endpoint, config_default_identifier_len(cfg->db_endpoint));
    }
}

static void read_port(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = get(r, row->name);
    char buf[SHOWN_MAX + 8];
    if (!v && !cfg->fleet_lbs)
        problem(p, "%s is required", row->name);
    else if (v && parse_int(v, 1, 65535, &cfg->db_port) != 0)
        problem(p, "%s=%s: must be 1..65535", row->name, shown(v, buf, sizeof buf));
}

static void read_cidrs(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = get(r, row->name);
    char why[256];
    if (cidr_list_parse(v ? v : row->dflt, &cfg->allowed, why, sizeof why) != 0)
        problem(p, "%s: %s", row->name, why);
}

static void read_family(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = get(r, row->name);
    char buf[SHOWN_MAX + 8];
    cfg->family = IP_FAMILY_IPV4;
    if (!v || strcasecmp(v, "ipv4") == 0)
        return;
    if (strcasecmp(v, "ipv6") == 0)
        cfg->family = IP_FAMILY_IPV6;
    else if (strcasecmp(v, "dual") == 0)
        cfg->family = IP_FAMILY_DUAL;
    else
        problem(p, "%s=%s: must be ipv4, ipv6 or dual", row->name, shown(v, buf, sizeof buf));
}

static void read_dry_run(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = get(r, row->name);
    char buf[SHOWN_MAX + 8];
    cfg->dry_run = 0;
    if (v && parse_bool(v, &cfg->dry_run) != 0)
        problem(p, "%s=%s: must be true or false (also 1/0, yes/no)", row->name, shown(v, buf, sizeof buf));
}

static void read_namespace(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = r->lookup(row->name, r->ctx);
    char buf[SHOWN_MAX + 8];
    if (!v)
        v = row->dflt;
    cfg->metrics_namespace = strdup(v);
    if (!v[0])
        return;
    if (strncasecmp(v, "AWS/", 4) == 0)
        problem(p, "%s=%s: the AWS/ prefix is reserved for AWS services", row->name, shown(v, buf, sizeof buf));
    else if (strlen(v) > 255 || !all_chars(v, "._-/#: "))
        problem(p, "%s=%s: must be 1..255 letters, digits or . _ - / # : space", row->name, shown(v, buf, sizeof buf));
}

/* AWS_REGION, else AWS_DEFAULT_REGION, else the ARN's region. */
static void read_region(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *name = row->name;
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
        problem(p, "%s=%s contradicts the region of %s (%s)", name, v,
                cfg->fleet_lbs ? "FLEET_LOAD_BALANCER_ARNS" : "TARGET_GROUP_ARN", cfg->arn_region);
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

static void read_access_key(const var *row, load *l)
{
    l->cfg->access_key_id = read_secret(&l->r, &l->p, row->name, 1);
}

static void read_secret_key(const var *row, load *l)
{
    l->cfg->secret_access_key = read_secret(&l->r, &l->p, row->name, 1);
}

static void read_session_token(const var *row, load *l)
{
    l->cfg->session_token = read_secret(&l->r, &l->p, row->name, 0);
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

/* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: whether the endpoint variables are to be ignored. */
static void read_ignore_endpoints(const var *row, load *l)
{
    const char *v = get(&l->r, row->name);
    char buf[SHOWN_MAX + 8];
    l->ignore_endpoints = 0;
    if (v && parse_bool(v, &l->ignore_endpoints) != 0)
        problem(&l->p, "%s=%s: must be true or false", row->name, shown(v, buf, sizeof buf));
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

static void read_az(const var *row, load *l)
{
    const reader *r = &l->r;
    problems *p = &l->p;
    config *cfg = l->cfg;
    const char *v = get(r, row->name);
    char buf[SHOWN_MAX + 8];
    if (!v)
        return;
    cfg->target_az = strdup(v);
    if (strlen(v) > 63 || !all_chars(v, "-") || strpbrk(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        problem(p, "%s=%s: must be an Availability Zone name (like eu-west-1a) or all", row->name,
                shown(v, buf, sizeof buf));
}

static void read_elb_endpoint(const var *row, load *l)
{
    read_service_endpoint(&l->r, &l->p, l->ignore_endpoints, row->name, elb_default_endpoint, l->cfg->region,
                          &l->cfg->endpoint_url);
}

/* Only in cluster mode and fleet mode. */
static void read_rds_endpoint(const var *row, load *l)
{
    if (l->cfg->cluster_id || l->cfg->fleet_lbs)
        read_service_endpoint(&l->r, &l->p, l->ignore_endpoints, row->name, rds_default_endpoint, l->cfg->region,
                              &l->cfg->rds_endpoint_url);
}

/* With SSL_CERT_FILE as its fallback (handler/aws/http.h). */
static void read_ca_bundle(const var *row, load *l)
{
    (void)row;
    l->cfg->ca_bundle = dup_or_null(http_ca_bundle_from_env(l->r.lookup, l->r.ctx));
}

#define INT_ROW(name, min, max, dflt, field, meaning)                                       \
    {                                                                                       \
        name, "no", NULL, #dflt, meaning, read_int, min, max, dflt, offsetof(config, field) \
    }

/* The configuration, in the order config_load reads it (a variable that
 * depends on another comes after it). */
static const var vars[] = {
    {"FLEET_LOAD_BALANCER_ARNS", "no", "1 to 20 comma-separated NLB ARNs", NULL,
     "fleet mode: keep every target group of these load balancers tagged rds-nlb-sync:source (each group's "
     "tags bind it; TARGET_GROUP_ARN, DB_ENDPOINT, DB_CLUSTER_IDENTIFIER, DB_ROLE and DB_IDENTIFIER must be unset, "
     "DB_PORT is not needed)",
     read_fleet, 0, 0, 0, 0},
    {"TARGET_GROUP_ARN", "yes, except with FLEET_LOAD_BALANCER_ARNS or LISTENER_ARN", NULL, NULL,
     "the NLB target group (target type ip)", read_arn, 0, 0, 0, 0},
    {"DB_CLUSTER_IDENTIFIER", "no", "a DB cluster identifier", NULL,
     "an Aurora or Multi-AZ DB cluster: the targets come from the RDS API, not from DB_ENDPOINT's DNS answer",
     read_cluster, 0, 0, 0, 0},
    {"DB_ROLE", "no", "writer or readers", "writer",
     "with DB_CLUSTER_IDENTIFIER: the cluster's writer, or every serving reader", read_role, 0, 0, 0, 0},
    {"DB_ENDPOINT", "yes, except with DB_CLUSTER_IDENTIFIER", "a DNS name", NULL,
     "the DNS name to follow (an RDS instance, Aurora cluster or RDS Proxy endpoint); with "
     "DB_CLUSTER_IDENTIFIER only shown in the result and logs",
     read_endpoint, 0, 0, 0, 0},
    {"DB_PORT", "yes, except with FLEET_LOAD_BALANCER_ARNS", "1..65535", NULL, "the port registered for every target",
     read_port, 0, 0, 0, 0},
    {"DB_IDENTIFIER", "no", "an RDS identifier", "DB_CLUSTER_IDENTIFIER, else the first label of DB_ENDPOINT",
     "the RDS source identifier whose failover events start a wait", read_identifier, 0, 0, 0, 0},
    {"ALLOWED_CIDRS", "no", "comma-separated IPv4/IPv6 CIDRs", DEFAULT_ALLOWED_CIDRS,
     "an address outside them is never registered", read_cidrs, 0, 0, 0, 0},
    {"IP_FAMILY", "no", "ipv4, ipv6 or dual", "ipv4", "which address records are followed", read_family, 0, 0, 0, 0},
    {"LISTENER_ARN", "no", "an NLB listener ARN", NULL,
     "the fast switch: a listener whose default action forwards to 2 or more ip target groups (the slots); "
     "failover moves its weights (TARGET_GROUP_ARN is then optional and unused); not with DB_ROLE=readers "
     "or IP_FAMILY=dual",
     read_listener, 0, 0, 0, 0},
    INT_ROW("FAILOVER_WAIT_SECONDS", 0, 900, 60, failover_wait_seconds,
            "after a failover event, how long to wait for the answer to change (capped by the deadline)"),
    INT_ROW("DNS_POLL_MS", 50, 60000, 1000, dns_poll_ms, "the interval between answers while waiting"),
    INT_ROW("PROXY_MISSES", 1, 20, 3, proxy_misses,
            "an RDS Proxy endpoint's address leaves the target group after missing from this many consecutive "
            "answers (fleet proxy: bindings, and DB_ENDPOINT naming a proxy)"),
    INT_ROW("FLEET_MAX_API_CALLS", 20, 100000, 1000, fleet_max_calls,
            "fleet mode: the ELBv2 calls one sweep may make; a sweep that reaches it stops and the next one goes on "
            "from there"),
    {"DRY_RUN", "no", "true or false (also 1/0, yes/no)", "false",
     "true: report the change, call only DescribeTargetHealth", read_dry_run, 0, 0, 0, 0},
    {"METRICS_NAMESPACE", "no", "1..255 letters, digits or . _ - / # : space; not AWS/...", DEFAULT_METRICS_NAMESPACE,
     "the CloudWatch Embedded Metric Format namespace; set and empty disables metrics", read_namespace, 0, 0, 0, 0},
    {"AWS_REGION", "no", "a region name", "AWS_DEFAULT_REGION, else the region of TARGET_GROUP_ARN",
     "the signing region and endpoints; one that contradicts TARGET_GROUP_ARN is an error", read_region, 0, 0, 0, 0},
    {"AWS_DEFAULT_REGION", "no", "a region name", NULL, "read when AWS_REGION is unset", NULL, 0, 0, 0, 0},
    {"AWS_ACCESS_KEY_ID", "yes (Lambda sets it)", NULL, NULL, "credentials", read_access_key, 0, 0, 0, 0},
    {"AWS_SECRET_ACCESS_KEY", "yes (Lambda sets it)", NULL, NULL, "credentials; never shown", read_secret_key, 0, 0, 0,
     0},
    {"AWS_SESSION_TOKEN", "no", NULL, NULL, "signed when present (Lambda sets it); never shown", read_session_token, 0,
     0, 0, 0},
    {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "no", "true or false", "false",
     "true: the AWS_ENDPOINT_URL* variables are ignored", read_ignore_endpoints, 0, 0, 0, 0},
    {"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "no", "an http:// or https:// URL",
     "AWS_ENDPOINT_URL, else the region's", "the ELBv2 endpoint (signing still uses the region)", read_elb_endpoint, 0,
     0, 0, 0},
    {"AWS_ENDPOINT_URL", "no", "an http:// or https:// URL", NULL,
     "the endpoint of every AWS API without its own variable", NULL, 0, 0, 0, 0},
    {"AWS_ENDPOINT_URL_RDS", "no", "an http:// or https:// URL", "AWS_ENDPOINT_URL, else the region's",
     "with DB_CLUSTER_IDENTIFIER: the RDS API endpoint", read_rds_endpoint, 0, 0, 0, 0},
    INT_ROW("AWS_MAX_ATTEMPTS", 1, 20, 3, max_attempts, "attempts per API call (standard retry mode)"),
    {"AWS_CA_BUNDLE", "no", "a file", "SSL_CERT_FILE, else the system's", "the CA bundle for HTTPS", read_ca_bundle, 0,
     0, 0, 0},
    {"SSL_CERT_FILE", "no", "a file", NULL, "read when AWS_CA_BUNDLE is unset", NULL, 0, 0, 0, 0},
    {"TARGET_AVAILABILITY_ZONE", "no", "an Availability Zone name or all", NULL,
     "sent as AvailabilityZone with RegisterTargets: all for a database outside the target group's VPC", read_az, 0, 0,
     0, 0},
    {"AWS_LAMBDA_LOG_FORMAT", "no", "JSON or Text", "Text", "the log format (read by the logger)", NULL, 0, 0, 0, 0},
    {"AWS_LAMBDA_LOG_LEVEL", "no", "TRACE, DEBUG, INFO, WARN, ERROR or FATAL", "INFO",
     "the lowest level logged (read by the logger)", NULL, 0, 0, 0, 0},
};

int config_load(config *cfg, config_lookup_fn lookup, void *ctx, char *err, size_t errlen)
{
    config c;
    load l = {{lookup, ctx}, {err, errlen, 0, 0}, &c, 0};
    problems p;
    memset(&c, 0, sizeof c);
    if (errlen)
        err[0] = '\0';
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (vars[i].read)
            vars[i].read(&vars[i], &l);
    p = l.p;
    if (!p.failed && !c.endpoint_url)
        problem(&p, "AWS_REGION=%s: no known ELBv2 endpoint; set AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
                c.region ? c.region : "");
    if (!p.failed && (c.cluster_id || c.fleet_lbs) && !c.rds_endpoint_url)
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
    free(cfg->listener_arn);
    for (size_t i = 0; i < cfg->fleet_lb_count; i++)
        free(cfg->fleet_lbs[i]);
    free(cfg->fleet_lbs);
    memset(cfg, 0, sizeof *cfg);
}

size_t config_var_count(void)
{
    return sizeof vars / sizeof *vars;
}

const char *config_var_name(size_t i)
{
    return i < config_var_count() ? vars[i].name : NULL;
}

/*   NAME  required: when
 *       meaning
 *       values: range; default: value */
void config_help(FILE *out)
{
    fputs("Configuration (environment, read once at start):\n", out);
    for (size_t i = 0; i < config_var_count(); i++) {
        const var *v = &vars[i];
        fprintf(out, "  %s", v->name);
        if (strcmp(v->required, "no") != 0)
            fprintf(out, "  required: %s", v->required);
        fprintf(out, "\n      %s\n", v->meaning);
        if (v->range)
            fprintf(out, "      values: %s", v->range);
        else if (v->read == read_int)
            fprintf(out, "      values: %ld..%ld", v->min, v->max);
        if (v->dflt)
            fprintf(out, "%s default: %s", v->range || v->read == read_int ? ";" : "     ", v->dflt);
        if (v->range || v->read == read_int || v->dflt)
            fputs("\n", out);
    }
}

int config_address_family(const config *cfg)
{
    return cfg->family == IP_FAMILY_IPV6 ? AF_INET6 : cfg->family == IP_FAMILY_DUAL ? AF_UNSPEC : AF_INET;
}

const char *db_role_name(db_role r)
{
    return r == DB_ROLE_READERS ? "readers" : "writer";
}

int db_role_parse(const char *v, db_role *out)
{
    *out = DB_ROLE_WRITER;
    if (!v || strcasecmp(v, "writer") == 0)
        return 0;
    if (strcasecmp(v, "readers") != 0)
        return -1;
    *out = DB_ROLE_READERS;
    return 0;
}
