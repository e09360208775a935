/* Prints what the ELBv2 client reads from response files, or the form body it
 * would send, as JSON; lets Python tests compare with botocore.
 *
 *   elb_parse FILE...
 *     one line per file: {"file","ok":true,"requestId","targets":[{"id","port","az","state","reason"}]}
 *                     or {"file","ok":false,"error":{"code","message","requestId"}}
 *   elb_parse --body ACTION ARN [ID[,PORT[,AZ]]...]
 *     the body, without a trailing newline
 *   elb_parse --groups-body LB|- MARKER|- PAGESIZE [ARN...]   DescribeTargetGroups' body
 *   elb_parse --tags-body ARN...                              DescribeTags' body */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/elbv2.h"
#include "handler/aws/elbv2_internal.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (!f)
        return NULL;
    do {
        if (n + 4096 + 1 > cap) {
            char *p = realloc(buf, cap = (n + 4096 + 1) * 2);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        got = fread(buf + n, 1, 4096, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static json_t *parse_one(const char *path)
{
    size_t len = 0, i;
    char *xml = slurp(path, &len);
    elb_target_list l;
    elb_error e;
    json_t *out, *arr;
    if (!xml)
        return json_pack("{s:s, s:b, s:{s:s, s:s, s:s}}", "file", path, "ok", 0, "error", "code", "IoError", "message",
                         "cannot read the file", "requestId", "");
    if (elb_parse_response(xml, len, &l, &e) != 0) {
        free(xml);
        return json_pack("{s:s, s:b, s:{s:s, s:s, s:s}}", "file", path, "ok", 0, "error", "code", e.code, "message",
                         e.message, "requestId", e.request_id);
    }
    free(xml);
    arr = json_array();
    for (i = 0; i < l.count; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:i, s:s, s:s, s:s}", "id", l.items[i].id, "port", l.items[i].port, "az",
                                        l.items[i].az, "state", l.items[i].state, "reason", l.items[i].reason));
    out = json_pack("{s:s, s:b, s:s, s:o}", "file", path, "ok", 1, "requestId", e.request_id, "targets", arr);
    elb_target_list_free(&l);
    return out;
}

static int print_body(int argc, char **argv)
{
    elb_target *t = calloc((size_t)argc + 1, sizeof *t);
    char *body;
    int i;
    if (!t)
        return 1;
    for (i = 2; i < argc; i++) {
        char buf[400], *port, *az;
        snprintf(buf, sizeof buf, "%s", argv[i]);
        if ((port = strchr(buf, ','))) {
            *port++ = '\0';
            if ((az = strchr(port, ','))) {
                *az++ = '\0';
                snprintf(t[i - 2].az, sizeof t[i - 2].az, "%s", az);
            }
            t[i - 2].port = atoi(port);
        }
        if (snprintf(t[i - 2].id, sizeof t[i - 2].id, "%s", buf) >= (int)sizeof t[i - 2].id) {
            fprintf(stderr, "elb_parse: target Id too long\n");
            free(t);
            return 2;
        }
    }
    body = elbv2_build_body(argv[0], argv[1], t, (size_t)(argc - 2));
    if (body)
        fputs(body, stdout);
    free(body);
    free(t);
    return body ? 0 : 1;
}

static int print_discovery_body(int argc, char **argv)
{
    char *body;
    if (strcmp(argv[1], "--tags-body") == 0) {
        body = elbv2_tags_body((const char *const *)argv + 2, (size_t)(argc - 2));
    } else {
        if (argc < 5)
            return 2;
        body = elbv2_groups_body(strcmp(argv[2], "-") ? argv[2] : NULL, (const char *const *)argv + 5,
                                 (size_t)(argc - 5), strcmp(argv[3], "-") ? argv[3] : NULL, atoi(argv[4]));
    }
    if (body)
        fputs(body, stdout);
    free(body);
    return body ? 0 : 1;
}

int main(int argc, char **argv)
{
    int i;
    if (argc >= 3 && (strcmp(argv[1], "--groups-body") == 0 || strcmp(argv[1], "--tags-body") == 0))
        return print_discovery_body(argc, argv);
    if (argc >= 4 && strcmp(argv[1], "--body") == 0)
        return print_body(argc - 2, argv + 2);
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: elb_parse FILE... | elb_parse --body ACTION ARN [ID[,PORT[,AZ]]...]\n");
        return 2;
    }
    for (i = 1; i < argc; i++) {
        json_t *line = parse_one(argv[i]);
        char *s = json_dumps(line, JSON_COMPACT);
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(line);
    }
    return 0;
}
