/*
 * host.h — the helper table the host hands to plugins (mathx.c): stable
 * softmax / log-softmax / logsumexp, draws from host random streams, small
 * float32 vector ops.
 *
 * Provides: tb_host_api_get.
 */
#ifndef TB_HOST_H
#define TB_HOST_H

#include "trainbench/plugin.h"

const tb_host_api *tb_host_api_get(void);

#endif /* TB_HOST_H */
