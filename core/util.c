/*
 * util.c — small shared helpers of the core: error formatting.
 */
#include <stdarg.h>
#include <stdio.h>

#include "tb.h"

void tb_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}
