#!/bin/sh
# Same script and seed -> bit-identical metrics, whatever -j and the order of
# the grid; paired comparisons: for one seed every loss and optimizer starts
# from the same split and the same initial weights.
. "$(dirname "$0")/lib.sh"
DUMP="SELECT r.config_hash, m.epoch, m.split, m.name, m.value FROM metrics m JOIN runs r ON r.id = m.run_id ORDER BY 1, 2, 3, 4"

"$TB" run "$E2E/small.lua" --db "$WORK/a.db" -j 1 >/dev/null 2>&1
"$TB" run "$E2E/small.lua" --db "$WORK/b.db" -j 2 >/dev/null 2>&1
"$TB" run "$E2E/small_reordered.lua" --db "$WORK/c.db" -j 2 >/dev/null 2>&1
"$TB" query --db "$WORK/a.db" --csv "$DUMP" > "$WORK/a.csv"
"$TB" query --db "$WORK/b.db" --csv "$DUMP" > "$WORK/b.csv"
"$TB" query --db "$WORK/c.db" --csv "$DUMP" > "$WORK/c.csv"
eq "metrics recorded" "$(wc -l < "$WORK/a.csv")" 1513
ok "-j1 and -j2 give identical metrics" cmp "$WORK/a.csv" "$WORK/b.csv"
ok "a reordered grid gives identical metrics" cmp "$WORK/a.csv" "$WORK/c.csv"
# the final evaluation's confusion counts and calibration bins, to the bit
FINAL="SELECT r.config_hash, c.split, c.true_class, c.pred_class, c.count FROM confusion c JOIN runs r ON r.id = c.run_id ORDER BY 1, 2, 3, 4;
SELECT r.config_hash, b.split, b.bin, b.count, b.correct, printf('%!.17g', b.confidence) FROM calibration b JOIN runs r ON r.id = b.run_id ORDER BY 1, 2, 3"
for d in a b c; do "$TB" query --db "$WORK/$d.db" --csv "$FINAL" > "$WORK/$d.final"; done
ok "confusion and calibration rows recorded" [ "$(wc -l < "$WORK/a.final")" -gt 50 ]
ok "-j1, -j2 and a reordered grid give identical confusion and calibration rows" \
  sh -c "cmp '$WORK/a.final' '$WORK/b.final' && cmp '$WORK/a.final' '$WORK/c.final'"

# paired: at epoch 0 (before training) every run of a seed has the same
# accuracy/nll/brier/ece on every split (same split, same initial weights)
eq "epoch-0 metrics identical across losses and optimizers of a seed" \
  "$(q "$WORK/a.db" "SELECT max(c) FROM (SELECT count(DISTINCT m.value) AS c FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.epoch = 0 AND m.name != 'loss' GROUP BY r.seed, m.split, m.name)")" 1
eq "epoch-0 metrics differ between seeds" \
  "$(q "$WORK/a.db" "SELECT count(DISTINCT m.value) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE m.epoch = 0 AND m.split = 'val' AND m.name = 'nll'")" 2
done_checks
