/* The handler's configuration (README.md, "Configuration"), read once at start
 * through a lookup function so tests can feed an environment without setenv.
 * One table in config.c holds every variable: its name, when it is required,
 * its range, its default and its meaning. config_load walks it and
 * config_help prints it (bootstrap --help). Nothing else reads a
 * configuration variable, except the logger its own two.
 *
 *   config cfg;
 *   char err[1024];
 *   if (config_load(&cfg, config_getenv, NULL, err, sizeof err) != 0) ...report err...
 *
 * Every problem found is reported, joined by "; ", each naming the variable
 * and what is wrong with it. Secret values never appear in a message. An
 * empty variable counts as unset, except METRICS_NAMESPACE (empty disables
 * metrics). */
#ifndef RNS_CONFIG_H
#define RNS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "handler/sync/addr.h"

#define CONFIG_MAX_LOAD_BALANCERS 20 /* FLEET_LOAD_BALANCER_ARNS holds 1 to 20 */

typedef enum ip_family { IP_FAMILY_IPV4, IP_FAMILY_IPV6, IP_FAMILY_DUAL } ip_family;

/* DB_ROLE (README.md, "Clusters (RDS API mode)"): what a cluster's target group holds. */
typedef enum db_role { DB_ROLE_WRITER, DB_ROLE_READERS } db_role;

typedef struct config {
    char *target_group_arn;  /* NULL only with LISTENER_ARN */
    char *target_group_name; /* <name> of the ARN, else LISTENER_ARN's load balancer name */
    char *arn_region;        /* <region> of the ARN */
    char *db_endpoint;       /* NULL only in cluster mode, where it is optional */
    int db_port;
    char *db_identifier; /* DB_IDENTIFIER, else DB_CLUSTER_IDENTIFIER, else the first label of DB_ENDPOINT */
    char *cluster_id;    /* DB_CLUSTER_IDENTIFIER: the RDS API mode; NULL: DNS mode */
    db_role role;        /* DB_ROLE, writer by default */
    cidr_list allowed;
    ip_family family;
    int failover_wait_seconds;
    int dns_poll_ms;
    int dry_run;
    char *metrics_namespace; /* "" disables metrics */
    char *region;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;    /* NULL when absent */
    char *endpoint_url;     /* ELBv2; always set: override or the region's default */
    char *rds_endpoint_url; /* RDS, set in cluster mode: AWS_ENDPOINT_URL_RDS, AWS_ENDPOINT_URL or the default */
    int max_attempts;
    char *ca_bundle;  /* AWS_CA_BUNDLE or SSL_CERT_FILE; NULL: the system bundles (handler/aws/http.h) */
    char *target_az;  /* TARGET_AVAILABILITY_ZONE, NULL when unset */
    char **fleet_lbs; /* FLEET_LOAD_BALANCER_ARNS: fleet mode (CONTRACT.md section 14); NULL: one binding */
    size_t fleet_lb_count;
    int proxy_misses;    /* PROXY_MISSES */
    int fleet_max_calls; /* FLEET_MAX_API_CALLS */
    char *listener_arn;  /* LISTENER_ARN: the fast switch (CONTRACT.md section 13); NULL: one target group */
} config;

/* Returns the value of an environment variable, or NULL when unset. */
typedef const char *(*config_lookup_fn)(const char *name, void *ctx);

/* getenv(), for config_load. */
const char *config_getenv(const char *name, void *ctx);

/* 0, or -1 with every problem in err. On -1 nothing needs freeing. */
int config_load(config *cfg, config_lookup_fn lookup, void *ctx, char *err, size_t errlen);
void config_free(config *cfg);

/* The table, as --help prints it: each variable, when it is required, its
 * meaning, range and default. */
void config_help(FILE *out);

/* The table's variables, in the order config_load reads them: the name of
 * the i-th (NULL past the end), and how many there are. */
const char *config_var_name(size_t i);
size_t config_var_count(void);

/* AF_INET, AF_INET6 or AF_UNSPEC (dual): what IP_FAMILY looks up. */
int config_address_family(const config *cfg);

/* The rules of DB_ENDPOINT (a DNS name or an IP address), DB_CLUSTER_IDENTIFIER
 * and DB_IDENTIFIER (at most CONFIG_IDENTIFIER_MAX letters, digits, - _ .),
 * for whatever else names a database (fleet mode's tags): one rule each.
 * 1 when v is valid, else 0. */
#define CONFIG_IDENTIFIER_MAX 255
int config_endpoint_valid(const char *v);
int config_cluster_id_valid(const char *v);
int config_identifier_valid(const char *v);

/* The identifier of a database named by `name` (a DNS name or a cluster id)
 * when none is given: its first label (the cluster id itself). The length
 * of that prefix of name. */
size_t config_default_identifier_len(const char *name);

/* "writer" or "readers". */
const char *db_role_name(db_role r);
/* DB_ROLE's and the role tag's rule: NULL or "writer" (any case) is the
 * writer, "readers" the readers; 0, or -1 for anything else. */
int db_role_parse(const char *v, db_role *out);

#endif
