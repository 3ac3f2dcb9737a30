/*
 * sweep.h — running a sweep of resolved runs in worker processes, and the
 * protocol a worker reports its run's result with (described in sweep.c).
 *
 * Provides: tb_sweep_check_components, tb_sweep_run, tb_run_label,
 * tb_worker_send, tb_worker_parse.
 */
#ifndef TB_SWEEP_H
#define TB_SWEEP_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "script.h"
#include "store.h"

typedef struct tb_sweep_opts {
  int jobs;        /* worker processes */
  int force;       /* rerun everything; a new result replaces the recorded one
                      unless the new attempt crashed, timed out or failed */
  const tb_force_resume *resume; /* with force: the interrupted forced sweeps
                      whose complete and diverged runs are kept (may be NULL) */
  int dry_run;     /* list the runs, train nothing */
  double timeout;  /* seconds per run unless the scenario sets one; 0 = none */
  int tty;         /* stderr is a terminal: one progress line */
} tb_sweep_opts;

typedef struct tb_sweep_stats {
  int total;       /* runs to do */
  int done, complete, diverged, skipped;
  int failed;      /* crashed, timeout or failed */
  int kept;        /* of those, forced attempts whose recorded complete or
                      diverged run was kept */
  int resumed;     /* of skipped, runs kept from the resumed forced sweeps */
  char kept_first[1024]; /* "label: kept the recorded ... run: the new attempt ..." */
} tb_sweep_stats;

/* Probe the fingerprint of every loss and optimizer the sweep uses and
 * compare it with the builds `st` recorded under the same name and version
 * (st NULL: nothing to do). A build that computes other numbers than one
 * recorded with runs the sweep would skip is an error naming both. With
 * force nothing is skipped but the runs of the sweeps `resume` resumes (may
 * be NULL): there a difference is a warning, and `resume` is emptied (every
 * run is redone). With `record`, register the components with their
 * fingerprints for the runs to come. A component whose probe fails (crash,
 * hang) is a warning: its runs are recorded without a fingerprint. */
int tb_sweep_check_components(const tb_sweep *sw, tb_store *st, int force,
                              tb_force_resume *resume, int record, char *err, size_t errlen);
/* st may be NULL only with dry_run. Returns 0 when the sweep ran to the end
 * (whatever the runs' statuses), -1 on an error of the sweep itself. */
int tb_sweep_run(const tb_sweep *sw, tb_store *st, const tb_sweep_opts *o, tb_sweep_stats *stats,
                 char *err, size_t errlen);
/* What of a result a worker has sent (all zero at the start of a run). */
typedef struct tb_worker_sent {
  int metrics, times, points, cells, bins;
} tb_worker_sent;
/* Write to out the messages of what res holds that was not sent yet, and,
 * with `end`, the series intervals, counters, the run's record and END. */
void tb_worker_send(FILE *out, const tb_run_result *res, tb_worker_sent *sent, int end);
/* Read one line (without its newline; the buffer is cut into words) into r:
 * 1 for END, 0 for any other message, -1 for a line that cannot be read
 * exactly, with the line in err. */
int tb_worker_parse(tb_run_result *r, char *line, char *err, size_t errlen);

/* "scenario loss/optimizer k=v ... seed=N" with the values that differ from defaults. */
void tb_run_label(const tb_run_config *c, char *out, size_t n);

#endif
