/* test_data.c — shipped datasets, CSV parsing and its errors, stratified
 * splits, standardization fitted on train, split_seed. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "config.h"
#include "hash.h"
#include "train.h"
#include "util.h"

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

static char g_path[256]; /* the CSV file expect_csv writes */

static int ends_with(const char *s, const char *tail) {
  size_t a = strlen(s), b = strlen(tail);
  return a >= b && strcmp(s + a - b, tail) == 0;
}

/* Write `text` to g_path, load it with spec s, and expect a failure whose
 * message is "PATH:" followed by `want` (PATH:LINE:COL: ... for errors at a
 * place) or, for a file-level error, "PATH: " followed by `want`. */
static void expect_csv_at(int line, tb_data_spec *s, const char *text, const char *want) {
  write_file(g_path, text);
  snprintf(s->path, sizeof s->path, "%s", g_path);
  char err[TB_ERRLEN] = "", head[512];
  tb_dataset ds;
  int rc = tb_data_load(s, &ds, err, sizeof err);
  snprintf(head, sizeof head, "%s:%s", g_path, want);
  int ok = rc != 0 && strncmp(err, head, strlen(head)) == 0;
  if (!ok) {
    snprintf(head, sizeof head, "%s: %s", g_path, want);
    ok = rc != 0 && strncmp(err, head, strlen(head)) == 0;
  }
  CHECK(ok, "line %d: error '%s': got %s", line, want, rc ? err : "no error");
  if (rc == 0) tb_dataset_free(&ds);
}
#define expect_csv(s, text, want) expect_csv_at(__LINE__, s, text, want)

/* gzip `n` bytes of text into path, as one member or split in two */
static void write_gz(const char *path, const char *text, size_t n, int two_members) {
  size_t cut = two_members ? n / 2 : n;
  gzFile g = gzopen(path, "wb");
  gzwrite(g, text, (unsigned)cut);
  gzclose(g);
  if (two_members) {
    g = gzopen(path, "ab");
    gzwrite(g, text + cut, (unsigned)(n - cut));
    gzclose(g);
  }
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void flip_byte(const char *path, long off) {
  FILE *f = fopen(path, "r+b");
  fseek(f, off, SEEK_SET);
  int c = fgetc(f);
  fseek(f, off, SEEK_SET);
  fputc(c ^ 0xff, f);
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

  /* CSV: header, label column, string labels */
  char dir[] = "/tmp/tb-data-XXXXXX";
  mkdtemp(dir);
  snprintf(g_path, sizeof g_path, "%s/a.csv", dir);
  const char *path = g_path;
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

  /* the hash a run records is the hash of the bytes it parsed */
  {
    tb_data_spec t = s;
    t.content_hash[0] = 0;
    rc = tb_data_load(&t, &ds, err, sizeof err);
    CHECK(rc == 0 && strcmp(t.content_hash, hash1) == 0 &&
              strcmp(ds.content_hash, hash1) == 0,
          "tb_data_load hashes the bytes it parses (%s)", rc ? err : t.content_hash);
    if (!rc) tb_dataset_free(&ds);
    /* the file changes after the spec was hashed: a late load refuses */
    write_file(path, "label,x1,x2\nb,1,2\na,3,4\nb,5,6\nc,7,9\n");
    rc = tb_dataset_load(&s, &ds, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "changed since the run was configured"),
          "a file changed since its hash was taken is refused: %s", rc ? err : "loaded");
    if (!rc) tb_dataset_free(&ds);
  }

  write_file(path, "label,x1,x2\nb,1,2\na,3,oops\n");
  tb_data_spec_resolve(&s, err, sizeof err);
  CHECK(strcmp(hash1, s.content_hash) != 0, "a changed csv changes the content hash");
  /* every data error names file:line:column, and the field */
  s.header = 1, s.label_col = 0;
  expect_csv(&s, "label,x1,x2\nb,1,2\na,3,oops\n", "3:5: field 3: 'oops' is not a number");
  s.header = 0, s.label_col = -1;
  expect_csv(&s, "1,2,0\n3,4\n", "2:4: this row has 2 fields, line 1 has 3 (field 3 is missing)");
  expect_csv(&s, "1,2,0\n3,4,5,1\n", "2:7: field 4: this row has 4 fields, line 1 has 3");
  s.header = 1;
  expect_csv(&s, "a,b,y\n1,2,0\n3,4,5,1\n",
             "3:7: field 4: this row has 4 fields, line 1 has 3");
  expect_csv(&s, "a,b,y,z\n1,2,0\n", "2:6: this row has 3 fields, line 1 has 4 (field 4 is missing)");
  /* non-finite features, however they are written */
  const char *nonfinite[] = {"nan", "inf", "-inf", "NaN", "1e999", "Infinity", "-nan"};
  for (size_t i = 0; i < sizeof nonfinite / sizeof *nonfinite; i++) {
    char text[128], want[128];
    snprintf(text, sizeof text, "a,b,y\n1,2,0\n3, %s,1\n5,6,0\n", nonfinite[i]);
    snprintf(want, sizeof want, "3:4: field 2: '%s' is not a finite number", nonfinite[i]);
    expect_csv(&s, text, want);
  }
  expect_csv(&s, "a,b,y\n1,2,0\n3,1e39,1\n",
             "3:3: field 2: '1e39' is too large for a float32 feature (|x| > 3.4e38)");
  expect_csv(&s, "a,b,y\n1,,0\n3,4,1\n", "2:3: field 2 is empty");
  /* the column counts characters, not bytes */
  s.label_col = 0;
  expect_csv(&s, "y,a,b\n\xc3\xbc,1,2\n\xc3\xa9,3,x\n", "3:5: field 3: 'x' is not a number");
  /* labels */
  s.label_col = -1;
  expect_csv(&s, "a,b,y\n1,2,0\n3,4,nan\n",
             "3:5: field 3: label 'nan' is not a finite number (a numeric label is a class "
             "number: an integer >= 0)");
  expect_csv(&s, "a,b,y\n1,2,0\n3,4,inf\n", "3:5: field 3: label 'inf' is not a finite number");
  expect_csv(&s, "a,b,y\n1,2,0\n3,4,2.5\n", "3:5: field 3: label '2.5' is not an integer");
  expect_csv(&s, "a,b,y\n1,2,0\n3,4,-1\n", "3:5: field 3: label '-1' is negative");
  expect_csv(&s, "a,b,y\n1,2,0\n3,4,\n", "3:5: field 3: the label is empty");
  expect_csv(&s, "a,b,y\n1,2,0\n3,4,cat\n",
             "3:5: field 3: label 'cat' is a name but the label on line 2 ('0') is a number: the "
             "labels must be all class numbers or all class names");
  expect_csv(&s, "a,b,y\n1,2,cat\n3,4,1\n",
             "3:5: field 3: label '1' is a number but the label on line 2 ('cat') is a name");
  /* a NaN label used to be numbered as a class of its own; one of the rows
   * also vanished. Whole-number labels written as reals are that number. */
  {
    write_file(path, "a,b,y\n1,2,3\n3,4,7.0\n5,6,3\n7,8,12\n");
    rc = tb_data_load(&s, &ds, err, sizeof err);
    CHECK(rc == 0 && ds.n == 4 && ds.k == 3 && ds.y[0] == 0 && ds.y[1] == 1 && ds.y[2] == 0 &&
              ds.y[3] == 2,
          "numeric labels 3, 7.0, 12 are classes 0, 1, 2 in numeric order: %s", rc ? err : "");
    if (!rc) tb_dataset_free(&ds);
  }
  expect_csv(&s, "a,b,y\n1,2,1\n3,4,1\n",
             "the label column (field 3) has a single class ('1' on all 2 rows)");
  expect_csv(&s, "a,b,y\n", "no data rows (only the header line)");
  expect_csv(&s, "", "no data rows (the file is empty)");
  expect_csv(&s, "\na,b,y\n1,2,0\n3,4,1\n", "1:1: the first line is blank (expected the header)");
  s.header = 0;
  expect_csv(&s, "  \n1,2,0\n3,4,1\n", "1:1: the first line is blank (expected the first row)");
  /* headers: a data row read as a header, a header read as data */
  s.header = 1;
  expect_csv(&s, "1,2,0\n3,4,1\n5,6,0\n",
             "1:1: line 1 reads as a data row, not as column names (numbers, and '0' is one of "
             "the classes): if the file has no header, set header = false");
  expect_csv(&s, "5.1,3.5,setosa\n4.9,3.0,setosa\n6.3,3.3,virginica\n",
             "1:1: line 1 reads as a data row");
  s.header = 0;
  expect_csv(&s, "x1,x2,y\n1,2,0\n3,4,1\n",
             "1:1: field 1: 'x1' is not a number (is line 1 a header? then set header = true)");
  expect_csv(&s, "0,1,species\n1,2,cat\n3,4,dog\n5,6,cat\n",
             "1:5: field 3: line 1 is the only row of class 'species': if it is a header, set "
             "header = true");
  {
    /* pandas writes integer column names: a header of numbers whose label
     * field is not a class is a header */
    s.header = 1;
    write_file(path, "0,1,2\n1.5,2,0\n3,4,1\n");
    rc = tb_data_load(&s, &ds, err, sizeof err);
    CHECK(rc == 0 && ds.n == 2 && ds.x[0] == 1.5f, "a header of numbers whose label is not a "
          "class is column names: %s", rc ? err : "");
    if (!rc) tb_dataset_free(&ds);
  }
  /* blank lines: at the end they are ignored, between rows they are an error */
  s.header = 1;
  expect_csv(&s, "a,b,y\n1,2,0\n\n3,4,1\n", "3:1: blank line between rows (line 4 has data again)");
  expect_csv(&s, "a,b,y\n1,2,0\n \t\n\n3,4,1\n", "3:1: blank line between rows (line 5 has data again)");
  {
    write_file(path, "a,b,y\r\n1,2,0\r\n3,4,1\r\n\r\n  \n\n");
    rc = tb_data_load(&s, &ds, err, sizeof err);
    CHECK(rc == 0 && ds.n == 2, "blank lines at the end are ignored (CRLF too): %s", rc ? err : "");
    if (!rc) tb_dataset_free(&ds);
  }
  {
    FILE *f = fopen(path, "wb");
    fwrite("a,b,y\n1,2,0\n3,\0,1\n", 1, 18, f);
    fclose(f);
    rc = tb_data_load(&s, &ds, err, sizeof err);
    CHECK(rc != 0 && ends_with(err, ":3:3: a NUL byte: this is not a text file"),
          "a NUL byte is an error: %s", err);
  }
  expect_csv(&s, "a,y\n1,0\n2\n", "3:2: this row has 1 field, line 1 has 2 (field 2 is missing)");
  s.label_col = 4;
  expect_csv(&s, "a,b,y\n1,2,0\n", "1:6: the label column 5 does not exist: this line has 3 fields");
  s.label_col = -1;
  expect_csv(&s, "a;b;y\n1;2;0\n", "1:6: found 1 field, expected at least 2");
  /* quotes and whitespace around fields, a UTF-8 BOM */
  {
    write_file(path, "\xEF\xBB\xBF\"a\",\"b\",\"y\"\n \"1\" , 2 ,\"cat\"\n3,4, dog\n");
    rc = tb_data_load(&s, &ds, err, sizeof err);
    CHECK(rc == 0 && ds.n == 2 && ds.x[0] == 1 && ds.y[0] == 0 && ds.y[1] == 1,
          "quotes, spaces and a BOM: %s", rc ? err : "");
    if (!rc) tb_dataset_free(&ds);
  }

  /* .csv.gz: the hash is of the compressed bytes; truncation, a bad CRC and
   * trailing bytes are errors; concatenated members read as one file */
  {
    char gz[300], text[20000];
    snprintf(gz, sizeof gz, "%s/b.csv.gz", dir);
    size_t n = (size_t)snprintf(text, sizeof text, "a,b,y\n");
    for (int i = 0; i < 600; i++)
      n += (size_t)snprintf(text + n, sizeof text - n, "%d.%d,%d,%d\n", i, i % 7, i * 3 % 11, i % 3);
    write_gz(gz, text, n, 0);
    tb_data_spec g = spec_of("csv");
    snprintf(g.path, sizeof g.path, "%s", gz);
    char want_hash[TB_HASHLEN];
    tb_hash_file(want_hash, gz, err, sizeof err);
    rc = tb_data_load(&g, &ds, err, sizeof err);
    CHECK(rc == 0 && ds.n == 600 && ds.k == 3 && strcmp(g.content_hash, want_hash) == 0,
          "a .csv.gz loads whole, hashed over its compressed bytes: %s", rc ? err : "");
    tb_dataset whole = ds;
    /* two members */
    write_gz(gz, text, n, 1);
    rc = tb_data_load(&g, &ds, err, sizeof err);
    CHECK(rc == 0 && ds.n == 600 && memcmp(ds.x, whole.x, sizeof(float) * 1200) == 0,
          "a gzip file of two members reads as one: %s", rc ? err : "");
    if (!rc) tb_dataset_free(&ds);
    /* truncated: today's gzread would return the rows before the cut */
    write_gz(gz, text, n, 0);
    long size = file_size(gz);
    CHECK(truncate(gz, size / 2) == 0, "truncate");
    rc = tb_data_load(&g, &ds, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "b.csv.gz: truncated gzip data (unexpected end of file)"),
          "a truncated .csv.gz is an error: %s", rc ? "" : "loaded");
    if (!rc) tb_dataset_free(&ds);
    write_gz(gz, text, n, 0);
    CHECK(truncate(gz, size - 3) == 0, "truncate");
    rc = tb_data_load(&g, &ds, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "truncated gzip data"),
          "a .csv.gz cut inside its trailer is an error: %s", rc ? err : "loaded");
    if (!rc) tb_dataset_free(&ds);
    /* a wrong CRC (the 4 bytes before the length) */
    write_gz(gz, text, n, 0);
    flip_byte(gz, size - 6);
    rc = tb_data_load(&g, &ds, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "incorrect data check (CRC mismatch: the file is corrupt)"),
          "a .csv.gz with a bad CRC is an error: %s", rc ? err : "loaded");
    if (!rc) tb_dataset_free(&ds);
    write_gz(gz, text, n, 0);
    FILE *f = fopen(gz, "ab");
    fputs("junk", f);
    fclose(f);
    rc = tb_data_load(&g, &ds, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "4 unexpected bytes after the end of the gzip data"),
          "bytes after the gzip data are an error: %s", rc ? err : "loaded");
    if (!rc) tb_dataset_free(&ds);
    tb_dataset_free(&whole);
    unlink(gz);
  }

  snprintf(s.path, sizeof s.path, "%s/missing.csv", dir);
  rc = tb_data_spec_resolve(&s, err, sizeof err);
  CHECK(rc != 0 && strstr(err, "missing.csv"), "missing file named: %s", err);
  rc = tb_data_load(&s, &ds, err, sizeof err);
  CHECK(rc != 0 && strstr(err, "cannot open") && strstr(err, "missing.csv"),
        "missing file named by tb_data_load: %s", err);
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

  /* size limits: refused before anything is allocated */
  bl.n = 1 << 20, bl.dim = 1 << 9; /* 2^29 values */
  rc = tb_dataset_load(&bl, &b1, err, sizeof err);
  CHECK(rc != 0 && strstr(err, "n x dim = 536870912 values, more than the limit of 268435456"),
        "blobs past the value limit: %s", rc ? err : "loaded");
  if (!rc) tb_dataset_free(&b1);
  {
    tb_model_spec m = {.kind = TB_MODEL_MLP, .n_hidden = 1, .hidden = {2147483647},
                       .activation = TB_ACT_RELU, .init = TB_INIT_DEFAULT};
    int64_t params, work, widest;
    tb_model_size(&m, 64, 10, 512, &params, &work, &widest);
    CHECK(params == (int64_t)2147483647 * 64 + 2147483647 + (int64_t)10 * 2147483647 + 10 &&
              widest == 2147483647 && work == 512 * ((int64_t)2 * 2147483647 + 10 +
                                                     (int64_t)5 * 2147483647),
          "tb_model_size counts in 64 bits (%lld parameters)", (long long)params);
    tb_model model;
    rc = tb_model_create(&model, &m, 64, 10, 512, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "hidden layer 1 has 2147483647 units: the limit is 1 to 65536"),
          "a layer past the width limit is refused: %s", rc ? err : "created");
    if (!rc) tb_model_free(&model);
    m.n_hidden = 2, m.hidden[0] = m.hidden[1] = 65536;
    rc = tb_model_create(&model, &m, 64, 10, 512, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "the model has 4299948042 parameters, more than the limit of "
                            "268435456"),
          "a model past the parameter limit is refused: %s", rc ? err : "created");
    if (!rc) tb_model_free(&model);
    m.n_hidden = 1, m.hidden[0] = 65536;
    rc = tb_model_create(&model, &m, 64, 10, 20000, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "floats of workspace for 20000 rows, more than the limit"),
          "a pass past the workspace limit is refused: %s", rc ? err : "created");
    if (!rc) tb_model_free(&model);
    int64_t sat;
    m.n_hidden = 16;
    for (int l = 0; l < 16; l++) m.hidden[l] = 2147483647;
    tb_model_size(&m, 2147483647, 2147483647, 2147483647, &params, &sat, NULL);
    CHECK(params == INT64_MAX && sat == INT64_MAX, "sizes saturate instead of overflowing");
  }
  return check_done();
}
