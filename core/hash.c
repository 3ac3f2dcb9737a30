/*
 * hash.c — content hashes for configurations, datasets and plugin files:
 * XXH3 128-bit from libxxhash, printed as 32 lowercase hex digits.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "hash.h"
#include "util.h"

static void hex128(char out[TB_HASHLEN], XXH128_hash_t h) {
  snprintf(out, TB_HASHLEN, "%016llx%016llx", (unsigned long long)h.high64,
           (unsigned long long)h.low64);
}

void tb_hash_bytes(char out[TB_HASHLEN], const void *data, size_t n) {
  hex128(out, XXH3_128bits(data, n));
}

int tb_hash_file(char out[TB_HASHLEN], const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    tb_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
    return -1;
  }
  XXH3_state_t *st = XXH3_createState();
  XXH3_128bits_reset(st);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) XXH3_128bits_update(st, buf, n);
  int bad = ferror(f);
  fclose(f);
  hex128(out, XXH3_128bits_digest(st));
  XXH3_freeState(st);
  if (bad) {
    tb_errf(err, errlen, "cannot read '%s'", path);
    return -1;
  }
  return 0;
}
