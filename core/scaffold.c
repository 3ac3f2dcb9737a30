/* scaffold.c — `trainbench new` (being written) */
#include "tb.h"
int tb_cmd_new(int argc, char **argv) {
  (void)argc, (void)argv;
  fprintf(stderr, "trainbench new: not available yet\n");
  return 2;
}
