/*
 * hpnest.c — a test-only plugin for the `lua` and `e2e` suites: components
 * whose hyperparameters have the types beyond the scalars (string, list,
 * record, K-sized list and matrix, component) and losses that require what
 * no scenario provides yet, so scripts can exercise the one validator,
 * nested components, K-aware validate hooks, `requires`, identities and
 * params rows of every type.
 *
 * Fixtures, not methods: the optimizers are plain gradient descent and the
 * losses the softmax cross-entropy (Bishop, "Pattern Recognition and Machine
 * Learning", 2006, eq. 4.108), scaled per class by `class_weights`:
 *
 *   loss_i = w_{y_i} (-log p_{y_i})       dloss_i/dz_j = w_{y_i} (p_j - [j = y_i])
 *
 * averaged over the batch (w = 1 when no weights are given). A wrapper's
 * base is validated, recorded and shown, but not run: running it is
 * composition's run time (TB_SERVICE_BASE), which comes later.
 *
 * Provides: tb_plugin_entry, with the optimizer "hp_wrap", the losses
 * "hp_kloss", "hp_lwrap", "hp_soft", "hp_cos", "hp_ids" and "hp_self"
 * (broken: its default base is itself), and the
 * schedules "hp_seen" (a probe of what the trainer hands a schedule) and
 * "hp_negative" (broken). Built beside the tests, never installed, never on
 * the default search path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"

/* ---- losses ----------------------------------------------------------------- */

typedef struct kloss_state {
  int k;
  double w[]; /* [K] class weights */
} kloss_state;

/* create for every loss here: class weights from values[at] when it is a
 * list of K of them, else 1 */
static int kloss_make(const tb_loss_init *init, int at, void **state, char *err, size_t errlen) {
  const int k = init->n_classes;
  kloss_state *s = malloc(sizeof *s + sizeof(double) * (size_t)k);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  s->k = k;
  for (int j = 0; j < k; j++) s->w[j] = 1;
  if (at >= 0 && init->values[at].n == k)
    for (int j = 0; j < k; j++) s->w[j] = init->values[at].list[j];
  *state = s;
  return 0;
}

/* Shapes: N = batch, K = classes; logits and dlogits [N][K]. */
static double kloss_eval(void *state, const tb_loss_batch *b) {
  const kloss_state *s = state;
  double total = 0;
  for (int i = 0; i < b->n; i++) {
    const double *z = b->logits + (size_t)i * b->k;
    const double w = s->w[b->labels[i]] * (b->weights ? b->weights[i] : 1);
    double m = z[0], e = 0;
    for (int j = 1; j < b->k; j++) m = z[j] > m ? z[j] : m;
    for (int j = 0; j < b->k; j++) e += exp(z[j] - m);
    const double lse = m + log(e);
    /* the soft target row when there is one (TB_LOSS_SOFT_TARGETS), else one-hot */
    const double *t = b->targets ? b->targets + (size_t)i * b->k : NULL;
    double tz = 0;
    for (int j = 0; j < b->k; j++) tz += (t ? t[j] : j == b->labels[i]) * z[j];
    total += w * (lse - tz);
    if (b->dlogits)
      for (int j = 0; j < b->k; j++)
        b->dlogits[(size_t)i * b->k + j] =
            w * (exp(z[j] - lse) - (t ? t[j] : j == b->labels[i])) / b->n;
  }
  return total / b->n;
}

enum { K_WEIGHTS, K_CONFUSION, K_ORDER, K_N };

static const tb_hparam kloss_hparams[K_N] = {
    [K_WEIGHTS] = {.name = "class_weights", .type = TB_HP_LIST, .min = 0, .max = 100,
                   .flags = TB_HPF_K, .help = "one weight per class (empty: all 1)"},
    [K_CONFUSION] = {.name = "confusion", .type = TB_HP_MATRIX, .min = 0, .max = 1,
                     .flags = TB_HPF_K, .help = "a K x K row-stochastic matrix (empty: none)"},
    [K_ORDER] = TBU_HP_INT("order", 1, 1, 100, 0, "at most K"),
};

/* K-aware: `order` is at most K, and a confusion matrix's rows sum to 1. */
static int kloss_validate(const tb_value *v, int k, char *err, size_t errlen) {
  if (k >= 0 && v[K_ORDER].num > k) {
    snprintf(err, errlen, "'order' = %g must be at most K = %d", v[K_ORDER].num, k);
    return 1;
  }
  for (int64_t r = 0; r < v[K_CONFUSION].rows && v[K_CONFUSION].n > 0; r++) {
    double sum = 0;
    for (int64_t c = 0; c < v[K_CONFUSION].cols; c++)
      sum += v[K_CONFUSION].list[r * v[K_CONFUSION].cols + c];
    if (fabs(sum - 1) > 1e-9) {
      snprintf(err, errlen, "row %lld of 'confusion' sums to %g, not 1", (long long)r + 1, sum);
      return 1;
    }
  }
  return 0;
}

static int kloss_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  return kloss_make(init, K_WEIGHTS, state, err, errlen);
}
static int plain_create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  return kloss_make(init, -1, state, err, errlen);
}

static const tb_loss_def hp_kloss = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "hp_kloss", .version = "1",
    .summary = "class-weighted cross-entropy with K-sized hyperparameters (test fixture)",
    .reference = "Bishop, Pattern Recognition and Machine Learning, 2006",
    .flags = TB_LOSS_SOFT_TARGETS,
    .hparams = kloss_hparams, .n_hparams = K_N, .validate = kloss_validate,
    .create = kloss_create, .eval = kloss_eval, .destroy = free,
};

static const tb_hparam lwrap_hparams[] = {
    {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_LOSS,
     .def_text = "hp_loss", .help = "the loss it wraps"},
    TBU_HP_REAL("clip", 10, 0, 100, 0, "not used"),
};

static const tb_loss_def hp_lwrap = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "hp_lwrap", .version = "1",
    .summary = "a loss wrapping a base loss (test fixture; the base is not run)",
    .reference = "Bishop, Pattern Recognition and Machine Learning, 2006",
    .flags = TB_LOSS_SOFT_TARGETS,
    .hparams = lwrap_hparams, .n_hparams = 2,
    .create = plain_create, .eval = kloss_eval, .destroy = free,
};

/* hp_self — a wrapper whose default base is itself: a chain of defaults
 * without end, which the core must refuse rather than follow. */
static const tb_hparam self_hparams[] = {
    {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_LOSS,
     .def_text = "hp_self", .help = "itself, by default"},
};

static const tb_loss_def hp_self = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "hp_self", .version = "1",
    .summary = "a loss whose default base is itself (a broken test fixture)",
    .reference = "Bishop, Pattern Recognition and Machine Learning, 2006",
    .hparams = self_hparams, .n_hparams = 1,
    .create = plain_create, .eval = kloss_eval, .destroy = free,
};

#define REQUIRING(var, name_, req_, summary_)                                              \
  static const tb_loss_def var = {                                                         \
      TB_DEF_SIZES(tb_loss_def),                                                           \
      .name = name_, .version = "1", .summary = summary_,                                  \
      .reference = "Bishop, Pattern Recognition and Machine Learning, 2006",               \
      .requires = req_, .create = plain_create, .eval = kloss_eval, .destroy = free}

REQUIRING(hp_soft, "hp_soft", TB_REQ_SOFT_TARGETS, "requires soft targets (test fixture)");
/* a cosine-head loss reports its scale (ABI 2.1): here 1 */
static double unit_scale(void *state, const tb_loss_batch *b) {
  (void)state, (void)b;
  return 1.0;
}
static const tb_loss_def hp_cos = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "hp_cos", .version = "1", .summary = "requires a cosine head (test fixture)",
    .reference = "Bishop, Pattern Recognition and Machine Learning, 2006",
    .requires = TB_REQ_COSINE_HEAD, .create = plain_create, .eval = kloss_eval, .destroy = free,
    .head_scale = unit_scale};
REQUIRING(hp_ids, "hp_ids", TB_REQ_SAMPLE_IDS, "requires sample ids (test fixture)");

/* ---- an optimizer wrapping a base -------------------------------------------- */

/*
 * hp_wrap — plain gradient descent with a fixed step of 0.01 (a wrapper has
 * no lr of its own), times the schedule's factor; its other
 * hyperparameters only feed the checks.
 */
enum { W_BASE, W_MIX, W_WIDTHS, W_TAG, W_EVERY, W_N };

static const char *const mix_fields[] = {"slow", "fast", NULL};
static const double mix_default[] = {0.5, 0.5};
static const double widths_default[] = {2};

static const tb_hparam wrap_hparams[W_N] = {
    [W_BASE] = {.name = "base", .type = TB_HP_COMPONENT, .component_kind = TB_KIND_OPTIMIZER,
                .def_text = "hp_opt", .help = "the optimizer it wraps"},
    [W_MIX] = {.name = "mix", .type = TB_HP_RECORD, .min = 0, .max = 1, .choices = mix_fields,
               .def_list = mix_default, .def_n = 2, .help = "weights that sum to 1"},
    [W_WIDTHS] = {.name = "widths", .type = TB_HP_LIST, .min = 1, .max = 8, .min_n = 1,
                  .max_n = 4, .def_list = widths_default, .def_n = 1, .flags = TB_HPF_INTEGER,
                  .help = "1 to 4 integers in [1, 8]"},
    [W_TAG] = {.name = "tag", .type = TB_HP_STRING, .def_text = "none", .help = "a text"},
    [W_EVERY] = TBU_HP_INT("every", 5, 1, 100, 0, "an integer"),
};

static int wrap_validate(const tb_value *v, int k, char *err, size_t errlen) {
  (void)k;
  const double sum = v[W_MIX].list[0] + v[W_MIX].list[1];
  if (fabs(sum - 1) > 1e-12) {
    snprintf(err, errlen, "'mix' must sum to 1, got %g", sum);
    return 1;
  }
  return 0;
}

static int wrap_create(const tb_optimizer_init *init, void **state, char *err, size_t errlen) {
  int *n = malloc(sizeof *n);
  if (!n) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* the values of the new types arrive as the host checked them */
  if (!init->values[W_BASE].text || init->values[W_MIX].n != 2 || !init->values[W_TAG].text) {
    snprintf(err, errlen, "values of the new types did not arrive");
    free(n);
    return -1;
  }
  *n = init->n_params;
  *state = n;
  return 0;
}

static int wrap_step(void *state, tb_tensor *params, const tb_tensor *grads,
                     const tb_step_ctx *ctx) {
  const int n = *(const int *)state;
  const float lr = (float)(0.01 * ctx->lr_factor);
  for (int p = 0; p < n; p++) {
    tb_tensor *x = TB_TENSOR_AT(params, ctx->tensor_size, p);
    const tb_tensor *g = TB_CTENSOR_AT(grads, ctx->tensor_size, p);
    for (int64_t i = 0; i < x->numel; i++) x->data[i] -= lr * g->data[i];
  }
  return 0;
}

static const tb_optimizer_def hp_wrap = {
    TB_DEF_SIZES(tb_optimizer_def),
    .name = "hp_wrap", .version = "1",
    .summary = "an optimizer wrapping a base, with list, record and string values (test fixture)",
    .reference = "Cauchy, 1847",
    .hparams = wrap_hparams, .n_hparams = W_N, .validate = wrap_validate,
    .create = wrap_create, .step = wrap_step, .destroy = free,
};

/* ---- schedules ------------------------------------------------------------------ */

/*
 * hp_seen — factor 1 once the schedule has seen the last evaluation's
 * metrics (the train, val and test splits' loss and accuracy, as the
 * trainer reports them after epoch 0 and each epoch), NaN otherwise: a run
 * with it completes only if the trainer hands the schedule those metrics.
 */
static int seen_create(const tb_schedule_init *init, void **state, char *err, size_t errlen) {
  (void)init, (void)err, (void)errlen;
  *state = NULL;
  return 0;
}

static double seen_factor(void *state, const tb_schedule_ctx *ctx) {
  (void)state;
  int loss = 0, acc = 0;
  for (int i = 0; i < ctx->n_last_eval; i++) {
    const tb_metric_value *m =
        (const tb_metric_value *)((const char *)ctx->last_eval + (size_t)i * ctx->metric_size);
    if (strcmp(m->split, "train") == 0 && strcmp(m->name, "loss") == 0 && isfinite(m->value))
      loss = 1;
    if (strcmp(m->split, "val") == 0 && strcmp(m->name, "accuracy") == 0 && m->value >= 0 &&
        m->value <= 1)
      acc = 1;
  }
  return loss && acc && ctx->steps_per_epoch > 0 && ctx->n_steps > ctx->step ? 1.0 : NAN;
}

static const tb_schedule_def hp_seen = {
    TB_DEF_SIZES(tb_schedule_def),
    .name = "hp_seen", .version = "1",
    .summary = "1 when the last evaluation's metrics arrived, else NaN (test fixture)",
    .reference = "none (a probe of the trainer)",
    .create = seen_create, .factor = seen_factor,
};

/* hp_negative — a broken schedule: its factor goes below 0 after the first
 * epoch, which `trainbench check` must flag (and a run must refuse). */
static double negative_factor(void *state, const tb_schedule_ctx *ctx) {
  (void)state;
  return ctx->step < ctx->steps_per_epoch ? 1.0 : -0.5;
}

static const tb_schedule_def hp_negative = {
    TB_DEF_SIZES(tb_schedule_def),
    .name = "hp_negative", .version = "1",
    .summary = "a factor below 0 after the first epoch (a broken test fixture)",
    .reference = "none (a broken fixture)",
    .create = seen_create, .factor = negative_factor,
};

static const tb_loss_def *const losses[] = {&hp_kloss, &hp_lwrap, &hp_soft, &hp_cos, &hp_ids,
                                            &hp_self, NULL};
static const tb_optimizer_def *const optimizers[] = {&hp_wrap, NULL};
static const tb_schedule_def *const schedules[] = {&hp_seen, &hp_negative, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses, .optimizers = optimizers,
                                 .schedules = schedules};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
