/*
 * fuzz_csv.c — libFuzzer target: the data loader (data.c) on any bytes.
 *
 * Input: one options byte, then the file's bytes. The options pick how the
 * file is read, as a script could ask for it:
 *   bit 0     header (tb.data.csv's `header`)
 *   bits 1-2  the label's column: last, 0, 1 or 2 (`label`)
 *   bits 3-4  the dataset's name: csv (twice as likely), or a shipped one's
 *             reading rules: "iris" (a "rows,features,names" first line,
 *             label last) or "digits" (no such line, label last)
 *   bit 5     gzip the bytes first (a .csv.gz of them); gzip data given as
 *             it is (bytes 1f 8b) reaches the gzip reader either way
 *   bit 6     standardize in the split that follows a successful load
 *   bit 7     with bits 1-2, which of five train/val/test splits
 * The bytes go to an anonymous in-memory file (memfd) read through its
 * /proc/self/fd path, so the loader runs exactly as on a user's file.
 *
 * What must hold: a failure returns -1 with a message; a success returns
 * what data.c promises (at least one row, at least two classes, labels in
 * 0..K-1, finite features), and the stratified split of it either fails
 * with a message or gives a non-empty training part whose class priors sum
 * to 1. Anything else aborts, and so does every crash, leak and undefined
 * behaviour the sanitizers see.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "config.h"
#include "train.h"
#include "util.h"

static int verbose = -1; /* TB_FUZZ_VERBOSE=1: say what became of each input */

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_csv: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  abort();
}

/* bytes as one gzip member (what `gzip` writes) */
static unsigned char *gzip_bytes(const uint8_t *in, size_t n, size_t *outlen) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fail("deflateInit2", NULL);
  size_t cap = deflateBound(&zs, (uLong)n) + 32;
  unsigned char *out = malloc(cap);
  if (!out) fail("out of memory", NULL);
  zs.next_in = (unsigned char *)in;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) fail("deflate", NULL);
  *outlen = cap - zs.avail_out;
  deflateEnd(&zs);
  return out;
}

static int memfd = -1;

static void write_file(const void *bytes, size_t n) {
  if (ftruncate(memfd, 0) || lseek(memfd, 0, SEEK_SET) != 0) fail("ftruncate", NULL);
  for (size_t done = 0; done < n;) {
    ssize_t w = write(memfd, (const char *)bytes + done, n - done);
    if (w <= 0) fail("write", NULL);
    done += (size_t)w;
  }
}

static void check_split(const tb_dataset *ds, tb_data_spec *spec, uint8_t opt) {
  static const double splits[5][3] = {
      {0.6, 0.2, 0.2}, {1, 0, 0}, {0.5, 0.5, 0}, {0.34, 0.33, 0.33}, {0.8, 0, 0.2}};
  const double *s = splits[(((opt >> 1) & 3) + (opt >> 7)) % 5];
  memcpy(spec->split, s, sizeof spec->split);
  spec->standardize = (opt >> 6) & 1;
  tb_split sp;
  char err[TB_ERRLEN] = "";
  if (tb_split_make(ds, spec, 1, &sp, err, sizeof err)) {
    if (!err[0]) fail("tb_split_make failed without a message", NULL);
    if (verbose) fprintf(stderr, "split refused: %s\n", err);
    return;
  }
  if (verbose)
    fprintf(stderr, "split: %d / %d / %d rows\n", sp.part[0].n, sp.part[1].n, sp.part[2].n);
  if (sp.part[0].n < 1) fail("the split's training part is empty", NULL);
  if (sp.part[0].n + sp.part[1].n + sp.part[2].n != ds->n) fail("the split lost rows", NULL);
  double sum = 0;
  for (int c = 0; c < sp.k; c++) sum += sp.priors[c];
  if (fabs(sum - 1) > 1e-9) fail("the training priors do not sum to 1", NULL);
  for (int p = 0; p < 3; p++)
    for (int64_t i = 0; i < (int64_t)sp.part[p].n * sp.d; i++)
      if (!isfinite(sp.part[p].x[i])) fail("a standardized feature is not finite", NULL);
  tb_split_free(&sp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  memfd = memfd_create("fuzz.csv", MFD_CLOEXEC);
  if (memfd < 0) fail("memfd_create", NULL);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t opt = data[0];
  const uint8_t *bytes = data + 1;
  size_t n = size - 1;
  if (opt & 0x20) {
    size_t gzn;
    unsigned char *gz = gzip_bytes(bytes, n, &gzn);
    write_file(gz, gzn);
    free(gz);
  } else {
    write_file(bytes, n);
  }

  static const char *const names[4] = {"csv", "iris", "csv", "digits"};
  static const int label_cols[4] = {-1, 0, 1, 2};
  tb_data_spec spec;
  memset(&spec, 0, sizeof spec);
  snprintf(spec.name, sizeof spec.name, "%s", names[(opt >> 3) & 3]);
  snprintf(spec.path, sizeof spec.path, "/proc/self/fd/%d", memfd);
  spec.header = opt & 1;
  spec.label_col = label_cols[(opt >> 1) & 3];

  tb_dataset ds;
  char err[TB_ERRLEN] = "";
  if (verbose < 0) verbose = getenv("TB_FUZZ_VERBOSE") && atoi(getenv("TB_FUZZ_VERBOSE"));
  if (tb_dataset_load(&spec, &ds, err, sizeof err)) {
    if (!err[0]) fail("tb_dataset_load failed without a message", NULL);
    if (verbose) fprintf(stderr, "refused: %s\n", err);
    return 0;
  }
  if (verbose) fprintf(stderr, "loaded: n = %d, d = %d, k = %d\n", ds.n, ds.d, ds.k);
  if (ds.n < 1 || ds.d < 1 || ds.k < 2) fail("a loaded dataset breaks its promises (n, d, k)", NULL);
  for (int i = 0; i < ds.n; i++)
    if (ds.y[i] < 0 || ds.y[i] >= ds.k) fail("a label out of 0..K-1", NULL);
  for (int64_t i = 0; i < (int64_t)ds.n * ds.d; i++)
    if (!isfinite(ds.x[i])) fail("a feature is not finite", NULL);
  check_split(&ds, &spec, opt);
  tb_dataset_free(&ds);
  return 0;
}
