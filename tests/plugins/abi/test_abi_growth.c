/*
 * test_abi_growth.c — ABI 2.0 growth, end to end: this test and the loader
 * it links (plugin.c) are compiled against a hypothetical next-minor header (2.3) whose
 * definitions and tensors have one more trailing field (grow_header.py); the
 * plugin it loads (client.c) is compiled against the frozen copy of the 2.0
 * header. The 2.0 plugin must load, its definitions must read as they were
 * written, the appended fields as zero, and its optimizer must step tensors
 * lent with the grown stride.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../unit/check.h"
#include "registry.h"
#include "trainbench/plugin.h"
#include "util.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_abi_growth CLIENT.so\n");
    return 2;
  }
  CHECK(TB_ABI_MINOR == 3 && sizeof(tb_loss_def) == TB_LOSS_DEF_SIZE_2_1 + 8,
        "this test speaks the grown header (minor %d, tb_loss_def %zu bytes)", TB_ABI_MINOR,
        sizeof(tb_loss_def));
  tb_registry *reg = tb_registry_new();
  char err[TB_ERRLEN] = "";
  int rc = tb_registry_add_file(reg, argv[1], err, sizeof err);
  CHECK(rc == 0, "a 2.0 plugin loads into a 2.3 host%s%s", rc ? ": " : "", err);
  if (rc) return check_done();
  const tb_component *l = tb_registry_find(reg, TB_KIND_LOSS, "client_loss");
  const tb_component *o = tb_registry_find(reg, TB_KIND_OPTIMIZER, "client_opt");
  const tb_component *s = tb_registry_find(reg, TB_KIND_SCHEDULE, "client_sched");
  CHECK(l && o && s, "its loss, optimizer and schedule are registered");
  if (!l || !o || !s) return check_done();

  CHECK(l->loss->size == TB_LOSS_DEF_SIZE_2_0 && l->loss->grown_next == 0 &&
            !l->loss->head_scale && l->loss->row && !l->loss->eval &&
            strcmp(l->loss->version, "1") == 0,
        "loss: its 2.0 size, its fields as written, 2.1's head_scale and the appended field zero");
  CHECK(o->opt->size == TB_OPTIMIZER_DEF_SIZE_2_0 && o->opt->grown_next == 0 &&
            o->opt->eval_params == NULL && o->opt->step,
        "optimizer: 2.0 size, appended field zero");
  CHECK(s->sched->size == TB_SCHEDULE_DEF_SIZE_2_0 && s->sched->grown_next == 0 &&
            s->sched->factor,
        "schedule: 2.0 size, appended field zero");
  CHECK(l->n_hparams == 1 && l->hparams[0].grown_next == 0 && l->hparams[0].def == 2 &&
            strcmp(l->hparams[0].name, "weight") == 0 && o->hparams[0].def == 0.5 &&
            s->hparams[0].def == 0.25,
        "hyperparameter rows copied from the 2.0 stride, appended field zero");

  /* the loss through its row form */
  double z[3] = {1, 0, 0.5}, dz[3];
  int32_t y = 0;
  double w = 2;
  void *st = NULL;
  tb_loss_init li = {.hp = &w, .n_classes = 3};
  CHECK(l->loss->create(&li, &st, err, sizeof err) == 0, "loss create");
  tb_loss_row r = {.k = 3, .z = z, .y = y, .grad_scale = 1, .dz = dz, .sample_id = -1};
  double v = l->loss->row(st, &r);
  CHECK(fabs(v - 2 * (0 + 0 + 0.25)) < 1e-15 && fabs(dz[2] - 2.0) < 1e-15,
        "row value %g, gradient %g", v, dz[2]);
  l->loss->destroy(st);

  /* the optimizer steps tensors lent with the grown stride */
  float a[2] = {1, 2}, b[3] = {3, 4, 5}, ga[2] = {1, 1}, gb[3] = {2, 2, 2};
  tb_tensor params[2] = {{.name = "a", .data = a, .numel = 2, .ndim = 1, .shape = {2}},
                         {.name = "b", .data = b, .numel = 3, .ndim = 1, .shape = {3}}};
  tb_tensor grads[2] = {params[0], params[1]};
  grads[0].data = ga;
  grads[1].data = gb;
  double lr = 0.5;
  tb_optimizer_init oi = {.hp = &lr, .params = params, .n_params = 2,
                          .tensor_size = sizeof(tb_tensor)};
  CHECK(o->opt->create(&oi, &st, err, sizeof err) == 0, "optimizer create");
  tb_step_ctx ctx = {.step = 1, .lr_factor = 1, .n_params = 2, .tensor_size = sizeof(tb_tensor)};
  CHECK(o->opt->step(st, params, grads, &ctx) == 0 && a[0] == 0.5f && a[1] == 1.5f &&
            b[0] == 2 && b[2] == 4,
        "step over the grown stride (%zu bytes): a = {%g, %g}, b = {%g, .., %g}",
        sizeof(tb_tensor), a[0], a[1], b[0], b[2]);
  o->opt->destroy(st);
  tb_registry_close(reg);
  return check_done();
}
