/*
 * hinge.c — the multiclass hinge loss of Crammer and Singer (the margin of
 * the true class over the best other class, clipped at 0).
 *
 * Provides: tb_plugin_entry, with one loss, "hinge".
 *
 * Shapes: N = samples in the batch, K = classes; z = one row of logits [K].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"

/*
 * Source: Crammer & Singer, "On the Algorithmic Implementation of Multiclass
 * Kernel-based Vector Machines", 2001. With y the label:
 *
 *   m    = argmax_{k != y} z_k                 (ties: the lowest index k)
 *   loss = max(0, margin + z_m - z_y)
 *   dloss/dz = e_m - e_y if margin + z_m - z_y > 0, else 0
 *
 * The subgradient chosen at the hinge point (margin + z_m - z_y = 0) is 0, and
 * at ties of the max the whole gradient goes to the lowest index, so the
 * result never depends on anything but the logits. The formula has no target
 * distribution: with soft targets it uses the label (their argmax). With
 * K = 1 there is no other class and the loss is 0.
 */
static const tb_hparam hparams[] = {
  {"margin", TB_HP_REAL, 1.0, 0.0, 100.0, 0, NULL,
   "required gap between the true class logit and the best other logit"},
};

typedef struct hinge_state {
  int k;
  double margin;
} hinge_state;

static int hinge_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  if (init->n_classes < 1) {
    snprintf(err, errlen, "loss 'hinge' needs at least 1 class, got %d", init->n_classes);
    return -1;
  }
  hinge_state *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  st->k = init->n_classes;
  st->margin = init->hp[0];
  *state = st;
  return 0;
}

static void hinge_destroy(void *state) { free(state); }

/* A zero-weight row is skipped (zero gradient) so it cannot add even a NaN. */
static double hinge_eval(void *state, const tb_loss_batch *b) {
  hinge_state *st = state;
  const int n = b->n, k = b->k;
  if (k != st->k) return NAN; /* not the K this state was created for */
  if (n <= 0) return 0;
  double total = 0;
  for (int i = 0; i < n; i++) {
    const double *z = b->logits + (size_t)i * k;
    double *dz = b->dlogits ? b->dlogits + (size_t)i * k : NULL;
    const double w = b->weights ? b->weights[i] : 1.0;
    const int y = b->labels[i];
    if (dz) memset(dz, 0, sizeof *dz * (size_t)k);
    if (w == 0) continue;
    if (y < 0 || y >= k) return NAN;
    int m = -1, bad = isnan(z[y]);
    for (int j = 0; j < k; j++) {
      if (j == y) continue;
      bad |= isnan(z[j]); /* a NaN logit must not vanish in the comparisons */
      if (m < 0 || z[j] > z[m]) m = j; /* strict: ties keep the lowest index */
    }
    if (bad) return NAN;
    if (m < 0) continue;
    const double h = st->margin + z[m] - z[y];
    if (isnan(h)) return NAN; /* +inf logits on both sides */
    if (h <= 0) continue;     /* at or past the margin: loss and subgradient 0 */
    total += w * h;
    if (dz) {
      dz[m] = w / n;
      dz[y] = -w / n;
    }
  }
  return total / n;
}

static const tb_loss_def hinge = {
  .name = "hinge",
  .version = "1",
  .summary = "multiclass hinge loss (Crammer-Singer): margin of the true class over the best other",
  .reference = "Crammer & Singer, \"On the Algorithmic Implementation of Multiclass "
               "Kernel-based Vector Machines\", 2001",
  .services = 0,
  .hparams = hparams,
  .n_hparams = (int)(sizeof hparams / sizeof hparams[0]),
  .validate = NULL,
  .create = hinge_create,
  .eval = hinge_eval,
  .destroy = hinge_destroy,
};

static const tb_loss_def *const losses[] = {&hinge, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, losses, NULL};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
