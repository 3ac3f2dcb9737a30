/*
 * probe_sched.c — a schedule instance outside any training run (see
 * probe_sched.h): what the trainer does with a schedule plugin (create it
 * with the run's shape, ask for each step's factor), on made-up runs.
 *
 * Provides: tb_probe_sched_open, tb_probe_sched_factor, tb_probe_sched_close.
 */
#include <math.h>
#include <string.h>

#include "host.h"
#include "probe_sched.h"
#include "registry.h"
#include "trainbench/plugin.h"
#include "util.h"

int tb_probe_sched_open(tb_probe_sched *s, const tb_component *c, const double *hp, int64_t S,
                        int E, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->c = c;
  if (!c->sched || !c->sched->factor) {
    tb_errf(err, errlen, "%s '%s' is not a schedule", tb_kind_name(c->kind), c->name);
    return -1;
  }
  tb_hparams_values(c, hp, s->values);
  tb_schedule_init init = {.host = tb_host_api_get(), .hp = hp, .values = s->values,
                           .steps_per_epoch = S, .n_steps = S * E, .n_epochs = E};
  /* the metrics of a first evaluation: the same made-up numbers every time */
  static const char *const splits[4] = {"train", "train", "val", "val"};
  static const char *const names[4] = {"loss", "accuracy", "loss", "accuracy"};
  static const double values[4] = {1.25, 0.5, 1.5, 0.4};
  for (int i = 0; i < 4; i++) s->metrics[i] = (tb_metric_value){splits[i], names[i], values[i]};
  s->ctx.steps_per_epoch = S;
  s->ctx.n_steps = S * E;
  s->ctx.last_eval = s->metrics;
  s->ctx.n_last_eval = 4;
  s->ctx.metric_size = sizeof(tb_metric_value);
  char msg[TB_ERRLEN] = "";
  if (c->sched->create && c->sched->create(&init, &s->state, msg, sizeof msg)) {
    tb_errf(err, errlen, "create failed: %s", msg[0] ? msg : "no reason");
    return -1;
  }
  s->live = 1;
  return 0;
}

double tb_probe_sched_factor(tb_probe_sched *s, int64_t t) {
  s->ctx.step = t;
  s->ctx.epoch = s->ctx.steps_per_epoch > 0 ? (int)(t / s->ctx.steps_per_epoch) : 0;
  return s->c->sched->factor(s->state, &s->ctx);
}

void tb_probe_sched_close(tb_probe_sched *s) {
  if (s->live && s->c->sched->destroy) s->c->sched->destroy(s->state);
  s->live = 0;
}
