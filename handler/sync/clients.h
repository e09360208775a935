/* The AWS clients of a configuration: the one place a config becomes an
 * ELBv2 or RDS client (the handler's and each fleet worker's). */
#ifndef RNS_SYNC_CLIENTS_H
#define RNS_SYNC_CLIENTS_H

#include <stddef.h>

#include "common/log.h"
#include "handler/aws/elbv2.h"
#include "handler/aws/query.h"
#include "handler/sync/config.h"

/* NULL with err when the client cannot be made. cfg and log are borrowed. */
elb_client *clients_new_elb(const config *cfg, logger *log, char *err, size_t errlen);
query_client *clients_new_rds(const config *cfg, logger *log, char *err, size_t errlen);

#endif
