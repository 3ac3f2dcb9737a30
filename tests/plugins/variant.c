/*
 * variant.c — one small test-only loss compiled several ways to exercise the
 * loader: a valid plugin under any name (LOSS_NAME), and broken builds that
 * declare another ABI major (BAD_MAJOR), a newer minor (BAD_MINOR), a struct
 * size shorter than its ABI says (SHORT_STRUCT), or export no entry point
 * (NO_ENTRY). Never installed.
 */
#include <stdlib.h>

#include "trainbench/plugin.h"

#ifndef LOSS_NAME
#define LOSS_NAME "variant_loss"
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

static const tb_loss_def loss = {LOSS_NAME, "1", "test loss (" LOSS_NAME ")", "test plugin (no paper)",
                                 0, NULL, 0, NULL, create, eval, NULL};
static const tb_loss_def *const losses[] = {&loss, NULL};

static const tb_plugin plugin = {
#if defined(BAD_MAJOR)
    TB_ABI_MAJOR + 1, 0,
#elif defined(BAD_MINOR)
    TB_ABI_MAJOR, TB_ABI_MINOR + 99,
#else
    TB_ABI_MAJOR, TB_ABI_MINOR,
#endif
    sizeof(tb_plugin), sizeof(tb_hparam),
#if defined(SHORT_STRUCT)
    (uint32_t)sizeof(tb_loss_def) - 8,
#else
    sizeof(tb_loss_def),
#endif
    sizeof(tb_optimizer_def), losses, NULL};

#ifndef NO_ENTRY
TB_EXPORT const tb_plugin *tb_plugin_entry(void) { return &plugin; }
#else
TB_EXPORT const tb_plugin *tb_plugin_entry_misspelled(void) { return &plugin; }
#endif
