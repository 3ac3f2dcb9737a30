/* test_config.c — canonical JSON and hashes of run configurations, exact
 * reals, and the learning-rate schedules. */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "registry.h"
#include "train.h"
#include "trainbench/plugin.h"
#include "trainbench/plugin_util.h"
#include "util.h"

static const char *const modes[] = {"max", "min", NULL};
static const tb_hparam hp_a[] = {
    TBU_HP_REAL("lr", 0.01, 0, 10, 1, "step size"),
    TBU_HP_BOOL("nesterov", 0, "nesterov momentum"),
    TBU_HP_INT("steps", 3, 1, 100, 0, "an integer"),
    TBU_HP_CHOICE("mode", 1, modes, "a choice"),
};

static tb_run_config base(tb_component *loss, tb_component *opt) {
  tb_run_config c;
  memset(&c, 0, sizeof c);
  snprintf(c.scenario, sizeof c.scenario, "s");
  c.seed = 1;
  snprintf(c.data.name, sizeof c.data.name, "iris");
  c.data.split[0] = 0.6, c.data.split[1] = 0.2, c.data.split[2] = 0.2;
  c.data.standardize = 1;
  c.model.kind = TB_MODEL_MLP;
  c.model.n_hidden = 2;
  c.model.hidden[0] = 64, c.model.hidden[1] = 32;
  c.model.activation = TB_ACT_GELU;
  c.model.init = TB_INIT_DEFAULT;
  c.loss = loss;
  c.opt = opt;
  for (int i = 0; i < 4; i++) c.opt_hp[i] = hp_a[i].def;
  c.sched.kind = TB_SCHED_COSINE;
  c.sched.warmup = 0.5;
  c.epochs = 10;
  c.batch_size = 32;
  return c;
}

int main(void) {
  char err[TB_ERRLEN], t[64];
  const double reals[] = {0.1, 1.0 / 3, 1e-300, 5e-324, 1e300, -2.5, 0.01, 123456789.123, 3e-5};
  int exact = 1;
  for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
    tb_fmt_real(t, sizeof t, reals[i]);
    exact &= strtod(t, NULL) == reals[i];
  }
  tb_fmt_real(t, sizeof t, 0.1);
  CHECK(exact && strcmp(t, "0.1") == 0, "reals are written in the shortest text that reads back exactly");

  tb_component loss = {.kind = TB_KIND_LOSS, .name = "cross_entropy", .version = "1"};
  tb_component opt = {.kind = TB_KIND_OPTIMIZER, .name = "sgd", .version = "1",
                      .hparams = (tb_hparam *)hp_a, .n_hparams = 4};
  tb_run_config a = base(&loss, &opt), b = base(&loss, &opt);
  tb_data_spec_resolve(&a.data, err, sizeof err);
  tb_data_spec_resolve(&b.data, err, sizeof err);
  tb_config_canonicalize(&a, err, sizeof err);
  tb_config_canonicalize(&b, err, sizeof err);
  CHECK(strcmp(a.hash, b.hash) == 0, "equal configurations hash equal");
  printf("      %s\n", a.json);
  CHECK(strstr(a.json, "\"hp\":{\"lr\":0.01,\"mode\":\"min\",\"nesterov\":false,\"steps\":3}") != NULL,
        "hyperparameters sorted by name, typed (real, choice name, bool, int)");
  CHECK(strstr(a.json, "{\"batch_size\":32,\"data\":{\"content_hash\":") == a.json, "top-level keys sorted");
  /* a value that is not part of the configuration does not change the hash */
  b.timeout = 5;
  tb_config_canonicalize(&b, err, sizeof err);
  CHECK(strcmp(a.hash, b.hash) == 0, "the timeout is not part of the hash");
  /* a changed plugin version changes it */
  tb_component opt2 = opt;
  opt2.version = "2";
  b.opt = &opt2;
  tb_config_canonicalize(&b, err, sizeof err);
  CHECK(strcmp(a.hash, b.hash) != 0, "a changed plugin version changes the hash");
  b.opt = &opt;
  b.opt_hp[0] = 0.010000000000000002;
  tb_config_canonicalize(&b, err, sizeof err);
  CHECK(strcmp(a.hash, b.hash) != 0, "the next double after 0.01 is another configuration");
  b.opt_hp[0] = 0.01;
  b.seed = 2;
  tb_config_canonicalize(&b, err, sizeof err);
  CHECK(strcmp(a.hash, b.hash) != 0, "another seed is another run");

  /* a changed CSV changes the hash */
  char dir[] = "/tmp/tb-config-XXXXXX", path[256];
  mkdtemp(dir);
  snprintf(path, sizeof path, "%s/d.csv", dir);
  FILE *f = fopen(path, "w");
  fputs("x,y\n1,0\n2,1\n", f);
  fclose(f);
  tb_run_config c = base(&loss, &opt), d = base(&loss, &opt);
  snprintf(c.data.name, sizeof c.data.name, "csv");
  snprintf(c.data.path, sizeof c.data.path, "%s", path);
  c.data.header = 1, c.data.label_col = -1;
  d.data = c.data;
  tb_data_spec_resolve(&c.data, err, sizeof err);
  tb_config_canonicalize(&c, err, sizeof err);
  f = fopen(path, "w");
  fputs("x,y\n1,0\n3,1\n", f);
  fclose(f);
  tb_data_spec_resolve(&d.data, err, sizeof err);
  tb_config_canonicalize(&d, err, sizeof err);
  CHECK(strcmp(c.hash, d.hash) != 0, "a changed CSV file changes the hash");
  unlink(path);
  rmdir(dir);
  tb_config_free(&a), tb_config_free(&b), tb_config_free(&c), tb_config_free(&d);

  /* schedules: S = 10 steps per epoch, T = 100 */
  tb_sched_spec cst = {.kind = TB_SCHED_CONSTANT};
  tb_sched_spec stp = {.kind = TB_SCHED_STEP, .every = 3, .gamma = 0.1};
  tb_sched_spec cos0 = {.kind = TB_SCHED_COSINE};
  tb_sched_spec cosw = {.kind = TB_SCHED_COSINE, .warmup = 2, .min_factor = 0.1};
  tb_sched_spec cstw = {.kind = TB_SCHED_CONSTANT, .warmup = 0.5};
  CHECK(tb_schedule_factor(&cst, 57, 10, 100) == 1, "constant is 1");
  CHECK(tb_schedule_factor(&stp, 29, 10, 100) == 1 && close_to(tb_schedule_factor(&stp, 30, 10, 100), 0.1, 1e-15, 0) &&
            close_to(tb_schedule_factor(&stp, 65, 10, 100), 0.01, 1e-15, 0),
        "step: x0.1 every 3 epochs");
  CHECK(tb_schedule_factor(&cos0, 0, 10, 100) == 1 && close_to(tb_schedule_factor(&cos0, 50, 10, 100), 0.5, 1e-15, 0) &&
            close_to(tb_schedule_factor(&cos0, 100, 10, 100), 0, 0, 1e-15),
        "cosine: 1 -> 0.5 at half -> 0");
  CHECK(close_to(tb_schedule_factor(&cosw, 0, 10, 100), 1.0 / 20, 1e-15, 0) &&
            close_to(tb_schedule_factor(&cosw, 19, 10, 100), 1.0, 1e-15, 0) &&
            close_to(tb_schedule_factor(&cosw, 60, 10, 100), 0.1 + 0.9 * 0.5, 1e-12, 0),
        "cosine with 2 warmup epochs: linear ramp over 20 steps, then cosine to min_factor");
  CHECK(close_to(tb_schedule_factor(&cstw, 0, 10, 100), 0.2, 1e-15, 0) &&
            close_to(tb_schedule_factor(&cstw, 4, 10, 100), 1.0, 1e-15, 0) &&
            tb_schedule_factor(&cstw, 5, 10, 100) == 1,
        "fractional warmup (half an epoch = 5 steps)");
  return check_done();
}
