/* handler/sync/config.c: every variable of README.md, "Configuration", its default,
 * its validation and the message that names it. */
#include <stdlib.h>

#include "check.h"
#include "db_names.h"
#include "handler/sync/config.h"

#define ARN "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/pg-writer-tg/5d2c7e41a9b3f086"
#define MAX_VARS 32

/* A fake environment: "NAME=value" entries; later ones override earlier. */
typedef struct env {
    const char *vars[MAX_VARS];
    size_t count;
} env;

static const char *lookup(const char *name, void *ctx)
{
    const env *e = ctx;
    size_t n = strlen(name);
    const char *found = NULL;
    for (size_t i = 0; i < e->count; i++)
        if (strncmp(e->vars[i], name, n) == 0 && e->vars[i][n] == '=')
            found = e->vars[i] + n + 1;
    return found;
}

static env base(void)
{
    env e = {{"TARGET_GROUP_ARN=" ARN, "DB_ENDPOINT=orders-db.abc123xyz.eu-west-1.rds.amazonaws.com", "DB_PORT=5432",
              "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
             5};
    return e;
}

static void with(env *e, const char *var)
{
    if (e->count < MAX_VARS)
        e->vars[e->count++] = var;
}

/* Loads; returns 0/-1 and leaves the message in err. */
static int load(env *e, config *cfg, char *err, size_t errlen)
{
    return config_load(cfg, lookup, e, err, errlen);
}

/* One extra variable must fail with exactly this message. */
static void expect_error(const char *var, const char *want)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, var);
    CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
    CHECK_STR(err, want);
}

static void test_defaults(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_STR(cfg.target_group_arn, ARN);
    CHECK_STR(cfg.target_group_name, "pg-writer-tg");
    CHECK_STR(cfg.db_endpoint, "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com");
    CHECK_INT(cfg.db_port, 5432);
    CHECK_STR(cfg.db_identifier, "orders-db");
    CHECK_INT(cfg.allowed.count, 4);
    CHECK_INT(cfg.family, IP_FAMILY_IPV4);
    CHECK_INT(cfg.failover_wait_seconds, 60);
    CHECK_INT(cfg.dns_poll_ms, 1000);
    CHECK_INT(cfg.dry_run, 0);
    CHECK_STR(cfg.metrics_namespace, "RdsNlbSync");
    CHECK_STR(cfg.region, "eu-west-1");
    CHECK_STR(cfg.endpoint_url, "https://elasticloadbalancing.eu-west-1.amazonaws.com");
    CHECK_INT(cfg.max_attempts, 3);
    CHECK(cfg.session_token == NULL);
    CHECK(cfg.ca_bundle == NULL);
    CHECK(cfg.target_az == NULL);
    config_free(&cfg);
}

static void test_all_set(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, "DB_IDENTIFIER=aurora-orders");
    with(&e, "ALLOWED_CIDRS= 10.20.0.0/16 , fd00::/8 ");
    with(&e, "IP_FAMILY=Dual");
    with(&e, "FAILOVER_WAIT_SECONDS=0");
    with(&e, "DNS_POLL_MS=50");
    with(&e, "DRY_RUN=YES");
    with(&e, "METRICS_NAMESPACE=Team/Db Sync");
    with(&e, "AWS_REGION=eu-west-1");
    with(&e, "AWS_SESSION_TOKEN=FQoGZXIvYXdzEXAMPLE");
    with(&e, "AWS_ENDPOINT_URL=https://ignored.example");
    with(&e, "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=https://127.0.0.1:8443/");
    with(&e, "AWS_MAX_ATTEMPTS=20");
    with(&e, "SSL_CERT_FILE=/etc/ssl/second.pem");
    with(&e, "AWS_CA_BUNDLE=/tmp/ca.pem");
    with(&e, "TARGET_AVAILABILITY_ZONE=all");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_STR(cfg.db_identifier, "aurora-orders");
    CHECK_INT(cfg.allowed.count, 2);
    CHECK_INT(cfg.family, IP_FAMILY_DUAL);
    CHECK_INT(cfg.failover_wait_seconds, 0);
    CHECK_INT(cfg.dns_poll_ms, 50);
    CHECK_INT(cfg.dry_run, 1);
    CHECK_STR(cfg.metrics_namespace, "Team/Db Sync");
    CHECK_STR(cfg.session_token, "FQoGZXIvYXdzEXAMPLE");
    CHECK_STR(cfg.endpoint_url, "https://127.0.0.1:8443/");
    CHECK_INT(cfg.max_attempts, 20);
    CHECK_STR(cfg.ca_bundle, "/tmp/ca.pem");
    CHECK_STR(cfg.target_az, "all");
    config_free(&cfg);
}

static void test_fallbacks(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, "AWS_ENDPOINT_URL=http://localhost:4566");
    with(&e, "SSL_CERT_FILE=/etc/ssl/second.pem");
    with(&e, "AWS_DEFAULT_REGION=eu-west-1");
    with(&e, "IP_FAMILY=ipv6");
    with(&e, "METRICS_NAMESPACE=");
    with(&e, "DB_ENDPOINT=db.internal.");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(cfg.endpoint_url, "http://localhost:4566");
    CHECK_STR(cfg.ca_bundle, "/etc/ssl/second.pem");
    CHECK_STR(cfg.region, "eu-west-1");
    CHECK_INT(cfg.family, IP_FAMILY_IPV6);
    CHECK_STR(cfg.metrics_namespace, ""); /* empty disables metrics */
    CHECK_STR(cfg.db_identifier, "db");
    config_free(&cfg);
}

static void test_empty_counts_as_unset(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, "ALLOWED_CIDRS=");
    with(&e, "DRY_RUN=");
    with(&e, "TARGET_AVAILABILITY_ZONE=");
    with(&e, "AWS_SESSION_TOKEN=");
    with(&e, "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_INT(cfg.allowed.count, 4);
    CHECK_INT(cfg.dry_run, 0);
    CHECK(cfg.target_az == NULL);
    CHECK(cfg.session_token == NULL);
    CHECK_STR(cfg.endpoint_url, "https://elasticloadbalancing.eu-west-1.amazonaws.com");
    config_free(&cfg);
}

static void test_other_partitions(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, "TARGET_GROUP_ARN=arn:aws-cn:elasticloadbalancing:cn-north-1:111122223333:targetgroup/t/0123abcd");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(cfg.region, "cn-north-1");
    CHECK_STR(cfg.endpoint_url, "https://elasticloadbalancing.cn-north-1.amazonaws.com.cn");
    config_free(&cfg);
    e = base();
    with(&e, "TARGET_GROUP_ARN=arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:111122223333:targetgroup/t/01");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(cfg.region, "us-gov-west-1");
    config_free(&cfg);
}

/* The RDS API mode (README.md, "Clusters (RDS API mode)"). */
static void test_cluster_mode(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK(cfg.cluster_id == NULL && cfg.rds_endpoint_url == NULL); /* DNS mode */
    CHECK_INT(cfg.role, DB_ROLE_WRITER);
    config_free(&cfg);

    with(&e, "DB_CLUSTER_IDENTIFIER=aurora-orders");
    with(&e, "DB_ENDPOINT="); /* optional here */
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_STR(cfg.cluster_id, "aurora-orders");
    CHECK(cfg.db_endpoint == NULL);
    CHECK_STR(cfg.db_identifier, "aurora-orders");
    CHECK_INT(cfg.role, DB_ROLE_WRITER);
    CHECK_STR(db_role_name(cfg.role), "writer");
    CHECK_STR(cfg.rds_endpoint_url, "https://rds.eu-west-1.amazonaws.com");
    CHECK_STR(cfg.endpoint_url, "https://elasticloadbalancing.eu-west-1.amazonaws.com");
    config_free(&cfg);

    with(&e, "DB_ROLE=Readers");
    with(&e, "DB_IDENTIFIER=orders-cluster");
    with(&e, "AWS_ENDPOINT_URL_RDS=http://127.0.0.1:4566");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_INT(cfg.role, DB_ROLE_READERS);
    CHECK_STR(db_role_name(cfg.role), "readers");
    CHECK_STR(cfg.db_identifier, "orders-cluster");
    CHECK_STR(cfg.rds_endpoint_url, "http://127.0.0.1:4566");
    config_free(&cfg);

    with(&e, "AWS_ENDPOINT_URL_RDS=");
    with(&e, "AWS_ENDPOINT_URL=http://localhost:4567");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(cfg.rds_endpoint_url, "http://localhost:4567");
    CHECK_STR(cfg.endpoint_url, "http://localhost:4567");
    config_free(&cfg);

    with(&e, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(cfg.rds_endpoint_url, "https://rds.eu-west-1.amazonaws.com");
    config_free(&cfg);

    e = base();
    with(&e, "TARGET_GROUP_ARN=arn:aws-cn:elasticloadbalancing:cn-north-1:111122223333:targetgroup/t/0123abcd");
    with(&e, "DB_CLUSTER_IDENTIFIER=Aurora-Orders-2");
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(cfg.rds_endpoint_url, "https://rds.cn-north-1.amazonaws.com.cn");
    CHECK_STR(cfg.db_identifier, "Aurora-Orders-2");
    config_free(&cfg);
}

static void test_cluster_mode_errors(void)
{
    expect_error("DB_ROLE=primary", "DB_ROLE=primary: must be writer or readers");
    expect_error("DB_ROLE=readers", "DB_ROLE=readers needs DB_CLUSTER_IDENTIFIER: a reader endpoint answers one "
                                    "reader per lookup, the RDS API lists them all");
    static const char *const bad[] = {
        "bad_cluster!", "-a", "a-", "a--b", "1abc", "a123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char var[128], want[400];
        snprintf(var, sizeof var, "DB_CLUSTER_IDENTIFIER=%s", bad[i]);
        snprintf(want, sizeof want,
                 "DB_CLUSTER_IDENTIFIER=%s: must be a DB cluster identifier (1..63 letters, "
                 "digits and hyphens, a letter first, no hyphen last or twice in a row)",
                 bad[i]);
        expect_error(var, want);
    }
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, "DB_CLUSTER_IDENTIFIER=aurora-orders");
    with(&e, "AWS_ENDPOINT_URL_RDS=ftp://rds.example");
    CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
    CHECK_STR(err, "AWS_ENDPOINT_URL_RDS=ftp://rds.example: must be an http:// or https:// URL");
    e = base();
    with(&e, "DB_ENDPOINT=");
    CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
    CHECK_STR(err, "DB_ENDPOINT is required"); /* DNS mode still needs it */
}

/* The names of db_names.h as variables: each accepted or rejected naming its variable. */
static void test_db_names(void)
{
    static const char *const vars[] = {"DB_ENDPOINT", "DB_CLUSTER_IDENTIFIER", "DB_IDENTIFIER"};
    for (size_t i = 0; i < N_DB_NAMES; i++) {
        char var[400], err[1024] = "";
        const char *name = vars[db_names[i].rule];
        env e = base();
        config cfg;
        snprintf(var, sizeof var, "%s=%s", name, db_names[i].value);
        with(&e, var);
        int rc = load(&e, &cfg, err, sizeof err);
        if ((rc == 0) != db_names[i].valid)
            fprintf(stderr, "  %s: %s\n", var, rc ? err : "accepted");
        CHECK_INT(rc == 0, db_names[i].valid);
        if (rc == 0)
            config_free(&cfg);
        else
            CHECK(strncmp(err, name, strlen(name)) == 0 && err[strlen(name)] == '=');
    }
}

static void test_required(void)
{
    env e = {{NULL}, 0};
    config cfg;
    char err[1024] = "";
    CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
    CHECK_STR(err, "TARGET_GROUP_ARN is required; DB_ENDPOINT is required; DB_PORT is required; "
                   "AWS_ACCESS_KEY_ID is required (Lambda sets it; elsewhere export credentials); "
                   "AWS_SECRET_ACCESS_KEY is required (Lambda sets it; elsewhere export credentials)");
}

static void test_bad_values(void)
{
    expect_error("DB_PORT=70000", "DB_PORT=70000: must be 1..65535");
    expect_error("DB_PORT=0", "DB_PORT=0: must be 1..65535");
    expect_error("DB_PORT=5432x", "DB_PORT=5432x: must be 1..65535");
    expect_error("DB_PORT= 5432", "DB_PORT= 5432: must be 1..65535");
    expect_error("DB_PORT=-1", "DB_PORT=-1: must be 1..65535");
    expect_error("ALLOWED_CIDRS=10.0.0.0/33", "ALLOWED_CIDRS: \"10.0.0.0/33\": prefix must be 0..32");
    expect_error("ALLOWED_CIDRS=10.1.0.0/8", "ALLOWED_CIDRS: \"10.1.0.0/8\": host bits set (did you mean 10.0.0.0/8?)");
    expect_error("IP_FAMILY=ipv5", "IP_FAMILY=ipv5: must be ipv4, ipv6 or dual");
    expect_error("FAILOVER_WAIT_SECONDS=901", "FAILOVER_WAIT_SECONDS=901: must be 0..900");
    expect_error("FAILOVER_WAIT_SECONDS=1.5", "FAILOVER_WAIT_SECONDS=1.5: must be 0..900");
    expect_error("DNS_POLL_MS=49", "DNS_POLL_MS=49: must be 50..60000");
    expect_error("DNS_POLL_MS=60001", "DNS_POLL_MS=60001: must be 50..60000");
    expect_error("AWS_MAX_ATTEMPTS=0", "AWS_MAX_ATTEMPTS=0: must be 1..20");
    expect_error("AWS_MAX_ATTEMPTS=21", "AWS_MAX_ATTEMPTS=21: must be 1..20");
    expect_error("DRY_RUN=maybe", "DRY_RUN=maybe: must be true or false (also 1/0, yes/no)");
    expect_error("METRICS_NAMESPACE=AWS/RDS",
                 "METRICS_NAMESPACE=AWS/RDS: the AWS/ prefix is reserved for AWS services");
    expect_error("METRICS_NAMESPACE=a{b}",
                 "METRICS_NAMESPACE=a{b}: must be 1..255 letters, digits or . _ - / # : space");
    expect_error("AWS_REGION=us-east-1", "AWS_REGION=us-east-1 contradicts the region of TARGET_GROUP_ARN (eu-west-1)");
    expect_error("AWS_DEFAULT_REGION=us-east-1",
                 "AWS_DEFAULT_REGION=us-east-1 contradicts the region of TARGET_GROUP_ARN (eu-west-1)");
    expect_error("AWS_REGION=Mars", "AWS_REGION=Mars: not a region name (like eu-west-1)");
    expect_error("AWS_ENDPOINT_URL=ftp://x", "AWS_ENDPOINT_URL=ftp://x: must be an http:// or https:// URL");
    expect_error("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=localhost:4566",
                 "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=localhost:4566: must be an http:// or https:// URL");
    expect_error("AWS_ENDPOINT_URL=https://", "AWS_ENDPOINT_URL=https://: must be an http:// or https:// URL");
    expect_error("TARGET_AVAILABILITY_ZONE=eu west", "TARGET_AVAILABILITY_ZONE=eu west: must be an Availability "
                                                     "Zone name (like eu-west-1a) or all");
    expect_error("DB_ENDPOINT=postgres://db.example:5432",
                 "DB_ENDPOINT=postgres://db.example:5432: must be a DNS name (no scheme, port or path)");
    expect_error("DB_IDENTIFIER=orders db",
                 "DB_IDENTIFIER=orders db: must be an RDS identifier (letters, digits, hyphens)");
}

static void test_bad_arns(void)
{
    static const char *const bad[] = {
        "TARGET_GROUP_ARN=pg-writer-tg",
        "TARGET_GROUP_ARN=arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/x/1",
        "TARGET_GROUP_ARN=arn:aws:ec2:eu-west-1:111122223333:targetgroup/x/1",
        "TARGET_GROUP_ARN=arn:aws:elasticloadbalancing:eu-west-1:1111:targetgroup/x/1",
        "TARGET_GROUP_ARN=arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/x",
        "TARGET_GROUP_ARN=arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup//1",
        "TARGET_GROUP_ARN=arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/x/1/extra",
        "TARGET_GROUP_ARN=arn:aws:elasticloadbalancing::111122223333:targetgroup/x/1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        env e = base();
        config cfg;
        char err[1024] = "";
        with(&e, bad[i]);
        CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
        CHECK(strncmp(err, bad[i], strlen(bad[i])) == 0);
        CHECK(strstr(err, ": must look like arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>"));
    }
}

static void test_secrets_never_shown(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, "AWS_SECRET_ACCESS_KEY=super secret\nvalue");
    with(&e, "AWS_SESSION_TOKEN=tok en-secret");
    CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
    CHECK_STR(err, "AWS_SECRET_ACCESS_KEY contains blanks or control characters; "
                   "AWS_SESSION_TOKEN contains blanks or control characters");
    CHECK(!strstr(err, "secret"));
}

static void test_every_problem_reported(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, "DB_PORT=abc");
    with(&e, "IP_FAMILY=v4");
    with(&e, "DNS_POLL_MS=1");
    CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
    CHECK_STR(err, "DB_PORT=abc: must be 1..65535; IP_FAMILY=v4: must be ipv4, ipv6 or dual; "
                   "DNS_POLL_MS=1: must be 50..60000");
}

static void test_small_error_buffer(void)
{
    env e = {{NULL}, 0};
    config cfg;
    char err[16];
    memset(err, 'x', sizeof err);
    CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
    CHECK_INT(strlen(err), sizeof err - 1);
    CHECK(strncmp(err, "TARGET_GROUP_AR", 15) == 0);
}

static void test_long_value_shortened(void)
{
    char var[400] = "DB_PORT=";
    memset(var + 8, '9', 300);
    var[308] = '\0';
    env e = base();
    config cfg;
    char err[1024] = "";
    with(&e, var);
    CHECK_INT(load(&e, &cfg, err, sizeof err), -1);
    CHECK(strlen(err) < 120);
    CHECK(strstr(err, "...: must be 1..65535"));
}

/* A check that names the variable it failed for. */
#define CHECK_NAMED(cond, name)                       \
    do {                                              \
        if (!(cond))                                  \
            fprintf(stderr, "  variable %s\n", name); \
        CHECK(cond);                                  \
    } while (0)

/* The names the parser asked for, over several loads. */
typedef struct asked {
    const env *e;
    const char *names[64];
    size_t count;
} asked;

static const char *recording_lookup(const char *name, void *ctx)
{
    asked *a = ctx;
    size_t i = 0;
    while (i < a->count && strcmp(a->names[i], name) != 0)
        i++;
    if (i == a->count && a->count < 64)
        a->names[a->count++] = name;
    return lookup(name, (void *)a->e);
}

static int was_asked(const asked *a, const char *name)
{
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->names[i], name) == 0)
            return 1;
    return 0;
}

/* A line of the help that starts with the name: "  NAME" then a blank or the end. */
static int help_lists(const char *help, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = strstr(help, name); s; s = strstr(s + 1, name))
        if (s - help >= 3 && strncmp(s - 3, "\n  ", 3) == 0 && (s[n] == '\n' || s[n] == ' '))
            return 1;
    return 0;
}

/* Every variable the parser reads is a row of the table and is in --help
 * (config_help), and every row is read by the parser, but the logger's two.
 * DNS mode, then cluster mode (the RDS endpoint is read only there). */
static void test_every_variable_read_is_in_the_help(void)
{
    env e = base();
    asked a = {&e, {NULL}, 0};
    config cfg;
    char err[1024] = "", *help = NULL;
    size_t len = 0;
    CHECK_INT(config_load(&cfg, recording_lookup, &a, err, sizeof err), 0);
    config_free(&cfg);
    with(&e, "DB_CLUSTER_IDENTIFIER=aurora-orders");
    with(&e, "DB_ROLE=readers");
    CHECK_INT(config_load(&cfg, recording_lookup, &a, err, sizeof err), 0);
    config_free(&cfg);
    FILE *out = open_memstream(&help, &len);
    config_help(out);
    fclose(out);
    CHECK(a.count >= 20);
    for (size_t i = 0; i < a.count; i++) {
        size_t row = 0;
        while (config_var_name(row) && strcmp(config_var_name(row), a.names[i]) != 0)
            row++;
        CHECK_NAMED(config_var_name(row) != NULL, a.names[i]);
        CHECK_NAMED(help_lists(help, a.names[i]), a.names[i]);
    }
    for (size_t row = 0; row < config_var_count(); row++) {
        const char *name = config_var_name(row);
        int logger = strcmp(name, "AWS_LAMBDA_LOG_FORMAT") == 0 || strcmp(name, "AWS_LAMBDA_LOG_LEVEL") == 0;
        CHECK_NAMED(help_lists(help, name), name);
        CHECK_NAMED(logger ? !was_asked(&a, name) : was_asked(&a, name), name);
    }
    CHECK(config_var_name(config_var_count()) == NULL);
    CHECK(strstr(help, "  DB_ENDPOINT  required: yes, except with DB_CLUSTER_IDENTIFIER\n") != NULL);
    CHECK(strstr(help, "      values: 50..60000; default: 1000\n") != NULL);
    free(help);
}

#define LISTENER \
    "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/net/orders-nlb/50dc6c495c0c9188/f2f7dc8efc522ab2"

/* CONTRACT.md section 13: LISTENER_ARN makes TARGET_GROUP_ARN optional; one writer, one family. */
static void test_listener_arn(void)
{
    env e = base();
    config cfg;
    char err[1024] = "";
    e.vars[0] = "LISTENER_ARN=" LISTENER; /* in TARGET_GROUP_ARN's place */
    CHECK_INT(load(&e, &cfg, err, sizeof err), 0);
    CHECK_STR(cfg.listener_arn, LISTENER);
    CHECK(cfg.target_group_arn == NULL);
    CHECK_STR(cfg.target_group_name, "orders-nlb");
    CHECK_STR(cfg.region, "eu-west-1");
    config_free(&cfg);
    expect_error("LISTENER_ARN=arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/x/1/2",
                 "LISTENER_ARN=arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/x/1/2: must look "
                 "like arn:aws:elasticloadbalancing:<region>:<account>:listener/net/<name>/<id>/<id>");
    expect_error("LISTENER_ARN=arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/net/x/1/2",
                 "LISTENER_ARN=arn:aws:elasticloadbalancing:us-east-1:111122223333:listener/net/x/1/2: its region "
                 "is not that of TARGET_GROUP_ARN (eu-west-1)");
    env d = base();
    with(&d, "LISTENER_ARN=" LISTENER);
    with(&d, "IP_FAMILY=dual");
    CHECK_INT(load(&d, &cfg, err, sizeof err), -1);
    CHECK_STR(err, "LISTENER_ARN with IP_FAMILY=dual: the fast switch follows one primary address; use ipv4 or ipv6");
    env r = base();
    with(&r, "LISTENER_ARN=" LISTENER);
    with(&r, "DB_CLUSTER_IDENTIFIER=aurora-orders");
    with(&r, "DB_ROLE=readers");
    CHECK_INT(load(&r, &cfg, err, sizeof err), -1);
    CHECK_STR(err, "LISTENER_ARN with DB_ROLE=readers: the fast switch follows one writer; readers keep one "
                   "target group");
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_all_set);
    RUN(test_fallbacks);
    RUN(test_empty_counts_as_unset);
    RUN(test_other_partitions);
    RUN(test_cluster_mode);
    RUN(test_cluster_mode_errors);
    RUN(test_db_names);
    RUN(test_required);
    RUN(test_bad_values);
    RUN(test_bad_arns);
    RUN(test_secrets_never_shown);
    RUN(test_every_problem_reported);
    RUN(test_small_error_buffer);
    RUN(test_long_value_shortened);
    RUN(test_every_variable_read_is_in_the_help);
    RUN(test_listener_arn);
    return check_done();
}
