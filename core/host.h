/*
 * host.h — the helper table the host hands to plugins (mathx.c): stable
 * softmax / log-softmax / logsumexp, draws from host random streams, small
 * float32 vector ops, sgemm, a symmetric eigendecomposition.
 *
 * Provides: tb_host_api_get, tb_host_misuse, tb_host_misuse_clear, tb_softmax_lse,
 *           tb_exp.
 */
#ifndef TB_HOST_H
#define TB_HOST_H

#include "trainbench/plugin.h"

const tb_host_api *tb_host_api_get(void);
/* What a plugin did with the helper table that it had not declared (a
 * random draw from the NULL stream of a component without TB_SERVICE_RNG),
 * or NULL; cleared by tb_host_misuse_clear. Per process: a worker runs one
 * run, the checker one component per child. */
const char *tb_host_misuse(void);
void tb_host_misuse_clear(void);
/* p[k] = softmax(z) and the return value logsumexp(z), from one pass of k
 * exps: bit for bit the host table's softmax and logsumexp (the evaluation
 * passes' metrics need both of every row). */
double tb_softmax_lse(double *p, const double *z, int k);
/* e^x as the host's softmax family computes it (mathx.c): within 1 ulp of
 * the true value, the same bits on every machine; for tests. */
double tb_exp(double x);

#endif /* TB_HOST_H */
