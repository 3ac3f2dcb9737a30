#!/bin/sh
# A small sweep into a temporary database: runs recorded, queried, skipped on
# rerun, replaced with --force, listed with --dry-run, summarized.
. "$(dirname "$0")/lib.sh"
DB="$WORK/r.db"

out=$("$TB" run "$E2E/small.lua" --db "$DB" -j 2 2>&1)
eq "sweep exits 0" "$?" 0
has "end-of-run summary printed" "$out" "cross_entropy"
eq "8 runs recorded" "$(q "$DB" "SELECT count(*) FROM runs")" 8
eq "all complete" "$(q "$DB" "SELECT count(*) FROM runs WHERE status = 'complete'")" 8
eq "metrics for epochs 0..6, 3 splits, 9 names" "$(q "$DB" "SELECT count(*) FROM metrics WHERE run_id = (SELECT min(id) FROM runs)")" 189
eq "final_metrics has the last epoch" "$(q "$DB" "SELECT count(*) FROM final_metrics f JOIN metrics m ON m.run_id = f.run_id AND m.split = f.split AND m.name = f.name AND m.epoch = 6 AND m.value = f.value")" 216
# the final evaluation's confusion counts and calibration bins agree with the final metrics
eq "confusion counts cover each split once (90/30/30 rows of iris)" \
  "$(q "$DB" "SELECT group_concat(s, ' ') FROM (SELECT DISTINCT split || '=' || n AS s FROM (SELECT run_id, split, sum(count) AS n FROM confusion GROUP BY 1, 2) ORDER BY s)")" "test=30 train=90 val=30"
eq "their diagonal is the final accuracy, at the last epoch" \
  "$(q "$DB" "SELECT count(*) FROM final_metrics f JOIN (SELECT run_id, split, max(epoch) AS e, 1.0 * sum(CASE WHEN true_class = pred_class THEN count END) / sum(count) AS acc FROM confusion GROUP BY 1, 2) c ON c.run_id = f.run_id AND c.split = f.split WHERE f.name = 'accuracy' AND c.e = 6 AND abs(c.acc - f.value) < 1e-12")" 24
eq "calibration bins give back ece, mce and the accuracy" \
  "$(q "$DB" "SELECT count(*) FROM (SELECT run_id, split, sum(abs(correct - count * confidence)) / sum(count) AS ece, max(abs(1.0 * correct / count - confidence)) AS mce, 1.0 * sum(correct) / sum(count) AS acc FROM calibration GROUP BY 1, 2) b JOIN final_metrics e ON e.run_id = b.run_id AND e.split = b.split AND e.name = 'ece' JOIN final_metrics m ON m.run_id = b.run_id AND m.split = b.split AND m.name = 'mce' JOIN final_metrics a ON a.run_id = b.run_id AND a.split = b.split AND a.name = 'accuracy' WHERE abs(b.ece - e.value) < 1e-12 AND abs(b.mce - m.value) < 1e-12 AND abs(b.acc - a.value) < 1e-12")" 24
eq "every metric of the registry is a column of results" \
  "$(q "$DB" "SELECT count(*) FROM results WHERE \"test.balanced_accuracy\" BETWEEN 0 AND 1 AND \"val.macro_f1\" BETWEEN 0 AND 1 AND \"train.worst_class_accuracy\" <= \"train.balanced_accuracy\" AND \"test.mce\" >= \"test.ece\" AND \"best.val.mce\" IS NOT NULL")" 8
eq "timings per training epoch" "$(q "$DB" "SELECT count(*) FROM timings")" 48
eq "params typed: lr is a real" "$(q "$DB" "SELECT DISTINCT typeof(value) FROM params WHERE component = 'optimizer' AND key = 'lr'")" real
eq "provenance per run: data, model, loss, optimizer, schedule" "$(q "$DB" "SELECT count(*) FROM run_plugins")" 40
eq "one group per configuration, seeds paired" "$(q "$DB" "SELECT count(DISTINCT group_hash) || ' ' || count(*) FROM runs")" "4 8"
eq "the run's own compute time and CPU time, apart from its wall time" "$(q "$DB" "SELECT count(*) FROM runs WHERE compute_seconds > 0 AND cpu_seconds >= 0 AND compute_seconds <= wall_seconds")" 8
eq "the training loss series, sampled every step here" "$(q "$DB" "SELECT DISTINCT (SELECT count(*) FROM series s WHERE s.run_id = r.id AND s.name = 'train.loss') || ' ' || (SELECT every FROM series_info i WHERE i.run_id = r.id AND i.name = 'train.loss') FROM runs r")" "36 1"
eq "time counters" "$(q "$DB" "SELECT count(*) FROM counters WHERE name IN ('time.setup', 'time.train', 'time.eval')")" 24
eq "the sweep is recorded and referenced" "$(q "$DB" "SELECT count(*) FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE s.finished_at >= s.started_at AND s.command LIKE 'trainbench run %small.lua%'")" 8
eq "results view: one row per run, readable columns" "$(q "$DB" "SELECT count(*) FROM results WHERE \"optimizer.lr\" IN (0.1, 0.01) AND \"test.accuracy\" > 0")" 8
eq "environment recorded" "$(q "$DB" "SELECT count(*) > 0 FROM environment e JOIN runs r ON r.environment_id = e.id")" 1
eq "scenario script stored" "$(q "$DB" "SELECT script_text LIKE '%small.lua%' FROM scenarios WHERE name = 'small'")" 1
# iris train split: 90 rows, batch 16 -> 6 steps per epoch, 36 in all
eq "steps and evaluation counts" "$(q "$DB" "SELECT DISTINCT steps || ' ' || loss_evals || ' ' || grad_evals || ' ' || jvp_evals FROM runs")" "36 36 36 0"
eq "config JSON is valid and names the loss" "$(q "$DB" "SELECT count(*) FROM runs WHERE json_extract(config, '\$.loss.name') = loss")" 8
acc=$(q "$DB" "SELECT round(avg(value), 2) >= 0.8 FROM final_metrics WHERE split = 'test' AND name = 'accuracy'")
eq "models actually learn iris (mean test accuracy >= 0.8)" "$acc" 1

out=$("$TB" run "$E2E/small.lua" --db "$DB" 2>&1)
has "rerun skips recorded runs" "$out" "0 runs to do, 8 already recorded"
eq "no new runs" "$(q "$DB" "SELECT count(*) FROM runs")" 8

out=$("$TB" run "$E2E/small_reordered.lua" --db "$DB" 2>&1)
has "an equivalent script written differently maps to the same runs" "$out" "0 runs to do, 8 already recorded"

out=$("$TB" run "$E2E/small.lua" --db "$DB" --dry-run 2>&1)
has "dry run lists runs to skip" "$out" "8 already recorded"
has "dry run labels runs" "$out" "small brier/adam"

before=$(q "$DB" "SELECT group_concat(id) FROM runs")
out=$("$TB" run "$E2E/small.lua" --db "$DB" --force -j 1 2>&1)
has "--force reruns everything" "$out" "8 runs done (8 complete"
eq "still 8 runs after --force" "$(q "$DB" "SELECT count(*) FROM runs")" 8
ok "--force replaced the rows" [ "$before" != "$(q "$DB" "SELECT group_concat(id) FROM runs")" ]

# on a terminal: one progress line, redrawn in place (script(1) gives a pty)
out=$(script -qec "'$TB' run '$E2E/small.lua' --db '$WORK/tty.db' -j 2" /dev/null 2>&1 | tr '\r' '\n')
has "terminal: progress line with done/total, running, failed, elapsed, ETA" "$out" "[8/8] running 0, failed 0, elapsed 0:0"
eq "terminal: no per-run lines for complete runs" "$(printf '%s\n' "$out" | grep -c '] complete ')" 0

out=$("$TB" summary --db "$DB" 2>&1)
has "summary shows test mean +- sd" "$out" "±"
out=$("$TB" query --db "$DB" --json "SELECT loss, count(*) AS n FROM runs GROUP BY loss ORDER BY loss")
eq "query --json" "$(echo $out | tr -d ' ')" '[{"loss":"brier","n":4},{"loss":"cross_entropy","n":4}]'
eq "integrity_check" "$(q "$DB" "PRAGMA integrity_check")" ok
out=$(TRAINBENCH_DB="$DB" "$TB" query "SELECT count(*) AS n FROM runs")
has "TRAINBENCH_DB selects the database" "$out" "8"
out=$("$TB" query --db "$DB" "DELETE FROM runs" 2>&1)
has "query opens the database read-only" "$out" "read-only"
done_checks
