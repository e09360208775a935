/* Names of a database, good and bad, under the rules of DB_ENDPOINT,
 * DB_CLUSTER_IDENTIFIER and DB_IDENTIFIER (config.h): one table for both
 * places that read them, the environment (test_config.c) and fleet mode's
 * tags (test_fleet.c), so a value one rejects the other rejects too. */
#ifndef RNS_TEST_DB_NAMES_H
#define RNS_TEST_DB_NAMES_H

#include <stddef.h>

typedef enum db_name_rule { DB_NAME_ENDPOINT, DB_NAME_CLUSTER, DB_NAME_IDENTIFIER } db_name_rule;

#define X10 "abcdefghij"
#define X50 X10 X10 X10 X10 X10

static const struct {
    db_name_rule rule;
    const char *value;
    int valid;
} db_names[] = {
    {DB_NAME_ENDPOINT, "orders.abc123xyz.eu-west-1.rds.amazonaws.com", 1},
    {DB_NAME_ENDPOINT, "p.proxy-abc.eu-west-1.rds.amazonaws.com", 1},
    {DB_NAME_ENDPOINT, "db", 1},
    {DB_NAME_ENDPOINT, "a_b.example.", 1},
    {DB_NAME_ENDPOINT, "10.0.0.5", 1},
    {DB_NAME_ENDPOINT, "fd00::5", 1},
    {DB_NAME_ENDPOINT, "a b", 0},
    {DB_NAME_ENDPOINT, ".lead", 0},
    {DB_NAME_ENDPOINT, "a..b", 0},
    {DB_NAME_ENDPOINT, "db.example:5432", 0},
    {DB_NAME_ENDPOINT, "postgres://db.example", 0},
    {DB_NAME_ENDPOINT, X50 "abcdefghijklmn.example", 0}, /* a 64-character label */
    {DB_NAME_CLUSTER, "orders-aurora", 1},
    {DB_NAME_CLUSTER, "A", 1},
    {DB_NAME_CLUSTER, "Aurora-Orders-2", 1},
    {DB_NAME_CLUSTER, "c" X50 X10 "ab", 1},  /* 63 */
    {DB_NAME_CLUSTER, "c" X50 X10 "abc", 0}, /* 64 */
    {DB_NAME_CLUSTER, "bad_cluster", 0},
    {DB_NAME_CLUSTER, "orders.aurora", 0},
    {DB_NAME_CLUSTER, "-a", 0},
    {DB_NAME_CLUSTER, "a-", 0},
    {DB_NAME_CLUSTER, "a--b", 0},
    {DB_NAME_CLUSTER, "1abc", 0},
    {DB_NAME_IDENTIFIER, "orders-db", 1},
    {DB_NAME_IDENTIFIER, "Orders.db_2", 1},
    {DB_NAME_IDENTIFIER, X50 X50 X50 X50 X50 "abcde", 1},  /* 255 */
    {DB_NAME_IDENTIFIER, X50 X50 X50 X50 X50 "abcdef", 0}, /* 256 */
    {DB_NAME_IDENTIFIER, "orders db", 0},
    {DB_NAME_IDENTIFIER, "a/b", 0},
    {DB_NAME_IDENTIFIER, "caf\xc3\xa9", 0},
};
#define N_DB_NAMES (sizeof db_names / sizeof db_names[0])

#undef X10
#undef X50

#endif
