/*
 * hash.c — content hashes for configurations, datasets and plugin files:
 * XXH3 128-bit from libxxhash, printed as 32 lowercase hex digits; and the
 * one way a file that is read whole (script, data, plugin) is opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

FILE *tb_fopen_regular(const char *path, const char *what, char *err, size_t errlen) {
  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    tb_errf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    tb_errf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    tb_errf(err, errlen, "%s '%s' is %s: trainbench reads only regular files", what, path,
            file_kind(st.st_mode));
    close(fd);
    return NULL;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl != -1) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    tb_errf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
    close(fd);
  }
  return f;
}

int tb_hash_file(char out[TB_HASHLEN], const char *path, char *err, size_t errlen) {
  FILE *f = tb_fopen_regular(path, "file", err, errlen);
  if (!f) return -1;
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
