/* Bindings (binding.h). */
#include "handler/sync/binding.h"

/* A failover-completion event for the identifier; in the RDS API mode's
 * writer role also the cluster's failover-started events; readers reconcile
 * once on every event. */
int binding_waits(const binding *b, const event_info *ev)
{
    switch (b->wait) {
    case BINDING_WAIT_NEVER: return 0;
    case BINDING_WAIT_CLUSTER_FAILOVER:
        return ev->failover || (ev->ours && event_is_cluster_failover_start(ev->event_id));
    default: return ev->failover;
    }
}
