/*
 * checks.c — the conformance suite of `trainbench check`: what is checked,
 * one function per check, and the tables of checks per kind (check.c runs
 * them in child processes and prints the rows they emit).
 *
 * Checks of every component: meta, defaults, unique, create-edges. Losses
 * (the ABI is double): grad-fd (three rows: random, near-one-hot, +-50
 * logits), tensor-fd (the loss's own tensors), finite, scale-1/N,
 * zero-weight, row-form, deterministic, phase, services, requires.
 * Optimizers: zero-grad, tiny-grad, huge-grad, deterministic,
 * no-shared-state, quadratic, eval-params, services. Schedules: meta,
 * defaults, unique, factor, warmup. `tb_checks_help` below
 * says what each one asserts; the comments above each check say why its
 * tolerance is what it is.
 *
 * The numeric checks call a loss in TB_PHASE_PROBE, as a service call inside
 * a step would: a stateful loss keeps its state there, so finite
 * differences see one function; `phase` checks the TRAIN calls' state.
 * Their batches carry what a run's would: sample ids outside EVAL, and soft
 * targets for a loss that requires them.
 *
 * Inputs are drawn from host streams seeded per check, so a check sees the
 * same numbers whichever checks ran before it (a restarted child included).
 *
 * Shapes: N = samples in a batch, K = classes, P = 67 parameters of the
 * optimizer test model (fc1.weight [8][4], fc1.bias [8], fc2.weight [3][8],
 * fc2.bias [3]). The loss and optimizer instances, that model, its problem
 * and the eval/jvp services live in probe.c, shared with the fingerprints.
 *
 * Provides: tb_checks_help, tb_checks_for, tb_checks_set_registries.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "config.h"
#include "probe.h"
#include "probe_sched.h"
#include "registry.h"
#include "rng.h"
#include "trainbench/plugin.h"
#include "util.h"

#define SEED 20240611u

const char tb_checks_help[] =
    "every component:\n"
    "  meta             non-empty version, summary, reference; help on every hyperparameter\n"
    "  defaults         defaults in range and accepted by the validate hook; create and\n"
    "                   destroy with them\n"
    "  unique           no other loaded or given file provides the same kind and name\n"
    "  create-edges     create and destroy with each real/int hyperparameter at its min\n"
    "                   and max, each bool both ways, each choice option (the others at\n"
    "                   their defaults); combinations the validate hook rejects are\n"
    "                   skipped and named; losses with K = 2, 10 and 100\n"
    "losses (default hyperparameters, K = 2, 10, 100 and N = 1, 64; called as a\n"
    "service call inside a step would, in phase PROBE, unless said otherwise):\n"
    "  grad-fd          analytic gradient vs central differences, h = 1e-5 max(1, |z|),\n"
    "                   on random (sd 3), near-one-hot (+12) and +-50 logits; measured:\n"
    "                   worst |analytic - fd| / max(|fd|, floor), floor = 1e-4 max(1, |L|,\n"
    "                   max |z|) (rounding of L over 2h); 200 sampled entries at N=64\n"
    "                   K=100; at a kink (the one-sided differences disagree) the\n"
    "                   analytic value must lie between them\n"
    "  tensor-fd        the loss's own tensors (add_tensor): dtensors vs central\n"
    "                   differences, h = 1e-4 max(1, |v|), at their initial values and\n"
    "                   shifted up; tolerance 1e-4 (dtensors are float32)\n"
    "  finite           value and gradient finite on all those logits and at +-1e3\n"
    "  scale-1/N        a batch of 8 rows vs each row alone: loss = mean, gradient rows\n"
    "                   = single-row gradient / N; the batch doubled: same loss, half\n"
    "                   the gradient (skipped for TB_LOSS_NOT_MEAN)\n"
    "  zero-weight      rows of weight 0 change neither the loss nor the other rows'\n"
    "                   gradients, and their own gradient rows are exactly 0 (skipped\n"
    "                   for TB_LOSS_NOT_MEAN)\n"
    "  row-form         with both forms, the core's loop over `row` equals `eval`\n"
    "                   (value and gradient, a zero-weight row); a row alone gives the\n"
    "                   same value with and without dz, and its dz follows grad_scale\n"
    "  deterministic    two fresh instances fed 2 TRAIN and 2 PROBE calls agree call by\n"
    "                   call, and PROBE twice on one instance: bit-identical\n"
    "  phase            a stateful loss (two identical TRAIN calls differ) keeps its\n"
    "                   state in PROBE and EVAL calls: TRAIN after them equals TRAIN\n"
    "                   after none, repeated PROBE and EVAL calls agree, and nothing is\n"
    "                   reported outside TRAIN\n"
    "  services         in TRAIN calls, the loss draws from the host rng and reports\n"
    "                   only if it declares it, under valid series names\n"
    "  requires         what it requires of a scenario is known, and the checks'\n"
    "                   batches carry it (sample ids; soft targets; cosines in\n"
    "                   [-0.98, 0.98] for a loss that reads a cosine head)\n"
    "  head-scale       a loss that reads a cosine head reports its scale s, finite\n"
    "                   and > 0, in TRAIN, PROBE and EVAL calls (skipped otherwise)\n"
    "  composition      a wrapper (a loss hyperparameter of type component) calls\n"
    "                   eval_base, as declared, on a base of its own; its value over\n"
    "                   its default base and over brier (or cross_entropy) differs\n"
    "optimizers (67 float32 parameters shaped like a small mlp):\n"
    "  zero-grad        5 steps with zero gradients (weight_decay 0) change nothing\n"
    "  tiny-grad        10 steps with gradients of +-1e-30 keep parameters finite\n"
    "  huge-grad        10 steps with gradients of +-1e30 keep parameters finite\n"
    "  deterministic    two fresh instances, 20 steps: bit-identical trajectories\n"
    "  no-shared-state  instances A and B stepped alternately follow bit for bit the\n"
    "                   trajectories each follows alone\n"
    "  quadratic        300 steps with the defaults on f = 1/2 sum a_i theta_i^2\n"
    "                   (a_i in [0.5, 2]) lower f; measured: f_end / f_start\n"
    "  eval-params      asking eval_params after each of 20 steps leaves the trajectory\n"
    "                   bit-identical; the values it gives are finite\n"
    "  services         host services called were declared, series reported under\n"
    "                   valid names; the checker's eval gives f and its gradient at the\n"
    "                   candidate parameters, its jvp treats the parameters as the\n"
    "                   logits (batch_n = 1, n_classes = 67), so the JVP is the\n"
    "                   direction itself, and after next_batch its evals see f with\n"
    "                   the linear term shifted (a fresh batch)\n"
    "  composition      a wrapper (an optimizer hyperparameter of type component) runs\n"
    "                   its base through step_base, as declared, with the slot of a\n"
    "                   base; 20 steps over its default base and over sgd (or adam)\n"
    "                   give different trajectories. Every check runs a wrapper over\n"
    "                   its default base, each base an instance of its own\n"
    "schedules (a run of 20 epochs of 10 steps):\n"
    "  factor           with the defaults, every step's factor is finite and >= 0\n"
    "  warmup           with warmup = 2 epochs, the factor starts near 0 (<= 0.1 at\n"
    "                   step 0) and grows over the warmup\n";


/* A figure for the measured / tolerance columns. */
static const char *fig(char *buf, size_t len, double x) {
  if (isnan(x))
    snprintf(buf, len, "nan");
  else if (isinf(x))
    snprintf(buf, len, "%sinf", x < 0 ? "-" : "");
  else
    snprintf(buf, len, "%.3g", x);
  return buf;
}
#define FIG(x) fig((char[32]){0}, 32, (x))
/* A count for the measured column. */
#define CNT(x) cnt((char[32]){0}, 32, (long)(x))
static const char *cnt(char *buf, size_t len, long x) {
  snprintf(buf, len, "%ld", x);
  return buf;
}

/* ------------------------------------------------------------------------ */
/* What every check knows                                                   */
/* ------------------------------------------------------------------------ */

/* Every registry the command opened (check.c lends them): the loaded set
 * first, then one per plugin file given (the unique check looks at all). */
static tb_registry *const *g_regs;
static int g_n_regs;

void tb_checks_set_registries(tb_registry *const *regs, int n) {
  g_regs = regs;
  g_n_regs = n;
  tb_probe_set_registries(regs, n); /* where a wrapper checked alone finds its base */
}

static void rng_for(tb_rng *r, const char *check, int variant) {
  char purpose[64];
  snprintf(purpose, sizeof purpose, "check:%s:%d", check, variant);
  tb_rng_init(r, SEED, purpose);
}

static void hp_value_text(const tb_hparam *h, double v, char *out, size_t len) {
  switch (h->type) {
  case TB_HP_BOOL: snprintf(out, len, "%s", v != 0 ? "true" : "false"); break;
  case TB_HP_CHOICE: snprintf(out, len, "%s", h->choices[(int)v]); break;
  default: tb_fmt_real(out, len, v);
  }
}

/* Set a hyperparameter by name if the component has it. */
static void hp_set(const tb_component *c, double *hp, const char *name, double v) {
  int i = tb_hparam_index(c, name);
  if (i >= 0) hp[i] = v;
}

/* ------------------------------------------------------------------------ */
/* Loss instances                                                           */
/* ------------------------------------------------------------------------ */

static const int loss_ks[] = {2, 10, 100};
static const int loss_ns[] = {1, 64};
#define N_KS 3
#define N_NS 2

/* A loss instance on the checker's stream, or the plugin's message in err. */
static int linst_open(tb_probe_loss *in, const tb_component *c, const double *hp, int k,
                      char *err, size_t errlen) {
  tb_rng stream;
  tb_rng_init(&stream, SEED, "check:plugin-stream");
  return tb_probe_loss_open(in, c, hp, k, &stream, err, errlen);
}

/* An instance with the default hyperparameters, or a FAIL row for `check`. */
static int linst_open_defaults(tb_probe_loss *in, const tb_component *c, int k, const char *check) {
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  if (linst_open(in, c, hp, k, err, sizeof err)) {
    tb_check_emit(0, check, NULL, NULL, "create with K=%d failed: %s", k, err);
    return -1;
  }
  return 0;
}

/* What the checks' batches carry beside the logits, as a run's would: the
 * sample ids of TRAIN and PROBE calls (rows of the probe's training split
 * of 2K rows), and soft targets (0.9 on the label, the rest spread) for a
 * loss that requires them. */
#define LMAX_N 128
static int64_t lb_ids[LMAX_N];
static double lb_targets[LMAX_N * TB_PROBE_MAXK];

/* The mean loss of n rows (n <= LMAX_N) in `phase` through `form`
 * (TB_PROBE_ANY: the one the core uses); dz [n][k] or NULL. */
static double leval_as(tb_probe_loss *in, int phase, int form, int n, const double *z,
                       const int32_t *y, const double *w, double *dz) {
  const int k = in->k;
  if (n > LMAX_N) abort();
  for (int i = 0; i < n; i++) lb_ids[i] = i % (2 * k);
  const double *targets = NULL;
  if (in->c->requires & TB_REQ_SOFT_TARGETS) {
    for (int i = 0; i < n; i++)
      for (int j = 0; j < k; j++)
        lb_targets[(size_t)i * k + j] = 0.1 / k + (j == y[i] ? 0.9 : 0.0);
    targets = lb_targets;
  }
  tb_loss_batch b = {.n = n, .logits = z, .labels = y, .targets = targets, .weights = w,
                     .epoch = 0, .n_epochs = 10, .step = 0, .n_steps = 100, .phase = phase,
                     .dlogits = dz, .sample_ids = phase == TB_PHASE_EVAL ? NULL : lb_ids};
  return tb_probe_loss_eval_form(in, &b, form);
}

/* The numeric checks call the loss as a service call would (TB_PHASE_PROBE):
 * a stateful loss keeps its state, so its finite differences see one
 * function. */
static double leval(tb_probe_loss *in, int n, const double *z, const int32_t *y, const double *w,
                    double *dz) {
  return leval_as(in, TB_PHASE_PROBE, TB_PROBE_ANY, n, z, y, w, dz);
}

/* A PASS row for a check that does not apply to a loss that is not a mean
 * of per-sample terms; 1 if it was emitted. */
static int skip_not_mean(const tb_component *c, const char *check) {
  if (!(c->flags & TB_LOSS_NOT_MEAN)) return 0;
  tb_check_emit(1, check, NULL, NULL,
                "skipped: TB_LOSS_NOT_MEAN (not a mean of per-sample terms)");
  return 1;
}

/* ---- inputs ----------------------------------------------------------------- */

enum { IN_NORMAL, IN_ONEHOT, IN_EXTREME, IN_HUGE, N_INPUTS };
static const char *input_short[N_INPUTS] = {"random", "near-one-hot", "+-50", "+-1e3"};

typedef struct lbatch {
  int n, k;
  double *z, *w, *dz; /* [N][K], [N], [N][K]; w NULL for N = 1 */
  int32_t *y;         /* [N] */
} lbatch;

/* A batch of `kind` logits; for a loss that reads a cosine head, the same
 * scaled into [-0.98, 0.98] (by the batch's largest |z|), as cosines are. */
static void lbatch_make(lbatch *b, const tb_component *c, tb_rng *r, int kind, int n, int k) {
  b->n = n, b->k = k;
  b->z = malloc(sizeof *b->z * (size_t)n * (size_t)k);
  b->dz = malloc(sizeof *b->dz * (size_t)n * (size_t)k);
  b->y = malloc(sizeof *b->y * (size_t)n);
  b->w = n > 1 ? malloc(sizeof *b->w * (size_t)n) : NULL;
  if (!b->z || !b->dz || !b->y || (n > 1 && !b->w)) abort();
  for (int i = 0; i < n; i++) b->y[i] = (int32_t)tb_rng_below(r, (uint64_t)k);
  for (int i = 0; b->w && i < n; i++) b->w[i] = 0.5 + tb_rng_uniform(r);
  for (int i = 0; i < n; i++) {
    double *z = b->z + (size_t)i * k;
    const int y = b->y[i];
    for (int j = 0; j < k; j++) {
      switch (kind) {
      case IN_NORMAL: z[j] = 3 * tb_rng_normal(r); break;
      case IN_ONEHOT: z[j] = 0.1 * tb_rng_normal(r); break;
      case IN_EXTREME:
        /* the jitter keeps logits apart: ties would put a max-based loss on a kink */
        z[j] = (tb_rng_uniform(r) < 0.5 ? -50 : 50) + tb_rng_uniform(r) - 0.5;
        break;
      default:
        switch (i % 5) {
        case 0: z[j] = tb_rng_uniform(r) < 0.5 ? -1e3 : 1e3; break;
        case 1: z[j] = j == y ? 1e3 : -1e3; break; /* the label alone on top */
        case 2: z[j] = j == y ? -1e3 : 1e3; break; /* the label alone at the bottom */
        case 3: z[j] = 1e3; break;                 /* all tied */
        default: z[j] = j % 2 ? 1e3 : -1e3;
        }
      }
    }
    /* near-one-hot: the peak on the label, on a wrong class every third row */
    if (kind == IN_ONEHOT) z[i % 3 == 2 ? (y + 1) % k : y] = 12;
    /* +-50: the first row has the label alone on top (p_y = 1 - O(e^-100)) */
    if (kind == IN_EXTREME && i == 0) {
      for (int j = 0; j < k; j++) z[j] = -50 + tb_rng_uniform(r) - 0.5;
      z[y] = 50;
    }
  }
  if (c->requires & TB_REQ_COSINE_HEAD) {
    double m = 0;
    for (int64_t i = 0; i < (int64_t)n * k; i++) m = fmax(m, fabs(b->z[i]));
    for (int64_t i = 0; m > 0 && i < (int64_t)n * k; i++) b->z[i] *= 0.98 / m;
  }
}

static void lbatch_free(lbatch *b) {
  free(b->z), free(b->w), free(b->dz), free(b->y);
  memset(b, 0, sizeof *b);
}

static int all_finite(const double *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 0;
  return 1;
}

static double max_abs(const double *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++)
    if (fabs(x[i]) > m) m = fabs(x[i]);
  return m;
}

/* ------------------------------------------------------------------------ */
/* Optimizer instances                                                      */
/* ------------------------------------------------------------------------ */

/* A fresh optimizer instance on the checker's stream (probe.h has the test
 * model and its problem). */
static int oinst_open(tb_probe_opt *o, const tb_component *c, const double *hp,
                      const float *theta0, const tb_probe_problem *pb, char *err,
                      size_t errlen) {
  tb_rng stream;
  tb_rng_init(&stream, SEED, "check:plugin-stream");
  return tb_probe_opt_open(o, c, hp, theta0, pb, &stream, err, errlen);
}

static void random_theta(tb_rng *r, float *theta) {
  for (int i = 0; i < TB_PROBE_P; i++) theta[i] = (float)tb_rng_normal(r);
}

static void quadratic(tb_rng *r, tb_probe_problem *pb) {
  for (int i = 0; i < TB_PROBE_P; i++) {
    pb->a[i] = 0.5 + 1.5 * tb_rng_uniform(r);
    pb->b[i] = 0;
  }
}

/* ------------------------------------------------------------------------ */
/* Checks of every component                                                */
/* ------------------------------------------------------------------------ */

static void chk_meta(const tb_component *c) {
  const char *version, *summary, *reference;
  if (c->loss)
    version = c->loss->version, summary = c->loss->summary, reference = c->loss->reference;
  else if (c->sched)
    version = c->sched->version, summary = c->sched->summary, reference = c->sched->reference;
  else
    version = c->opt->version, summary = c->opt->summary, reference = c->opt->reference;
  char missing[600] = "";
  size_t k = 0;
#define MISSING(...) \
  k += (size_t)snprintf(missing + k, k < sizeof missing ? sizeof missing - k : 0, __VA_ARGS__)
  if (!version || !*version) MISSING("%sversion", k ? ", " : "");
  if (!summary || !*summary) MISSING("%ssummary", k ? ", " : "");
  if (!reference || !*reference) MISSING("%sreference", k ? ", " : "");
  for (int i = 0; i < c->n_hparams; i++)
    if (!c->hparams[i].help || !*c->hparams[i].help)
      MISSING("%shelp of '%s'", k ? ", " : "", c->hparams[i].name);
#undef MISSING
  if (k)
    tb_check_emit(0, "meta", NULL, NULL, "missing: %s", missing);
  else
    tb_check_emit(1, "meta", NULL, NULL,
                  "version, summary, reference, help of %d hyperparameter(s)", c->n_hparams);
}

static void chk_defaults(const tb_component *c) {
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  if (tb_hparams_check(c, hp, -1, err, sizeof err)) {
    tb_check_emit(0, "defaults", NULL, NULL, "defaults refused: %s", err);
    return;
  }
  if (c->loss) {
    tb_probe_loss in;
    if (linst_open(&in, c, hp, 10, err, sizeof err)) {
      tb_check_emit(0, "defaults", NULL, NULL, "create with the defaults and K=10 failed: %s", err);
      return;
    }
    tb_probe_loss_close(&in);
  } else {
    float theta[TB_PROBE_P] = {0};
    tb_probe_problem pb = {{0}, {0}};
    tb_probe_opt o;
    if (oinst_open(&o, c, hp, theta, &pb, err, sizeof err)) {
      tb_check_emit(0, "defaults", NULL, NULL, "create with the defaults failed: %s", err);
      return;
    }
    tb_probe_opt_close(&o);
  }
  tb_check_emit(1, "defaults", NULL, NULL, "%d default(s) in range%s; create and destroy ok",
                c->n_hparams, c->validate ? " and validated" : "");
}

/* Files are compared by their real paths: the loaded set names them as
 * scanned, a file argument as given. */
static int same_file(const char *a, const char *b) {
  char ra[PATH_MAX], rb[PATH_MAX];
  if (!realpath(a, ra)) snprintf(ra, sizeof ra, "%s", a);
  if (!realpath(b, rb)) snprintf(rb, sizeof rb, "%s", b);
  return strcmp(ra, rb) == 0;
}

static void chk_unique(const tb_component *c) {
  char others[800] = "";
  size_t k = 0;
  int n_others = 0;
  const char *seen[64];
  int n_seen = 0;
  for (int r = 0; r < g_n_regs; r++) {
    const tb_component *d = tb_registry_find(g_regs[r], c->kind, c->name);
    if (!d) continue;
    for (int s = -1; s < d->n_shadows; s++) {
      const char *f = s < 0 ? d->file : d->shadows[s];
      if (same_file(f, c->file)) continue;
      int dup = 0;
      for (int i = 0; i < n_seen; i++) dup |= same_file(seen[i], f);
      if (dup) continue;
      if (n_seen < 64) seen[n_seen++] = f;
      n_others++;
      if (k < sizeof others)
        k += (size_t)snprintf(others + k, sizeof others - k, "%s%s", k ? ", " : "", f);
    }
  }
  if (n_others)
    tb_check_emit(0, "unique", CNT(n_others), "0", "%s '%s' is also provided by %s",
                  tb_kind_name(c->kind), c->name, others);
  else
    tb_check_emit(1, "unique", "0", "0", "no other file provides %s '%s'", tb_kind_name(c->kind),
                  c->name);
}

/* Each hyperparameter at its edges, the others at their defaults. */
typedef struct combo {
  double hp[TB_MAX_HP];
  char label[160];
} combo;

static int edge_combos(const tb_component *c, combo **out) {
  int cap = 1, n = 0;
  for (int i = 0; i < c->n_hparams; i++) cap += c->hparams[i].type == TB_HP_CHOICE ? 64 : 2;
  combo *cs = calloc((size_t)cap, sizeof *cs);
  if (!cs) abort();
  tb_hparams_defaults(c, cs[0].hp);
  snprintf(cs[0].label, sizeof cs[0].label, "the defaults");
  n = 1;
  for (int i = 0; i < c->n_hparams; i++) {
    const tb_hparam *h = &c->hparams[i];
    double vals[64];
    int nv = 0;
    if (h->type == TB_HP_REAL || h->type == TB_HP_INT) {
      vals[nv++] = h->min;
      if (h->max != h->min) vals[nv++] = h->max;
    } else if (h->type == TB_HP_BOOL) {
      vals[nv++] = 0, vals[nv++] = 1;
    } else if (h->type == TB_HP_CHOICE) {
      for (int j = 0; h->choices[j] && nv < 64; j++) vals[nv++] = j;
    } /* strings, lists, records, matrices and bases keep their defaults here */
    for (int v = 0; v < nv; v++) {
      combo *x = &cs[n++];
      tb_hparams_defaults(c, x->hp);
      x->hp[i] = vals[v];
      char text[64];
      hp_value_text(h, vals[v], text, sizeof text);
      snprintf(x->label, sizeof x->label, "%s=%s", h->name, text);
    }
  }
  *out = cs;
  return n;
}

static void chk_create_edges(const tb_component *c) {
  combo *cs;
  int n = edge_combos(c, &cs), skipped = 0;
  char skips[600] = "", err[TB_ERRLEN];
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    if (tb_hparams_check(c, cs[i].hp, -1, err, sizeof err)) {
      skipped++;
      /* the message starts "kind 'name': ", which the row says already */
      char prefix[160];
      snprintf(prefix, sizeof prefix, "%s '%s': ", tb_kind_name(c->kind), c->name);
      const char *why = strncmp(err, prefix, strlen(prefix)) ? err : err + strlen(prefix);
      if (k < sizeof skips)
        k += (size_t)snprintf(skips + k, sizeof skips - k, "%s%s (%s)", k ? "; " : "",
                              cs[i].label, why);
      continue;
    }
    if (c->loss) {
      for (int a = 0; a < N_KS; a++) {
        tb_probe_loss in;
        if (linst_open(&in, c, cs[i].hp, loss_ks[a], err, sizeof err)) {
          tb_check_emit(0, "create-edges", NULL, NULL, "create with %s and K=%d failed: %s",
                        cs[i].label, loss_ks[a], err);
          free(cs);
          return;
        }
        tb_probe_loss_close(&in);
      }
    } else {
      float theta[TB_PROBE_P];
      tb_rng r;
      rng_for(&r, "create-edges", 0);
      random_theta(&r, theta);
      tb_probe_problem pb = {{0}, {0}};
      tb_probe_opt o;
      if (oinst_open(&o, c, cs[i].hp, theta, &pb, err, sizeof err)) {
        tb_check_emit(0, "create-edges", NULL, NULL, "create with %s failed: %s", cs[i].label, err);
        free(cs);
        return;
      }
      tb_probe_opt_close(&o);
    }
  }
  free(cs);
  tb_check_emit(1, "create-edges", NULL, NULL, "%d combination(s)%s created and destroyed%s%s",
                n - skipped, c->loss ? " x K=2,10,100" : "",
                skipped ? "; skipped (the validate hook rejects them): " : "",
                skipped ? skips : "");
}

/* ------------------------------------------------------------------------ */
/* Loss checks                                                              */
/* ------------------------------------------------------------------------ */

/* Central differences L(z + h) - L(z - h) over 2h have truncation error
 * O(h^2 L''') and rounding error ~ eps (|L| + max |z|) / h: the log-sum-exp
 * of logits of size |z| carries an absolute error of eps |z|. With h = 1e-5
 * max(1, |z|) both stay far below FD_NOISE max(1, |L|, max |z|), which acts
 * as the absolute part of the tolerance (the floor of the relative error). */
#define FD_STEP 1e-5
#define FD_REL 1e-5
#define FD_NOISE 1e-9
#define FD_SAMPLE 200     /* entries checked when N K exceeds FD_ALL */
#define FD_ALL 1000
#define FD_KINK 1e-2      /* one-sided slopes this far apart (relative) mark a kink */

static void chk_grad_fd_kind(const tb_component *c, int kind) {
  double hp[TB_MAX_HP];
  tb_hparams_defaults(c, hp);
  tb_rng r;
  rng_for(&r, "grad-fd", kind);
  double worst = 0;
  int entries = 0, kinks = 0;
  char where[300] = "", problem_text[400] = "", err[TB_ERRLEN];
  for (int a = 0; a < N_KS && !problem_text[0]; a++)
    for (int b = 0; b < N_NS && !problem_text[0]; b++) {
      const int k = loss_ks[a], n = loss_ns[b];
      const int64_t nk = (int64_t)n * k;
      tb_probe_loss in;
      if (linst_open(&in, c, hp, k, err, sizeof err)) {
        snprintf(problem_text, sizeof problem_text, "create with K=%d failed: %.300s", k, err);
        break;
      }
      lbatch bt;
      lbatch_make(&bt, c, &r, kind, n, k);
      const double L0 = leval(&in, n, bt.z, bt.y, bt.w, bt.dz);
      if (!isfinite(L0) || !all_finite(bt.dz, nk)) {
        snprintf(problem_text, sizeof problem_text, "non-finite %s at K=%d N=%d",
                 isfinite(L0) ? "gradient" : "value", k, n);
        worst = INFINITY;
      } else {
        const double atol = FD_NOISE * fmax(1, fmax(fabs(L0), max_abs(bt.z, nk)));
        const double floor_ = atol / FD_REL;
        const int count = nk > FD_ALL ? FD_SAMPLE : (int)nk;
        for (int e = 0; e < count; e++) {
          const int64_t idx = nk > FD_ALL ? (int64_t)tb_rng_below(&r, (uint64_t)nk) : e;
          double *zj = &bt.z[idx];
          const double z0 = *zj, h = FD_STEP * fmax(1, fabs(z0));
          const double zp = z0 + h, zm = z0 - h;
          *zj = zp;
          const double Lp = leval(&in, n, bt.z, bt.y, bt.w, NULL);
          *zj = zm;
          const double Lm = leval(&in, n, bt.z, bt.y, bt.w, NULL);
          *zj = z0;
          const double fwd = (Lp - L0) / (zp - z0), bwd = (L0 - Lm) / (z0 - zm);
          const double cen = (Lp - Lm) / (zp - zm), an = bt.dz[idx];
          const double big = fmax(fabs(fwd), fabs(bwd));
          double e_rel;
          const int kink = fabs(fwd - bwd) > FD_KINK * big + 4 * atol;
          if (kink) {
            /* not differentiable here: a subgradient lies between the slopes */
            double lo = fmin(fwd, bwd), hi = fmax(fwd, bwd);
            double d = an < lo ? lo - an : an > hi ? an - hi : 0;
            e_rel = d / fmax(big, floor_);
            kinks++;
          } else {
            e_rel = fabs(an - cen) / fmax(fabs(cen), floor_);
          }
          if (isnan(e_rel)) e_rel = INFINITY;
          entries++;
          if (e_rel > worst) {
            worst = e_rel;
            snprintf(where, sizeof where,
                     "worst at K=%d N=%d row %d class %d: analytic %.3g, %s %.3g", k, n,
                     (int)(idx / k), (int)(idx % k), an,
                     kink ? "one-sided differences" : "central difference", kink ? fwd : cen);
            if (kink)
              snprintf(where + strlen(where), sizeof where - strlen(where), " and %.3g", bwd);
          }
        }
      }
      lbatch_free(&bt);
      tb_probe_loss_close(&in);
    }
  int pass = !problem_text[0] && worst <= FD_REL && kinks * 4 <= entries;
  char tail[400] = "";
  if (problem_text[0])
    snprintf(tail, sizeof tail, "; %s", problem_text);
  else if (kinks * 4 > entries)
    snprintf(tail, sizeof tail, "; more than a quarter of the entries look like kinks (a "
             "noisy or non-smooth value)");
  else if (worst > FD_REL)
    snprintf(tail, sizeof tail, "; %s", where);
  tb_check_emit(pass, "grad-fd", FIG(worst), FIG(FD_REL), "%s logits: %d entries, %d at kinks%s",
                input_short[kind], entries, kinks, tail);
}

static void chk_grad_fd(const tb_component *c) {
  for (int kind = IN_NORMAL; kind <= IN_EXTREME; kind++) chk_grad_fd_kind(c, kind);
}

static void chk_finite(const tb_component *c) {
  double hp[TB_MAX_HP];
  tb_hparams_defaults(c, hp);
  char err[TB_ERRLEN], first[300] = "";
  long bad = 0, total = 0;
  for (int kind = 0; kind < N_INPUTS; kind++) {
    tb_rng r;
    rng_for(&r, "finite", kind);
    for (int a = 0; a < N_KS; a++)
      for (int b = 0; b < N_NS; b++) {
        const int k = loss_ks[a], n = loss_ns[b];
        tb_probe_loss in;
        if (linst_open(&in, c, hp, k, err, sizeof err)) {
          tb_check_emit(0, "finite", NULL, NULL, "create with K=%d failed: %s", k, err);
          return;
        }
        lbatch bt;
        lbatch_make(&bt, c, &r, kind, n, k);
        const double v = leval(&in, n, bt.z, bt.y, bt.w, bt.dz);
        long nb = !isfinite(v);
        for (int64_t i = 0; i < (int64_t)n * k; i++) nb += !isfinite(bt.dz[i]);
        if (nb && !first[0])
          snprintf(first, sizeof first, "; first at %s logits, K=%d N=%d: value %s%s",
                   input_short[kind], k, n, FIG(v),
                   isfinite(v) ? ", non-finite gradient entries" : "");
        bad += nb;
        total += 1 + (long)n * k;
        lbatch_free(&bt);
        tb_probe_loss_close(&in);
      }
  }
  tb_check_emit(bad == 0, "finite", CNT(bad), "0",
                "up to +-1e3 logits: %ld of %ld numbers non-finite%s", bad, total, first);
}

/* Rows are evaluated one by one and as a batch: the same arithmetic up to
 * the order of a sum, so 1e-9 is generous; entries far below the largest
 * gradient are compared with a floor of 1e-3 of it (their rounding is that
 * of the larger terms they are computed from). */
#define SCALE_REL 1e-9

typedef struct worst_t {
  double err;
  char where[300];
} worst_t;

static void track(worst_t *w, double got, double want, double floor_, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void track(worst_t *w, double got, double want, double floor_, const char *fmt, ...) {
  double e = fabs(got - want) / fmax(fabs(want), fmax(floor_, DBL_MIN));
  if (isnan(e)) e = INFINITY;
  if (e > w->err || (e == INFINITY && !w->where[0])) {
    w->err = e;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(w->where, sizeof w->where, fmt, ap);
    va_end(ap);
    size_t used = m < 0 ? 0 : strlen(w->where);
    snprintf(w->where + used, sizeof w->where - used, ": %.6g, expected %.6g", got, want);
    used = strlen(w->where);
    if (want != 0 && isfinite(got / want))
      snprintf(w->where + used, sizeof w->where - used, " (ratio %.4g)", got / want);
  }
}

static void chk_scale(const tb_component *c) {
  enum { N = 8, K = 10 };
  if (skip_not_mean(c, "scale-1/N")) return;
  tb_probe_loss in;
  if (linst_open_defaults(&in, c, K, "scale-1/N")) return;
  tb_rng r;
  rng_for(&r, "scale", 0);
  lbatch bt;
  lbatch_make(&bt, c, &r, IN_NORMAL, N, K);
  double gb[N * K], g1[N * K], z2[2 * N * K], g2[2 * N * K], l1[N];
  int32_t y2[2 * N];
  const double Lb = leval(&in, N, bt.z, bt.y, NULL, gb);
  double mean = 0;
  for (int i = 0; i < N; i++) {
    l1[i] = leval(&in, 1, bt.z + i * K, bt.y + i, NULL, g1 + i * K);
    mean += l1[i] / N;
  }
  for (int i = 0; i < 2 * N; i++) {
    memcpy(z2 + i * K, bt.z + (i % N) * K, sizeof(double) * K);
    y2[i] = bt.y[i % N];
  }
  const double L2 = leval(&in, 2 * N, z2, y2, NULL, g2);
  double scale = 0;
  for (int i = 0; i < N * K; i++) scale = fmax(scale, fabs(g1[i]) / N);
  const double floor_ = 1e-3 * scale;
  worst_t w = {0, ""};
  track(&w, Lb, mean, 0, "batch loss vs mean of single rows");
  for (int i = 0; i < N; i++)
    for (int j = 0; j < K; j++)
      track(&w, gb[i * K + j], g1[i * K + j] / N, floor_,
            "batch gradient row %d class %d vs single-row gradient / N", i, j);
  track(&w, L2, Lb, 0, "doubled batch loss vs batch loss");
  for (int i = 0; i < 2 * N; i++)
    for (int j = 0; j < K; j++)
      track(&w, g2[i * K + j], gb[(i % N) * K + j] / 2, floor_ / 2,
            "doubled batch gradient row %d class %d vs half the batch's", i, j);
  const int pass = w.err <= SCALE_REL;
  tb_check_emit(pass, "scale-1/N", FIG(w.err), FIG(SCALE_REL),
                "N=%d K=%d vs each row alone, and doubled%s%s", N, K, pass ? "" : "; worst: ",
                pass ? "" : w.where);
  lbatch_free(&bt);
  tb_probe_loss_close(&in);
}

static void chk_zero_weight(const tb_component *c) {
  enum { N = 8, K = 10 };
  if (skip_not_mean(c, "zero-weight")) return;
  tb_probe_loss in;
  if (linst_open_defaults(&in, c, K, "zero-weight")) return;
  tb_rng r;
  rng_for(&r, "zero-weight", 0);
  lbatch bt;
  lbatch_make(&bt, c, &r, IN_NORMAL, N, K);
  bt.w[1] = bt.w[5] = 0;
  /* B: the zero-weight rows replaced by other logits (+-50) and labels */
  double zb[N * K], ga[N * K], gb[N * K];
  int32_t yb[N];
  memcpy(zb, bt.z, sizeof zb);
  memcpy(yb, bt.y, sizeof yb);
  for (int i = 1; i < N; i += 4) {
    for (int j = 0; j < K; j++) zb[i * K + j] = tb_rng_uniform(&r) < 0.5 ? -50 : 50;
    yb[i] = (yb[i] + 1) % K;
  }
  const double La = leval(&in, N, bt.z, bt.y, bt.w, ga);
  const double Lb = leval(&in, N, zb, yb, bt.w, gb);
  double scale = max_abs(ga, N * K);
  worst_t w = {0, ""};
  double zero_max = 0;
  int zero_row = -1;
  track(&w, Lb, La, 0, "loss with other zero-weight rows");
  for (int i = 0; i < N; i++)
    for (int j = 0; j < K; j++) {
      if (bt.w[i] == 0) {
        double m = fmax(fabs(ga[i * K + j]), fabs(gb[i * K + j]));
        if (!(m <= zero_max)) zero_max = isnan(m) ? INFINITY : m, zero_row = i;
        continue;
      }
      track(&w, gb[i * K + j], ga[i * K + j], 1e-3 * scale,
            "gradient row %d class %d with other zero-weight rows", i, j);
    }
  const int pass = w.err <= SCALE_REL && zero_max == 0;
  char tail[400] = "";
  if (zero_max != 0)
    snprintf(tail, sizeof tail, "; the gradient row of zero-weight row %d is not 0 (|entry| up "
             "to %.3g)", zero_row, zero_max);
  else if (!pass)
    snprintf(tail, sizeof tail, "; worst: %s", w.where);
  tb_check_emit(pass, "zero-weight", FIG(fmax(w.err, zero_max)), FIG(SCALE_REL),
                "2 of N=%d rows (K=%d) weigh 0, their inputs changed%s", N, K, tail);
  lbatch_free(&bt);
  tb_probe_loss_close(&in);
}

static long count_diff(const void *a, const void *b, size_t elem, long n) {
  long d = 0;
  for (long i = 0; i < n; i++)
    d += memcmp((const char *)a + (size_t)i * elem, (const char *)b + (size_t)i * elem, elem) != 0;
  return d;
}

/* One call's output, flattened: the value, the gradient [N][K] and the
 * loss tensors' gradients (dtensors). */
typedef struct lout {
  double v;
  double *g;  /* [N*K + tensor elements] */
  long n;     /* elements of g */
} lout;

static void lout_make(lout *o, const tb_probe_loss *in, int n) {
  o->n = (long)n * in->k + (long)in->lt.total;
  o->g = calloc((size_t)o->n + 1, sizeof *o->g);
  if (!o->g) abort();
}

/* A call in `phase` (gradient unless EVAL) recorded into o. */
static void lcall(tb_probe_loss *in, int phase, const lbatch *bt, lout *o) {
  const int nk = bt->n * bt->k;
  o->v = leval_as(in, phase, TB_PROBE_ANY, bt->n, bt->z, bt->y, bt->w,
                  phase == TB_PHASE_EVAL ? NULL : o->g);
  if (phase == TB_PHASE_EVAL) memset(o->g, 0, sizeof *o->g * (size_t)nk);
  long e = nk;
  for (int t = 0; t < in->lt.n; t++)
    for (int64_t j = 0; j < in->lt.grad[t].numel; j++, e++)
      o->g[e] = phase == TB_PHASE_EVAL ? 0 : in->lt.grad[t].data[j];
}

static long lout_diff(const lout *a, const lout *b) {
  return count_diff(&a->v, &b->v, sizeof(double), 1) + count_diff(a->g, b->g, sizeof(double), a->n);
}

static void chk_loss_deterministic(const tb_component *c) {
  enum { N = 64, K = 10, CALLS = 4 };
  static const int phases[CALLS] = {TB_PHASE_TRAIN, TB_PHASE_TRAIN, TB_PHASE_PROBE,
                                    TB_PHASE_PROBE};
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  tb_rng r;
  rng_for(&r, "deterministic", 0);
  lbatch bt;
  lbatch_make(&bt, c, &r, IN_NORMAL, N, K);
  lout out[2][CALLS];
  memset(out, 0, sizeof out);
  int opened = 0;
  for (int pass = 0; pass < 2; pass++) {
    tb_probe_loss in;
    if (linst_open(&in, c, hp, K, err, sizeof err)) {
      tb_check_emit(0, "deterministic", NULL, NULL, "create with K=%d failed: %s", K, err);
      break;
    }
    opened++;
    for (int i = 0; i < CALLS; i++) {
      lout_make(&out[pass][i], &in, N);
      lcall(&in, phases[i], &bt, &out[pass][i]);
    }
    tb_probe_loss_close(&in);
  }
  if (opened == 2) {
    /* two fresh instances fed the same calls agree call by call (a stateful
     * loss included); one instance asked twice in PROBE (where no state
     * moves) agrees with itself, unless it draws from its stream */
    const int same_instance = !(c->services & TB_SERVICE_RNG);
    long diff = 0, total = 0;
    for (int i = 0; i < CALLS; i++) diff += lout_diff(&out[0][i], &out[1][i]), total += 1 + out[0][i].n;
    if (same_instance) diff += lout_diff(&out[0][2], &out[0][3]), total += 1 + out[0][2].n;
    tb_check_emit(diff == 0, "deterministic", CNT(diff), "0",
                  "N=%d K=%d, 2 fresh instances x (2 TRAIN + 2 PROBE calls)%s: %ld of %ld "
                  "numbers differ",
                  N, K, same_instance ? ", PROBE twice on one" : "", diff, total);
  }
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < CALLS; i++) free(out[pass][i].g);
  lbatch_free(&bt);
}

/* The declared services as `check` rows say them ("none" for none). */
static void services_text(uint32_t s, char *out, size_t len) {
  tb_services_text(s, out, len);
  if (!out[0]) snprintf(out, len, "none");
}

static void chk_loss_services(const tb_component *c) {
  enum { N = 16, K = 10 };
  char decl[96];
  tb_probe_loss in;
  if (linst_open_defaults(&in, c, K, "services")) return;
  tb_rng r;
  rng_for(&r, "services", 0);
  /* training calls, where a loss may draw and report */
  for (int kind = IN_NORMAL; kind <= IN_EXTREME; kind++) {
    lbatch bt;
    lbatch_make(&bt, c, &r, kind, N, K);
    leval_as(&in, TB_PHASE_TRAIN, TB_PROBE_ANY, N, bt.z, bt.y, bt.w, bt.dz);
    lbatch_free(&bt);
  }
  tb_probe_loss_close(&in);
  services_text(c->services, decl, sizeof decl);
  const int bad_rng = in.rng_moved && !(c->services & TB_SERVICE_RNG);
  const long bad = bad_rng + in.bad_report + in.bad_base;
  char tail[700] = "";
  if (bad_rng) snprintf(tail, sizeof tail, " (undeclared: TB_SERVICE_RNG)");
  if (in.bad_report)
    snprintf(tail + strlen(tail), sizeof tail - strlen(tail), "; %ld report call(s) a run refuses: %s",
             in.bad_report, in.report_err);
  if (in.bad_base)
    snprintf(tail + strlen(tail), sizeof tail - strlen(tail),
             "; %ld eval_base call(s) a run refuses: %s", in.bad_base, in.base_err);
  tb_check_emit(bad == 0, "services", CNT(bad), "0",
                "declares %s; 3 TRAIN calls: drew from the rng: %s, report %ld, eval_base %ld%s",
                decl, in.rng_moved ? "yes" : "no", in.n_report, in.n_base, tail);
}

/* ---- tensor-fd: the loss's own tensors ------------------------------------- */

/* d(mean loss)/d tensor against central differences. dtensors are float32
 * (a row-wise loss sums its rows into them), so the tolerance is 1e-4; the
 * step h = 1e-4 max(1, |v|) is taken as the float32 values it lands on. */
#define TFD_REL 1e-4
#define TFD_STEP 1e-4

static void chk_tensor_fd(const tb_component *c) {
  enum { N = 64, K = 10 };
  tb_probe_loss in;
  if (linst_open_defaults(&in, c, K, "tensor-fd")) return;
  if (in.lt.n == 0) {
    tb_check_emit(1, "tensor-fd", NULL, NULL, "the loss adds no tensors of its own");
    tb_probe_loss_close(&in);
    return;
  }
  tb_rng r;
  rng_for(&r, "tensor-fd", 0);
  lbatch bt;
  lbatch_make(&bt, c, &r, IN_NORMAL, N, K);
  const long total = (long)in.lt.total;
  float *an = malloc(sizeof *an * (size_t)total);
  if (!an) abort();
  double worst = 0;
  int entries = 0, kinks = 0;
  char where[300] = "", problem[300] = "";
  for (int point = 0; point < 2 && !problem[0]; point++) {
    if (point == 1) /* away from the initial values (upwards: NONNEG stays valid) */
      for (int t = 0; t < in.lt.n; t++)
        for (int64_t j = 0; j < in.lt.live[t].numel; j++) {
          float *v = &in.lt.live[t].data[j];
          *v = (float)(*v + 0.25 + 0.5 * fabs(*v));
        }
    const double L0 = leval(&in, N, bt.z, bt.y, bt.w, bt.dz);
    long e = 0;
    for (int t = 0; t < in.lt.n; t++)
      for (int64_t j = 0; j < in.lt.grad[t].numel; j++) an[e++] = in.lt.grad[t].data[j];
    if (!isfinite(L0)) {
      snprintf(problem, sizeof problem, "the value is %s at the %s tensor values", FIG(L0),
               point ? "shifted" : "initial");
      worst = INFINITY;
      break;
    }
    const double floor_ = 1e-6 * fmax(1, fabs(L0)) / TFD_REL;
    const int count = total > FD_SAMPLE ? FD_SAMPLE : (int)total;
    for (int q = 0; q < count; q++) {
      const long idx = total > FD_SAMPLE ? (long)tb_rng_below(&r, (uint64_t)total) : q;
      int t = 0;
      long off = idx;
      while (off >= in.lt.live[t].numel) off -= in.lt.live[t].numel, t++;
      float *v = &in.lt.live[t].data[off];
      const float v0 = *v;
      const float vp = (float)(v0 + TFD_STEP * fmax(1, fabs(v0)));
      const float vm = (float)(v0 - TFD_STEP * fmax(1, fabs(v0)));
      *v = vp;
      const double Lp = leval(&in, N, bt.z, bt.y, bt.w, NULL);
      *v = vm;
      const double Lm = leval(&in, N, bt.z, bt.y, bt.w, NULL);
      *v = v0;
      const double fwd = (Lp - L0) / ((double)vp - v0), bwd = (L0 - Lm) / ((double)v0 - vm);
      const double cen = (Lp - Lm) / ((double)vp - vm), a = an[idx];
      const double big = fmax(fabs(fwd), fabs(bwd));
      const int kink = fabs(fwd - bwd) > FD_KINK * big + 1e-9 * fmax(1, fabs(L0));
      double e_rel;
      if (kink) {
        const double lo = fmin(fwd, bwd), hi = fmax(fwd, bwd);
        e_rel = (a < lo ? lo - a : a > hi ? a - hi : 0) / fmax(big, floor_);
        kinks++;
      } else {
        e_rel = fabs(a - cen) / fmax(fabs(cen), floor_);
      }
      if (isnan(e_rel)) e_rel = INFINITY;
      entries++;
      if (e_rel > worst) {
        worst = e_rel;
        snprintf(where, sizeof where, "worst at %s[%ld] (%s values): analytic %.4g, %s %.4g",
                 in.lt.live[t].name, off, point ? "shifted" : "initial", a,
                 kink ? "one-sided differences from" : "central difference", kink ? fwd : cen);
      }
    }
  }
  char names[200] = "";
  for (int t = 0; t < in.lt.n; t++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", t ? ", " : "",
             in.lt.live[t].name);
  const int pass = !problem[0] && worst <= TFD_REL && kinks * 4 <= entries;
  char tail[400] = "";
  if (problem[0])
    snprintf(tail, sizeof tail, "; %s", problem);
  else if (kinks * 4 > entries)
    snprintf(tail, sizeof tail, "; more than a quarter of the entries look like kinks");
  else if (worst > TFD_REL)
    snprintf(tail, sizeof tail, "; %s", where);
  tb_check_emit(pass, "tensor-fd", FIG(worst), FIG(TFD_REL),
                "dtensors of %s (%ld elements) vs central differences, at the initial and "
                "shifted values, N=%d K=%d: %d entries%s",
                names, total, N, K, entries, tail);
  free(an);
  lbatch_free(&bt);
  tb_probe_loss_close(&in);
}

/* ---- row-form ---------------------------------------------------------------- */

/* The core's row loop and the batch form differ only in the order of a sum. */
#define ROW_REL 1e-9

static void chk_row_form(const tb_component *c) {
  enum { N = 16, K = 10 };
  const tb_loss_def *L = c->loss;
  if (!L->row) {
    tb_check_emit(1, "row-form", NULL, NULL, "batch form only (no row)");
    return;
  }
  if (skip_not_mean(c, "row-form")) return;
  tb_probe_loss in;
  if (linst_open_defaults(&in, c, K, "row-form")) return;
  tb_rng r;
  rng_for(&r, "row-form", 0);
  worst_t w = {0, ""};
  double gr[N * K], gb[N * K], g1[K], g4[K];
  for (int kind = IN_NORMAL; kind <= IN_ONEHOT; kind++) {
    lbatch bt;
    lbatch_make(&bt, c, &r, kind, N, K);
    bt.w[3] = 0;
    if (L->eval) {
      /* both forms: the core's loop over `row` gives what `eval` gives */
      const double Lr = leval_as(&in, TB_PHASE_PROBE, TB_PROBE_ROWS, N, bt.z, bt.y, bt.w, gr);
      const double Lb = leval_as(&in, TB_PHASE_PROBE, TB_PROBE_BATCH, N, bt.z, bt.y, bt.w, gb);
      const double scale = max_abs(gb, N * K);
      track(&w, Lr, Lb, 0, "%s logits: value of the row loop vs eval", input_short[kind]);
      for (int i = 0; i < N * K; i++)
        track(&w, gr[i], gb[i], 1e-3 * scale, "%s logits: gradient row %d class %d, row loop vs "
              "eval", input_short[kind], i / K, i % K);
    }
    /* the row alone: its value without dz is the one with dz, and its dz
     * follows grad_scale (w_i / N: here N = 1 and w = 1, then 0.25) */
    for (int i = 0; i < 4; i++) {
      const double *z = bt.z + i * K;
      const double one = 1.0, quarter = 0.25;
      const double v1 = leval_as(&in, TB_PHASE_PROBE, TB_PROBE_ROWS, 1, z, bt.y + i, &one, g1);
      const double v0 = leval_as(&in, TB_PHASE_PROBE, TB_PROBE_ROWS, 1, z, bt.y + i, &one, NULL);
      const double v4 =
          leval_as(&in, TB_PHASE_PROBE, TB_PROBE_ROWS, 1, z, bt.y + i, &quarter, g4);
      track(&w, v0, v1, 0, "%s logits, row %d: value without dz vs with dz", input_short[kind], i);
      track(&w, v4, 0.25 * v1, 0, "%s logits, row %d: value at weight 0.25 vs 0.25 x at 1",
            input_short[kind], i);
      const double s1 = max_abs(g1, K);
      for (int j = 0; j < K; j++)
        track(&w, g4[j], 0.25 * g1[j], 1e-3 * s1,
              "%s logits, row %d class %d: dz at grad_scale 0.25 vs 0.25 x at 1",
              input_short[kind], i, j);
    }
    lbatch_free(&bt);
  }
  tb_probe_loss_close(&in);
  const int pass = w.err <= ROW_REL;
  tb_check_emit(pass, "row-form", FIG(w.err), FIG(ROW_REL),
                "%sN=%d K=%d, a zero-weight row; single rows at grad_scale 1 and 0.25%s%s",
                L->eval ? "row loop vs eval, " : "row form only: ", N, K,
                pass ? "" : "; worst: ", pass ? "" : w.where);
}

/* ---- phase -------------------------------------------------------------------- */

static void chk_phase(const tb_component *c) {
  enum { N = 64, K = 10 };
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  tb_rng r;
  rng_for(&r, "phase", 0);
  lbatch b1, b2;
  lbatch_make(&b1, c, &r, IN_NORMAL, N, K);
  lbatch_make(&b2, c, &r, IN_NORMAL, N, K);
  tb_probe_loss A, B;
  if (linst_open(&A, c, hp, K, err, sizeof err)) {
    tb_check_emit(0, "phase", NULL, NULL, "create with K=%d failed: %s", K, err);
    lbatch_free(&b1), lbatch_free(&b2);
    return;
  }
  if (linst_open(&B, c, hp, K, err, sizeof err)) {
    tb_check_emit(0, "phase", NULL, NULL, "create of a second instance failed: %s", err);
    tb_probe_loss_close(&A);
    lbatch_free(&b1), lbatch_free(&b2);
    return;
  }
  lout a1, a2, bt1, p1, p2, e1, e2, bt2;
  lout *all[] = {&a1, &a2, &bt1, &p1, &p2, &e1, &e2, &bt2};
  for (int i = 0; i < 8; i++) lout_make(all[i], &A, N);
  /* A: two training steps on the same batch; B: a training step, then
   * service calls and an evaluation pass on another batch, then the second
   * training step. If PROBE and EVAL leave the state alone, B's second step
   * is A's. */
  lcall(&A, TB_PHASE_TRAIN, &b1, &a1);
  lcall(&A, TB_PHASE_TRAIN, &b1, &a2);
  lcall(&B, TB_PHASE_TRAIN, &b1, &bt1);
  lcall(&B, TB_PHASE_PROBE, &b2, &p1);
  lcall(&B, TB_PHASE_PROBE, &b2, &p2);
  lcall(&B, TB_PHASE_EVAL, &b2, &e1);
  lcall(&B, TB_PHASE_EVAL, &b2, &e2);
  lcall(&B, TB_PHASE_TRAIN, &b1, &bt2);
  const int stateful = lout_diff(&a1, &a2) != 0;
  const long d_step = lout_diff(&bt2, &a2), d_probe = lout_diff(&p1, &p2),
             d_eval = lout_diff(&e1, &e2);
  const long bad_report = A.bad_report_phase + B.bad_report_phase;
  const long bad = d_step + d_probe + d_eval + bad_report;
  char tail[600] = "";
  if (d_step)
    snprintf(tail, sizeof tail, "; the second TRAIN call differs after PROBE and EVAL calls "
             "(%ld numbers): the state moved outside TRAIN", d_step);
  if (d_probe)
    snprintf(tail + strlen(tail), sizeof tail - strlen(tail),
             "; two identical PROBE calls differ (%ld numbers)", d_probe);
  if (d_eval)
    snprintf(tail + strlen(tail), sizeof tail - strlen(tail),
             "; two identical EVAL calls differ (%ld numbers)", d_eval);
  if (bad_report)
    snprintf(tail + strlen(tail), sizeof tail - strlen(tail), "; %s",
             A.bad_report_phase ? A.report_err : B.report_err);
  tb_check_emit(bad == 0, "phase", CNT(bad), "0",
                "%s (two identical TRAIN calls %s); TRAIN after 2 PROBE and 2 EVAL calls vs "
                "after none, N=%d K=%d%s",
                stateful ? "stateful" : "stateless", stateful ? "differ" : "agree", N, K, tail);
  for (int i = 0; i < 8; i++) free(all[i]->g);
  tb_probe_loss_close(&B);
  tb_probe_loss_close(&A);
  lbatch_free(&b1), lbatch_free(&b2);
}

/* ---- requires ---------------------------------------------------------------- */

static void chk_requires(const tb_component *c) {
  const uint32_t known = TB_REQ_SOFT_TARGETS | TB_REQ_COSINE_HEAD | TB_REQ_SAMPLE_IDS;
  const uint32_t req = c->requires;
  if (!req) {
    tb_check_emit(1, "requires", NULL, NULL, "requires nothing of the scenario");
    return;
  }
  char what[300] = "";
  if (req & TB_REQ_SOFT_TARGETS)
    snprintf(what + strlen(what), sizeof what - strlen(what), "%ssoft targets (the checks' "
             "batches carry 0.9 on the label, the rest spread)", what[0] ? "; " : "");
  if (req & TB_REQ_SAMPLE_IDS)
    snprintf(what + strlen(what), sizeof what - strlen(what), "%ssample ids (in every TRAIN and "
             "PROBE call, as in a run)", what[0] ? "; " : "");
  if (req & TB_REQ_COSINE_HEAD)
    snprintf(what + strlen(what), sizeof what - strlen(what), "%sa cosine head (the checks' "
             "logits are scaled into [-0.98, 0.98]; batch->scale is its head_scale)",
             what[0] ? "; " : "");
  if (req & ~known) {
    tb_check_emit(0, "requires", NULL, NULL, "requires flags this trainbench does not know "
                  "(%#x)%s%s", req & ~known, what[0] ? "; known: " : "", what);
    return;
  }
  tb_check_emit(1, "requires", NULL, NULL, "requires %s", what);
}

/* ---- head-scale -------------------------------------------------------------- */

/* A loss that reads a cosine head (itself or its default base) owns the
 * scale s the metrics multiply cos theta by: it must answer head_scale with
 * a finite s > 0 before each of its calls, whatever the phase. */
static void chk_head_scale(const tb_component *c) {
  enum { N = 8, K = 10 };
  tb_probe_loss in;
  if (linst_open_defaults(&in, c, K, "head-scale")) return;
  if (!tb_node_scale_owner(&in.root)) {
    tb_check_emit(1, "head-scale", NULL, NULL, "skipped: reads no cosine head");
    tb_probe_loss_close(&in);
    return;
  }
  tb_rng r;
  rng_for(&r, "head-scale", 0);
  lbatch bt;
  lbatch_make(&bt, c, &r, IN_NORMAL, N, K);
  static const int phases[3] = {TB_PHASE_TRAIN, TB_PHASE_PROBE, TB_PHASE_EVAL};
  double sc[3];
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < N; j++) lb_ids[j] = j;
    tb_loss_batch b = {.n = N, .logits = bt.z, .labels = bt.y, .epoch = 0, .n_epochs = 10,
                       .n_steps = 100, .phase = phases[i], .dlogits = bt.dz,
                       .sample_ids = phases[i] == TB_PHASE_EVAL ? NULL : lb_ids};
    tb_probe_loss_eval(&in, &b);
    sc[i] = b.scale;
  }
  const long bad = in.bad_scale;
  tb_check_emit(bad == 0, "head-scale", CNT(bad), "0", "s = %.6g, %.6g, %.6g in TRAIN, PROBE "
                "and EVAL calls, N=%d K=%d%s%s", sc[0], sc[1], sc[2], N, K, bad ? "; " : "",
                bad ? in.scale_err : "");
  tb_probe_loss_close(&in);
  lbatch_free(&bt);
}

/* ------------------------------------------------------------------------ */
/* Optimizer checks                                                         */
/* ------------------------------------------------------------------------ */

static void chk_zero_grad(const tb_component *c) {
  enum { STEPS = 5 };
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  hp_set(c, hp, "weight_decay", 0);
  if (tb_hparams_check(c, hp, -1, err, sizeof err)) {
    tb_check_emit(0, "zero-grad", NULL, NULL, "the defaults with weight_decay 0 are refused: %s",
                  err);
    return;
  }
  tb_rng r;
  rng_for(&r, "zero-grad", 0);
  float theta0[TB_PROBE_P], theta[TB_PROBE_P];
  random_theta(&r, theta0);
  tb_probe_problem pb = {{0}, {0}};
  tb_probe_opt o;
  if (oinst_open(&o, c, hp, theta0, &pb, err, sizeof err)) {
    tb_check_emit(0, "zero-grad", NULL, NULL, "create failed: %s", err);
    return;
  }
  double moved = 0;
  int changed = 0;
  for (int s = 1; s <= STEPS; s++) {
    int rc = tb_probe_opt_step(&o);
    if (rc) {
      tb_check_emit(0, "zero-grad", NULL, NULL, "step %d returned %d", s, rc);
      tb_probe_opt_close(&o);
      return;
    }
  }
  tb_probe_opt_get(&o, theta);
  for (int i = 0; i < TB_PROBE_P; i++)
    if (!(theta[i] == theta0[i])) {
      changed++;
      double d = fabs((double)theta[i] - theta0[i]);
      moved = isnan(d) ? INFINITY : fmax(moved, d);
    }
  tb_check_emit(changed == 0, "zero-grad", FIG(moved), "0",
                "%d steps, zero gradients%s: %d of %d parameters moved", STEPS,
                tb_hparam_index(c, "weight_decay") >= 0 ? ", weight_decay 0" : "", changed,
                TB_PROBE_P);
  tb_probe_opt_close(&o);
}

static void chk_grad_size(const tb_component *c, const char *name, double size) {
  enum { STEPS = 10 };
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  tb_rng r;
  rng_for(&r, name, 0);
  float theta0[TB_PROBE_P], theta[TB_PROBE_P];
  random_theta(&r, theta0);
  tb_probe_problem pb;
  for (int i = 0; i < TB_PROBE_P; i++) {
    pb.a[i] = 0;
    pb.b[i] = tb_rng_uniform(&r) < 0.5 ? -size : size;
  }
  tb_probe_opt o;
  if (oinst_open(&o, c, hp, theta0, &pb, err, sizeof err)) {
    tb_check_emit(0, name, NULL, NULL, "create failed: %s", err);
    return;
  }
  for (int s = 1; s <= STEPS; s++) {
    int rc = tb_probe_opt_step(&o);
    if (rc) {
      tb_check_emit(0, name, NULL, NULL, "step %d returned %d with gradients of +-%g", s, rc, size);
      tb_probe_opt_close(&o);
      return;
    }
  }
  tb_probe_opt_get(&o, theta);
  int bad = 0;
  double biggest = 0;
  for (int i = 0; i < TB_PROBE_P; i++) {
    if (!isfinite(theta[i])) bad++;
    else biggest = fmax(biggest, fabs((double)theta[i]));
  }
  tb_check_emit(bad == 0, name, CNT(bad), "0",
                "%d steps, gradients +-%g: %d of %d non-finite, max |theta| %.3g", STEPS, size, bad,
                TB_PROBE_P, biggest);
  tb_probe_opt_close(&o);
}

static void chk_tiny_grad(const tb_component *c) { chk_grad_size(c, "tiny-grad", 1e-30); }
static void chk_huge_grad(const tb_component *c) { chk_grad_size(c, "huge-grad", 1e30); }

/* Runs of STEPS steps recorded as [STEPS][P] trajectories. */
#define TRAJ_STEPS 20

typedef struct run_spec {
  tb_probe_problem pb;
  float theta0[TB_PROBE_P];
} run_spec;

static void run_spec_make(run_spec *s, const char *check, int variant) {
  tb_rng r;
  rng_for(&r, check, variant);
  quadratic(&r, &s->pb);
  /* B also gets a linear term, so the two runs see different gradients */
  for (int i = 0; variant && i < TB_PROBE_P; i++) s->pb.b[i] = tb_rng_normal(&r);
  random_theta(&r, s->theta0);
}

/* Steps an open instance, recording the trajectory; the step's failure in
 * `why` (empty when none). */
static int record_step(tb_probe_opt *o, float *traj, int s, char *why, size_t len) {
  int rc = tb_probe_opt_step(o);
  tb_probe_opt_get(o, traj + (size_t)s * TB_PROBE_P);
  if (rc && !why[0]) snprintf(why, len, "step %d returned %d", s + 1, rc);
  return rc;
}

static int run_alone(const tb_component *c, const double *hp, const run_spec *spec, float *traj,
                     char *why, size_t len) {
  char err[TB_ERRLEN];
  tb_probe_opt o;
  if (oinst_open(&o, c, hp, spec->theta0, &spec->pb, err, sizeof err)) {
    snprintf(why, len, "create failed: %.900s", err);
    return -1;
  }
  for (int s = 0; s < TRAJ_STEPS; s++)
    if (record_step(&o, traj, s, why, len)) break;
  tb_probe_opt_close(&o);
  return why[0] ? -1 : 0;
}

static void chk_opt_deterministic(const tb_component *c) {
  double hp[TB_MAX_HP];
  tb_hparams_defaults(c, hp);
  run_spec spec;
  run_spec_make(&spec, "deterministic", 0);
  static float t1[TRAJ_STEPS * TB_PROBE_P], t2[TRAJ_STEPS * TB_PROBE_P];
  char why[TB_ERRLEN] = "";
  if (run_alone(c, hp, &spec, t1, why, sizeof why) ||
      run_alone(c, hp, &spec, t2, why, sizeof why)) {
    tb_check_emit(0, "deterministic", NULL, NULL, "%s", why);
    return;
  }
  long diff = count_diff(t1, t2, sizeof(float), TRAJ_STEPS * TB_PROBE_P);
  tb_check_emit(diff == 0, "deterministic", CNT(diff), "0",
                "2 fresh instances x %d steps: %ld of %d values differ", TRAJ_STEPS, diff,
                TRAJ_STEPS * TB_PROBE_P);
}

static void chk_no_shared_state(const tb_component *c) {
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN], why[TB_ERRLEN] = "";
  tb_hparams_defaults(c, hp);
  run_spec sa, sb;
  run_spec_make(&sa, "no-shared-state", 0);
  run_spec_make(&sb, "no-shared-state", 1);
  static float ta[TRAJ_STEPS * TB_PROBE_P], tb[TRAJ_STEPS * TB_PROBE_P];
  static float ia[TRAJ_STEPS * TB_PROBE_P], ib[TRAJ_STEPS * TB_PROBE_P];
  if (run_alone(c, hp, &sa, ta, why, sizeof why) || run_alone(c, hp, &sb, tb, why, sizeof why)) {
    tb_check_emit(0, "no-shared-state", NULL, NULL, "%s", why);
    return;
  }
  tb_probe_opt a, b;
  if (oinst_open(&a, c, hp, sa.theta0, &sa.pb, err, sizeof err)) {
    tb_check_emit(0, "no-shared-state", NULL, NULL, "create failed: %s", err);
    return;
  }
  if (oinst_open(&b, c, hp, sb.theta0, &sb.pb, err, sizeof err)) {
    tb_check_emit(0, "no-shared-state", NULL, NULL, "create of a second instance failed: %s", err);
    tb_probe_opt_close(&a);
    return;
  }
  for (int s = 0; s < TRAJ_STEPS && !why[0]; s++) {
    record_step(&a, ia, s, why, sizeof why);
    record_step(&b, ib, s, why, sizeof why);
  }
  tb_probe_opt_close(&b);
  tb_probe_opt_close(&a);
  if (why[0]) {
    tb_check_emit(0, "no-shared-state", NULL, NULL, "stepping two instances: %s", why);
    return;
  }
  long da = count_diff(ta, ia, sizeof(float), TRAJ_STEPS * TB_PROBE_P);
  long db = count_diff(tb, ib, sizeof(float), TRAJ_STEPS * TB_PROBE_P);
  int first = -1;
  for (int i = 0; i < TRAJ_STEPS * TB_PROBE_P && first < 0; i++)
    if (memcmp(&ta[i], &ia[i], sizeof(float)) || memcmp(&tb[i], &ib[i], sizeof(float)))
      first = i / TB_PROBE_P + 1;
  char tail[64] = "";
  if (first > 0) snprintf(tail, sizeof tail, "; they first differ after step %d", first);
  tb_check_emit(da + db == 0, "no-shared-state", CNT(da + db), "0",
                "A, B alternately vs alone, %d steps: %ld + %ld of %d differ%s", TRAJ_STEPS, da, db,
                2 * TRAJ_STEPS * TB_PROBE_P, tail);
}

static void chk_quadratic(const tb_component *c) {
  enum { STEPS = 300 };
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  run_spec spec;
  run_spec_make(&spec, "quadratic", 0);
  tb_probe_opt o;
  if (oinst_open(&o, c, hp, spec.theta0, &spec.pb, err, sizeof err)) {
    tb_check_emit(0, "quadratic", NULL, NULL, "create failed: %s", err);
    return;
  }
  const double f0 = tb_probe_opt_f(&o);
  for (int s = 1; s <= STEPS; s++) {
    int rc = tb_probe_opt_step(&o);
    if (rc) {
      tb_check_emit(0, "quadratic", NULL, NULL, "step %d returned %d", s, rc);
      tb_probe_opt_close(&o);
      return;
    }
  }
  const double f1 = tb_probe_opt_f(&o);
  tb_probe_opt_close(&o);
  const double ratio = f1 / f0;
  tb_check_emit(isfinite(f1) && f1 < f0, "quadratic", FIG(ratio), "< 1",
                "%d steps, defaults: f from %.4g to %.4g", STEPS, f0, f1);
}

static void chk_opt_services(const tb_component *c) {
  enum { STEPS = 20 };
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN], decl[32];
  tb_hparams_defaults(c, hp);
  run_spec spec;
  run_spec_make(&spec, "services", 0);
  tb_probe_opt o;
  if (oinst_open(&o, c, hp, spec.theta0, &spec.pb, err, sizeof err)) {
    tb_check_emit(0, "services", NULL, NULL, "create failed: %s", err);
    return;
  }
  int rc = 0, s;
  for (s = 1; s <= STEPS && !rc; s++) rc = tb_probe_opt_step(&o);
  tb_probe_opt_close(&o);
  services_text(c->services, decl, sizeof decl);
  const int bad_rng = o.rng_moved && !(c->services & TB_SERVICE_RNG);
  const long bad = o.bad_eval + o.bad_jvp + o.bad_next + bad_rng + o.bad_report + o.bad_base;
  char undeclared[700] = "";
  if (o.bad_eval + o.bad_jvp + o.bad_next + bad_rng)
    snprintf(undeclared, sizeof undeclared, "; undeclared:%s%s%s%s",
             o.bad_eval ? " TB_SERVICE_EVAL" : "", o.bad_jvp ? " TB_SERVICE_JVP" : "",
             o.bad_next ? " TB_SERVICE_NEXT_BATCH" : "", bad_rng ? " TB_SERVICE_RNG" : "");
  if (o.bad_report)
    snprintf(undeclared + strlen(undeclared), sizeof undeclared - strlen(undeclared),
             "; %ld report call(s) a run refuses: %s", o.bad_report, o.report_err);
  if (o.bad_base)
    snprintf(undeclared + strlen(undeclared), sizeof undeclared - strlen(undeclared),
             "; %ld base call(s) a run refuses: %s", o.bad_base, o.base_err);
  char rc_text[64] = "";
  if (rc) snprintf(rc_text, sizeof rc_text, "; step %d returned %d", s - 1, rc);
  tb_check_emit(bad == 0 && rc == 0, "services", CNT(bad), "0",
                "declares %s; %d steps: eval %ld, jvp %ld, next_batch %ld, report %ld, base %ld, "
                "rng %s%s%s",
                decl, STEPS, o.n_eval, o.n_jvp, o.n_next, o.n_report, o.n_base,
                o.rng_moved ? "yes" : "no", undeclared, rc_text);
}

/* Evaluation passes ask eval_params before each pass; training must go on
 * as if they had not. */
static void chk_eval_params(const tb_component *c) {
  const tb_optimizer_def *O = c->opt;
  if (!O->eval_params) {
    tb_check_emit(1, "eval-params", NULL, NULL,
                  "no eval_params: evaluation passes see the live parameters");
    return;
  }
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN], why[TB_ERRLEN] = "";
  tb_hparams_defaults(c, hp);
  run_spec spec;
  run_spec_make(&spec, "eval-params", 0);
  static float alone[TRAJ_STEPS * TB_PROBE_P], asked[TRAJ_STEPS * TB_PROBE_P];
  if (run_alone(c, hp, &spec, alone, why, sizeof why)) {
    tb_check_emit(0, "eval-params", NULL, NULL, "%s", why);
    return;
  }
  tb_probe_opt o;
  if (oinst_open(&o, c, hp, spec.theta0, &spec.pb, err, sizeof err)) {
    tb_check_emit(0, "eval-params", NULL, NULL, "create failed: %s", err);
    return;
  }
  long own = 0, nonfinite = 0;
  for (int s = 0; s < TRAJ_STEPS && !why[0]; s++) {
    if (record_step(&o, asked, s, why, sizeof why)) break;
    for (int i = 0; i < TB_PROBE_NT; i++) {
      const float *p = O->eval_params(o.state, i);
      if (!p) continue;
      own++;
      for (int64_t j = 0; j < tb_probe_tensor_numel(i); j++) nonfinite += !isfinite(p[j]);
    }
  }
  tb_probe_opt_close(&o);
  if (why[0]) {
    tb_check_emit(0, "eval-params", NULL, NULL, "stepping with eval_params asked: %s", why);
    return;
  }
  const long diff = count_diff(alone, asked, sizeof(float), TRAJ_STEPS * TB_PROBE_P);
  char tail[160] = "";
  if (diff) snprintf(tail, sizeof tail, "; asking eval_params moved the training");
  if (nonfinite)
    snprintf(tail + strlen(tail), sizeof tail - strlen(tail), "; %ld non-finite values given",
             nonfinite);
  tb_check_emit(diff == 0 && nonfinite == 0, "eval-params", CNT(diff + nonfinite), "0",
                "%d steps, eval_params of the %d tensors asked after each: %ld of %d parameter "
                "values differ from the steps alone; %ld own value arrays%s",
                TRAJ_STEPS, TB_PROBE_NT, diff, TRAJ_STEPS * TB_PROBE_P, own, tail);
}

/* ---- composition: a wrapper runs its base ------------------------------------ */

/* Another base than `def` for the composition checks: the first of `names`
 * that is loaded and is not `def`, or NULL. */
static const tb_component *other_base(const tb_component *def, const char *const *names) {
  for (int i = 0; names[i]; i++) {
    if (strcmp(names[i], def->name) == 0) continue;
    for (int r = 0; r < g_n_regs; r++) {
      const tb_component *b = tb_registry_find(g_regs[r], def->kind, names[i]);
      if (b) return b;
    }
  }
  return NULL;
}

/* What a wrapper's composition check says of a component that is none. */
static int not_a_wrapper(const tb_component *c) {
  int slot;
  char err[TB_ERRLEN];
  if (tb_probe_default_base(c, &slot, err, sizeof err) || slot >= 0) return 0;
  tb_check_emit(1, "composition", NULL, NULL, "wraps no base (no %s hyperparameter)",
                tb_kind_name(c->kind));
  return 1;
}

/* Steps of the wrapper over `base`, the trajectory in traj; its base calls
 * and refusals in *n, *bad (first reason in why when empty). */
static int opt_run_over(const tb_component *c, const tb_component *base, const run_spec *spec,
                        float *traj, long *n, long *bad, char *why, size_t len) {
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  tb_rng stream;
  tb_rng_init(&stream, SEED, "check:plugin-stream");
  tb_probe_opt o;
  if (tb_probe_opt_open_base(&o, c, hp, base, spec->theta0, &spec->pb, &stream, err,
                             sizeof err)) {
    snprintf(why, len, "create over %s failed: %.900s", base->name, err);
    return -1;
  }
  for (int s = 0; s < TRAJ_STEPS; s++)
    if (record_step(&o, traj, s, why, len)) break;
  *n = o.n_base;
  *bad = o.bad_base;
  if (o.bad_base && !why[0]) snprintf(why, len, "%s", o.base_err);
  tb_probe_opt_close(&o);
  return why[0] ? -1 : 0;
}

/* A wrapper runs its base in every step or some, holds to its declarations
 * (TB_SERVICE_BASE, the slot of a base), and its steps follow the base:
 * another base gives another trajectory. */
static void chk_opt_composition(const tb_component *c) {
  if (not_a_wrapper(c)) return;
  int slot;
  char err[TB_ERRLEN], why[TB_ERRLEN] = "";
  const tb_component *def = tb_probe_default_base(c, &slot, err, sizeof err);
  if (!def) {
    tb_check_emit(0, "composition", NULL, NULL, "%s", err);
    return;
  }
  static const char *const alts[] = {"sgd", "adam", NULL};
  const tb_component *alt = other_base(def, alts);
  run_spec spec;
  run_spec_make(&spec, "composition", 1);
  static float ta[TRAJ_STEPS * TB_PROBE_P], tb[TRAJ_STEPS * TB_PROBE_P];
  long n = 0, bad = 0, n2 = 0, bad2 = 0;
  if (opt_run_over(c, def, &spec, ta, &n, &bad, why, sizeof why) ||
      (alt && opt_run_over(c, alt, &spec, tb, &n2, &bad2, why, sizeof why))) {
    tb_check_emit(0, "composition", CNT(bad + bad2), "0", "%s", why);
    return;
  }
  if (n == 0) {
    tb_check_emit(0, "composition", "0", ">= 1",
                  "%d steps over '%s': the base never ran (step_base not called)", TRAJ_STEPS,
                  def->name);
    return;
  }
  if (!alt) {
    tb_check_emit(1, "composition", CNT(n), ">= 1",
                  "%d steps over '%s': %ld base calls; no other base loaded to swap in",
                  TRAJ_STEPS, def->name, n);
    return;
  }
  const long diff = count_diff(ta, tb, sizeof(float), TRAJ_STEPS * TB_PROBE_P);
  tb_check_emit(diff > 0, "composition", CNT(diff), "> 0",
                "%d steps over '%s' (%ld base calls), then over '%s' (%ld): %ld of %d values "
                "differ%s",
                TRAJ_STEPS, def->name, n, alt->name, n2, diff, TRAJ_STEPS * TB_PROBE_P,
                diff ? "" : ": the steps do not follow the base");
}

/* The loss wrapper's value over its default base and over another, on the
 * same batches: it calls eval_base, as declared, and follows the base. */
static void chk_loss_composition(const tb_component *c) {
  enum { N = 16, K = 10 };
  if (not_a_wrapper(c)) return;
  int slot;
  char err[TB_ERRLEN];
  const tb_component *def = tb_probe_default_base(c, &slot, err, sizeof err);
  if (!def) {
    tb_check_emit(0, "composition", NULL, NULL, "%s", err);
    return;
  }
  static const char *const alts[] = {"brier", "cross_entropy", NULL};
  const tb_component *bases[2] = {def, other_base(def, alts)};
  double v[2][3] = {{0}};
  long n[2] = {0}, bad = 0;
  char why[TB_ERRLEN] = "";
  for (int b = 0; b < 2 && bases[b]; b++) {
    double hp[TB_MAX_HP];
    tb_hparams_defaults(c, hp);
    tb_rng stream, r;
    tb_rng_init(&stream, SEED, "check:plugin-stream");
    tb_probe_loss in;
    if (tb_probe_loss_open_base(&in, c, hp, bases[b], K, &stream, err, sizeof err)) {
      tb_check_emit(0, "composition", NULL, NULL, "create over '%s' with K=%d failed: %s",
                    bases[b]->name, K, err);
      return;
    }
    rng_for(&r, "composition", 0);
    for (int kind = IN_NORMAL; kind <= IN_EXTREME; kind++) {
      lbatch bt;
      lbatch_make(&bt, c, &r, kind, N, K);
      v[b][kind - IN_NORMAL] = leval_as(&in, TB_PHASE_TRAIN, TB_PROBE_ANY, N, bt.z, bt.y, bt.w,
                                        bt.dz);
      lbatch_free(&bt);
    }
    n[b] = in.n_base;
    bad += in.bad_base;
    if (in.bad_base && !why[0]) snprintf(why, sizeof why, "%s", in.base_err);
    tb_probe_loss_close(&in);
  }
  if (bad) {
    tb_check_emit(0, "composition", CNT(bad), "0", "%ld eval_base call(s) a run refuses: %s",
                  bad, why);
    return;
  }
  if (n[0] == 0) {
    tb_check_emit(0, "composition", "0", ">= 1",
                  "3 TRAIN calls over '%s': the base never ran (eval_base not called)",
                  def->name);
    return;
  }
  if (!bases[1]) {
    tb_check_emit(1, "composition", CNT(n[0]), ">= 1",
                  "3 TRAIN calls over '%s': %ld base calls; no other base loaded to swap in",
                  def->name, n[0]);
    return;
  }
  int same = 0;
  for (int j = 0; j < 3; j++) same += v[0][j] == v[1][j];
  tb_check_emit(same < 3, "composition", CNT(3 - same), "> 0",
                "3 TRAIN calls over '%s' (%ld base calls), then over '%s' (%ld): %d of 3 "
                "values differ%s",
                def->name, n[0], bases[1]->name, n[1], 3 - same,
                same < 3 ? "" : ": the value does not follow the base");
}

/* ------------------------------------------------------------------------ */
/* Schedules                                                                */
/* ------------------------------------------------------------------------ */

/* A run of SCHED_S steps per epoch and SCHED_E epochs: long enough for a
 * warmup of two epochs, a few step decays and a whole cosine. */
#define SCHED_S 10
#define SCHED_E 20

static void chk_sched_defaults(const tb_component *c) {
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  if (tb_hparams_check(c, hp, -1, err, sizeof err)) {
    tb_check_emit(0, "defaults", NULL, NULL, "defaults refused: %s", err);
    return;
  }
  tb_probe_sched s;
  if (tb_probe_sched_open(&s, c, hp, SCHED_S, SCHED_E, err, sizeof err)) {
    tb_check_emit(0, "defaults", NULL, NULL, "create with the defaults failed: %s", err);
    return;
  }
  tb_probe_sched_close(&s);
  tb_check_emit(1, "defaults", NULL, NULL, "%d default(s) in range%s; create and destroy ok",
                c->n_hparams, c->validate ? " and validated" : "");
}

/* Every step's factor multiplies the optimizer's lr: a NaN, an infinity or
 * a negative one is a wrong learning rate the run would silently use (the
 * trainer stops such a run; here it fails before any run). */
static void chk_sched_factor(const tb_component *c) {
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  tb_probe_sched s;
  if (tb_probe_sched_open(&s, c, hp, SCHED_S, SCHED_E, err, sizeof err)) {
    tb_check_emit(0, "factor", NULL, NULL, "create failed: %s", err);
    return;
  }
  const int64_t T = (int64_t)SCHED_S * SCHED_E;
  int64_t bad = 0, first = -1;
  double lo = INFINITY, hi = -INFINITY, at_bad = 0;
  for (int64_t t = 0; t < T; t++) {
    double f = tb_probe_sched_factor(&s, t);
    if (!isfinite(f) || f < 0) {
      if (first < 0) first = t, at_bad = f;
      bad++;
      continue;
    }
    lo = fmin(lo, f);
    hi = fmax(hi, f);
  }
  tb_probe_sched_close(&s);
  if (bad)
    tb_check_emit(0, "factor", CNT(bad), "0",
                  "defaults, %d x %d steps: %lld factors not finite or < 0, the first %g at "
                  "step %lld", SCHED_E, SCHED_S, (long long)bad, at_bad, (long long)first);
  else
    tb_check_emit(1, "factor", CNT(0), "0",
                  "defaults, %d x %d steps: every factor finite and >= 0, in [%.4g, %.4g]",
                  SCHED_E, SCHED_S, lo, hi);
}

/* A warmup ramps the lr up from near 0: with warmup = 2 epochs of 10 steps
 * the first step's factor is 1/20 (the engine's rule, (t + 1) / W). A
 * schedule without a `warmup` hyperparameter passes with a note. */
static void chk_sched_warmup(const tb_component *c) {
  int w = tb_hparam_index(c, "warmup");
  if (w < 0 || c->hparams[w].type != TB_HP_REAL) {
    tb_check_emit(1, "warmup", NULL, NULL, "no real 'warmup' hyperparameter: nothing to check");
    return;
  }
  double hp[TB_MAX_HP];
  char err[TB_ERRLEN];
  tb_hparams_defaults(c, hp);
  hp[w] = 2;
  if (tb_hparams_check(c, hp, -1, err, sizeof err)) {
    tb_check_emit(0, "warmup", NULL, NULL, "warmup = 2 refused: %s", err);
    return;
  }
  tb_probe_sched s;
  if (tb_probe_sched_open(&s, c, hp, SCHED_S, SCHED_E, err, sizeof err)) {
    tb_check_emit(0, "warmup", NULL, NULL, "create with warmup = 2 failed: %s", err);
    return;
  }
  const double f0 = tb_probe_sched_factor(&s, 0), f_end = tb_probe_sched_factor(&s, 19);
  const double f_after = tb_probe_sched_factor(&s, 20);
  tb_probe_sched_close(&s);
  const double tol = 0.1;
  tb_check_emit(isfinite(f0) && f0 >= 0 && f0 <= tol && f_end > f0, "warmup", FIG(f0), "<= 0.1",
                "warmup = 2 epochs of %d steps: factor %.4g at step 0, %.4g at step 19, "
                "%.4g at step 20", SCHED_S, f0, f_end, f_after);
}

/* ------------------------------------------------------------------------ */
/* The tables of checks                                                     */
/* ------------------------------------------------------------------------ */

static const tb_check_def loss_checks[] = {
    {"meta", chk_meta},
    {"defaults", chk_defaults},
    {"unique", chk_unique},
    {"create-edges", chk_create_edges},
    {"grad-fd", chk_grad_fd},
    {"tensor-fd", chk_tensor_fd},
    {"finite", chk_finite},
    {"scale-1/N", chk_scale},
    {"zero-weight", chk_zero_weight},
    {"row-form", chk_row_form},
    {"deterministic", chk_loss_deterministic},
    {"phase", chk_phase},
    {"services", chk_loss_services},
    {"requires", chk_requires},
    {"head-scale", chk_head_scale},
    {"composition", chk_loss_composition},
};

static const tb_check_def opt_checks[] = {
    {"meta", chk_meta},
    {"defaults", chk_defaults},
    {"unique", chk_unique},
    {"create-edges", chk_create_edges},
    {"zero-grad", chk_zero_grad},
    {"tiny-grad", chk_tiny_grad},
    {"huge-grad", chk_huge_grad},
    {"deterministic", chk_opt_deterministic},
    {"no-shared-state", chk_no_shared_state},
    {"quadratic", chk_quadratic},
    {"eval-params", chk_eval_params},
    {"services", chk_opt_services},
    {"composition", chk_opt_composition},
};

static const tb_check_def sched_checks[] = {
    {"meta", chk_meta},
    {"defaults", chk_sched_defaults},
    {"unique", chk_unique},
    {"factor", chk_sched_factor},
    {"warmup", chk_sched_warmup},
};

int tb_checks_for(const tb_component *c, const tb_check_def **out) {
  if (c->kind == TB_KIND_SCHEDULE) {
    *out = sched_checks;
    return (int)(sizeof sched_checks / sizeof sched_checks[0]);
  }
  if (c->kind == TB_KIND_LOSS) {
    *out = loss_checks;
    return (int)(sizeof loss_checks / sizeof loss_checks[0]);
  }
  *out = opt_checks;
  return (int)(sizeof opt_checks / sizeof opt_checks[0]);
}
