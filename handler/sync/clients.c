/* AWS clients from the configuration (clients.h). */
#include "handler/sync/clients.h"

#include "handler/aws/rds.h"

elb_client *clients_new_elb(const config *cfg, logger *log, char *err, size_t errlen)
{
    elb_client_config ec = {
        .region = cfg->region,
        .endpoint_url = cfg->endpoint_url,
        .creds = {cfg->access_key_id, cfg->secret_access_key, cfg->session_token},
        .max_attempts = cfg->max_attempts,
        .ca_bundle = cfg->ca_bundle,
        .log = log,
    };
    return elb_client_new(&ec, err, errlen);
}

query_client *clients_new_rds(const config *cfg, logger *log, char *err, size_t errlen)
{
    query_client_config qc = {
        .service = &rds_service,
        .region = cfg->region,
        .endpoint_url = cfg->rds_endpoint_url,
        .creds = {cfg->access_key_id, cfg->secret_access_key, cfg->session_token},
        .max_attempts = cfg->max_attempts,
        .ca_bundle = cfg->ca_bundle,
        .log = log,
    };
    return query_client_new(&qc, err, errlen);
}
