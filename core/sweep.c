/*
 * sweep.c — running a sweep: decide which runs to (re)do, run each one in a
 * forked worker process, collect its results over a dedicated pipe, and
 * record them (the parent is the only writer of the database).
 *
 * Worker protocol (one line per message on the result pipe):
 *   M <epoch> <split> <name> <value>    a metric
 *   T <epoch> <seconds>                 wall time of a training epoch
 *   S <name> <step> <value>             a point of a per-step series
 *   E <name> <every>                    a series is sampled every <every> steps
 *   C <name> <value>                    a named counter
 *   Q <epoch> <split> <true> <pred> <count>   a non-zero confusion cell (final epoch)
 *   B <epoch> <split> <bin> <count> <correct> <confidence>   a calibration bin (final epoch)
 *   R <status> <steps> <loss_evals> <grad_evals> <jvp_evals> <started_at> <compute>
 *   X <error text>                      (optional) why the run ended badly
 *   END                                 end of run: without it the run is `crashed`
 * Words are separated by one space; split and metric names are words of any
 * length (tb_name_valid), series and counter names at most 31 bytes. A real
 * (value, seconds, confidence, ...) is sent as x and the 16 hex digits of
 * its IEEE-754 bits, most significant first (x3fe0000000000000 is 0.5):
 * exact, NaN and the infinities included, and cheap at both ends; the parent
 * also reads a decimal as strtod does (0.5, inf, nan). Integers are decimal
 * digits. A line
 * the parent cannot read exactly — an unknown message, a missing or extra
 * word, a number that does not parse, a bad name — is never cut to fit or
 * skipped: the run is recorded as crashed with that line as the reason.
 * The worker's stdout and stderr go to a second pipe whose tail becomes the
 * reason of a crash (an ASan report, a plugin's last words). Workers get
 * SIGKILL when the parent dies (PR_SET_PDEATHSIG), so no orphans survive a
 * kill -9 of the sweep.
 *
 * The parent sleeps in poll() on the workers' pipes and on a self-pipe that
 * the SIGCHLD handler writes to, so a finished worker is reaped at once (not
 * at the next tick), and wakes for the nearest timeout. A run's own compute
 * time (measured by the worker) and its CPU time (wait4's rusage) are kept
 * apart from the parent's wall time, which includes fork and bookkeeping.
 *
 * Before a sweep, tb_sweep_check_components first has the store adopt the
 * runs earlier versions recorded under their legacy identity (re-keyed on
 * the new one, so the sweep skips them), then probes the numeric
 * fingerprint of every plugin of the sweep's configuration trees — losses,
 * optimizers, schedules, nested ones too (fingerprint.c) — and compares it
 * with the builds the database recorded under the same kind, name and
 * version: a plugin rebuilt with other numbers would otherwise have its old
 * runs silently reused, since runs are keyed on name and version.
 *
 * With --force every run is redone, but (issue 10) an attempt that crashes,
 * times out or fails never replaces a complete or diverged run: the store
 * decides that in the transaction that would replace it (tb_store_put_run
 * returns 1 and writes nothing), so the batch's all-or-nothing commit and
 * "shown as done means in the file" hold as for any run; here the run's
 * line says the recorded run was kept and why, and it counts as failed.
 * And a --force sweep that never finished is resumed by the next one of the
 * same script: the runs it recorded complete or diverged are skipped
 * (tb_store_force_resume finds it; cmd_run.c looks it up).
 *
 * Run labels (tb_run_label) show what differs from the defaults in every
 * part of the tree, by the identity's own rule.
 *
 * Provides: tb_sweep_check_components, tb_sweep_run, tb_run_label.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "fingerprint.h"
#include "hparam.h"
#include "registry.h"
#include "script.h"
#include "stages.h"
#include "store.h"
#include "sweep.h"
#include "tensor.h"
#include "train.h"
#include "trainbench/plugin.h"
#include "util.h"

typedef struct slot {
  int busy;
  tb_child ch;         /* the worker: pid, its pipes, the tail of its output */
  int run;             /* index into sweep->runs */
  double started;      /* monotonic */
  int timed_out;
  int got_end;
  char bad[TB_ERRLEN]; /* the first line of the worker that could not be read */
  tb_run_result res;
} slot;

/* ---- fingerprints ---------------------------------------------------------- */

/* Seconds a fingerprint probe may take per component (a healthy one takes
 * milliseconds; a hanging plugin must not stall the sweep for long). */
#define PROBE_TIMEOUT 5.0

/* The fingerprint recorded for this very file (same bytes, same numbers),
 * so that an unchanged plugin is not probed again; 1 if found. */
static int cached_fingerprint(const tb_component_record *r, int n, const tb_component *c,
                              tb_fingerprint *fp) {
  for (int i = 0; i < n; i++) {
    char e[TB_ERRLEN];
    if (r[i].file_hash[0] && strcmp(r[i].file_hash, c->file_hash) == 0 && r[i].probe &&
        tb_fingerprint_decode(r[i].probe, fp, e, sizeof e) == 0 && fp->version == TB_FP_VERSION)
      return 1;
  }
  return 0;
}

/* Append the plugins of an instance and its children to cs[0..n) once each. */
static int add_plugins(const tb_instance *in, const tb_component ***cs, int n, int *cap) {
  if (!in) return n;
  const tb_component *c = in->comp;
  int seen = c->kind > TB_N_PLUGIN_KINDS; /* built-ins have no plugin to probe */
  for (int j = 0; j < n && !seen; j++) seen = (*cs)[j] == c;
  if (!seen) {
    if (n == *cap) {
      *cap *= 2;
      *cs = realloc(*cs, sizeof **cs * (size_t)*cap);
      if (!*cs) abort();
    }
    (*cs)[n++] = c;
  }
  for (int i = 0; i < in->n; i++) n = add_plugins(in->child[i], cs, n, cap);
  return n;
}

int tb_sweep_check_components(const tb_sweep *sw, tb_store *st, int force,
                              tb_force_resume *resume, int record, char *err, size_t errlen) {
  if (!st) return 0; /* nothing recorded to compare with */
  /* runs recorded by an earlier trainbench under their legacy identity are
   * the same runs: re-key them (a reader only remembers them) */
  if (tb_store_adopt_legacy(st, sw, record, NULL, err, errlen)) return -1;
  /* the distinct components of the sweep: every plugin of every run's tree */
  int n = 0, cap = 16;
  const tb_component **cs = malloc(sizeof *cs * (size_t)cap);
  if (!cs) abort();
  for (int i = 0; i < sw->n_runs; i++)
    for (int p = TB_PART_LOSS; p < TB_N_PARTS; p++)
      n = add_plugins(sw->runs[i].parts[p], &cs, n, &cap);
  tb_fingerprint *fps = calloc((size_t)(n ? n : 1), sizeof *fps);
  tb_component_record **recs = calloc((size_t)(n ? n : 1), sizeof *recs);
  int *nrecs = calloc((size_t)(n ? n : 1), sizeof *nrecs);
  const tb_component **probe = malloc(sizeof *probe * (size_t)(n ? n : 1));
  int *probe_at = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!fps || !recs || !nrecs || !probe || !probe_at) abort();
  int rc = 0, np = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    rc = tb_store_component_records(st, cs[i], &recs[i], &nrecs[i], err, errlen);
    if (rc == 0 && !cached_fingerprint(recs[i], nrecs[i], cs[i], &fps[i])) {
      probe[np] = cs[i];
      probe_at[np++] = i;
    }
  }
  if (rc == 0 && np > 0) {
    tb_fingerprint *got = calloc((size_t)np, sizeof *got);
    char *why = malloc(TB_ERRLEN * 4);
    if (!got || !why) abort();
    if (tb_fingerprint_components(probe, np, PROBE_TIMEOUT, got, why, TB_ERRLEN * 4))
      fprintf(stderr, "trainbench: warning: %s; such runs are recorded without a fingerprint\n",
              why);
    for (int j = 0; j < np; j++) fps[probe_at[j]] = got[j];
    free(got);
    free(why);
  }
  /* Compare with the builds that recorded the runs this sweep would skip:
   * those are the numbers a rerun would reuse. (With --force nothing is
   * skipped but the runs an interrupted --force sweep redid, which it
   * resumes.) Runs of other scripts, or of other settings, are not reused,
   * so an older build they were made with does not stand in the way. */
  tb_component_record *used = NULL;
  int n_used = 0;
  int resuming = force && resume && resume->n > 0;
  if (rc == 0 && (!force || resuming))
    rc = tb_store_reused_components(st, sw, force ? resume : NULL, &used, &n_used, err, errlen);
  char *msg = NULL;
  size_t msglen = 0;
  FILE *m = open_memstream(&msg, &msglen);
  if (!m) abort();
  int conflicts = 0;
  for (int k = 0; k < n_used && rc == 0; k++) {
    const tb_component_record *r = &used[k];
    int i = 0;
    while (i < n && !(strcmp(tb_kind_name(cs[i]->kind), r->kind) == 0 &&
                      strcmp(cs[i]->name, r->name) == 0 && strcmp(cs[i]->version, r->version) == 0))
      i++;
    tb_fingerprint old;
    char e[TB_ERRLEN];
    if (i == n || !r->fingerprint[0] || !r->probe ||
        tb_fingerprint_decode(r->probe, &old, e, sizeof e))
      continue; /* recorded before fingerprints (schema 1): nothing to compare */
    if (tb_fingerprint_same(&fps[i], &old) != 0) continue; /* same, or not comparable */
    char diff[512];
    tb_fingerprint_diff(&fps[i], &old, diff, sizeof diff);
    fprintf(m,
            "%s%s '%s' version %s (%s) computes other numbers than the build that recorded "
            "%lld of this sweep's runs in '%s' (%s): %s",
            conflicts++ ? "\n" : "", r->kind, r->name, r->version, cs[i]->file,
            (long long)r->n_runs, tb_store_path(st), r->file, diff);
  }
  tb_component_records_free(used, n_used);
  fclose(m);
  if (rc == 0 && conflicts && resuming) {
    /* --force asked for this build's numbers: redo those runs too */
    fprintf(stderr,
            "trainbench: warning: not resuming the interrupted --force sweep #%lld: %s\n"
            "every run is redone with this build\n",
            (long long)resume->sweep_ids[0], msg);
    tb_force_resume_free(resume);
  } else if (rc == 0 && conflicts) {
    tb_errf(err, errlen,
            "%s\nthose runs would be reused as if nothing had changed: bump the plugin's "
            "version when its numbers change (runs are keyed on name and version), or rerun "
            "with --force to redo this sweep's runs with it",
            msg);
    rc = -1;
  }
  free(msg);
  for (int i = 0; i < n && rc == 0 && record; i++) {
    char text[TB_FP_TEXTMAX];
    int has = fps[i].n > 0 && tb_fingerprint_encode(&fps[i], text, sizeof text) == 0;
    rc = tb_store_register_component(st, cs[i], has ? fps[i].hash : NULL, has ? text : NULL,
                                     err, errlen);
  }
  for (int i = 0; i < n; i++) tb_component_records_free(recs[i], nrecs[i]);
  free(recs);
  free(nrecs);
  free(fps);
  free(probe);
  free(probe_at);
  free(cs);
  return rc;
}

/* ---- waking on SIGCHLD ------------------------------------------------------ */

static int chld_pipe[2] = {-1, -1};

static void on_chld(int sig) {
  (void)sig;
  int e = errno;
  if (write(chld_pipe[1], "c", 1) < 0) { /* full: a wakeup is pending anyway */
  }
  errno = e;
}

static int chld_open(struct sigaction *old, char *err, size_t errlen) {
  if (pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK)) {
    tb_errf(err, errlen, "cannot create a pipe: %s", strerror(errno));
    return -1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, old);
  return 0;
}

/* SIGINT, SIGTERM and SIGHUP during the sweep: finish the batch of runs that
 * are recorded but not committed yet, then die of the signal as before (the
 * workers die with the parent). Only a signal whose disposition is the
 * default is caught: one that was ignored (nohup) stays ignored. */
static volatile sig_atomic_t stop_signal;
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGNALS (int)(sizeof stop_signals / sizeof *stop_signals)

static void on_stop(int sig) {
  int e = errno;
  stop_signal = sig;
  if (write(chld_pipe[1], "s", 1) < 0) { /* full: a wakeup is pending anyway */
  }
  errno = e;
}

static void stop_open(struct sigaction *old) {
  stop_signal = 0;
  for (int i = 0; i < N_STOP_SIGNALS; i++) {
    sigaction(stop_signals[i], NULL, &old[i]);
    if (old[i].sa_handler != SIG_DFL) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(stop_signals[i], &sa, NULL);
  }
}

static void stop_close(const struct sigaction *old) {
  for (int i = 0; i < N_STOP_SIGNALS; i++) sigaction(stop_signals[i], &old[i], NULL);
}

static void chld_drain(void) {
  char buf[64];
  while (read(chld_pipe[0], buf, sizeof buf) > 0) {
  }
}

static void chld_close(const struct sigaction *old) {
  sigaction(SIGCHLD, old, NULL);
  close(chld_pipe[0]);
  close(chld_pipe[1]);
  chld_pipe[0] = chld_pipe[1] = -1;
}

/* Seconds a run may take: the scenario's own timeout, else --timeout; 0 = none. */
static double run_limit(const tb_run_config *cfg, const tb_sweep_opts *o) {
  return cfg->timeout > 0 ? cfg->timeout : o->timeout;
}

/* ---- the worker ------------------------------------------------------------ */

/* The messages are built in memory by hand and written at once: printf's
 * %.17g and the parent's strtod were two thirds of the cost of a run's
 * lines (a digits run sends about 1 700 values). A real goes as the word
 * x<16 hex digits> of its bits (put_real), exact by construction, NaN and
 * infinities included. */
typedef struct line_buf {
  char *p;
  size_t n, cap;
} line_buf;

/* Room for `more` bytes at the end of b. */
static char *lb_room(line_buf *b, size_t more) {
  if (b->n + more > b->cap) {
    b->cap = (b->n + more) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  return b->p + b->n;
}

/* The words of one message: each is preceded by a space but the first. */
static void lb_kind(line_buf *b, char kind) {
  char *q = lb_room(b, 1);
  *q = kind;
  b->n++;
}

static void lb_word(line_buf *b, const char *w) {
  size_t len = strlen(w);
  char *q = lb_room(b, len + 1);
  *q++ = ' ';
  memcpy(q, w, len);
  b->n += len + 1;
}

static void lb_int(line_buf *b, long long v) {
  char tmp[24], *q = lb_room(b, 22);
  unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
  int k = 0;
  do tmp[k++] = (char)('0' + u % 10); while ((u /= 10) > 0);
  *q++ = ' ';
  if (v < 0) *q++ = '-';
  while (k > 0) *q++ = tmp[--k];
  b->n = (size_t)(q - b->p);
}

static void lb_real(line_buf *b, double x) {
  static const char hex[] = "0123456789abcdef";
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  char *q = lb_room(b, 18);
  *q++ = ' ';
  *q++ = 'x';
  for (int sh = 60; sh >= 0; sh -= 4) *q++ = hex[(u >> sh) & 15];
  b->n += 18;
}

static void lb_end(line_buf *b) {
  *lb_room(b, 1) = '\n';
  b->n++;
}

static void send_new(line_buf *b, const tb_run_result *res, tb_worker_sent *w) {
  for (; w->times < res->n_epoch_times; w->times++) {
    lb_kind(b, 'T'); lb_int(b, w->times + 1); lb_real(b, res->epoch_seconds[w->times]);
    lb_end(b);
  }
  for (; w->metrics < res->n_metrics; w->metrics++) {
    const tb_metric *m = &res->metrics[w->metrics];
    lb_kind(b, 'M'); lb_int(b, m->epoch); lb_word(b, m->split); lb_word(b, m->name);
    lb_real(b, m->value); lb_end(b);
  }
  for (; w->points < res->n_series; w->points++) {
    const tb_series_point *p = &res->series[w->points];
    lb_kind(b, 'S'); lb_word(b, p->name); lb_int(b, p->step); lb_real(b, p->value);
    lb_end(b);
  }
  for (; w->cells < res->n_confusion; w->cells++) {
    const tb_confusion_cell *c = &res->confusion[w->cells];
    lb_kind(b, 'Q'); lb_int(b, c->epoch); lb_word(b, c->split); lb_int(b, c->true_class);
    lb_int(b, c->pred_class); lb_int(b, c->count); lb_end(b);
  }
  for (; w->bins < res->n_calibration; w->bins++) {
    const tb_calibration_bin *c = &res->calibration[w->bins];
    lb_kind(b, 'B'); lb_int(b, c->epoch); lb_word(b, c->split); lb_int(b, c->bin);
    lb_int(b, c->count); lb_int(b, c->correct); lb_real(b, c->confidence); lb_end(b);
  }
}

void tb_worker_send(FILE *out, const tb_run_result *res, tb_worker_sent *sent, int end) {
  line_buf b = {NULL, 0, 0};
  send_new(&b, res, sent);
  if (end) {
    for (int i = 0; i < res->n_series_every; i++) {
      lb_kind(&b, 'E'); lb_word(&b, res->series_every[i].name);
      lb_real(&b, res->series_every[i].value); lb_end(&b);
    }
    for (int i = 0; i < res->n_counters; i++) {
      lb_kind(&b, 'C'); lb_word(&b, res->counters[i].name);
      lb_real(&b, res->counters[i].value); lb_end(&b);
    }
    lb_kind(&b, 'R'); lb_int(&b, res->status); lb_int(&b, res->steps);
    lb_int(&b, res->loss_evals); lb_int(&b, res->grad_evals); lb_int(&b, res->jvp_evals);
    lb_real(&b, res->started_at); lb_real(&b, res->compute_seconds); lb_end(&b);
    if (res->error[0]) {
      lb_kind(&b, 'X');
      lb_word(&b, res->error);
      for (char *p = b.p + b.n - strlen(res->error); p < b.p + b.n; p++)
        if (*p == '\n') *p = ' ';
      lb_end(&b);
    }
    memcpy(lb_room(&b, 4), "END\n", 4);
    b.n += 4;
  }
  if (b.n) fwrite(b.p, 1, b.n, out);
  fflush(out);
  free(b.p);
}

typedef struct {
  FILE *out;
  tb_worker_sent sent;
} worker_ctx;

static void on_epoch(void *ud, int epoch, const tb_run_result *res) {
  (void)epoch;
  worker_ctx *w = ud;
  tb_worker_send(w->out, res, &w->sent, 0);
}

static void worker_main(const tb_run_config *cfg, int fd_res) {
  /* One BLAS thread: tb_sweep_run set it before forking and the worker
   * inherits it. Setting it again here would cost a thread per run:
   * OpenBLAS shuts its thread pool down before every fork (its atfork
   * handler) and openblas_set_num_threads() starts it again in the child,
   * whose idle thread then spins in sched_yield for up to ~0.1 s - the whole
   * of a short run, on the core another worker needs. */
  FILE *out = fdopen(fd_res, "w");
  if (!out) _exit(3);
  worker_ctx w = {out, {0}};
  tb_run_result res;
  memset(&res, 0, sizeof res);
  tb_train_run(cfg, &res, on_epoch, &w);
  tb_worker_send(out, &res, &w.sent, 1);
  _exit(0);
}

/* ---- the parent ---------------------------------------------------------- */

/* The words of a line as its message's fields: at most max + 1 words (one
 * too many is how an extra word shows), runs of spaces separating them. The
 * space ending each word becomes a NUL, recorded in cut[] so that
 * join_words can give the line back as it came, for a message; this takes
 * no copy of every line (a run sends thousands). */
static int split_words(char *line, char **w, int max, char **cut, int *n_cut) {
  int n = 0;
  *n_cut = 0;
  char *p = line;
  while (n <= max) {
    while (*p == ' ') p++;
    if (!*p) break;
    w[n++] = p;
    while (*p && *p != ' ') p++;
    if (!*p) break;
    *p = 0;
    cut[(*n_cut)++] = p++;
  }
  return n;
}

static void join_words(char **cut, int n_cut) {
  for (int i = 0; i < n_cut; i++) *cut[i] = ' ';
}
/* Decimal digits only (the worker sends no sign), within [lo, hi]. */
static int word_int(const char *s, long long lo, long long hi, long long *out) {
  unsigned long long v = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (v > (ULLONG_MAX - 9) / 10) return -1;
    v = v * 10 + (unsigned)(*p - '0');
  }
  if (p == s || *p || v > (unsigned long long)LLONG_MAX) return -1;
  if ((long long)v < lo || (long long)v > hi) return -1;
  *out = (long long)v;
  return 0;
}

/* A real: x and exactly 16 lowercase hex digits of its bits (what workers
 * send), or a decimal as strtod reads it. */
static int word_real(const char *s, double *out) {
  if (s[0] == 'x') {
    /* 1 + a hex digit's value; 0 for any other byte, the NUL too */
    static const unsigned char hex1[256] = {
        ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
        ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
        ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16};
    uint64_t u = 0;
    int bad = 0;
    for (int i = 1; i <= 16 && !bad; i++) { /* stops at a NUL: never past the word */
      int d = hex1[(unsigned char)s[i]];
      bad = d == 0;
      u = u << 4 | (uint64_t)((d - 1) & 15);
    }
    if (bad || s[17]) return -1; /* (s[17] is read only after 16 digits) */
    memcpy(out, &u, sizeof *out);
    return 0;
  }
  char *end;
  *out = strtod(s, &end);
  return end == s || *end ? -1 : 0;
}

/* A series or counter name: a word that fits the result's 32 bytes. */
static int word_short(const char *s) { return tb_name_valid(s) && strlen(s) < 32 ? 0 : -1; }

int tb_worker_parse(tb_run_result *r, char *line, char *err, size_t errlen) {
  if (strcmp(line, "END") == 0) return 1;
  if (line[0] == 'X' && line[1] == ' ') {
    snprintf(r->error, sizeof r->error, "%s", line + 2);
    return 0;
  }
  char *w[9], *cut[9];
  int n_cut;
  int n = split_words(line, w, 8, cut, &n_cut);
  long long e = 0, a = 0, b = 0, c = 0, d = 0;
  double x = 0, y = 0;
  const char *kind = n ? w[0] : "";
  int bad = 1;
  if (strcmp(kind, "M") == 0 && n == 5) {
    bad = word_int(w[1], 0, INT32_MAX, &e) || !tb_name_valid(w[2]) || !tb_name_valid(w[3]) ||
          word_real(w[4], &x);
    if (!bad) tb_result_add_metric(r, (int)e, w[2], w[3], x);
  } else if (strcmp(kind, "T") == 0 && n == 3) {
    bad = word_int(w[1], 1, INT32_MAX, &e) || word_real(w[2], &x);
    if (!bad) tb_result_add_epoch_time(r, x);
  } else if (strcmp(kind, "S") == 0 && n == 4) {
    bad = word_short(w[1]) || word_int(w[2], 0, INT64_MAX, &a) || word_real(w[3], &x);
    if (!bad) tb_result_add_series(r, w[1], a, x);
  } else if (strcmp(kind, "E") == 0 && n == 3) {
    bad = word_short(w[1]) || word_real(w[2], &x) || !(x >= 1 && x <= 9e15);
    if (!bad) tb_result_set_series_every(r, w[1], (int64_t)x);
  } else if (strcmp(kind, "C") == 0 && n == 3) {
    bad = word_short(w[1]) || word_real(w[2], &x);
    if (!bad) tb_result_set_counter(r, w[1], x);
  } else if (strcmp(kind, "Q") == 0 && n == 6) {
    bad = word_int(w[1], 0, INT32_MAX, &e) || !tb_name_valid(w[2]) ||
          word_int(w[3], 0, INT32_MAX, &a) || word_int(w[4], 0, INT32_MAX, &b) ||
          word_int(w[5], 1, INT64_MAX, &c);
    if (!bad) tb_result_add_confusion(r, (int)e, w[2], (int)a, (int)b, c);
  } else if (strcmp(kind, "B") == 0 && n == 7) {
    bad = word_int(w[1], 0, INT32_MAX, &e) || !tb_name_valid(w[2]) ||
          word_int(w[3], 0, INT32_MAX, &a) || word_int(w[4], 1, INT64_MAX, &b) ||
          word_int(w[5], 0, b, &c) || word_real(w[6], &x);
    if (!bad) tb_result_add_calibration(r, (int)e, w[2], (int)a, b, c, x);
  } else if (strcmp(kind, "R") == 0 && n == 8) {
    long long st;
    bad = word_int(w[1], TB_RUN_COMPLETE, TB_RUN_FAILED, &st) ||
          word_int(w[2], 0, INT64_MAX, &a) || word_int(w[3], 0, INT64_MAX, &b) ||
          word_int(w[4], 0, INT64_MAX, &c) || word_int(w[5], 0, INT64_MAX, &d) ||
          word_real(w[6], &x) || word_real(w[7], &y);
    if (!bad) {
      r->status = (int)st;
      r->steps = a;
      r->loss_evals = b;
      r->grad_evals = c;
      r->jvp_evals = d;
      r->started_at = x;
      r->compute_seconds = y;
    }
  }
  if (!bad) return 0;
  join_words(cut, n_cut);
  tb_errf(err, errlen, "worker sent a line that cannot be read: '%.159s%s'", line,
          strlen(line) >= 159 ? "..." : "");
  return -1;
}

static void parse_line(void *ud, char *line) {
  slot *s = ud;
  char e[TB_ERRLEN];
  int rc = tb_worker_parse(&s->res, line, e, sizeof e);
  if (rc > 0) s->got_end = 1;
  if (rc < 0 && !s->bad[0]) snprintf(s->bad, sizeof s->bad, "%s", e);
}

static void finish_status(slot *s, int wstatus, const struct rusage *ru, double timeout) {
  tb_run_result *r = &s->res;
  r->cpu_seconds = (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec * 1e-6 +
                   (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec * 1e-6;
  char tail[700];
  tb_child_tail_text(&s->ch, tail, sizeof tail, 600);
  if (s->timed_out) {
    r->status = TB_RUN_TIMEOUT;
    snprintf(r->error, sizeof r->error, "timeout: still running after %g s, killed", timeout);
  } else if (s->bad[0]) {
    r->status = TB_RUN_CRASHED;
    snprintf(r->error, sizeof r->error, "crashed: %s", s->bad);
  } else if (!s->got_end || r->status < TB_RUN_COMPLETE || r->status > TB_RUN_FAILED) {
    r->status = TB_RUN_CRASHED;
    char why[160];
    tb_wait_status_text(wstatus, why, sizeof why);
    snprintf(r->error, sizeof r->error, "crashed: worker %s%s%s%s", why,
             WIFEXITED(wstatus) ? " before the end of the run" : "", tail[0] ? "; output: " : "",
             tail);
  }
  if (r->started_at == 0) r->started_at = tb_now_wall() - (tb_now_mono() - s->started);
  r->finished_at = tb_now_wall();
  r->wall_seconds = tb_now_mono() - s->started;
}

static int start_worker(slot *slots, int nslots, slot *s, const tb_sweep *sw, int run,
                        int lock_fd, char *err, size_t errlen) {
  /* the worker must not keep the database lock nor other workers' pipes */
  int fds[2 * 64 + 3], n = 0;
  fds[n++] = lock_fd;
  fds[n++] = chld_pipe[0];
  fds[n++] = chld_pipe[1];
  for (int i = 0; i < nslots && n + 2 <= (int)(sizeof fds / sizeof *fds); i++)
    if (slots[i].busy) fds[n++] = slots[i].ch.fd_msg, fds[n++] = slots[i].ch.fd_out;
  int msg_fd;
  /* read the clock before the fork: the worker's own compute time must fit
   * inside the wall time the parent records */
  double started = tb_now_mono();
  int rc = tb_child_fork(&s->ch, &msg_fd, fds, n, err, errlen);
  if (rc < 0) return -1;
  if (rc == 0) {
    signal(SIGINT, SIG_IGN); /* the parent decides; a ^C kills the group anyway */
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    worker_main(&sw->runs[run], msg_fd);
    _exit(0);
  }
  memset(&s->res, 0, sizeof s->res);
  s->busy = 1;
  s->run = run;
  s->started = started;
  s->timed_out = 0;
  s->got_end = 0;
  s->bad[0] = 0;
  return 0;
}

static void fmt_dur(char *out, size_t n, double sec) {
  if (sec < 0 || !isfinite(sec)) {
    snprintf(out, n, "?");
    return;
  }
  long s = (long)(sec + 0.5);
  if (s >= 3600)
    snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
}

static double final_metric(const tb_run_result *r, const char *split, const char *name) {
  double v = NAN;
  int best = -1;
  for (int i = 0; i < r->n_metrics; i++)
    if (strcmp(r->metrics[i].split, split) == 0 && strcmp(r->metrics[i].name, name) == 0 &&
        r->metrics[i].epoch > best) {
      best = r->metrics[i].epoch;
      v = r->metrics[i].value;
    }
  return v;
}

/* " k=v" for each value of `in` that differs from its component's default
 * (nested components as base=adam(lr=0.01)); the identity's rule, so two
 * labels differ where two runs do. */
static size_t label_values(const tb_instance *in, char *out, size_t n, size_t k) {
  for (int i = 0; i < in->n && k < n; i++) {
    const tb_hparam *h = &in->comp->hparams[i];
    if ((h->flags & TB_HPF_NOT_IDENTITY) || tb_value_is_default(h, &in->values[i])) continue;
    if (h->type == TB_HP_COMPONENT && in->child[i] && h->def_text &&
        strcmp(in->child[i]->comp->name, h->def_text) == 0 && tb_instance_is_default(in->child[i]))
      continue; /* the default base at its defaults */
    char v[512];
    tb_hp_value_text(h, &in->values[i], in->child[i], v, sizeof v);
    k += (size_t)snprintf(out + k, n - k, " %s=%s", h->name, v);
  }
  return k;
}

void tb_run_label(const tb_run_config *c, char *out, size_t n) {
  size_t k = (size_t)snprintf(out, n, "%s %s/%s", c->scenario, c->parts[TB_PART_LOSS]->comp->name,
                              c->parts[TB_PART_OPTIMIZER]->comp->name);
  /* the loss's and optimizer's values bare; the other parts as part=name(values),
   * unless they are the scenario's default (a linear model, a constant schedule) */
  k = label_values(c->parts[TB_PART_LOSS], out, n, k);
  if (k < n) k = label_values(c->parts[TB_PART_OPTIMIZER], out, n, k);
  static const struct {
    int part;
    const char *def; /* the part's default component, or NULL */
  } others[] = {{TB_PART_DATA, NULL},       {TB_PART_MODEL, "linear"},
                 {TB_PART_SCHEDULE, "constant"}, {TB_PART_CORRUPTION, NULL},
                 {TB_PART_TRANSFORM, NULL},      {TB_PART_REDUCTION, NULL}};
  for (size_t j = 0; j < sizeof others / sizeof *others && k < n; j++) {
    const tb_instance *in = c->parts[others[j].part];
    /* a stage at its default leaves the step as it was: left out, as in the identity */
    if (!in || (others[j].part >= TB_PART_CORRUPTION && tb_stage_is_default(in))) continue;
    char vals[512] = "";
    size_t m = label_values(in, vals, sizeof vals, 0);
    if (m == 0 && others[j].def && strcmp(in->comp->name, others[j].def) == 0) continue;
    /* " a=1 b=2" -> "(a=1,b=2)" */
    for (char *p = vals; *p; p++)
      if (*p == ' ') *p = ',';
    k += (size_t)snprintf(out + k, n - k, " %s=%s%s%s%s", tb_part_name(others[j].part),
                          in->comp->name, m ? "(" : "", m ? vals + 1 : "", m ? ")" : "");
  }
  if (k < n) snprintf(out + k, n - k, " seed=%lld", (long long)c->seed);
}

static void progress(const tb_sweep_opts *o, int done, int total, int running, int failed,
                     double elapsed, int final) {
  if (!o->tty) return;
  /* redraw on a change of counts, or every half second for the clock */
  static int last_done = -1, last_running = -1;
  static double last_time = -1;
  if (!final && done == last_done && running == last_running && elapsed - last_time < 0.5)
    return;
  last_done = done, last_running = running, last_time = elapsed;
  char el[32], eta[32];
  fmt_dur(el, sizeof el, elapsed);
  if (done > 0)
    fmt_dur(eta, sizeof eta, elapsed / done * (total - done));
  else
    snprintf(eta, sizeof eta, "?");
  fprintf(stderr, "\r\033[K[%d/%d] running %d, failed %d, elapsed %s, ETA %s%s", done, total,
          running, failed, el, final ? "0:00" : eta, final ? "\n" : "");
  fflush(stderr);
}

/* Finished runs are recorded in batches: a commit costs about what recording
 * a small run does (it writes a page of every table and index a run touches
 * to the log), so runs that end within `commit_seconds` (0.1 s, or
 * $TRAINBENCH_COMMIT_SECONDS) of a batch's first share one transaction. A
 * run is reported done — its line, the progress count — only once its batch
 * is committed, so a run shown as recorded is in the file, and a kill -9 of
 * the sweep loses at most the runs of the open batch: finished within the
 * last commit_seconds, never reported, whole (none of their rows is in the
 * file), and trained again by the next run. SIGINT, SIGTERM and SIGHUP
 * commit the batch before the sweep dies of them. */
#define COMMIT_SECONDS 0.1
#define BATCH_RUNS 256

/* The batch window: $TRAINBENCH_COMMIT_SECONDS (seconds >= 0; 0: every run
 * at once) or COMMIT_SECONDS. */
static int commit_seconds(double *out, char *err, size_t errlen) {
  const char *v = getenv("TRAINBENCH_COMMIT_SECONDS");
  *out = COMMIT_SECONDS;
  if (!v || !*v) return 0;
  char *end;
  double x = strtod(v, &end);
  if (*end || !(x >= 0) || !isfinite(x)) {
    tb_errf(err, errlen, "TRAINBENCH_COMMIT_SECONDS must be a number of seconds >= 0, got '%s'",
            v);
    return -1;
  }
  *out = x;
  return 0;
}

typedef struct batch {
  char **lines;    /* what to print for each run once the batch is committed */
  int n, cap;      /* runs in the batch (lines may be NULL: nothing to print) */
  double started;  /* monotonic time its first run was recorded */
} batch;

static void batch_add(batch *b, char *line) {
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 16;
    b->lines = realloc(b->lines, sizeof *b->lines * (size_t)b->cap);
    if (!b->lines) abort();
  }
  b->lines[b->n++] = line;
}

/* Commit the open batch and report its runs; -1 if the commit failed (then
 * nothing of the batch is recorded, and nothing of it is reported). */
static int batch_commit(batch *b, tb_store *st, const tb_sweep_opts *o, int *reported,
                        char *err, size_t errlen) {
  int rc = st ? tb_store_batch_commit(st, err, errlen) : 0;
  for (int i = 0; i < b->n; i++) {
    if (rc == 0 && b->lines[i]) {
      if (o->tty) fprintf(stderr, "\r\033[K");
      fputs(b->lines[i], stderr);
    }
    free(b->lines[i]);
  }
  if (rc == 0) *reported += b->n;
  b->n = 0;
  return rc;
}

/* "resuming the interrupted --force sweep #N (started ...): M runs it redid
 * are kept" */
static void resume_note(FILE *f, const tb_force_resume *r, int kept, int dry_run) {
  char when[64] = "?";
  time_t t = (time_t)r->started_at;
  struct tm tm;
  if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  fprintf(f, "%s the interrupted --force sweep #%lld (started %s", dry_run ? "would resume" :
          "resuming", (long long)r->sweep_ids[0], when);
  for (int i = 1; i < r->n; i++) /* it resumed these, interrupted too */
    fprintf(f, "%s#%lld", i == 1 ? "; it resumed " : ", ", (long long)r->sweep_ids[i]);
  fprintf(f, "): %d run%s %s redid %s kept\n", kept, kept == 1 ? "" : "s", r->n > 1 ? "they" : "it",
          dry_run ? "would be" : kept == 1 ? "is" : "are");
}

/* Why a forced attempt left the recorded run as it was:
 * "kept the recorded complete run: the new attempt timed out after 3 s". */
static void kept_text(char *out, size_t n, int was, const tb_run_result *r, double limit) {
  const char *what = was == TB_RUN_DIVERGED ? "diverged " : was == TB_RUN_COMPLETE ? "complete " : "";
  if (r->status == TB_RUN_TIMEOUT)
    snprintf(out, n, "kept the recorded %srun: the new attempt timed out after %g s", what, limit);
  else if (r->status == TB_RUN_CRASHED)
    snprintf(out, n, "kept the recorded %srun: the new attempt crashed: %s", what,
             strncmp(r->error, "crashed: ", 9) == 0 ? r->error + 9 : r->error);
  else
    snprintf(out, n, "kept the recorded %srun: the new attempt failed: %s", what, r->error);
}

int tb_sweep_run(const tb_sweep *sw, tb_store *st, const tb_sweep_opts *o, tb_sweep_stats *stats,
                 char *err, size_t errlen) {
  memset(stats, 0, sizeof *stats);
  int *todo = malloc(sizeof(int) * (size_t)(sw->n_runs ? sw->n_runs : 1));
  /* per run: the result recorded before (TB_RUN_COMPLETE, TB_RUN_DIVERGED),
   * which stays if a forced attempt dies; 0 if none */
  int *was = calloc((size_t)(sw->n_runs ? sw->n_runs : 1), sizeof *was);
  if (!todo || !was) abort();
  const tb_force_resume *resume = o->force && o->resume && o->resume->n > 0 ? o->resume : NULL;
  int ntodo = 0;
  for (int i = 0; i < sw->n_runs; i++) {
    char status[32] = "";
    int64_t by = 0;
    int found = st ? tb_store_run_status(st, sw->runs[i].hash, status, sizeof status, &by) : 0;
    if (found < 0) {
      tb_errf(err, errlen, "cannot read the results database");
      free(todo);
      free(was);
      return -1;
    }
    if (found == 1 && strcmp(status, "complete") == 0) was[i] = TB_RUN_COMPLETE;
    if (found == 1 && strcmp(status, "diverged") == 0) was[i] = TB_RUN_DIVERGED;
    /* a result is skipped; with --force redone, unless an interrupted
     * --force sweep that this one resumes redid it already */
    int resumed = was[i] && resume && tb_force_resume_has(resume, by);
    int keep = was[i] && (!o->force || resumed);
    if (keep)
      stats->skipped++;
    else
      todo[ntodo++] = i;
    stats->resumed += resumed;
    if (o->dry_run) {
      char label[512];
      tb_run_label(&sw->runs[i], label, sizeof label);
      if (resumed)
        printf("skip %.12s  %s  [%s by --force sweep #%lld]\n", sw->runs[i].hash, label, status,
               (long long)by);
      else if (found == 1)
        printf("%s %.12s  %s  [%s]\n", keep ? "skip" : "run ", sw->runs[i].hash, label, status);
      else
        printf("run  %.12s  %s\n", sw->runs[i].hash, label);
    }
  }
  stats->total = ntodo;
  if (resume) resume_note(o->dry_run ? stdout : stderr, resume, stats->resumed, o->dry_run);
  if (o->dry_run) {
    if (o->force)
      printf("%d runs to do (--force), %d kept by the resumed --force sweep (of %d)\n", ntodo,
             stats->skipped, sw->n_runs);
    else
      printf("%d runs to do, %d already recorded (of %d)\n", ntodo, stats->skipped, sw->n_runs);
    free(todo);
    free(was);
    return 0;
  }
  double window;
  if (commit_seconds(&window, err, errlen)) {
    free(todo);
    free(was);
    return -1;
  }
  if (!o->tty)
    fprintf(stderr, "sweep: %d runs to do, %d already recorded, %d workers\n", ntodo,
            stats->skipped, o->jobs);

  tb_blas_set_threads(1); /* here, once: the workers inherit it (see worker_main) */
  int nslots = o->jobs < 1 ? 1 : o->jobs;
  slot *slots = calloc((size_t)nslots, sizeof(slot));
  if (!slots) abort();
  int next = 0, running = 0, rc = 0;
  double t0 = tb_now_mono();
  int lock_fd = st ? tb_store_lock_fd(st) : -1;
  struct sigaction old_chld, old_stop[N_STOP_SIGNALS];
  if (chld_open(&old_chld, err, errlen)) {
    free(slots);
    free(todo);
    free(was);
    return -1;
  }
  stop_open(old_stop);
  batch b = {0};
  int reported = 0; /* runs done and committed */
  while (next < ntodo || running > 0) {
    /* fill free slots */
    for (int i = 0; i < nslots && next < ntodo && rc == 0; i++)
      if (!slots[i].busy) {
        if (start_worker(slots, nslots, &slots[i], sw, todo[next], lock_fd, err, errlen)) {
          rc = -1;
          break;
        }
        next++;
        running++;
      }
    if (rc && running == 0) break;
    /* sleep until a worker writes, one ends (SIGCHLD), or the nearest
     * timeout; on a terminal, at least twice a second for the clock */
    struct pollfd pfd[2 * 64 + 1];
    slot *owner[2 * 64 + 1];
    int np = 0;
    pfd[np] = (struct pollfd){chld_pipe[0], POLLIN, 0};
    owner[np++] = NULL;
    double wait = o->tty ? 0.5 : 3600;
    for (int i = 0; i < nslots; i++) {
      if (!slots[i].busy) continue;
      if (slots[i].ch.fd_msg >= 0) {
        pfd[np] = (struct pollfd){slots[i].ch.fd_msg, POLLIN, 0};
        owner[np++] = &slots[i];
      }
      if (slots[i].ch.fd_out >= 0) {
        pfd[np] = (struct pollfd){slots[i].ch.fd_out, POLLIN, 0};
        owner[np++] = &slots[i];
      }
      double limit = run_limit(&sw->runs[slots[i].run], o);
      if (limit > 0 && !slots[i].timed_out) {
        double left = slots[i].started + limit - tb_now_mono();
        if (left < wait) wait = left;
      }
    }
    if (b.n > 0 && b.started + window - tb_now_mono() < wait)
      wait = b.started + window - tb_now_mono();
    int ms = wait <= 0 ? 0 : (int)(wait * 1000) + 1;
    int pr = poll(pfd, (nfds_t)np, ms);
    if (pr < 0 && errno != EINTR) {
      tb_errf(err, errlen, "poll failed: %s", strerror(errno));
      rc = -1;
    }
    for (int i = 0; i < np && pr > 0; i++) {
      if (!pfd[i].revents) continue;
      if (!owner[i])
        chld_drain();
      else if (pfd[i].fd == owner[i]->ch.fd_msg)
        tb_child_read_msg(&owner[i]->ch, parse_line, owner[i]);
      else
        tb_child_read_out(&owner[i]->ch, -1);
    }
    /* timeouts and finished workers */
    for (int i = 0; i < nslots; i++) {
      slot *s = &slots[i];
      if (!s->busy) continue;
      const tb_run_config *cfg = &sw->runs[s->run];
      double limit = run_limit(cfg, o);
      if (limit > 0 && !s->timed_out && tb_now_mono() - s->started >= limit) {
        s->timed_out = 1;
        kill(s->ch.pid, SIGKILL);
      }
      int wstatus = 0;
      struct rusage ru;
      memset(&ru, 0, sizeof ru);
      pid_t w = wait4(s->ch.pid, &wstatus, WNOHANG, &ru);
      if (w == 0) continue;
      /* take what the pipes hold, then record; a process the plugin started
       * may keep them open, so don't wait for their end */
      while (s->ch.fd_msg >= 0 && tb_child_read_msg(&s->ch, parse_line, s) > 0) {
      }
      while (s->ch.fd_out >= 0 && tb_child_read_out(&s->ch, -1) > 0) {
      }
      finish_status(s, wstatus, &ru, limit);
      char msg[TB_ERRLEN];
      /* shown (once its batch commits) only when its rows went into the
       * batch: after an error nothing more is recorded, so nothing more may
       * be shown as done (a run that ended after a failed commit was shown
       * once by the commit of an empty batch, yet never recorded) */
      int recorded = !st;
      if (st && rc == 0 && !tb_store_in_batch(st)) {
        if (tb_store_batch_begin(st, msg, sizeof msg) == 0) {
          b.started = tb_now_mono();
        } else {
          tb_errf(err, errlen, "%s", msg);
          rc = -1;
        }
      }
      int put = 0; /* 1: a forced attempt that died, the recorded result kept */
      if (st && rc == 0) {
        if ((put = tb_store_put_run(st, cfg, &s->res, msg, sizeof msg)) < 0) {
          tb_errf(err, errlen, "%s", msg); /* it names the run */
          rc = -1;
          /* the batch was rolled back: none of its runs is recorded or reported */
          for (int k = 0; k < b.n; k++) free(b.lines[k]);
          b.n = 0;
        } else {
          recorded = 1;
        }
      }
      stats->done++;
      switch (s->res.status) {
      case TB_RUN_COMPLETE: stats->complete++; break;
      case TB_RUN_DIVERGED: stats->diverged++; break;
      default: stats->failed++; stats->kept += put == 1;
      }
      char *line = NULL;
      if (recorded && (!o->tty || s->res.status != TB_RUN_COMPLETE)) {
        char label[512];
        tb_run_label(cfg, label, sizeof label);
        int n;
        char why[TB_ERRLEN + 80];
        if (put == 1) {
          kept_text(why, sizeof why, was[s->run], &s->res, limit);
          if (!stats->kept_first[0])
            snprintf(stats->kept_first, sizeof stats->kept_first, "%.400s: %.600s", label, why);
        }
        if (s->res.status == TB_RUN_COMPLETE)
          n = asprintf(&line, "[%d/%d] %-8s %s  val.accuracy=%.4g (%.1fs)\n", stats->done,
                       stats->total, tb_status_name(s->res.status), label,
                       final_metric(&s->res, "val", "accuracy"), s->res.wall_seconds);
        else if (put == 1)
          n = asprintf(&line, "[%d/%d] %-8s %s (%.1fs)  %s\n", stats->done, stats->total,
                       tb_status_name(s->res.status), label, s->res.wall_seconds, why);
        else /* no metric: the last one measured is not a result */
          n = asprintf(&line, "[%d/%d] %-8s %s (%.1fs)  %s\n", stats->done, stats->total,
                       tb_status_name(s->res.status), label, s->res.wall_seconds,
                       s->res.error);
        if (n < 0) abort();
      }
      if (recorded) batch_add(&b, line);
      tb_result_free(&s->res);
      s->busy = 0;
      running--;
      tb_child_close(&s->ch);
    }
    /* commit when the batch is old enough, full, or nothing else is coming */
    int last = running == 0 && (next >= ntodo || rc);
    if (b.n > 0 && (last || rc || stop_signal || b.n >= BATCH_RUNS ||
                    tb_now_mono() - b.started >= window)) {
      char msg[TB_ERRLEN];
      if (batch_commit(&b, st, o, &reported, msg, sizeof msg)) {
        tb_errf(err, errlen, "%s", msg);
        rc = -1;
      }
    }
    if (stop_signal) { /* the batch is in the file: die of the signal as before */
      stop_close(old_stop);
      chld_close(&old_chld);
      raise(stop_signal);
    }
    progress(o, reported, stats->total, running, stats->failed + stats->diverged,
             tb_now_mono() - t0, 0);
  }
  if (b.n > 0) { /* an error ended the sweep with a batch open */
    char msg[TB_ERRLEN];
    if (batch_commit(&b, st, o, &reported, msg, sizeof msg) && rc == 0) {
      tb_errf(err, errlen, "%s", msg);
      rc = -1;
    }
  }
  free(b.lines);
  stop_close(old_stop);
  chld_close(&old_chld);
  progress(o, reported, stats->total, 0, stats->failed + stats->diverged, tb_now_mono() - t0,
           1);
  free(slots);
  free(todo);
  free(was);
  return rc;
}
