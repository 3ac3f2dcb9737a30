/*
 * tensor.c — matrix products for the model: sgemm in row-major layout on
 * OpenBLAS or, in a build with LIBXSMM (meson option `libxsmm`), on a
 * LIBXSMM JIT kernel for the small shapes where that measures faster; and
 * the naive triple loop kept beside them as the test oracle. The only file
 * of the core that includes the BLAS headers: the sweep sets the BLAS
 * threads and the store describes the backend through it.
 *
 * Which backend computes a product is a fixed function of its arguments —
 * the table xsmm_rule below — never a timing taken at run time: the same
 * script and seed give the same bits whatever -j and however loaded the
 * machine. The two backends round differently (the last bits of a sum of
 * k products), which is why the environment row names both.
 *
 * Provides: tb_sgemm, tb_sgemm_naive, tb_sgemm_backend, tb_sgemm_on,
 * tb_blas_set_threads, tb_blas_describe.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if TB_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

#include "tensor.h"

static void openblas_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a,
                          int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
              n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#if TB_HAVE_LIBXSMM

/* ---- the rule: the products LIBXSMM computes ------------------------------------- */

/* A product goes to LIBXSMM when its transposes are (ta, tb) and m, n, k
 * fall in one row's ranges (inclusive), alpha is 1 and beta 0 or 1 (all
 * the core uses, and all a LIBXSMM 1.17 kernel can do); any other goes to
 * OpenBLAS, so do sizes beyond 512, where nothing was measured. Leading
 * dimensions do not enter (strided operands cost both backends alike).
 *
 * Read from tests/perf/bench_gemm.c --sweep (OpenBLAS 0.3.21 SkylakeX,
 * LIBXSMM 1.17 cpx, one thread, on a shared 2-core VM): the ratio OpenBLAS
 * time / LIBXSMM time of each product, the median of 9-15 rounds that
 * alternate the backends (thread CPU time, so that time slices lost to
 * other processes count for neither), over m, n, k in {4,10,16,...,512}
 * (three sweeps) and {2,3,8,10,12,16,24,...,128} (two), then checked on
 * fresh sweeps. A row keeps to cells where LIBXSMM was faster (mostly by
 * 1.2-2.5x; some cells at a row's edge within 0.95-1.1) and leaves to
 * OpenBLAS the cells where it wins: a LIBXSMM M (our n) of 2 to 8 (one
 * short vector), its small-matrix kernels (the forward with k >= 32 and m n
 * <= 1200 or so: digits' head, 64x10x128, is a tie), and the large products
 * (n = 512 in the forward, m and n >= 128 with k >= 128 in dW and dX: within
 * 10% either way). Measured with the betas the core uses (the forward with
 * both; dW and dX with 0); with beta 1 dW and dX look alike but for a few
 * cells at n = 512. To re-calibrate on a quiet machine, run the sweep and
 * edit these rows: it prints a map of the measurement beside one of this
 * rule.
 *
 * In the model's terms (model.c): forward (0, 1) m = rows, n = out, k = in;
 * dW (1, 0) m = out, n = in, k = rows; dX (0, 0) m = rows, n = in, k = out. */
static const struct xsmm_class {
  int ta, tb;
  int m_lo, m_hi, n_lo, n_hi, k_lo, k_hi;
} xsmm_rule[] = {
    /* forward: narrow inputs, where OpenBLAS has no small kernel (but
     * not into two outputs) */
    {0, 1, 1, 512, 3, 512, 1, 16},
    {0, 1, 1, 512, 3, 128, 17, 24},
    /* forward: layers of 16-256 units */
    {0, 1, 10, 31, 16, 128, 25, 64},
    {0, 1, 32, 512, 16, 256, 25, 512},
    /* forward: a head of 10-15 classes over more rows than OpenBLAS's small
     * kernel takes (evaluation chunks, large batches) */
    {0, 1, 24, 512, 10, 15, 25, 64},
    {0, 1, 96, 512, 10, 15, 65, 512},
    /* dW */
    {1, 0, 1, 512, 16, 128, 1, 512},
    {1, 0, 1, 24, 8, 15, 1, 512},
    {1, 0, 1, 64, 129, 512, 1, 512},
    /* dX */
    {0, 0, 1, 512, 8, 256, 1, 512},
    {0, 0, 1, 64, 257, 512, 1, 512},
    {0, 0, 65, 512, 257, 512, 1, 64},
};

static int xsmm_possible(int m, int n, int k, float alpha, float beta) {
  return m > 0 && n > 0 && k > 0 && alpha == 1.0f && (beta == 0.0f || beta == 1.0f);
}

static int xsmm_chosen(int ta, int tb, int m, int n, int k, float alpha, float beta) {
  if (!xsmm_possible(m, n, k, alpha, beta)) return 0;
  for (size_t i = 0; i < sizeof xsmm_rule / sizeof *xsmm_rule; i++) {
    const struct xsmm_class *r = &xsmm_rule[i];
    if (r->ta == ta && r->tb == tb && m >= r->m_lo && m <= r->m_hi && n >= r->n_lo &&
        n <= r->n_hi && k >= r->k_lo && k <= r->k_hi)
      return 1;
  }
  return 0;
}

/* ---- LIBXSMM kernels ---------------------------------------------------------------- */

/* LIBXSMM is column-major: the row-major C[m][n] = op(A) op(B) is the
 * column-major C^T (n x m) = op(B)^T op(A)^T, so the kernel's first operand
 * is B's memory and its second A's. A transposed A is the kernel's
 * TRANS_B; a transposed B would be its TRANS_A, which the 1.17 JIT does
 * not generate, so B (the weights [out][in] of a forward pass) is first
 * copied transposed into a scratch buffer, [k][n], and the kernel reads
 * that: the copy, about 1 us of the 7.4 us of 64x128x64, is counted in
 * the benchmark the rule was read from. */

/* Kernels by arguments, per thread: libxsmm_smmdispatch finds a kernel in
 * its own registry in about 20 ns (a 4x4x4 call took 0.029 us through it,
 * 0.012 us through this cache; 0.145 and 0.125 us at 16x16x16), a seventh
 * of the smallest products; this direct-mapped cache costs a few ns. A
 * slot holds a kernel or NULL (no kernel: OpenBLAS computes the call). */
#define XSMM_SLOTS 64
typedef struct xsmm_slot {
  int filled, m, n, k, lda, ldb, ldc, flags;
  int avx; /* the kernel is AVX code: clear the upper halves after it */
  libxsmm_smmfunction f;
} xsmm_slot;
static _Thread_local xsmm_slot xsmm_cache[XSMM_SLOTS];
/* the transposed copy of B, grown once to the largest B seen (never
 * shrunk, so a training step allocates nothing after the first); it starts
 * XSMM_SKEW bytes past a page boundary. A large buffer from malloc starts
 * 16 bytes past one, like the model's activations: a copy there too would
 * put the kernel's loads from it and its stores to C on the same addresses
 * modulo 4 KiB, which the CPU takes for a dependency (4K aliasing): 25%
 * slower at 64x256x64 once the copy outgrew malloc's heap. */
#define XSMM_SKEW 2112
static _Thread_local char *xsmm_bt_mem;
static _Thread_local float *xsmm_bt;
static _Thread_local size_t xsmm_bt_cap;

/* the kernel for C^T (M = n, N = m, K = k) = B' A', with B' = B, or B's
 * transposed copy ([k][n], ld n) when tb; its slot's f NULL when LIBXSMM
 * has none */
static const xsmm_slot *xsmm_kernel(int ta, int tb, int m, int n, int k, int lda, int ldb,
                                    float beta, int ldc) {
  int flags = (beta == 0.0f ? LIBXSMM_GEMM_FLAG_BETA_0 : 0) | (ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
  int lda_k = tb ? n : ldb; /* the kernel's first operand is B (or its copy) */
  uint32_t h = (uint32_t)m * 2654435761u ^ (uint32_t)n * 40503u ^ (uint32_t)k * 97u ^
               (uint32_t)lda_k * 13u ^ (uint32_t)lda * 7u ^ (uint32_t)ldc * 3u ^ (uint32_t)flags;
  xsmm_slot *s = &xsmm_cache[(h ^ h >> 16) % XSMM_SLOTS];
  if (s->filled && s->m == m && s->n == n && s->k == k && s->lda == lda_k && s->ldb == lda &&
      s->ldc == ldc && s->flags == flags)
    return s;
  libxsmm_blasint M = n, N = m, K = k, la = lda_k, lb = lda, lc = ldc;
  float one = 1.0f;
  libxsmm_smmfunction f = libxsmm_smmdispatch(M, N, K, &la, &lb, &lc, &one, &beta, &flags, NULL);
  int avx = libxsmm_get_target_archid() >= LIBXSMM_X86_AVX;
  *s = (xsmm_slot){1, m, n, k, lda_k, lda, ldc, flags, avx, f};
  return s;
}

/* 0, or -1 when LIBXSMM has no kernel for the call (nothing computed) */
static int xsmm_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc) {
  const xsmm_slot *s = xsmm_kernel(ta, tb, m, n, k, lda, ldb, beta, ldc);
  if (!s->f) return -1;
  if (tb) {
    size_t need = (size_t)k * (size_t)n;
    if (need > xsmm_bt_cap) {
      void *p;
      if (posix_memalign(&p, 4096, XSMM_SKEW + need * sizeof(float))) return -1;
      free(xsmm_bt_mem);
      xsmm_bt_mem = p, xsmm_bt = (float *)(xsmm_bt_mem + XSMM_SKEW), xsmm_bt_cap = need;
    }
    /* B is [n][k] (ld ldb): column-major k x n; its transpose n x k, ld n */
    libxsmm_otrans(xsmm_bt, b, sizeof(float), k, n, ldb, n);
    b = xsmm_bt;
  }
  s->f(b, a, c);
#if defined(__x86_64__)
  /* The JIT kernels return with the upper halves of the vector registers
   * dirty; the SSE code compiled around them (this file and the model are
   * built for baseline x86-64) then pays a transition penalty on every
   * instruction: 0.15-0.2 us per call measured at 10x128x64, a fifth of the
   * product. */
  if (s->avx)
    __asm__ volatile("vzeroupper" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                     "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#endif
  return 0;
}

/* Whether LIBXSMM's JIT works in this process (it needs executable
 * memory): asked once, with a kernel of the rule's, before any product.
 * When it does not, every product goes to OpenBLAS and tb_blas_describe
 * says so; when it does, a kernel the rule chooses that then cannot be made
 * stops the process (tb_sgemm), so that no run mixes the two backends
 * silently. */
static int xsmm_usable(void) {
  static int state; /* 0 not asked, 1 usable, -1 not */
  if (!state) {
    const xsmm_slot *s = xsmm_kernel(0, 0, 16, 16, 16, 16, 16, 0.0f, 16);
    state = s->f ? 1 : -1;
  }
  return state > 0;
}

#endif /* TB_HAVE_LIBXSMM */

/* ---- the products ------------------------------------------------------------------ */

/* C[m][n] = alpha * op(A)[m][k] op(B)[k][n] + beta * C */
void tb_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
  if (m == 0 || n == 0) return;
#if TB_HAVE_LIBXSMM
  if (xsmm_chosen(ta, tb, m, n, k, alpha, beta) && xsmm_usable()) {
    if (xsmm_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc) == 0) return;
    fprintf(stderr, "trainbench: LIBXSMM made no kernel for the %dx%dx%d product (transposes "
            "%d%d) its rule chooses (out of memory?): stopping rather than computing it with "
            "OpenBLAS, which would change the run's numbers silently\n", m, n, k, ta, tb);
    abort();
  }
#endif
  openblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int tb_sgemm_backend(int ta, int tb, int m, int n, int k, float alpha, int lda, int ldb,
                     float beta, int ldc) {
#if TB_HAVE_LIBXSMM
  if (xsmm_chosen(ta, tb, m, n, k, alpha, beta) && xsmm_usable() &&
      xsmm_kernel(ta, tb, m, n, k, lda, ldb, beta, ldc)->f)
    return TB_GEMM_LIBXSMM;
#endif
  return TB_GEMM_OPENBLAS;
}

int tb_sgemm_on(int backend, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (backend == TB_GEMM_OPENBLAS) {
    if (m > 0 && n > 0) openblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return 0;
  }
#if TB_HAVE_LIBXSMM
  if (backend == TB_GEMM_LIBXSMM && xsmm_possible(m, n, k, alpha, beta))
    return xsmm_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
#endif
  return -1;
}

void tb_sgemm_naive(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int p = 0; p < k; p++) {
        double av = ta ? a[p * lda + i] : a[i * lda + p];
        double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      double prev = beta == 0 ? 0 : (double)beta * c[i * ldc + j];
      c[i * ldc + j] = (float)(alpha * s + prev);
    }
}

/* ---- threads and description --------------------------------------------------------- */

void tb_blas_set_threads(int n) { openblas_set_num_threads(n); }

/* The version from OpenBLAS's configuration string "OpenBLAS 0.3.21
 * DYNAMIC_ARCH ..."; with LIBXSMM, "+" and its version and the target its
 * JIT generates code for ("cpx", "hsw"; LIBXSMM_TARGET can change it). */
void tb_blas_describe(tb_blas_desc *d) {
  char version[32] = "unknown";
  const char *c = openblas_get_config();
  if (c && strncmp(c, "OpenBLAS ", 9) == 0) {
    size_t n = strcspn(c + 9, " ");
    if (n > 0 && n < sizeof version) snprintf(version, sizeof version, "%.*s", (int)n, c + 9);
  }
  const char *core = openblas_get_corename();
#if TB_HAVE_LIBXSMM
  const char *arch = libxsmm_get_target_arch();
  if (!xsmm_usable()) { /* built with it, but its JIT does not work here */
    snprintf(d->backend, sizeof d->backend, "openblas");
    snprintf(d->version, sizeof d->version, "%s", version);
    snprintf(d->kernel, sizeof d->kernel, "%s (libxsmm: no JIT)", core ? core : "unknown");
    return;
  }
  snprintf(d->backend, sizeof d->backend, "openblas+libxsmm");
  snprintf(d->version, sizeof d->version, "%s+%s", version,
           LIBXSMM_VERSION[0] ? LIBXSMM_VERSION : "unknown");
  snprintf(d->kernel, sizeof d->kernel, "%s+%s", core ? core : "unknown",
           arch ? arch : "unknown");
#else
  snprintf(d->backend, sizeof d->backend, "openblas");
  snprintf(d->version, sizeof d->version, "%s", version);
  snprintf(d->kernel, sizeof d->kernel, "%s", core ? core : "unknown");
#endif
}
