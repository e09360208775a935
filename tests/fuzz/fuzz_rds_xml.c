/* libFuzzer target: RDS answers (handler/aws/rds.c) as they come off the
 * network, read as a DescribeDBClusters and as a DescribeDBInstances page:
 * every field terminated, a member or instance never without its id, a
 * failure never leaving a half-filled list, the Marker sent back always a
 * form value of one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/rds.h"
#include "handler/sync/cluster.h"
#include "tests/fuzz/fuzz.h"

static void check_error(const aws_error *e)
{
    FUZZ_CHECK(e->code[0] != '\0');
    FUZZ_CHECK(memchr(e->code, '\0', sizeof e->code) && memchr(e->message, '\0', sizeof e->message));
    FUZZ_CHECK(memchr(e->request_id, '\0', sizeof e->request_id));
}

static void check_clusters(const uint8_t *data, size_t size)
{
    rds_cluster c;
    aws_error e;
    if (rds_parse_clusters((const char *)data, size, &c, &e) != 0) {
        check_error(&e);
        FUZZ_CHECK(c.items == NULL && c.count == 0);
        return;
    }
    FUZZ_CHECK(c.id[0] != '\0');
    FUZZ_CHECK(memchr(c.status, '\0', sizeof c.status) && memchr(c.endpoint, '\0', sizeof c.endpoint));
    FUZZ_CHECK(memchr(c.reader_endpoint, '\0', sizeof c.reader_endpoint));
    for (size_t i = 0; i < c.count; i++) {
        FUZZ_CHECK(c.items[i].id[0] != '\0' && memchr(c.items[i].id, '\0', sizeof c.items[i].id));
        FUZZ_CHECK(c.items[i].writer == 0 || c.items[i].writer == 1);
    }
    rds_cluster_free(&c);
}

static void check_instances(const uint8_t *data, size_t size)
{
    rds_instance_list l = {NULL, 0};
    char marker[RDS_MARKER_MAX];
    aws_error e;
    if (rds_parse_instances((const char *)data, size, &l, marker, &e) != 0) {
        check_error(&e);
        FUZZ_CHECK(l.items == NULL && l.count == 0);
        return;
    }
    FUZZ_CHECK(memchr(marker, '\0', RDS_MARKER_MAX) != NULL);
    for (size_t i = 0; i < l.count; i++) {
        const rds_instance *in = &l.items[i];
        FUZZ_CHECK(in->id[0] != '\0' && memchr(in->status, '\0', sizeof in->status));
        FUZZ_CHECK(memchr(in->address, '\0', sizeof in->address));
        FUZZ_CHECK(rds_instance_find(&l, in->id) != NULL);
        (void)cluster_status_serves(in->status);
    }
    char *body = rds_instances_body(l.count ? l.items[0].id : "c", marker);
    FUZZ_CHECK(body != NULL && !strpbrk(body, " \r\n"));
    free(body);
    rds_instance_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_clusters(data, size);
    check_instances(data, size);
    return 0;
}
