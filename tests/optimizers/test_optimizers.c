/*
 * test_optimizers.c — the five PyTorch-compatible optimizer plugins (sgd,
 * adam, adamw, rmsprop, adagrad), loaded from the build tree by the real
 * loader, against trajectories recorded from torch.optim 1.13.
 *
 * Usage: test_optimizers REFERENCE.TXT (TB_BUILD_PLUGINS names the plugins).
 *
 * Checks: the hyperparameter tables (names, defaults, ranges); every case of
 * REFERENCE.TXT step by step (the file also carries the problem: initial
 * values, gradient coefficients and the schedule factors; see
 * gen_optimizers.py); sgd's nesterov rule; zero gradients without weight
 * decay leave parameters unchanged; two instances stepped alternately follow
 * the same trajectories as each alone; a step on tensors of another size or
 * count is refused; a tensor marked TB_TENSOR_NO_DECAY follows the trajectory
 * of weight_decay 0 while the others keep their decay. Tensors reach the
 * plugins as ABI 2.0 arrays with a stride (tensor_size). One line per check;
 * exit status 1 if any fails.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "registry.h"
#include "trainbench/plugin.h"
#include "util.h"

/* Agreement with torch: float32 on both sides, the same operations in the
 * same order, but torch may fuse multiply-adds in its vector kernels, so a
 * few ulps differ. Each value must satisfy
 *   |got - ref| <= RTOL * max(|ref|, AFLOOR)
 * i.e. 1e-6 relative, and 1e-7 absolute for values below 0.1. */
#define RTOL 1e-6
#define AFLOOR 0.1

#define MAX_TENSORS 4
#define MAX_TOTAL 256
#define MAX_STEPS 16
#define MAX_CASES 64
#define MAX_SET 16

typedef struct problem {
  int n_tensors;
  char names[MAX_TENSORS][32];
  int ndim[MAX_TENSORS];
  int64_t shape[MAX_TENSORS][4];
  int64_t numel[MAX_TENSORS], offset[MAX_TENSORS];
  int64_t total;
  float init[MAX_TOTAL], a[MAX_TOTAL], c[MAX_TOTAL];
  double factors[MAX_STEPS];
  int n_steps;
} problem;

/* hyperparameters a case sets by name; the rest keep their defaults */
typedef struct settings {
  int n;
  char keys[MAX_SET][48];
  double vals[MAX_SET];
} settings;

typedef struct ref_case {
  char name[64], plugin[32];
  settings set;
  char base[32];                    /* a wrapper's base optimizer, "" for none */
  settings base_set;
  float traj[MAX_STEPS][MAX_TOTAL]; /* parameters after each step */
  float evals[MAX_STEPS][MAX_TOTAL]; /* what evaluation sees after each step (eval lines) */
  unsigned char seen[MAX_STEPS][MAX_TENSORS];
  int has_evals;
} ref_case;

static problem pb;
static ref_case cases[MAX_CASES];
static int n_cases;
static int failures;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s ", ok ? "ok  " : "FAIL");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  if (!ok) failures++;
}

/* ---- reading reference.txt -------------------------------------------------- */

static int tensor_index(const char *name) {
  for (int i = 0; i < pb.n_tensors; i++)
    if (strcmp(pb.names[i], name) == 0) return i;
  return -1;
}

/* Parse "key=value ..." tokens into s. */
/* KEY=VALUE settings; with `rc` (a case) also base:PLUGIN and base.KEY=VALUE,
 * a wrapper's base and its settings. */
static int parse_settings(settings *s, ref_case *rc, char *save, char *err, size_t errlen) {
  s->n = 0;
  for (char *tok; (tok = strtok_r(NULL, " \t\n", &save));) {
    settings *into = s;
    if (rc && strncmp(tok, "base:", 5) == 0) {
      snprintf(rc->base, sizeof rc->base, "%s", tok + 5);
      continue;
    }
    if (rc && strncmp(tok, "base.", 5) == 0) {
      into = &rc->base_set;
      tok += 5;
    }
    char *eq = strchr(tok, '=');
    if (!eq || into->n == MAX_SET) {
      snprintf(err, errlen, "bad setting '%s'", tok);
      return -1;
    }
    *eq = 0;
    snprintf(into->keys[into->n], sizeof into->keys[0], "%s", tok);
    char *end;
    into->vals[into->n] = strtod(eq + 1, &end);
    if (end == eq + 1 || *end) {
      snprintf(err, errlen, "bad value in '%s=%s'", tok, eq + 1);
      return -1;
    }
    into->n++;
  }
  return 0;
}

static int settings_from(settings *s, const char *text) {
  char buf[512], err[128];
  snprintf(buf, sizeof buf, "x %s", text);
  char *save;
  strtok_r(buf, " ", &save);
  return parse_settings(s, NULL, save, err, sizeof err);
}

/* Read n floats from the rest of the line into out. */
static int read_floats(float *out, int64_t n, char **save) {
  for (int64_t k = 0; k < n; k++) {
    char *tok = strtok_r(NULL, " \t\n", save), *end;
    if (!tok) return -1;
    out[k] = (float)strtod(tok, &end);
    if (*end) return -1;
  }
  return strtok_r(NULL, " \t\n", save) ? -1 : 0;
}

static int load_reference(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "cannot open '%s'", path);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, rc = 0;
  ref_case *cur = NULL;
  while (rc == 0 && getline(&line, &cap, f) > 0) {
    lineno++;
    char *save, *kw = strtok_r(line, " \t\n", &save);
    if (!kw || kw[0] == '#') continue;
    char *name = strtok_r(NULL, " \t\n", &save);
    if (!name) {
      rc = -1;
    } else if (strcmp(kw, "tensor") == 0 && pb.n_tensors < MAX_TENSORS) {
      int i = pb.n_tensors++;
      snprintf(pb.names[i], sizeof pb.names[i], "%s", name);
      pb.numel[i] = 1;
      for (char *d; (d = strtok_r(NULL, " \t\n", &save)) && pb.ndim[i] < 4;) {
        pb.shape[i][pb.ndim[i]++] = atoll(d);
        pb.numel[i] *= atoll(d);
      }
      pb.offset[i] = pb.total;
      pb.total += pb.numel[i];
      if (pb.total > MAX_TOTAL) rc = -1;
    } else if (strcmp(kw, "init") == 0 || strcmp(kw, "coef_a") == 0 ||
               strcmp(kw, "coef_c") == 0) {
      int i = tensor_index(name);
      float *dst = kw[0] == 'i' ? pb.init : kw[5] == 'a' ? pb.a : pb.c;
      rc = i < 0 ? -1 : read_floats(dst + pb.offset[i], pb.numel[i], &save);
    } else if (strcmp(kw, "factors") == 0) {
      for (char *tok = name; tok && pb.n_steps < MAX_STEPS; tok = strtok_r(NULL, " \t\n", &save))
        pb.factors[pb.n_steps++] = strtod(tok, NULL);
    } else if (strcmp(kw, "case") == 0 && n_cases < MAX_CASES) {
      cur = &cases[n_cases++];
      snprintf(cur->name, sizeof cur->name, "%s", name);
      char *plugin = strtok_r(NULL, " \t\n", &save);
      snprintf(cur->plugin, sizeof cur->plugin, "%s", plugin ? plugin : "");
      rc = plugin ? parse_settings(&cur->set, cur, save, err, errlen) : -1;
    } else if ((strcmp(kw, "param") == 0 || strcmp(kw, "eval") == 0) && cur) {
      int t = atoi(name), ev = kw[0] == 'e';
      char *tname = strtok_r(NULL, " \t\n", &save);
      int i = tname ? tensor_index(tname) : -1;
      if (t < 1 || t > pb.n_steps || i < 0) {
        rc = -1;
      } else {
        rc = read_floats((ev ? cur->evals : cur->traj)[t - 1] + pb.offset[i], pb.numel[i],
                         &save);
        if (ev)
          cur->has_evals = 1;
        else
          cur->seen[t - 1][i] = 1;
      }
    } else {
      rc = -1;
    }
    if (rc && !err[0]) snprintf(err, errlen, "%s:%d: cannot parse this line", path, lineno);
  }
  free(line);
  fclose(f);
  for (int k = 0; rc == 0 && k < n_cases; k++)
    for (int t = 0; t < pb.n_steps; t++)
      for (int i = 0; i < pb.n_tensors; i++)
        if (!cases[k].seen[t][i]) {
          snprintf(err, errlen, "%s: case '%.63s' lacks step %d of '%.31s'", path, cases[k].name,
                   t + 1, pb.names[i]);
          rc = -1;
        }
  if (rc == 0 && (pb.n_tensors == 0 || pb.n_steps == 0 || n_cases == 0)) {
    snprintf(err, errlen, "%s: no tensors, factors or cases", path);
    rc = -1;
  }
  return rc;
}

/* ---- running an optimizer on the problem ------------------------------------ */

/* One optimizer instance and the parameters it owns. */
typedef struct run {
  const tb_component *comp;
  void *state;
  const tb_component *base_comp; /* a wrapper's base, with its own state */
  void *base_state;
  int64_t t;
  float theta[MAX_TOTAL], grad[MAX_TOTAL];
  tb_tensor params[MAX_TENSORS], grads[MAX_TENSORS];
} run;

/* The values of scalar hyperparameters as 2.0 hands them over beside hp. */
static void values_of(const tb_component *c, const double *hp, tb_value *v) {
  for (int i = 0; i < c->n_hparams; i++) {
    memset(&v[i], 0, sizeof v[i]);
    v[i].num = hp[i];
    if (c->hparams[i].type == TB_HP_CHOICE) v[i].text = c->hparams[i].choices[(int)hp[i]];
  }
}

/* Defaults, then the settings by name, then tb_hparams_check. */
static int fill_hparams(const tb_component *c, const settings *s, double *hp, char *err,
                        size_t errlen) {
  tb_hparams_defaults(c, hp);
  for (int k = 0; k < s->n; k++) {
    int i = tb_hparam_index(c, s->keys[k]);
    if (i < 0) {
      snprintf(err, errlen, "optimizer '%s' has no hyperparameter '%s'", c->name, s->keys[k]);
      return -1;
    }
    hp[i] = s->vals[k];
  }
  return tb_hparams_check(c, hp, -1, err, errlen);
}

/* `flags` for every tensor (no_decay: only tensor no_decay - 1 gets
 * TB_TENSOR_NO_DECAY; 0: none). */
static int run_start_flags(run *r, const tb_component *c, const settings *s, const float *init,
                           int no_decay, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->comp = c;
  double hp[TB_MAX_HP];
  if (fill_hparams(c, s, hp, err, errlen)) return -1;
  tb_value values[TB_MAX_HP];
  values_of(c, hp, values);
  memcpy(r->theta, init, sizeof(float) * (size_t)pb.total);
  for (int i = 0; i < pb.n_tensors; i++) {
    tb_tensor *p = &r->params[i], *g = &r->grads[i];
    p->name = g->name = pb.names[i];
    p->data = r->theta + pb.offset[i];
    g->data = r->grad + pb.offset[i];
    p->numel = g->numel = pb.numel[i];
    p->ndim = g->ndim = pb.ndim[i];
    memcpy(p->shape, pb.shape[i], sizeof p->shape);
    memcpy(g->shape, pb.shape[i], sizeof g->shape);
    p->layer = g->layer = 0;
    p->role = g->role = p->ndim == 1 ? TB_ROLE_BIAS : TB_ROLE_HEAD;
    p->flags = g->flags = i == no_decay - 1 ? TB_TENSOR_NO_DECAY : 0;
  }
  tb_optimizer_init oi = {.host = tb_host_api_get(), .hp = hp, .values = values,
                          .params = r->params, .n_params = pb.n_tensors,
                          .tensor_size = sizeof(tb_tensor), .rng = NULL};
  err[0] = 0;
  if (c->opt->create(&oi, &r->state, err, errlen)) {
    if (!err[0]) snprintf(err, errlen, "create failed without a message");
    return -1;
  }
  return 0;
}

static int run_start(run *r, const tb_component *c, const settings *s, const float *init,
                     char *err, size_t errlen) {
  return run_start_flags(r, c, s, init, 0, err, errlen);
}

/* A wrapper's base, created on the same tensors with its own state (the
 * trainer's composition in miniature: step_base and eval_params_base below). */
static int run_start_base(run *r, const tb_component *base, const settings *s, char *err,
                          size_t errlen) {
  double hp[TB_MAX_HP];
  if (fill_hparams(base, s, hp, err, errlen)) return -1;
  tb_value values[TB_MAX_HP];
  values_of(base, hp, values);
  tb_optimizer_init oi = {.host = tb_host_api_get(), .hp = hp, .values = values,
                          .params = r->params, .n_params = pb.n_tensors,
                          .tensor_size = sizeof(tb_tensor)};
  r->base_comp = base;
  return base->opt->create(&oi, &r->base_state, err, errlen);
}

static int step_base(void *hctx, int slot, tb_tensor *params, const tb_tensor *grads) {
  run *r = hctx;
  (void)slot;
  if (!r->base_comp) return -1;
  tb_step_ctx ctx = {.step = r->t, .lr_factor = pb.factors[(r->t - 1) % pb.n_steps],
                     .batch_n = 1, .n_classes = 2, .n_params = pb.n_tensors,
                     .tensor_size = sizeof(tb_tensor), .n_steps = pb.n_steps,
                     .steps_per_epoch = pb.n_steps, .train_size = 1};
  return r->base_comp->opt->step(r->base_state, params, grads, &ctx);
}

static const float *eval_params_base(void *hctx, int slot, int i) {
  run *r = hctx;
  (void)slot;
  return r->base_comp && r->base_comp->opt->eval_params
             ? r->base_comp->opt->eval_params(r->base_state, i)
             : NULL;
}

/* g = float32(a * th + c + 0.1 * sin(th * t)) in double, as gen_optimizers.py. */
static void gradient(float *g, const float *theta, int64_t t) {
  for (int64_t k = 0; k < pb.total; k++) {
    double th = theta[k];
    g[k] = (float)((double)pb.a[k] * th + (double)pb.c[k] + 0.1 * sin(th * (double)t));
  }
}

/* One step with n_params in the context (a step on another count of
 * tensors must be refused). */
static int run_step_n(run *r, int zero_grad, int n_params) {
  r->t++;
  if (zero_grad)
    memset(r->grad, 0, sizeof r->grad);
  else
    gradient(r->grad, r->theta, r->t);
  tb_step_ctx ctx = {.step = r->t, .lr_factor = pb.factors[(r->t - 1) % pb.n_steps],
                     .epoch = 0, .batch_n = 1, .n_classes = 2, .n_params = n_params,
                     .tensor_size = sizeof(tb_tensor), .n_steps = pb.n_steps,
                     .steps_per_epoch = pb.n_steps, .train_size = 1, .host_ctx = r,
                     .step_base = step_base, .eval_params_base = eval_params_base};
  return r->comp->opt->step(r->state, r->params, r->grads, &ctx);
}

static int run_step(run *r, int zero_grad) { return run_step_n(r, zero_grad, pb.n_tensors); }

static void run_end(run *r) {
  if (r->state && r->comp->opt->destroy) r->comp->opt->destroy(r->state);
  r->state = NULL;
  if (r->base_state && r->base_comp->opt->destroy) r->base_comp->opt->destroy(r->base_state);
  r->base_state = NULL;
}

/* ---- the checks --------------------------------------------------------------- */

static const char *const optimizer_names[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};

/* The names and defaults the brief fixes (PyTorch 1.13's, sgd's lr aside). */
static const struct {
  const char *opt, *hp;
  double def;
} expected_defaults[] = {
    {"sgd", "lr", 0.01},        {"sgd", "momentum", 0},        {"sgd", "dampening", 0},
    {"sgd", "nesterov", 0},     {"sgd", "weight_decay", 0},    {"adam", "lr", 1e-3},
    {"adam", "beta1", 0.9},     {"adam", "beta2", 0.999},      {"adam", "eps", 1e-8},
    {"adam", "weight_decay", 0}, {"adam", "amsgrad", 0},       {"adamw", "lr", 1e-3},
    {"adamw", "beta1", 0.9},    {"adamw", "beta2", 0.999},     {"adamw", "eps", 1e-8},
    {"adamw", "weight_decay", 1e-2}, {"adamw", "amsgrad", 0},  {"rmsprop", "lr", 1e-2},
    {"rmsprop", "alpha", 0.99}, {"rmsprop", "eps", 1e-8},      {"rmsprop", "momentum", 0},
    {"rmsprop", "centered", 0}, {"rmsprop", "weight_decay", 0}, {"adagrad", "lr", 1e-2},
    {"adagrad", "lr_decay", 0}, {"adagrad", "eps", 1e-10},
    {"adagrad", "initial_accumulator_value", 0}, {"adagrad", "weight_decay", 0},
};

static void check_tables(const tb_registry *reg) {
  for (size_t k = 0; k < sizeof optimizer_names / sizeof *optimizer_names; k++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, optimizer_names[k]);
    if (!c) continue;
    int n_expected = 0, help = 1;
    for (size_t e = 0; e < sizeof expected_defaults / sizeof *expected_defaults; e++)
      if (strcmp(expected_defaults[e].opt, c->name) == 0) n_expected++;
    for (int i = 0; i < c->n_hparams; i++)
      if (!c->hparams[i].help || !c->hparams[i].help[0]) help = 0;
    check(c->n_hparams == n_expected && help && strcmp(c->version, "1") == 0 &&
              c->services == 0 && c->reference[0] && c->summary[0],
          "%s: %d hyperparameters (want %d), each with help; version '%s', services %u, "
          "summary and reference set",
          c->name, c->n_hparams, n_expected, c->version, (unsigned)c->services);
    double hp[TB_MAX_HP];
    char err[TB_ERRLEN];
    tb_hparams_defaults(c, hp);
    int rc = tb_hparams_check(c, hp, -1, err, sizeof err);
    check(rc == 0, "%s: defaults pass tb_hparams_check%s%s", c->name, rc ? ": " : "",
          rc ? err : "");
    /* a negative learning rate is out of every table's range */
    hp[tb_hparam_index(c, "lr")] = -0.1;
    rc = tb_hparams_check(c, hp, -1, err, sizeof err);
    check(rc != 0 && strstr(err, "'lr'") && strstr(err, "out of range"),
          "%s: lr = -0.1 is rejected (%s)", c->name, rc ? err : "accepted");
  }
  for (size_t e = 0; e < sizeof expected_defaults / sizeof *expected_defaults; e++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, expected_defaults[e].opt);
    if (!c) continue;
    int i = tb_hparam_index(c, expected_defaults[e].hp);
    check(i >= 0 && c->hparams[i].def == expected_defaults[e].def,
          "%s: '%s' exists with default %g", c->name, expected_defaults[e].hp,
          expected_defaults[e].def);
  }
  /* betas must stay below 1: the bias correction divides by 1 - beta^t */
  const char *adams[] = {"adam", "adamw"}, *betas[] = {"beta1", "beta2"};
  for (int k = 0; k < 2; k++)
    for (int b = 0; b < 2; b++) {
      const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, adams[k]);
      if (!c) continue;
      double hp[TB_MAX_HP];
      char err[TB_ERRLEN];
      tb_hparams_defaults(c, hp);
      hp[tb_hparam_index(c, betas[b])] = 1;
      int rc = tb_hparams_check(c, hp, -1, err, sizeof err);
      check(rc != 0, "%s: %s = 1 is rejected (%s)", c->name, betas[b], rc ? err : "accepted");
    }
}

static void check_reference(const tb_registry *reg) {
  for (int k = 0; k < n_cases; k++) {
    ref_case *rc = &cases[k];
    const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, rc->plugin);
    if (!c) {
      check(0, "%s: optimizer '%s' is not loaded", rc->name, rc->plugin);
      continue;
    }
    run r;
    char err[TB_ERRLEN] = "";
    const tb_component *base =
        rc->base[0] ? tb_registry_find(reg, TB_KIND_OPTIMIZER, rc->base) : NULL;
    if (rc->base[0] && !base) {
      check(0, "%s: base optimizer '%s' is not loaded", rc->name, rc->base);
      continue;
    }
    if (run_start(&r, c, &rc->set, pb.init, err, sizeof err) ||
        (base && run_start_base(&r, base, &rc->base_set, err, sizeof err))) {
      check(0, "%s: cannot start: %s", rc->name, err);
      run_end(&r);
      continue;
    }
    double worst = 0;
    int bad_step = 0, bad_k = -1;
    for (int t = 1; t <= pb.n_steps && !bad_step; t++) {
      if (run_step(&r, 0)) {
        snprintf(err, sizeof err, "step %d returned failure", t);
        bad_step = t;
        break;
      }
      for (int64_t j = 0; j < pb.total; j++) {
        double ref = rc->traj[t - 1][j];
        double e = fabs(r.theta[j] - ref) / fmax(fabs(ref), AFLOOR);
        if (!(e <= worst)) worst = e;
        if (!(e <= RTOL) && bad_k < 0) {
          bad_step = t;
          bad_k = (int)j;
        }
      }
      /* what evaluation passes see (an average), where torch gave it */
      for (int i = 0; rc->has_evals && i < pb.n_tensors && !bad_step; i++) {
        const float *ev = c->opt->eval_params ? c->opt->eval_params(r.state, i) : NULL;
        for (int64_t j = 0; j < pb.numel[i] && !bad_step; j++) {
          double ref = rc->evals[t - 1][pb.offset[i] + j];
          double got = ev ? ev[j] : NAN;
          double e = fabs(got - ref) / fmax(fabs(ref), AFLOOR);
          if (!(e <= worst)) worst = e;
          if (!(e <= RTOL)) {
            snprintf(err, sizeof err, "; eval_params off at step %d, tensor %d, element %d: "
                     "%.9g, torch %.9g", t, i, (int)j, got, ref);
            bad_step = t;
          }
        }
      }
    }
    if (bad_k >= 0 && !err[0])
      snprintf(err, sizeof err, "; first off at step %d, element %d: %.9g, torch %.9g",
               bad_step, bad_k, r.theta[bad_k], rc->traj[bad_step - 1][bad_k]);
    check(!bad_step, "%s: matches torch over %d steps (worst scaled error %.2e, tolerance %.0e)%s",
          rc->name, pb.n_steps, worst, RTOL, bad_step ? err : "");
    run_end(&r);
  }
}

static void check_nesterov(const tb_registry *reg) {
  const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, "sgd");
  if (!c) return;
  static const struct {
    const char *set;
    int valid;
  } combos[] = {
      {"nesterov=1", 0},
      {"nesterov=1 momentum=0.9 dampening=0.5", 0},
      {"nesterov=1 momentum=0.9", 1},
      {"nesterov=0 momentum=0 dampening=0.5", 1},
  };
  for (size_t k = 0; k < sizeof combos / sizeof *combos; k++) {
    settings s;
    double hp[TB_MAX_HP];
    char err[TB_ERRLEN] = "";
    settings_from(&s, combos[k].set);
    int rc = fill_hparams(c, &s, hp, err, sizeof err);
    if (combos[k].valid)
      check(rc == 0, "sgd: %s is accepted%s%s", combos[k].set, rc ? ": " : "", err);
    else
      check(rc != 0 && strstr(err, "'nesterov'") && strstr(err, "'momentum'") &&
                strstr(err, "'dampening'"),
            "sgd: %s is rejected naming nesterov, momentum and dampening (%s)", combos[k].set,
            rc ? err : "accepted");
  }
}

/* Configurations exercising each optimizer's state, weight decay off. */
static const struct {
  const char *opt, *set;
} stateful[] = {
    {"sgd", ""},
    {"sgd", "momentum=0.9 nesterov=1"},
    {"sgd", "momentum=0.9 dampening=0.5"},
    {"adam", ""},
    {"adam", "amsgrad=1 beta2=0.5"},
    {"adamw", "weight_decay=0"},
    {"adamw", "weight_decay=0 amsgrad=1"},
    {"rmsprop", ""},
    {"rmsprop", "momentum=0.9 centered=1"},
    {"adagrad", ""},
    {"adagrad", "lr_decay=0.5 initial_accumulator_value=0.1"},
};

static void check_zero_gradient(const tb_registry *reg) {
  for (size_t k = 0; k < sizeof stateful / sizeof *stateful; k++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, stateful[k].opt);
    if (!c) continue;
    settings s;
    settings_from(&s, stateful[k].set);
    run r;
    char err[TB_ERRLEN] = "";
    if (run_start(&r, c, &s, pb.init, err, sizeof err)) {
      check(0, "%s {%s}: cannot start: %s", c->name, stateful[k].set, err);
      continue;
    }
    int failed = 0;
    for (int t = 0; t < pb.n_steps; t++) failed |= run_step(&r, 1);
    int same = memcmp(r.theta, pb.init, sizeof(float) * (size_t)pb.total) == 0;
    check(!failed && same, "%s {%s}: %d steps of zero gradient leave the parameters unchanged",
          c->name, stateful[k].set, pb.n_steps);
    run_end(&r);
  }
}

static void check_independent(const tb_registry *reg) {
  float other[MAX_TOTAL];
  for (int64_t j = 0; j < pb.total; j++) other[j] = 0.5f - pb.init[j];
  for (size_t k = 0; k < sizeof stateful / sizeof *stateful; k++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, stateful[k].opt);
    if (!c) continue;
    settings s;
    settings_from(&s, stateful[k].set);
    /* each alone, then both created side by side and stepped in turn */
    static run alone_a, alone_b, a, b;
    char err[TB_ERRLEN] = "";
    int failed = run_start(&alone_a, c, &s, pb.init, err, sizeof err);
    for (int t = 0; !failed && t < pb.n_steps; t++) failed |= run_step(&alone_a, 0);
    run_end(&alone_a);
    failed = failed || run_start(&alone_b, c, &s, other, err, sizeof err);
    for (int t = 0; !failed && t < pb.n_steps; t++) failed |= run_step(&alone_b, 0);
    run_end(&alone_b);
    failed = failed || run_start(&a, c, &s, pb.init, err, sizeof err);
    failed = failed || run_start(&b, c, &s, other, err, sizeof err);
    for (int t = 0; !failed && t < pb.n_steps; t++) failed |= run_step(&a, 0) | run_step(&b, 0);
    run_end(&a);
    run_end(&b);
    size_t bytes = sizeof(float) * (size_t)pb.total;
    check(!failed && memcmp(a.theta, alone_a.theta, bytes) == 0 &&
              memcmp(b.theta, alone_b.theta, bytes) == 0 &&
              memcmp(a.theta, b.theta, bytes) != 0,
          "%s {%s}: two instances stepped alternately match each run alone%s%s", c->name,
          stateful[k].set, err[0] ? ": " : "", err);
  }
}

static void check_size_mismatch(const tb_registry *reg) {
  for (size_t k = 0; k < sizeof optimizer_names / sizeof *optimizer_names; k++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, optimizer_names[k]);
    if (!c) continue;
    settings s = {0};
    static run r;
    char err[TB_ERRLEN] = "";
    if (run_start(&r, c, &s, pb.init, err, sizeof err)) {
      check(0, "%s: cannot start: %s", c->name, err);
      continue;
    }
    r.params[0].numel--;
    r.grads[0].numel--;
    int rc = run_step(&r, 0);
    check(rc != 0 && memcmp(r.theta, pb.init, sizeof(float) * (size_t)pb.total) == 0,
          "%s: a step on tensors of another size is refused and changes nothing", c->name);
    r.params[0].numel++;
    r.grads[0].numel++;
    rc = run_step_n(&r, 0, pb.n_tensors - 1);
    check(rc != 0 && memcmp(r.theta, pb.init, sizeof(float) * (size_t)pb.total) == 0,
          "%s: a step on fewer tensors than create's is refused and changes nothing", c->name);
    run_end(&r);
  }
}

/* TB_TENSOR_NO_DECAY: with weight decay on, the marked tensor follows the
 * trajectory it has with weight_decay 0 and every other tensor the one it has
 * unmarked, bit for bit (the updates are element-wise); and the decay does
 * move the marked tensor when it is not marked, so the check can fail. */
static void check_no_decay(const tb_registry *reg) {
  static const struct {
    const char *opt, *decay, *none;
  } pairs[] = {
      {"sgd", "weight_decay=0.1 momentum=0.9", "momentum=0.9"},
      {"adam", "weight_decay=0.1 amsgrad=1", "amsgrad=1"},
      {"adamw", "weight_decay=0.1", "weight_decay=0"},
      {"rmsprop", "weight_decay=0.1 momentum=0.9 centered=1", "momentum=0.9 centered=1"},
      {"adagrad", "weight_decay=0.1 lr_decay=0.5", "lr_decay=0.5"},
  };
  const int mark = pb.n_tensors > 1 ? 2 : 1; /* tensor 1 (the second) when there is one */
  for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, pairs[k].opt);
    if (!c) continue;
    settings sd, sn;
    settings_from(&sd, pairs[k].decay);
    settings_from(&sn, pairs[k].none);
    static run marked, decayed, plain;
    char err[TB_ERRLEN] = "";
    int failed = run_start_flags(&marked, c, &sd, pb.init, mark, err, sizeof err) ||
                 run_start(&decayed, c, &sd, pb.init, err, sizeof err) ||
                 run_start(&plain, c, &sn, pb.init, err, sizeof err);
    for (int t = 0; !failed && t < pb.n_steps; t++)
      failed |= run_step(&marked, 0) | run_step(&decayed, 0) | run_step(&plain, 0);
    const int64_t o = pb.offset[mark - 1], n = pb.numel[mark - 1];
    int ok_marked = 1, ok_others = 1;
    for (int64_t j = 0; j < pb.total; j++) {
      const int in_marked = j >= o && j < o + n;
      const float want = in_marked ? plain.theta[j] : decayed.theta[j];
      if (memcmp(&marked.theta[j], &want, sizeof want) != 0) {
        if (in_marked)
          ok_marked = 0;
        else
          ok_others = 0;
      }
    }
    const int moved = memcmp(decayed.theta + o, plain.theta + o, sizeof(float) * (size_t)n) != 0;
    check(!failed && ok_marked && ok_others && moved,
          "%s {%s}: '%s' marked TB_TENSOR_NO_DECAY follows {%s} bit for bit (%s), the other "
          "tensors keep their decay (%s), and unmarked it decays (%s)%s%s", c->name,
          pairs[k].decay, pb.names[mark - 1], pairs[k].none, ok_marked ? "yes" : "no",
          ok_others ? "yes" : "no", moved ? "yes" : "no", err[0] ? ": " : "", err);
    run_end(&marked);
    run_end(&decayed);
    run_end(&plain);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_optimizers REFERENCE.TXT\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  char err[TB_ERRLEN] = "";
  if (load_reference(argv[1], err, sizeof err)) {
    check(0, "read the reference: %s", err);
    return 1;
  }
  check(1, "read %d cases of %d steps from %s", n_cases, pb.n_steps, argv[1]);
  tb_registry *reg = NULL;
  const char *dir = getenv("TB_BUILD_PLUGINS");
  if (!dir || tb_registry_open(&reg, dir, err, sizeof err)) {
    check(0, "open the registry on TB_BUILD_PLUGINS: %s", dir ? err : "variable not set");
    tb_registry_close(reg);
    return 1;
  }
  for (size_t k = 0; k < sizeof optimizer_names / sizeof *optimizer_names; k++) {
    const tb_component *c = tb_registry_find(reg, TB_KIND_OPTIMIZER, optimizer_names[k]);
    check(c != NULL, "optimizer '%s' is loaded%s%s", optimizer_names[k], c ? " from " : "",
          c ? c->file : "");
  }
  for (int i = 0; i < tb_registry_problem_count(reg); i++)
    printf("note: the loader rejected %s\n", tb_registry_problem(reg, i));

  check_tables(reg);
  check_reference(reg);
  check_nesterov(reg);
  check_zero_gradient(reg);
  check_independent(reg);
  check_size_mismatch(reg);
  check_no_decay(reg);

  tb_registry_close(reg);
  printf("%d failure%s\n", failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
