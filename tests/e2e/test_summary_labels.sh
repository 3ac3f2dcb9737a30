#!/bin/sh
# The config column of `trainbench summary` tells the configurations of a
# scenario apart, in real runs:
#   - a stage left out (or at its default) is labelled by its default
#     component (corruption=none, transform=none, reduction=mean) beside the
#     configurations that have one, which show it with their settings:
#     transform=mixup(alpha=0.4), corruption=label_noise(rate=0.3,kind=...)
#   - each label is on its own configuration's row (its accuracies)
#   - an optional value left out is labelled none (data=wine(split_seed=none))
#   - a wrapper's base shows the setting the same optimizer is tuned on
#     unwrapped (optimizer.base.lr=0.01 beside adam's lr=0.001 and lr=0.01)
#   - runs recorded by an older build, which lack rows newer builds write
#     (the model's head), take those rows' defaults: no spurious labels
. "$(dirname "$0")/lib.sh"
DB="$WORK/l.db"
cat >"$WORK/l.lua" <<'LUA'
local tb = require "trainbench"
local function scenario(t)
  t.data = t.data or tb.data.wine {}
  t.model = tb.model.mlp { hidden = { 8 } }
  t.loss = t.loss or "cross_entropy"
  t.optimizer = t.optimizer or tb.optimizer("sgd", { lr = 0.1 })
  t.epochs, t.batch_size = 3, 16
  tb.scenario(t)
end
scenario { name = "stages",
  corruption = tb.grid { tb.corruption.none {}, tb.corruption.label_noise { rate = 0.3 } },
  transform = tb.grid { tb.transform.none {}, tb.transform.mixup { alpha = 0.4 } } }
scenario { name = "reduction", optimizer = tb.optimizer("sgd", { lr = tb.grid { 0.1, 0.05 } }),
  reduction = tb.grid { tb.reduction.mean {}, tb.reduction.small_loss { forget = 0.2 } } }
scenario { name = "split", data = tb.grid { tb.data.wine {}, tb.data.wine { split_seed = 3 } } }
scenario { name = "base", optimizer = tb.grid {
  tb.optimizer("adam", { lr = tb.grid { 1e-3, 1e-2 } }),
  tb.optimizer("lookahead", { base = tb.optimizer("adam", { lr = 1e-2 }) }) } }
LUA
"$TB" run "$WORK/l.lua" --db "$DB" -j 2 >"$WORK/out" 2>&1
eq "run: status 0" "$?" 0

# rows SCENARIO [DB]: "config|val acc|test acc" of each summary row (one seed:
# no sd), sorted; the config column is cut where the header puts it
rows() {
  "$TB" summary --db "${2:-$DB}" --scenario "$1" | awk -v s="$1" '
    NR == 1 { c = index($0, "config"); v = index($0, "val acc") }
    $1 == s { label = substr($0, c, v - c); sub(/ +$/, "", label)
              split(substr($0, v), rest, " "); print label "|" rest[1] "|" rest[2] }' | sort
}
labels() { rows "$@" | cut -d'|' -f1; }
eq "stages: one label per configuration, the default stages named" "$(labels stages | tr '\n' ';')" \
  "corruption=label_noise(rate=0.3,kind=symmetric) transform=mixup(alpha=0.4);corruption=label_noise(rate=0.3,kind=symmetric) transform=none;corruption=none transform=mixup(alpha=0.4);corruption=none transform=none;"
# the same rows from the database: each configuration's stages and accuracies
from_db() {
  q "$DB" "SELECT (SELECT coalesce(max(value), 'none') FROM params WHERE run_id = c.example_run
             AND component = 'corruption' AND key = 'name') || ' ' ||
           (SELECT coalesce(max(value), 'none') FROM params WHERE run_id = c.example_run
             AND component = 'transform' AND key = 'name') || '|' ||
           printf('%.4f|%.4f', c.val_accuracy, c.test_accuracy) AS row
           FROM current_configs c WHERE c.scenario = 'stages'" | sort
}
eq "... with accuracies that tell every configuration apart" \
  "$(from_db | cut -d'|' -f2,3 | sort -u | wc -l)" 4
# same DESC A B: two outputs equal and not empty
same() {
  if [ -z "$2" ]; then eq "$1" "(empty)" "(not empty)"
  elif [ "$2" = "$3" ]; then eq "$1" "$(printf '%s\n' "$2" | wc -l) equal lines" "$(printf '%s\n' "$3" | wc -l) equal lines"
  else eq "$1" "$2" "$3"; fi
}
same "... each label on its own configuration's row" \
  "$(rows stages | sed 's/corruption=\([a-z_]*\)[^ ]* transform=\([a-z_]*\)[^|]*/\1 \2/' | sort)" \
  "$(from_db)"
eq "reduction: mean beside small_loss and its settings" "$(labels reduction | tr '\n' ';')" \
  "lr=0.05 reduction=mean;lr=0.05 reduction=small_loss(forget=0.2,ramp=10);lr=0.1 reduction=mean;lr=0.1 reduction=small_loss(forget=0.2,ramp=10);"
eq "split: an optional value left out is none" "$(labels split | tr '\n' ';')" \
  "data=wine(split_seed=3);data=wine(split_seed=none);"
eq "base: the base's lr beside adam's own" "$(labels base | tr '\n' ';')" \
  "lr=0.001;lr=0.01;optimizer.base.lr=0.01;"

# schema3.db's scenario v3 (tests/store/fixtures/v3.lua: runs without the
# model's head row) and one more learning rate, recorded now (with it)
cp "$SRC/tests/store/fixtures/schema3.db" "$WORK/old.db"
cat >"$WORK/v3.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario {
  name = "v3",
  data = tb.data.iris { split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.mlp { hidden = { 8 } },
  loss = "cross_entropy",
  optimizer = tb.grid { tb.optimizer("sgd", { lr = 0.1 }),
                        tb.optimizer("adam", { lr = tb.grid { 0.01, 0.02 } }) },
  epochs = 2, batch_size = 16, seeds = { 1, 2 },
}
LUA
"$TB" run "$WORK/v3.lua" --db "$WORK/old.db" >"$WORK/out" 2>&1
has "the older build's runs are skipped" "$(cat "$WORK/out")" "4 already recorded"
eq "... which lack the head row the new ones have" \
  "$(q "$WORK/old.db" "SELECT count(*) || ' ' || count(p.run_id) FROM runs r LEFT JOIN params p
                       ON p.run_id = r.id AND p.component = 'model' AND p.key = 'head'
                       WHERE r.scenario = 'v3'")" "6 2"
eq "the model's hyperparameter rows, written by the older build, gain its head" \
  "$(q "$WORK/old.db" "SELECT group_concat(h.name, ' ') FROM (SELECT h.name FROM components c
                       JOIN component_hparams h ON h.component_id = c.id
                       WHERE c.kind = 'model' AND c.name = 'mlp' ORDER BY h.position) h")" \
  "hidden activation init head"
eq "old and new configurations labelled by their learning rates alone" \
  "$(labels v3 "$WORK/old.db" | tr '\n' ';')" "lr=0.01;lr=0.02;lr=0.1;"
done_checks
