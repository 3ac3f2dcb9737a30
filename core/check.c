/* check.c — `trainbench check` (being written) */
#include "tb.h"
int tb_cmd_check(int argc, char **argv) {
  (void)argc, (void)argv;
  fprintf(stderr, "trainbench check: not available yet\n");
  return 2;
}
