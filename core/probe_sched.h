/*
 * probe_sched.h — one schedule instance driven outside any training run,
 * for `trainbench check` (checks.c) and the numeric fingerprints
 * (fingerprint.c), beside probe.h's losses and optimizers: created on a run
 * of S steps per epoch and E epochs, asked for the factor of any step, with
 * fixed metrics as the last evaluation (so a plateau schedule sees some).
 *
 * Provides: tb_probe_sched_open, tb_probe_sched_factor, tb_probe_sched_close.
 */
#ifndef TB_PROBE_SCHED_H
#define TB_PROBE_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "trainbench/plugin.h"
#include "util.h"

typedef struct tb_probe_sched {
  const tb_component *c;
  void *state;
  int live;
  tb_value values[TB_MAX_HP];
  tb_schedule_ctx ctx;
  tb_metric_value metrics[4];
} tb_probe_sched;

/* Create schedule c with the scalar values hp on a run of S steps per epoch
 * and E epochs; 0, or -1 with the plugin's message (or ours) in err. */
int tb_probe_sched_open(tb_probe_sched *s, const tb_component *c, const double *hp, int64_t S,
                        int E, char *err, size_t errlen);
/* The factor before step t (0 first), as the trainer asks for it. */
double tb_probe_sched_factor(tb_probe_sched *s, int64_t t);
void tb_probe_sched_close(tb_probe_sched *s);

#endif /* TB_PROBE_SCHED_H */
