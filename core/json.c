/*
 * json.c — canonical JSON for run configurations: sorted keys, no spaces,
 * reals in the shortest text that reads back to the same double.
 *
 * Provides: tb_fmt_real, tb_config_canonicalize, tb_config_free.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

void tb_fmt_real(char *out, size_t outlen, double x) {
  if (isnan(x)) {
    snprintf(out, outlen, "NaN");
    return;
  }
  if (isinf(x)) {
    snprintf(out, outlen, x > 0 ? "Infinity" : "-Infinity");
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(out, outlen, "%.*g", prec, x);
    if (strtod(out, NULL) == x) return;
  }
}
