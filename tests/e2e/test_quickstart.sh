#!/bin/sh
# The README's quickstart sweep, run whole: every run completes, and for
# Adam + cross-entropy on digits the configuration chosen on validation
# reaches a mean test accuracy of at least 0.96.
. "$(dirname "$0")/lib.sh"
DB="$WORK/q.db"
"$TB" run "$SRC/scripts/quickstart.lua" --db "$DB" -j 2 >"$WORK/out" 2>&1
eq "quickstart exits 0" "$?" 0
eq "200 runs, all complete" "$(q "$DB" "SELECT count(*) || ' ' || sum(status = 'complete') FROM runs")" "200 200"
best=$(q "$DB" "
  WITH per_config AS (
    SELECT json_remove(r.config, '\$.seed') AS cfg,
           avg(CASE WHEN f.split = 'val' THEN f.value END) AS val,
           avg(CASE WHEN f.split = 'test' THEN f.value END) AS test
    FROM runs r JOIN final_metrics f ON f.run_id = r.id AND f.name = 'accuracy'
    WHERE r.loss = 'cross_entropy' AND r.optimizer = 'adam' AND r.status = 'complete'
    GROUP BY cfg)
  SELECT printf('%.4f', test) FROM per_config ORDER BY val DESC LIMIT 1")
echo "      adam + cross_entropy, chosen on val: mean test accuracy $best"
ok "adam + cross_entropy reaches mean test accuracy >= 0.96" awk "BEGIN { exit !($best >= 0.96) }"
has "the summary names it" "$(cat "$WORK/out")" "cross_entropy  adam"
done_checks
