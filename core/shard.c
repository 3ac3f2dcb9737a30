/*
 * shard.c — which shard of a sweep a run belongs to.
 *
 * A run's shard is a function of its configuration hash only: not of its
 * position in the script, nor of the script's other runs. So every run is
 * in exactly one shard, reordering a grid moves no run, and a run that two
 * scripts share lands in the same shard of both. The hash is the hex text
 * of a 128-bit xxHash (hash.c): its leading 64 bits are uniform, and their
 * remainder modulo N balances shards to within sampling noise.
 *
 * Provides: tb_shard_parse, tb_shard_of, tb_shard_keep.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "shard.h"
#include "util.h"

int tb_shard_parse(const char *s, int *index, int *count, char *err, size_t errlen) {
  char *end;
  long i = strtol(s, &end, 10), n = 0;
  int ok = end != s && *end == '/';
  if (ok) {
    const char *p = end + 1;
    n = strtol(p, &end, 10);
    ok = end != p && *end == '\0';
  }
  if (!ok || n < 1 || n > TB_SHARD_MAX || i < 1 || i > n) {
    tb_errf(err, errlen, "--shard expects I/N with 1 <= I <= N <= %d, got '%s'", TB_SHARD_MAX,
            s);
    return -1;
  }
  *index = (int)i;
  *count = (int)n;
  return 0;
}

int tb_shard_of(const char *config_hash, int count) {
  uint64_t h = 0;
  for (int i = 0; i < 16 && config_hash[i]; i++) {
    char c = config_hash[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0;
    h = h << 4 | (uint64_t)d;
  }
  return (int)(h % (uint64_t)count) + 1;
}

void tb_shard_keep(tb_sweep *sw, int index, int count) {
  int kept = 0;
  for (int i = 0; i < sw->n_runs; i++) {
    if (tb_shard_of(sw->runs[i].hash, count) == index) {
      if (kept != i) sw->runs[kept] = sw->runs[i];
      kept++;
    } else {
      tb_config_free(&sw->runs[i]);
    }
  }
  sw->n_runs = kept;
}
