/* libFuzzer target: configuration (handler/sync/config.c) from a fuzzed
 * environment. The input is NAME=VALUE lines laid over a valid environment,
 * so each variable is reached with every other one valid or broken; a
 * configuration that loads is then given to the handler's constructor,
 * which parses the endpoint URL. Secrets must never show in a message: the
 * messages must not change when the secrets do. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/elbv2_internal.h"
#include "handler/sync/config.h"
#include "handler/sync/handler.h"
#include "tests/fuzz/fuzz.h"

#define MAX_VARS 64

typedef struct env {
    char *names[MAX_VARS];
    char *values[MAX_VARS];
    int count;
} env;

static const char *const base[][2] = {
    {"TARGET_GROUP_ARN",
     "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/orders-db-tg/5d2c7e41a9b3f086"},
    {"DB_ENDPOINT", "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com"},
    {"DB_PORT", "5432"},
    {"AWS_ACCESS_KEY_ID", "ASIAQFUZZTESTKEY0001"},
    {"AWS_SECRET_ACCESS_KEY", "fuzzSecret/K7MDENG+bPxRfiCYFUZZKEY"},
    {"AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEFuzzSessionToken=="},
};

static const char *lookup(const char *name, void *ctx)
{
    const env *e = ctx;
    for (int i = e->count - 1; i >= 0; i--) /* the last line wins */
        if (strcmp(e->names[i], name) == 0)
            return e->values[i];
    for (size_t i = 0; i < sizeof base / sizeof *base; i++)
        if (strcmp(base[i][0], name) == 0)
            return base[i][1];
    return NULL;
}

static void parse_env(const char *text, env *e)
{
    char *copy = strdup(text), *save = NULL;
    FUZZ_CHECK(copy != NULL);
    for (char *line = strtok_r(copy, "\n", &save); line && e->count < MAX_VARS; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        e->names[e->count] = strdup(line);
        e->values[e->count] = strdup(eq + 1);
        FUZZ_CHECK(e->names[e->count] && e->values[e->count]);
        e->count++;
    }
    free(copy);
}

static void env_free(env *e)
{
    for (int i = 0; i < e->count; i++) {
        free(e->names[i]);
        free(e->values[i]);
    }
}

/* The same value with every letter and digit replaced by another of its
 * class: as valid or invalid as the original, but different text. */
static char *rotated(const char *v)
{
    char *r = strdup(v);
    FUZZ_CHECK(r != NULL);
    for (char *p = r; *p; p++) {
        if (*p >= '0' && *p <= '9')
            *p = (char)('0' + (*p - '0' + 1) % 10);
        else if (*p >= 'a' && *p <= 'z')
            *p = (char)('a' + (*p - 'a' + 1) % 26);
        else if (*p >= 'A' && *p <= 'Z')
            *p = (char)('A' + (*p - 'A' + 1) % 26);
    }
    return r;
}

/* The secrets replaced by rotated() values, the rest as it is. */
static void rotate_secrets(env *e)
{
    static const char *const secrets[] = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = lookup(secrets[i], e);
        if (!v || e->count >= MAX_VARS)
            continue;
        e->names[e->count] = strdup(secrets[i]);
        e->values[e->count] = rotated(v);
        FUZZ_CHECK(e->names[e->count] != NULL);
        e->count++;
    }
}

static void check_config(const config *c)
{
    query_endpoint ep;
    char why[160];
    FUZZ_CHECK(c->target_group_arn && c->target_group_name && c->db_identifier);
    /* DNS mode follows DB_ENDPOINT; cluster mode needs the RDS API instead, readers only there */
    FUZZ_CHECK(c->cluster_id ? c->rds_endpoint_url != NULL : c->db_endpoint != NULL);
    FUZZ_CHECK(c->cluster_id || c->role == DB_ROLE_WRITER);
    FUZZ_CHECK(c->db_port >= 1 && c->db_port <= 65535);
    FUZZ_CHECK(c->allowed.count >= 1);
    FUZZ_CHECK(c->max_attempts >= 1 && c->max_attempts <= 20);
    FUZZ_CHECK(c->dns_poll_ms >= 50 && c->failover_wait_seconds >= 0);
    FUZZ_CHECK(c->region && c->endpoint_url && c->access_key_id && c->secret_access_key);
    (void)query_parse_endpoint(c->endpoint_url, &ep, why, sizeof why);
    if (c->rds_endpoint_url)
        (void)query_parse_endpoint(c->rds_endpoint_url, &ep, why, sizeof why);
}

/* The configuration error, or the handler's construction error, or "". */
static int load(env *e, char *err, size_t errlen, int check)
{
    config cfg;
    err[0] = '\0';
    if (config_load(&cfg, lookup, e, err, errlen) != 0) {
        FUZZ_CHECK(err[0] != '\0' && strlen(err) < errlen);
        return -1;
    }
    logger lg;
    memset(&lg, 0, sizeof lg); /* no output */
    if (check)
        check_config(&cfg);
    handler *h = handler_new(&cfg, &lg, err, errlen);
    int rc = h ? 0 : -2;
    handler_free(h);
    config_free(&cfg);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    env e;
    char err[2048], err2[2048];
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&e, 0, sizeof e);
    parse_env(text, &e);
    int rc = load(&e, err, sizeof err, 1);
    /* Secret values never appear in a message: with other secrets of the
     * same shape the outcome and every message are the same. */
    rotate_secrets(&e);
    FUZZ_CHECK(load(&e, err2, sizeof err2, 0) == rc);
    FUZZ_CHECK(strcmp(err, err2) == 0);
    env_free(&e);
    free(text);
    return 0;
}
