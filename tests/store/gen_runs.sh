#!/bin/sh
# gen_runs.sh TRAINBENCH OUT.db [REPLICAS] [SCENARIOS] — a large results database for
# measuring the reading side (summary, views, queries): REPLICAS x 200 runs (default
# 500 x 200 = 100 000) made from one real 200-run sweep (gen_runs.lua, about 3 s on 2
# cores). Replica k is that sweep with every lr multiplied by (1 + k/1000) — 40 new
# configurations of 5 seeds — in scenario gen<k % SCENARIOS> (default 10), its metric
# values moved a little (deterministically) so that configurations rarely tie; every
# tenth replica of a scenario belongs only to an older version of its script (so it is
# not current), and every seventh run is also in that older version. Every table keeps
# its rows consistent with its runs (ids, hashes, params, metrics and final values,
# series, confusion counts, scenario versions): PRAGMA foreign_key_check passes.
# Needs the sqlite3 shell. 100 000 runs take about 3 minutes and 2.2 GB.
# Not a test: tests/store/test_views.c pins the answers, this only makes them slow.
set -eu
TB=$1; OUT=$2; R=${3:-500}; S=${4:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -f "$OUT" "$OUT-wal" "$OUT-shm"
TRAINBENCH_PLUGIN_PATH="" "$TB" run "$HERE/gen_runs.lua" --db "$OUT" -j 2 >/dev/null 2>&1
sqlite3 "$OUT" >/dev/null <<SQL
PRAGMA foreign_keys = OFF;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
BEGIN;
CREATE TEMP TABLE ks(k INTEGER PRIMARY KEY);
WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < $R - 1) INSERT INTO ks SELECT k FROM c;
CREATE TEMP TABLE base AS SELECT * FROM runs;
-- scenario versions: gen0..gen(S-1), each with an old version and the current one
CREATE TEMP TABLE sv AS SELECT (SELECT script_text FROM scenarios) AS t, (SELECT first_seen FROM scenarios) AS f;
DELETE FROM scenario_configs; DELETE FROM scenarios;
WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $S - 1)
INSERT INTO scenarios(id, name, script_hash, script_path, script_text, first_seen, last_seen)
SELECT 1 + 2 * i, 'gen' || i, 'old' || i, 'gen_runs.lua', (SELECT t FROM sv), (SELECT f FROM sv) - 86400, (SELECT f FROM sv) - 86400 FROM s
UNION ALL SELECT 2 + 2 * i, 'gen' || i, 'new' || i, 'gen_runs.lua', (SELECT t FROM sv), (SELECT f FROM sv), (SELECT f FROM sv) FROM s;
-- replica 0 is the sweep itself, renamed gen0
UPDATE runs SET scenario = 'gen0', config = json_set(config, '\$.scenario', 'gen0');
INSERT INTO runs(id, scenario, status, seed, loss, optimizer, model, dataset, config, config_hash, group_hash, sweep_id, started_at, finished_at, wall_seconds, compute_seconds, cpu_seconds, steps, loss_evals, grad_evals, jvp_evals, error, environment_id)
SELECT b.id + 1000 * k.k, 'gen' || (k.k % $S), status, seed, loss, optimizer, model, dataset,
 json_set(config, '\$.optimizer.hp.lr', json_extract(config, '\$.optimizer.hp.lr') * (1 + k.k / 1000.0), '\$.scenario', 'gen' || (k.k % $S)),
 config_hash || '-' || k.k, group_hash || '-' || k.k, sweep_id, started_at + k.k, finished_at + k.k, wall_seconds, compute_seconds, cpu_seconds, steps, loss_evals, grad_evals, jvp_evals, error, environment_id
FROM base b, ks k;
INSERT INTO scenario_configs SELECT CASE WHEN (r.id / 1000 / $S) % 10 = 9 THEN 1 ELSE 2 END + 2 * (r.id / 1000 % $S), r.config_hash FROM runs r;
-- a few older-version configurations are also in the current version (kept current)
INSERT OR IGNORE INTO scenario_configs SELECT 1 + 2 * (r.id / 1000 % $S), r.config_hash FROM runs r WHERE r.id % 7 = 0;
INSERT INTO params(run_id, component, key, num, text)
SELECT p.run_id + 1000 * k.k, component, key, CASE WHEN component = 'optimizer' AND key = 'lr' THEN num * (1 + k.k / 1000.0) ELSE num END, text FROM params p, ks k ORDER BY k.k, p.rowid;
-- metric values move a little per replica (deterministic), so replicas are not ties
INSERT INTO metrics SELECT m.run_id + 1000 * k.k, epoch, split, name, CASE WHEN value IS NULL THEN NULL ELSE value * (1 - 0.02 * (((m.run_id + 1000 * k.k) * 2654435761) % 1009) / 1009.0) END, flag FROM metrics m, ks k;
INSERT INTO final_metrics SELECT f.run_id + 1000 * k.k, split, name, epoch, CASE WHEN value IS NULL THEN NULL ELSE value * (1 - 0.02 * (((f.run_id + 1000 * k.k) * 2654435761) % 1009) / 1009.0) END, flag FROM final_metrics f, ks k;
INSERT INTO best_metrics SELECT f.run_id + 1000 * k.k, selected_by, epoch, split, name, CASE WHEN value IS NULL THEN NULL ELSE value * (1 - 0.02 * (((f.run_id + 1000 * k.k) * 2654435761) % 1009) / 1009.0) END, flag FROM best_metrics f, ks k;
INSERT INTO timings SELECT run_id + 1000 * k.k, epoch, seconds FROM timings, ks k;
INSERT INTO run_components SELECT run_id + 1000 * k.k, role, component_id FROM run_components, ks k;
INSERT INTO series SELECT run_id + 1000 * k.k, name, step, value, flag FROM series, ks k;
INSERT INTO series_info SELECT run_id + 1000 * k.k, name, every FROM series_info, ks k;
INSERT INTO counters SELECT run_id + 1000 * k.k, name, value FROM counters, ks k;
INSERT INTO confusion SELECT run_id + 1000 * k.k, split, epoch, true_class, pred_class, count FROM confusion, ks k;
INSERT INTO calibration SELECT run_id + 1000 * k.k, split, epoch, bin, lo, hi, count, correct, confidence, flag FROM calibration, ks k;
COMMIT;
PRAGMA foreign_key_check;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
sqlite3 "$OUT" "SELECT count(*), count(DISTINCT group_hash), count(DISTINCT scenario) FROM runs"
