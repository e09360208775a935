/* A command-line driver of the ELBv2 client, for integration tests, the demo
 * and benchmarks. Runs a sequence of operations on one client (so one kept
 * connection) and prints one JSON line per operation, then a summary line.
 *
 *   elb_client [options] OP [-- OP ...]
 *     OP: describe ARN | register ARN TARGET... | deregister ARN TARGET...
 *         | groups LB PAGESIZE (every page) | groups-arn ARN... | tags PREFIX|- ARN...
 *         | add-tags ARN KEY=VALUE... | remove-tags ARN KEY...
 *     TARGET: ID[,PORT[,AZ]]   e.g. 10.0.1.5,5432  or  192.0.2.7,5432,all
 *   options:
 *     --region R            default: AWS_REGION, then AWS_DEFAULT_REGION
 *     --endpoint URL        default: AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, then AWS_ENDPOINT_URL
 *     --max-attempts N      default: AWS_MAX_ATTEMPTS, then 3
 *     --ca-bundle FILE      default: AWS_CA_BUNDLE, then SSL_CERT_FILE, then the system bundles
 *     --deadline-ms N       per run, from the start (default 30000)
 *     --attempt-timeout-ms N
 *     --repeat N            run the whole sequence N times (default 1)
 *   Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
 *   Logs (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT) go to stderr.
 *
 * Output lines:
 *   {"op":"describe","ok":true,"ms":3,"targets":[{"id","port","az","state","reason"}]}
 *   {"op":"groups","ok":true,"ms":3,"pages":2,"groups":[{"arn","name","port","protocol","type"}]}
 *   {"op":"tags","ok":true,"ms":3,"tags":{"ARN":{"key":"value"}}}
 *   {"op":"register","ok":false,"ms":9,"error":{"code","message","status","requestId","attempts"}}
 *   {"summary":true,"connections":1,"retryTokens":500,"ok":true}
 * Exit: 0 when every operation succeeded, 1 otherwise, 2 on a usage error. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "handler/aws/elbv2.h"
#include "handler/aws/elbv2_internal.h"
#include "handler/aws/http.h"

static const char *env(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

typedef struct options {
    const char *region, *endpoint, *ca_bundle;
    int max_attempts, repeat;
    long deadline_ms, attempt_timeout_ms;
    char **ops; /* the operation words, "--" separated */
    int nops;
} options;

static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (v && *v)
        return v;
    v = b ? getenv(b) : NULL;
    return v && *v ? v : NULL;
}

static int usage(const char *why)
{
    fprintf(stderr,
            "elb_client: %s\nusage: elb_client [--region R] [--endpoint URL] "
            "[--max-attempts N] [--ca-bundle FILE] [--deadline-ms N] "
            "[--attempt-timeout-ms N] [--repeat N] OP [-- OP ...]\n"
            "  OP: describe ARN | register ARN ID[,PORT[,AZ]]... | deregister ARN ID[,PORT[,AZ]]...\n",
            why);
    return 2;
}

static int parse_options(int argc, char **argv, options *o)
{
    const char *attempts = getenv("AWS_MAX_ATTEMPTS");
    int i;
    memset(o, 0, sizeof *o);
    o->region = env2("AWS_REGION", "AWS_DEFAULT_REGION");
    o->endpoint = env2("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "AWS_ENDPOINT_URL");
    o->max_attempts = attempts && *attempts ? atoi(attempts) : 3;
    o->deadline_ms = 30000;
    o->repeat = 1;
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2]; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage("option without a value");
        if (strcmp(k, "--region") == 0)
            o->region = v;
        else if (strcmp(k, "--endpoint") == 0)
            o->endpoint = v;
        else if (strcmp(k, "--ca-bundle") == 0)
            o->ca_bundle = v;
        else if (strcmp(k, "--max-attempts") == 0)
            o->max_attempts = atoi(v);
        else if (strcmp(k, "--deadline-ms") == 0)
            o->deadline_ms = atol(v);
        else if (strcmp(k, "--attempt-timeout-ms") == 0)
            o->attempt_timeout_ms = atol(v);
        else if (strcmp(k, "--repeat") == 0)
            o->repeat = atoi(v);
        else
            return usage("unknown option");
    }
    o->ops = argv + i;
    o->nops = argc - i;
    if (o->nops < 2)
        return usage("no operation");
    if (!o->region)
        return usage("no region (--region or AWS_REGION)");
    return 0;
}

static int parse_target(const char *spec, elb_target *t)
{
    char buf[400], *port, *az;
    memset(t, 0, sizeof *t);
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
        return -1;
    port = strchr(buf, ',');
    if (port) {
        *port++ = '\0';
        az = strchr(port, ',');
        if (az) {
            *az++ = '\0';
            snprintf(t->az, sizeof t->az, "%s", az);
        }
        t->port = atoi(port);
    }
    return snprintf(t->id, sizeof t->id, "%s", buf) >= (int)sizeof t->id ? -1 : 0;
}

static json_t *error_json(const elb_error *e)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:i}", "code", e->code, "message", e->message, "status",
                     (json_int_t)e->http_status, "requestId", e->request_id, "attempts", e->attempts);
}

static json_t *targets_json(const elb_target_list *l)
{
    json_t *arr = json_array();
    size_t i;
    for (i = 0; i < l->count; i++) {
        const elb_target *t = &l->items[i];
        json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:s, s:s}", "id", t->id, "port", t->port, "az", t->az,
                                             "state", t->state, "reason", t->reason));
    }
    return arr;
}

static void print_line(json_t *line)
{
    char *s = json_dumps(line, JSON_COMPACT);
    if (s)
        printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(line);
}

static json_t *groups_json(const elb_target_group_list *l, json_t *arr)
{
    size_t i;
    for (i = 0; i < l->count; i++) {
        const elb_target_group *g = &l->items[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s, s:s}", "arn", g->arn, "name", g->name, "port",
                                             g->port, "protocol", g->protocol, "type", g->target_type));
    }
    return arr;
}

/* Every page of DescribeTargetGroups for one load balancer. */
static int all_groups(elb_client *c, const char *lb, int page_size, int64_t deadline, json_t *line, elb_error *e)
{
    char marker[ELB_MARKER_MAX] = "";
    json_t *arr = json_array();
    int pages = 0, rc;
    do {
        elb_target_group_list l;
        rc = elb_describe_target_groups_page(c, lb, marker, page_size, deadline, &l, marker, sizeof marker, e);
        if (rc == 0) {
            groups_json(&l, arr);
            pages++;
        }
        elb_target_group_list_free(&l);
    } while (rc == 0 && marker[0]);
    json_object_set_new(line, "pages", json_integer(pages));
    json_object_set_new(line, "groups", arr);
    return rc;
}

static json_t *tags_json(const elb_tag_set_list *l)
{
    json_t *obj = json_object();
    size_t i, j;
    for (i = 0; i < l->count; i++) {
        json_t *set = json_object();
        for (j = 0; j < l->items[i].count; j++)
            json_object_set_new(set, l->items[i].items[j].key, json_string(l->items[i].items[j].value));
        json_object_set_new(obj, l->items[i].arn, set);
    }
    return obj;
}

static int add_tags(elb_client *c, char **words, int n, int64_t deadline, elb_error *e)
{
    elb_tag tags[ELB_MAX_TAGS_PER_ADD];
    int i;
    if (n < 3 || n - 2 > ELB_MAX_TAGS_PER_ADD)
        return -3;
    memset(tags, 0, sizeof tags);
    for (i = 2; i < n; i++) {
        const char *eq = strchr(words[i], '=');
        if (!eq)
            return -3;
        snprintf(tags[i - 2].key, sizeof tags[i - 2].key, "%.*s", (int)(eq - words[i]), words[i]);
        snprintf(tags[i - 2].value, sizeof tags[i - 2].value, "%s", eq + 1);
    }
    return elb_add_tags(c, words[1], tags, (size_t)(n - 2), deadline, e);
}

/* The discovery operations; -2 when op is not one of them, -3 on a usage error. */
static int run_discovery_op(elb_client *c, char **words, int n, int64_t deadline, json_t *line, elb_error *e)
{
    const char *op = words[0];
    elb_target_group_list g;
    elb_tag_set_list t;
    int rc;
    if (strcmp(op, "groups") == 0)
        return n == 3 ? all_groups(c, words[1], atoi(words[2]), deadline, line, e) : -2;
    if (strcmp(op, "groups-arn") == 0) {
        rc = elb_describe_target_groups_by_arn(c, (const char *const *)words + 1, (size_t)(n - 1), deadline, &g, e);
        json_object_set_new(line, "groups", groups_json(&g, json_array()));
        elb_target_group_list_free(&g);
        return rc;
    }
    if (strcmp(op, "tags") == 0 && n >= 2) {
        rc = elb_describe_tags(c, (const char *const *)words + 2, (size_t)(n - 2),
                               strcmp(words[1], "-") ? words[1] : NULL, deadline, &t, e);
        json_object_set_new(line, "tags", tags_json(&t));
        elb_tag_set_list_free(&t);
        return rc;
    }
    if (strcmp(op, "add-tags") == 0)
        return add_tags(c, words, n, deadline, e);
    if (strcmp(op, "remove-tags") == 0)
        return n >= 3 ? elb_remove_tags(c, words[1], (const char *const *)words + 2, (size_t)(n - 2), deadline, e) : -3;
    return -2;
}

/* Runs one operation (words[0..n)); 0 on success, 1 on an API error, 2 on usage. */
static int run_op(elb_client *c, char **words, int n, int64_t deadline)
{
    const char *op = words[0];
    elb_target *targets;
    elb_error e;
    elb_target_list l = {NULL, 0};
    int64_t start = rns_wall_ms();
    json_t *line;
    int i, rc;
    if (n < 2)
        return usage("operation without an ARN");
    line = json_object();
    rc = run_discovery_op(c, words, n, deadline, line, &e);
    if (rc == -3) {
        json_decref(line);
        return usage("bad add-tags or remove-tags");
    }
    if (rc != -2) {
        json_t *head = json_pack("{s:s, s:b, s:I}", "op", op, "ok", rc == 0, "ms", (json_int_t)(rns_wall_ms() - start));
        json_object_update(line, head);
        json_decref(head);
        if (rc != 0)
            json_object_set_new(line, "error", error_json(&e));
        print_line(line);
        return rc == 0 ? 0 : 1;
    }
    json_decref(line);
    if (strcmp(op, "describe") == 0) {
        rc = elb_describe_target_health(c, words[1], deadline, &l, &e);
    } else if (strcmp(op, "register") == 0 || strcmp(op, "deregister") == 0) {
        targets = calloc((size_t)(n > 2 ? n - 2 : 1), sizeof *targets);
        if (!targets)
            return 2;
        for (i = 2; i < n; i++) {
            if (parse_target(words[i], &targets[i - 2]) != 0) {
                free(targets);
                return usage("bad target");
            }
        }
        rc = op[0] == 'r' ? elb_register_targets(c, words[1], targets, (size_t)(n - 2), deadline, &e)
                          : elb_deregister_targets(c, words[1], targets, (size_t)(n - 2), deadline, &e);
        free(targets);
    } else {
        return usage("unknown operation");
    }
    line = json_pack("{s:s, s:b, s:I}", "op", op, "ok", rc == 0, "ms", (json_int_t)(rns_wall_ms() - start));
    if (rc == 0 && op[0] == 'd' && op[1] == 'e' && op[2] == 's')
        json_object_set_new(line, "targets", targets_json(&l));
    if (rc != 0)
        json_object_set_new(line, "error", error_json(&e));
    print_line(line);
    elb_target_list_free(&l);
    return rc == 0 ? 0 : 1;
}

static int run_sequence(elb_client *c, const options *o, int64_t deadline)
{
    int i = 0, failed = 0;
    while (i < o->nops) {
        int j = i, rc;
        while (j < o->nops && strcmp(o->ops[j], "--") != 0)
            j++;
        rc = run_op(c, o->ops + i, j - i, deadline);
        if (rc == 2)
            return 2;
        failed |= rc;
        i = j + 1;
    }
    return failed;
}

int main(int argc, char **argv)
{
    options o;
    logger lg;
    elb_client_config cfg;
    elb_client *c;
    char err[256];
    int r, failed = 0;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    logger_init(&lg, stderr);
    memset(&cfg, 0, sizeof cfg);
    cfg.region = o.region;
    cfg.endpoint_url = o.endpoint;
    cfg.creds.access_key_id = getenv("AWS_ACCESS_KEY_ID");
    cfg.creds.secret_access_key = getenv("AWS_SECRET_ACCESS_KEY");
    cfg.creds.session_token = getenv("AWS_SESSION_TOKEN");
    cfg.max_attempts = o.max_attempts;
    cfg.ca_bundle = o.ca_bundle ? o.ca_bundle : http_ca_bundle_from_env(env, NULL);
    cfg.log = &lg;
    if (!(c = elb_client_new(&cfg, err, sizeof err))) {
        fprintf(stderr, "elb_client: %s\n", err);
        return 2;
    }
    if (o.attempt_timeout_ms > 0)
        elb_client_set_attempt_timeout(c, o.attempt_timeout_ms);
    for (r = 0; r < o.repeat && failed != 2; r++)
        failed |= run_sequence(c, &o, rns_wall_ms() + o.deadline_ms);
    print_line(json_pack("{s:b, s:I, s:i, s:b}", "summary", 1, "connections", (json_int_t)elb_connections_opened(c),
                         "retryTokens", elb_retry_tokens(c), "ok", failed == 0));
    elb_client_free(c);
    return failed;
}
