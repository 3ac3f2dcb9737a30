/* test_data.c — shipped datasets, CSV parsing and its errors, stratified
 * splits, standardization fitted on train, split_seed. */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "train.h"

static tb_data_spec spec_of(const char *name) {
  tb_data_spec s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "%s", name);
  s.split[0] = 0.6, s.split[1] = 0.2, s.split[2] = 0.2;
  s.standardize = 1;
  s.label_col = -1;
  s.header = 1;
  return s;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

int main(void) {
  char err[TB_ERRLEN];
  const struct { const char *name; int n, d, k; } shipped[] = {
      {"digits", 1797, 64, 10}, {"breast_cancer", 569, 30, 2}, {"iris", 150, 4, 3}, {"wine", 178, 13, 3}};
  for (int i = 0; i < 4; i++) {
    tb_data_spec s = spec_of(shipped[i].name);
    int rc = tb_data_spec_resolve(&s, err, sizeof err);
    CHECK(rc == 0 && strlen(s.content_hash) == 32, "%s resolves to %s", shipped[i].name, s.path);
    tb_dataset ds;
    rc = tb_dataset_load(&s, &ds, err, sizeof err);
    CHECK(rc == 0 && ds.n == shipped[i].n && ds.d == shipped[i].d && ds.k == shipped[i].k,
          "%s loads as %d x %d, %d classes (got %d x %d, %d) %s", shipped[i].name, shipped[i].n,
          shipped[i].d, shipped[i].k, ds.n, ds.d, ds.k, rc ? err : "");
    if (rc) continue;
    tb_split sp;
    rc = tb_split_make(&ds, &s, 1, &sp, err, sizeof err);
    CHECK(rc == 0 && sp.part[0].n + sp.part[1].n + sp.part[2].n == ds.n, "%s split covers every row",
          shipped[i].name);
    /* stratified: each class's share of train within one row of its share of the data */
    int ok = 1;
    for (int c = 0; c < ds.k; c++) {
      int nc = 0, tc = 0;
      for (int r = 0; r < ds.n; r++) nc += ds.y[r] == c;
      for (int r = 0; r < sp.part[0].n; r++) tc += sp.part[0].y[r] == c;
      ok &= fabs(tc - 0.6 * nc) <= 1.0;
    }
    CHECK(ok, "%s split is stratified", shipped[i].name);
    /* standardized on train: mean 0, sd 1 (or 0 for constant columns) */
    double worst = 0;
    for (int j = 0; j < ds.d; j++) {
      double m = 0, v = 0;
      for (int r = 0; r < sp.part[0].n; r++) m += sp.part[0].x[r * ds.d + j];
      m /= sp.part[0].n;
      for (int r = 0; r < sp.part[0].n; r++) {
        double t = sp.part[0].x[r * ds.d + j] - m;
        v += t * t;
      }
      v /= sp.part[0].n;
      double e = fabs(m) + (v > 1e-12 ? fabs(sqrt(v) - 1) : 0);
      if (e > worst) worst = e;
    }
    CHECK(worst < 1e-4, "%s train columns standardized (worst deviation %.2g)", shipped[i].name, worst);
    tb_split_free(&sp);
    tb_dataset_free(&ds);
  }

  /* digits has constant pixel columns: never NaN after standardization */
  {
    tb_data_spec s = spec_of("digits");
    tb_data_spec_resolve(&s, err, sizeof err);
    tb_dataset ds;
    tb_split sp;
    tb_dataset_load(&s, &ds, err, sizeof err);
    tb_split_make(&ds, &s, 3, &sp, err, sizeof err);
    int finite = 1, zero_col = 0;
    for (int p = 0; p < 3; p++)
      for (int r = 0; r < sp.part[p].n * ds.d; r++) finite &= isfinite(sp.part[p].x[r]);
    for (int r = 0; r < sp.part[1].n; r++) zero_col += sp.part[1].x[r * ds.d + 0] == 0.0f;
    CHECK(finite && zero_col == sp.part[1].n, "constant columns stay at 0, never NaN");

    /* same seed -> same split; another seed -> another; split_seed pins it */
    tb_split a, b;
    tb_split_make(&ds, &s, 3, &a, err, sizeof err);
    tb_split_make(&ds, &s, 4, &b, err, sizeof err);
    CHECK(memcmp(a.part[0].x, sp.part[0].x, sizeof(float) * a.part[0].n * ds.d) == 0,
          "one seed gives one split");
    CHECK(a.part[0].n != b.part[0].n ||
              memcmp(a.part[0].x, b.part[0].x, sizeof(float) * a.part[0].n * ds.d) != 0,
          "another seed gives another split");
    tb_split_free(&b);
    s.has_split_seed = 1;
    s.split_seed = 3;
    tb_split_make(&ds, &s, 4, &b, err, sizeof err);
    CHECK(memcmp(a.part[0].x, b.part[0].x, sizeof(float) * a.part[0].n * ds.d) == 0,
          "split_seed fixes the split across seeds");
    tb_split_free(&a);
    tb_split_free(&b);
    /* zero fractions */
    s.split[0] = 0.8, s.split[1] = 0, s.split[2] = 0.2;
    tb_split_make(&ds, &s, 1, &a, err, sizeof err);
    CHECK(a.part[1].n == 0 && a.part[0].n + a.part[2].n == ds.n, "val fraction 0 gives an empty val split");
    tb_split_free(&a);
    s.split[0] = 1, s.split[1] = 0, s.split[2] = 0;
    tb_split_make(&ds, &s, 1, &a, err, sizeof err);
    CHECK(a.part[0].n == ds.n, "train fraction 1 takes every row");
    tb_split_free(&a);
    s.standardize = 0;
    tb_split_make(&ds, &s, 1, &a, err, sizeof err);
    int raw = 1;
    for (int r = 0; r < a.part[0].n * ds.d; r++) raw &= a.part[0].x[r] >= 0 && a.part[0].x[r] <= 16;
    CHECK(raw, "standardize = false keeps raw pixel values");
    tb_split_free(&a);
    tb_split_free(&sp);
    tb_dataset_free(&ds);
  }

  /* CSV: header, label column, string labels, errors with file:line */
  char dir[] = "/tmp/tb-data-XXXXXX";
  mkdtemp(dir);
  char path[256];
  snprintf(path, sizeof path, "%s/a.csv", dir);
  write_file(path, "label,x1,x2\nb,1,2\na,3,4\nb,5,6\nc,7,8\n");
  tb_data_spec s = spec_of("csv");
  snprintf(s.path, sizeof s.path, "%s", path);
  s.label_col = 0;
  tb_dataset ds;
  int rc = tb_data_spec_resolve(&s, err, sizeof err) || tb_dataset_load(&s, &ds, err, sizeof err);
  CHECK(rc == 0 && ds.n == 4 && ds.d == 2 && ds.k == 3 && ds.y[0] == 1 && ds.y[1] == 0 &&
            ds.y[3] == 2 && ds.x[0] == 1 && ds.x[7] == 8,
        "csv with header and a string label in column 1");
  char hash1[TB_HASHLEN];
  memcpy(hash1, s.content_hash, TB_HASHLEN);
  if (!rc) tb_dataset_free(&ds);

  write_file(path, "label,x1,x2\nb,1,2\na,3,oops\n");
  tb_data_spec_resolve(&s, err, sizeof err);
  CHECK(strcmp(hash1, s.content_hash) != 0, "a changed csv changes the content hash");
  rc = tb_dataset_load(&s, &ds, err, sizeof err);
  char want[512];
  snprintf(want, sizeof want, "%s:3: column 3: 'oops' is not a number", path);
  CHECK(rc != 0 && strcmp(err, want) == 0, "bad cell names file, line and column: %s", err);

  write_file(path, "1,2,0\n3,4\n");
  s.header = 0;
  s.label_col = -1;
  rc = tb_dataset_load(&s, &ds, err, sizeof err);
  snprintf(want, sizeof want, "%s:2: expected 3 columns, found 2", path);
  CHECK(rc != 0 && strcmp(err, want) == 0, "ragged row is an error: %s", err);

  snprintf(s.path, sizeof s.path, "%s/missing.csv", dir);
  rc = tb_data_spec_resolve(&s, err, sizeof err);
  CHECK(rc != 0 && strstr(err, "missing.csv"), "missing file named: %s", err);
  unlink(path);
  rmdir(dir);

  /* blobs: fixed by its parameters, balanced */
  tb_data_spec bl = spec_of("blobs");
  bl.n = 300, bl.classes = 3, bl.dim = 2, bl.separation = 4;
  tb_dataset b1, b2;
  tb_data_spec_resolve(&bl, err, sizeof err);
  rc = tb_dataset_load(&bl, &b1, err, sizeof err) || tb_dataset_load(&bl, &b2, err, sizeof err);
  CHECK(rc == 0 && b1.n == 300 && b1.k == 3 && memcmp(b1.x, b2.x, sizeof(float) * 600) == 0,
        "blobs are generated identically from their parameters");
  tb_dataset_free(&b1);
  tb_dataset_free(&b2);
  return check_done();
}
