/*
 * variant.c — one small test-only loss compiled several ways to exercise the
 * loader: a valid plugin under any name (LOSS_NAME), and broken builds that
 * declare another ABI major (BAD_MAJOR), a newer minor (BAD_MINOR), a loss
 * definition shorter than its ABI says (SHORT_STRUCT), or export no entry
 * point (NO_ENTRY); ABI1 is what a plugin built against ABI 1.0 hands over
 * (its descriptor carried major 1 and the 1.0 struct sizes), which the
 * loader must refuse from the version alone. SERVICES sets the loss's
 * services flags (the loader accepts next_batch and report, and still
 * refuses a wrapped base). Never installed.
 */
#include <stdint.h>
#include <stdlib.h>

#include "trainbench/plugin.h"

#ifndef LOSS_NAME
#define LOSS_NAME "variant_loss"
#endif
#ifndef SERVICES
#define SERVICES 0u
#endif

static int create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  (void)err, (void)errlen;
  *state = (void *)init->host;
  return 0;
}

/* squared error on the logits against one-hot labels, mean over samples */
static double eval(void *state, const tb_loss_batch *b) {
  (void)state;
  double total = 0;
  for (int i = 0; i < b->n; i++)
    for (int k = 0; k < b->k; k++) {
      double r = b->logits[(size_t)i * b->k + k] - (k == b->labels[i]);
      total += r * r;
      if (b->dlogits) b->dlogits[(size_t)i * b->k + k] = 2 * r / b->n;
    }
  return total / b->n;
}

static const tb_loss_def loss = {
#if defined(SHORT_STRUCT)
    (uint32_t)sizeof(tb_loss_def) - 8, (uint32_t)sizeof(tb_hparam),
#else
    TB_DEF_SIZES(tb_loss_def),
#endif
    .name = LOSS_NAME,
    .version = "1",
    .summary = "test loss (" LOSS_NAME ")",
    .reference = "test plugin (no paper)",
    .services = SERVICES,
    .create = create,
    .eval = eval,
};
static const tb_loss_def *const losses[] = {&loss, NULL};

#if defined(ABI1)
/* The 1.0 descriptor: major, minor, then the sizes of tb_plugin, tb_hparam,
 * tb_loss_def and tb_optimizer_def as 1.0 had them, then the arrays. */
static const struct {
  uint32_t abi_major, abi_minor, plugin_size, hparam_size, loss_size, optimizer_size;
  const void *losses, *optimizers;
} plugin_1_0 = {1, 0, 40, 64, 88, 88, losses, NULL}; /* never read past abi_major */
#define PLUGIN ((const tb_plugin *)(const void *)&plugin_1_0)
#else
static const tb_plugin plugin = {
#if defined(BAD_MAJOR)
    TB_ABI_MAJOR + 1, 0,
#elif defined(BAD_MINOR)
    TB_ABI_MAJOR, TB_ABI_MINOR + 99,
#else
    TB_ABI_MAJOR, TB_ABI_MINOR,
#endif
    (uint32_t)sizeof(tb_plugin), .losses = losses};
#define PLUGIN (&plugin)
#endif

#ifndef NO_ENTRY
TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return PLUGIN; }
#else
TB_EXPORT const tb_plugin *tb_plugin_entry_misspelled(void) { return PLUGIN; }
#endif
