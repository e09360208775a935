/* reconcile_run's I/O on the real ELBv2 client and clock (reconcile.h). */
#include "common/clock.h"
#include "handler/sync/reconcile.h"

static int io_describe(void *ctx, const char *target_group_arn, int64_t deadline_ms, elb_target_list *out,
                       elb_error *err)
{
    return elb_describe_target_health(ctx, target_group_arn, deadline_ms, out, err);
}

static int io_change(void *ctx, const char *target_group_arn, int deregister, const elb_target *targets,
                     size_t count, int64_t deadline_ms, elb_error *err)
{
    if (deregister)
        return elb_deregister_targets(ctx, target_group_arn, targets, count, deadline_ms, err);
    return elb_register_targets(ctx, target_group_arn, targets, count, deadline_ms, err);
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
    return (reconcile_io){c, io_describe, io_change, io_now, io_sleep};
}
