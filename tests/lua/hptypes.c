/*
 * hptypes.c — a test-only plugin for the `lua` suite: one loss and one
 * optimizer whose hyperparameters cover every type of the ABI (real on a log
 * scale, real, int, bool, choice) and whose validate hooks reject one
 * combination each, so scripts can exercise every conversion and check.
 *
 * Provides: tb_plugin_entry, with the loss "hp_loss" and the optimizer "hp_opt".
 * Built beside the tests, never installed, never on the default search path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/*
 * hp_loss — a scaled cross-entropy, a fixture rather than a method (no
 * paper: the textbook softmax cross-entropy, e.g. Bishop, "Pattern
 * Recognition and Machine Learning", 2006, eq. 4.108). With p = softmax(z):
 *
 *   loss = weight * -log p_y            dloss/dz_j = weight * (p_j - [j = y])
 *
 * averaged over the batch. `order`, `flag` and `reduce` only feed the checks.
 */
enum { L_WEIGHT, L_ORDER, L_FLAG, L_REDUCE, L_N };

static const char *const reduce_options[] = {"mean", "sum", "max", NULL};

static const tb_hparam loss_hparams[L_N] = {
    [L_WEIGHT] = TBU_HP_REAL("weight", 1.0, 1e-6, 1e6, 1, "scale of the loss"),
    [L_ORDER] = TBU_HP_INT("order", 2, 1, 8, 0, "an integer in [1, 8]"),
    [L_FLAG] = TBU_HP_BOOL("flag", 0, "a switch"),
    [L_REDUCE] = TBU_HP_CHOICE("reduce", 0, reduce_options, "mean, sum or max"),
};

static int loss_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  if (v[L_REDUCE].num == 2 && v[L_FLAG].num == 0) {
    snprintf(err, errlen, "'reduce' = 'max' needs 'flag' = true");
    return 1;
  }
  return 0;
}

static int loss_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  double *weight = malloc(sizeof *weight);
  if (!weight) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  *weight = init->hp[L_WEIGHT];
  *state = weight;
  return 0;
}

/* Shapes: N = batch, K = classes; logits and dlogits [N][K]. */
static double loss_eval(void *state, const tb_loss_batch *b) {
  const double w = *(const double *)state;
  double total = 0;
  for (int i = 0; i < b->n; i++) {
    const double *z = b->logits + (size_t)i * b->k;
    double m = z[0], s = 0;
    for (int j = 1; j < b->k; j++) m = z[j] > m ? z[j] : m;
    for (int j = 0; j < b->k; j++) s += exp(z[j] - m);
    const double lse = m + log(s);
    total += w * (lse - z[b->labels[i]]);
    if (b->dlogits)
      for (int j = 0; j < b->k; j++)
        b->dlogits[(size_t)i * b->k + j] = w * (exp(z[j] - lse) - (j == b->labels[i])) / b->n;
  }
  return total / b->n;
}

static void loss_destroy(void *state) { free(state); }

static const tb_loss_def hp_loss = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "hp_loss",
    .version = "1",
    .summary = "scaled cross-entropy with hyperparameters of every type (test fixture)",
    .reference = "Bishop, Pattern Recognition and Machine Learning, 2006",
    .hparams = loss_hparams,
    .n_hparams = L_N,
    .validate = loss_validate,
    .create = loss_create,
    .eval = loss_eval,
    .destroy = loss_destroy,
};

/*
 * hp_opt — plain gradient descent, a fixture (Cauchy, "Méthode générale pour
 * la résolution des systèmes d'équations simultanées", 1847):
 *
 *   theta <- theta - lr_t * g,     lr_t = lr * schedule factor
 *
 * `steps`, `boost` and `mode` only feed the checks.
 */
enum { O_LR, O_MOMENTUM, O_STEPS, O_BOOST, O_MODE, O_N };

static const char *const mode_options[] = {"plain", "scaled", NULL};

static const tb_hparam opt_hparams[O_N] = {
    [O_LR] = TBU_HP_REAL("lr", 0.1, 0, 10, 1, "learning rate"),
    [O_MOMENTUM] = TBU_HP_REAL("momentum", 0, 0, 1, 0, "not used"),
    [O_STEPS] = TBU_HP_INT("steps", 1, 0, 100, 0, "not used"),
    [O_BOOST] = TBU_HP_BOOL("boost", 0, "needs steps >= 2"),
    [O_MODE] = TBU_HP_CHOICE("mode", 1, mode_options, "plain or scaled"),
};

static int opt_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  if (v[O_BOOST].num != 0 && v[O_STEPS].num < 2) {
    snprintf(err, errlen, "'boost' requires 'steps' >= 2 (got %g)", v[O_STEPS].num);
    return 1;
  }
  return 0;
}

typedef struct opt_state {
  double lr;
  int n_params;
} opt_state;

static int opt_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  opt_state *st = malloc(sizeof *st);
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  st->lr = init->hp[O_LR];
  st->n_params = init->n_params;
  *state = st;
  return 0;
}

static int opt_step(void *state, tb_tensor *params, const tb_tensor *grads,
                    const tb_step_ctx *ctx) {
  const opt_state *st = state;
  const float lr = (float)(st->lr * ctx->lr_factor);
  for (int p = 0; p < st->n_params; p++) {
    tb_tensor *x = TB_TENSOR_AT(params, ctx->tensor_size, p);
    const tb_tensor *g = TB_CTENSOR_AT(grads, ctx->tensor_size, p);
    for (int64_t i = 0; i < x->numel; i++) x->data[i] -= lr * g->data[i];
  }
  return 0;
}

static void opt_destroy(void *state) { free(state); }

static const tb_optimizer_def hp_opt = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "hp_opt",
    .version = "1",
    .summary = "gradient descent with hyperparameters of every type (test fixture)",
    .reference = "Cauchy, 1847",
    .hparams = opt_hparams,
    .n_hparams = O_N,
    .validate = opt_validate,
    .create = opt_create,
    .step = opt_step,
    .destroy = opt_destroy,
};

static const tb_loss_def *const losses[] = {&hp_loss, NULL};
static const tb_optimizer_def *const optimizers[] = {&hp_opt, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses, .optimizers = optimizers};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
