/*
 * bench_gemm.c — OpenBLAS against LIBXSMM on the matrix products of the
 * model, the measurements core/tensor.c's rule (xsmm_rule) is read from.
 *
 * Each product is timed on both backends through tb_sgemm_on (the code
 * tb_sgemm runs: LIBXSMM with its kernel cache and, for a transposed B, the
 * transposed copy), in rounds that alternate which backend goes first; a
 * round's ratio is OpenBLAS time / LIBXSMM time measured back to back, and
 * the result is the median over the rounds, with the lower and upper
 * quartiles: on a shared, noisy machine a ratio of neighbours survives load
 * that shifts both. Times are the thread's CPU time, so that a time slice
 * lost to another process counts for neither. Ratios, not absolute times,
 * are the result. The operands are large malloc'd buffers, which start at
 * the same offset in a page, as the model's large activations do: the
 * worst case for 4K aliasing between operands.
 *
 *   bench_gemm            the products of a training step and an evaluation
 *                         of the digits grid (64-128-10, batch 64), the
 *                         quickstart's 64-256-10 and a 784-512-512-10 MLP at
 *                         batch 256, with the rule's choice, and each step's
 *                         products in total
 *   bench_gemm --sweep    a grid of sizes for each transpose pair the core
 *                         uses, one line per product: the data for the rule
 *   bench_gemm --sweep --sizes 2,3,8   the grid over these sizes (each of m, n, k)
 *   bench_gemm --sweep --beta 0|1      every pair with this beta
 *   bench_gemm --rounds N (default 9)
 *
 * Run: meson test -C build --benchmark (the default form), or
 * build/tests/perf/bench_gemm --sweep on a quiet machine to re-calibrate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensor.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct product {
  const char *what;
  int ta, tb, m, n, k;
  float beta;
} product;

typedef struct timing {
  double openblas, libxsmm; /* median seconds per call */
  double ratio, lo, hi;     /* openblas / libxsmm: median and quartiles of the rounds */
  int ok;                   /* LIBXSMM computed it */
} timing;

static float *buf_a, *buf_b, *buf_c;

static double time_calls(int backend, const product *p, int reps) {
  int lda = p->ta ? p->m : p->k, ldb = p->tb ? p->k : p->n;
  double t0 = now();
  for (int r = 0; r < reps; r++)
    tb_sgemm_on(backend, p->ta, p->tb, p->m, p->n, p->k, 1.0f, buf_a, lda, buf_b, ldb, p->beta,
                buf_c, p->n);
  return (now() - t0) / reps;
}

static timing measure(const product *p, int rounds) {
  timing t = {0};
  int lda = p->ta ? p->m : p->k, ldb = p->tb ? p->k : p->n;
  t.ok = tb_sgemm_on(TB_GEMM_LIBXSMM, p->ta, p->tb, p->m, p->n, p->k, 1.0f, buf_a, lda, buf_b,
                     ldb, p->beta, buf_c, p->n) == 0;
  /* about 0.5 ms of work per sample at 50 GFLOP/s */
  double flops = 2.0 * p->m * p->n * p->k;
  int reps = (int)(2.5e7 / (flops + 5e3));
  if (reps < 2) reps = 2;
  double ob[64], xs[64], ra[64];
  if (rounds > 64) rounds = 64;
  for (int r = 0; r < rounds; r++) {
    int first = r % 2 ? TB_GEMM_LIBXSMM : TB_GEMM_OPENBLAS;
    for (int j = 0; j < 2; j++) {
      int be = j ? !first : first;
      if (be == TB_GEMM_LIBXSMM && !t.ok) continue;
      time_calls(be, p, 1); /* warm the caches for this backend */
      double s = time_calls(be, p, reps);
      if (be == TB_GEMM_OPENBLAS)
        ob[r] = s;
      else
        xs[r] = s;
    }
    ra[r] = t.ok ? ob[r] / xs[r] : 0;
  }
  qsort(ob, (size_t)rounds, sizeof *ob, cmp_double);
  qsort(ra, (size_t)rounds, sizeof *ra, cmp_double);
  t.openblas = ob[rounds / 2];
  if (t.ok) {
    qsort(xs, (size_t)rounds, sizeof *xs, cmp_double);
    t.libxsmm = xs[rounds / 2];
    t.ratio = ra[rounds / 2], t.lo = ra[rounds / 4], t.hi = ra[(3 * rounds) / 4];
  }
  return t;
}

static const char *rule_choice(const product *p) {
  int lda = p->ta ? p->m : p->k, ldb = p->tb ? p->k : p->n;
  return tb_sgemm_backend(p->ta, p->tb, p->m, p->n, p->k, 1.0f, lda, ldb, p->beta, p->n) ==
                 TB_GEMM_LIBXSMM
             ? "libxsmm"
             : "openblas";
}

/* The products of one training step (forward, then dW and dX per layer;
 * no dX for the first layer) and of an evaluation chunk of the model. */
static int model_products(product *out, const char *name, const int *dims, int L, int B,
                          int eval_rows) {
  int n = 0;
  static char labels[64][64];
  for (int pass = 0; pass < 2; pass++) {
    int rows = pass ? eval_rows : B;
    if (pass && eval_rows <= 0) break;
    for (int l = 1; l <= L; l++) {
      snprintf(labels[n], sizeof labels[0], "%s %s fc%d fwd", name, pass ? "eval" : "step", l);
      out[n] = (product){labels[n], 0, 1, rows, dims[l], dims[l - 1], 1.0f};
      n++;
    }
    if (pass) break;
    for (int l = L; l >= 1; l--) {
      snprintf(labels[n], sizeof labels[0], "%s step fc%d dW", name, l);
      out[n] = (product){labels[n], 1, 0, dims[l], dims[l - 1], B, 0.0f};
      n++;
      if (l > 1) {
        snprintf(labels[n], sizeof labels[0], "%s step fc%d dX", name, l);
        out[n] = (product){labels[n], 0, 0, B, dims[l - 1], dims[l], 0.0f};
        n++;
      }
    }
  }
  return n;
}

static void models(int rounds) {
  const struct {
    const char *name;
    int dims[4], L, B, eval;
  } ms[] = {{"digits", {64, 128, 10}, 2, 64, 360},
            {"quickstart", {64, 256, 10}, 2, 64, 360},
            {"784-512-512-10", {784, 512, 512, 10}, 3, 256, 512}};
  printf("%-28s %2s %2s %5s %5s %5s %4s  %10s %10s  %5s %11s  %s\n", "product", "ta", "tb", "m",
         "n", "k", "beta", "openblas", "libxsmm", "ratio", "quartiles", "rule");
  for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++) {
    product ps[32];
    int np = model_products(ps, ms[mi].name, ms[mi].dims, ms[mi].L, ms[mi].B, ms[mi].eval);
    double step_ob = 0, step_rule = 0;
    for (int i = 0; i < np; i++) {
      timing t = measure(&ps[i], rounds);
      const char *rule = rule_choice(&ps[i]);
      printf("%-28s %2d %2d %5d %5d %5d %4g  %8.2fus %8.2fus  %5.2f %5.2f-%-5.2f  %s\n", ps[i].what,
             ps[i].ta, ps[i].tb, ps[i].m, ps[i].n, ps[i].k, ps[i].beta, t.openblas * 1e6,
             t.libxsmm * 1e6, t.ratio, t.lo, t.hi, rule);
      if (!t.ok) t.libxsmm = t.openblas; /* not in this build: the rule never picks it */
      if (strstr(ps[i].what, " step ")) {
        step_ob += t.openblas;
        step_rule += strcmp(rule, "libxsmm") == 0 ? t.libxsmm : t.openblas;
      }
    }
    printf("%s: a step's products %.2f us on OpenBLAS, %.2f us as the rule dispatches them "
           "(%.2fx)\n\n",
           ms[mi].name, step_ob * 1e6, step_rule * 1e6, step_ob / step_rule);
  }
}

/* ratio classes of the maps: + LIBXSMM faster by 10% or more, = within
 * 5-10%, - OpenBLAS faster; the rule's map: x LIBXSMM, o OpenBLAS */
static char ratio_class(const timing *t) {
  return !t->ok ? '?' : t->ratio >= 1.1 ? '+' : t->ratio >= 0.95 ? '=' : '-';
}

static void sweep(int rounds, const int *sizes, int ns, float beta) {
  /* the transpose pairs the core uses, with the beta it uses them with
   * (the forward without a bias, the cosine head's, has beta 0) */
  struct { int ta, tb; float beta; } pairs[] = {{0, 1, 1.0f}, {1, 0, 0.0f}, {0, 0, 0.0f}};
  for (int q = 0; beta >= 0 && q < 3; q++) pairs[q].beta = beta;
  const int np = (int)(sizeof pairs / sizeof *pairs);
  char *meas = malloc((size_t)(np * ns * ns * ns)), *rule = malloc((size_t)(np * ns * ns * ns));
  if (!meas || !rule) return;
  printf("%2s %2s %4s %5s %5s %5s  %10s %10s  %5s %11s  %s\n", "ta", "tb", "beta", "m", "n", "k",
         "openblas", "libxsmm", "ratio", "quartiles", "rule");
  for (int q = 0; q < np; q++)
    for (int i = 0; i < ns; i++)
      for (int j = 0; j < ns; j++)
        for (int l = 0; l < ns; l++) {
          product p = {"", pairs[q].ta, pairs[q].tb, sizes[i], sizes[j], sizes[l], pairs[q].beta};
          timing t = measure(&p, rounds);
          const char *r = rule_choice(&p);
          printf("%2d %2d %4g %5d %5d %5d  %8.2fus %8.2fus  %5.2f %5.2f-%-5.2f  %s\n", p.ta, p.tb,
                 p.beta, p.m, p.n, p.k, t.openblas * 1e6, t.libxsmm * 1e6, t.ratio, t.lo, t.hi, r);
          fflush(stdout);
          int at = ((q * ns + i) * ns + l) * ns + j; /* [pair][m][k][n] */
          meas[at] = ratio_class(&t);
          rule[at] = r[0] == 'l' ? 'x' : 'o';
        }
  /* one map per pair: a row per m; per k a block of n (both ascending) */
  printf("\nmaps: + LIBXSMM faster by >= 10%%, = within 0.95-1.1, - slower; rule: x LIBXSMM, o "
         "OpenBLAS\nrows m; one block per k; in a block, n ascending; sizes");
  for (int i = 0; i < ns; i++) printf(" %d", sizes[i]);
  printf("\n");
  for (int q = 0; q < np; q++) {
    printf("ta=%d tb=%d (measured | rule)\n", pairs[q].ta, pairs[q].tb);
    for (int i = 0; i < ns; i++) {
      printf("m=%-5d", sizes[i]);
      for (int map = 0; map < 2; map++) {
        for (int l = 0; l < ns; l++) {
          int at = ((q * ns + i) * ns + l) * ns;
          printf(" %.*s", ns, (map ? rule : meas) + at);
        }
        printf(map ? "\n" : "   |");
      }
    }
  }
  free(meas), free(rule);
}

int main(int argc, char **argv) {
  int do_sweep = 0, rounds = 9, ns = 8;
  float beta = -1;
  int sizes[32] = {4, 10, 16, 32, 64, 128, 256, 512};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--sweep") == 0)
      do_sweep = 1;
    else if (strcmp(argv[i], "--beta") == 0 && i + 1 < argc)
      beta = argv[++i][0] == '1' ? 1.0f : 0.0f;
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
      ns = 0;
      for (char *p = argv[++i]; *p && ns < 32;) {
        sizes[ns] = (int)strtol(p, &p, 10);
        if (sizes[ns] < 1 || sizes[ns] > 1024 || (*p && *p != ',')) {
          fprintf(stderr, "bench_gemm: --sizes expects numbers in 1..1024 separated by commas\n");
          return 2;
        }
        ns++;
        if (*p == ',') p++;
      }
    } else {
      fprintf(stderr, "usage: bench_gemm [--sweep [--sizes N,N,...] [--beta 0|1]] [--rounds N]\n");
      return 2;
    }
  }
  if (rounds < 1) rounds = 1;
  tb_blas_set_threads(1);
  tb_blas_desc d;
  tb_blas_describe(&d);
  printf("backend %s %s (%s); ratio = OpenBLAS time / LIBXSMM time, median of %d rounds\n",
         d.backend, d.version, d.kernel, rounds);
  size_t cap = 1024 * 1024;
  buf_a = malloc(cap * sizeof(float)), buf_b = malloc(cap * sizeof(float));
  buf_c = malloc(cap * sizeof(float));
  if (!buf_a || !buf_b || !buf_c) return 1;
  srand(1);
  for (size_t i = 0; i < cap; i++) {
    buf_a[i] = (float)rand() / RAND_MAX - 0.5f;
    buf_b[i] = (float)rand() / RAND_MAX - 0.5f;
    buf_c[i] = 0;
  }
  if (do_sweep)
    sweep(rounds, sizes, ns, beta);
  else
    models(rounds);
  free(buf_a), free(buf_b), free(buf_c);
  return 0;
}
