/*
 * hostile.c — plugins that attack the process loading them, each built
 * apart (HOSTILE = 1..4): a constructor that segfaults, an entry point that
 * calls exit(0), a constructor that never returns, an entry point that
 * returns a descriptor pointing at garbage. Loaded directly, each would end
 * or hang every command that loads plugins; the loader probes a file in a
 * child process first (plugin_probe.c) and reports it instead. Never
 * installed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "trainbench/plugin.h"

#if HOSTILE == 1
__attribute__((constructor)) static void boom(void) {
  volatile uintptr_t addr = 16; /* nothing is mapped there */
  *(volatile int *)addr = 1;
}
#elif HOSTILE == 3
__attribute__((constructor)) static void spin(void) {
  for (;;) pause();
}
#endif

static int create(const tb_loss_init *init, void **state, char *err, size_t errlen) {
  (void)init, (void)err, (void)errlen;
  *state = NULL;
  return 0;
}

static double eval(void *state, const tb_loss_batch *b) {
  (void)state, (void)b;
  return 0;
}

static const tb_loss_def loss = {
    TB_DEF_SIZES(tb_loss_def),
    .name = "hostile_loss",
    .version = "1",
    .summary = "a loss whose file attacks its loader",
    .reference = "test plugin (no paper)",
    .create = create,
    .eval = eval,
};
static const tb_loss_def *const losses[] = {&loss, NULL};
static const tb_plugin plugin = {TB_PLUGIN_HEADER, .losses = losses};

TB_EXPORT const tb_plugin *tb_plugin_entry(void) {
#if HOSTILE == 2
  exit(0);
#elif HOSTILE == 4
  /* the losses list at an address nothing maps */
  static tb_plugin wild = {TB_PLUGIN_HEADER, .losses = NULL};
  wild.losses = (const tb_loss_def *const *)(uintptr_t)24;
  return &wild;
#endif
  return &plugin;
}
