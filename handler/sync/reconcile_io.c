/* reconcile_run's I/O on the real ELBv2 client and clock (reconcile.h). */
#include "common/clock.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/slots.h"

static int io_describe(void *ctx, const char *target_group_arn, int64_t deadline_ms, elb_target_list *out,
                       elb_error *err)
{
    return elb_describe_target_health(ctx, target_group_arn, deadline_ms, out, err);
}

static int io_change(void *ctx, const char *target_group_arn, int deregister, const elb_target *targets, size_t count,
                     int64_t deadline_ms, elb_error *err)
{
    if (deregister)
        return elb_deregister_targets(ctx, target_group_arn, targets, count, deadline_ms, err);
    return elb_register_targets(ctx, target_group_arn, targets, count, deadline_ms, err);
}

static int io_describe_listener(void *ctx, const char *listener_arn, int64_t deadline_ms, elb_listener *out,
                                elb_error *err)
{
    return elb_describe_listener(ctx, listener_arn, deadline_ms, out, err);
}

static int io_modify_listener(void *ctx, const elb_listener *l, const int *weights, int64_t deadline_ms, elb_error *err)
{
    return elb_modify_listener_weights(ctx, l, weights, deadline_ms, NULL, err);
}

static int io_describe_groups_page(void *ctx, const char *lb, const char *marker, int64_t deadline_ms,
                                   elb_target_group_list *out, char *next, size_t next_len, elb_error *err)
{
    return elb_describe_target_groups_page(ctx, lb, marker, 0, deadline_ms, out, next, next_len, err);
}

static int io_describe_tags(void *ctx, const char *const *arns, size_t count, int64_t deadline_ms,
                            elb_tag_set_list *out, elb_error *err)
{
    return elb_describe_tags(ctx, arns, count, SLOTS_TAG_PREFIX, deadline_ms, out, err);
}

static int io_add_tags(void *ctx, const char *arn, const elb_tag *tags, size_t count, int64_t deadline_ms,
                       elb_error *err)
{
    return elb_add_tags(ctx, arn, tags, count, deadline_ms, err);
}

static int64_t io_now(void *ctx)
{
    (void)ctx;
    return rns_wall_ms();
}

static void io_sleep(void *ctx, long ms)
{
    (void)ctx;
    rns_sleep_ms(ms);
}

reconcile_io reconcile_io_of_elb(elb_client *c)
{
    return (reconcile_io){c,
                          io_describe,
                          io_change,
                          io_now,
                          io_sleep,
                          io_describe_listener,
                          io_modify_listener,
                          io_describe_groups_page,
                          io_describe_tags,
                          io_add_tags};
}
