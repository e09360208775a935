/* reconcile_run (reconcile.h): the single target group of section 5
 * (reconcile.c) or the fast switch's slots (reconcile_slots.c, which builds
 * on reconcile.c's steps), chosen by the binding. A file of its own so that
 * neither of the two calls the other back. */
#include "handler/sync/reconcile.h"
#include "handler/sync/reconcile_internal.h"

int reconcile_run(const reconcile_io *io, const reconcile_request *req, reconcile_report *rep, rns_error *err)
{
    struct reconcile_run r;
    reconcile_begin(&r, io, req, rep, err);
    int rc = req->binding->listener_arn ? reconcile_slots(&r) : reconcile_group(&r);
    reconcile_end(&r);
    return rc;
}
