/* The binding of a configuration (binding.h). */
#include "handler/sync/binding.h"

void binding_from_config(binding *b, const config *cfg, addr_source source)
{
    *b = (binding){
        .source = source,
        .target_group_arn = cfg->target_group_arn,
        .target_group_name = cfg->target_group_name,
        .endpoint = cfg->db_endpoint,
        .identifier = cfg->db_identifier,
        .port = cfg->db_port,
        .az = cfg->target_az,
        .allowed = &cfg->allowed,
        .failover_wait_seconds = cfg->failover_wait_seconds,
        .dns_poll_ms = cfg->dns_poll_ms,
        .dry_run = cfg->dry_run,
        .wait = !cfg->cluster_id               ? BINDING_WAIT_FAILOVER
                : cfg->role == DB_ROLE_READERS ? BINDING_WAIT_NEVER
                                               : BINDING_WAIT_CLUSTER_FAILOVER,
    };
}

/* A failover-completion event for the identifier; in the RDS API mode's
 * writer role also the cluster's failover-started events; readers reconcile
 * once on every event. */
int binding_waits(const binding *b, const event_info *ev)
{
    switch (b->wait) {
    case BINDING_WAIT_NEVER: return 0;
    case BINDING_WAIT_CLUSTER_FAILOVER: return ev->failover || (ev->ours && event_is_cluster_failover_start(ev->event_id));
    default: return ev->failover;
    }
}
