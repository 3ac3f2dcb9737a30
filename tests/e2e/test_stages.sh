#!/bin/sh
# The training step's stages (issue 8, first part): corruption, transform
# and reduction as built-in components, in real runs:
#   - a stage left out and the same stage at its default hash equal, and as
#     runs recorded before the stages existed (left out of the identity)
#   - label_noise, mixup and small_loss runs complete, counted in counters
#   - mixup with a loss that does not read soft targets is refused at load
#   - the core's series: gradient and update norms, lr factor and lr
#   - run labels and `trainbench runs` name the stages that are not at their
#     defaults
. "$(dirname "$0")/lib.sh"
DB="$WORK/s.db"
base='data = tb.data.wine {}, model = tb.model.mlp { hidden = { 8 } }, loss = "cross_entropy",
  optimizer = tb.optimizer("sgd", { lr = 0.1 }), epochs = 2, batch_size = 16'
cat >"$WORK/a.lua" <<LUA
local tb = require "trainbench"
tb.scenario { name = "s", $base }
LUA
cat >"$WORK/b.lua" <<LUA
local tb = require "trainbench"
tb.scenario { name = "s", $base, corruption = tb.corruption.none {},
  transform = tb.transform.none {}, reduction = tb.reduction.mean {} }
LUA
cat >"$WORK/c.lua" <<LUA
local tb = require "trainbench"
tb.scenario { name = "s", $base,
  corruption = tb.corruption.label_noise { rate = 0.4, kind = "pair" },
  transform = tb.transform.mixup { alpha = 0.4 },
  reduction = tb.reduction.small_loss { forget = 0.3, ramp = 1 } }
LUA
cat >"$WORK/bad.lua" <<LUA
local tb = require "trainbench"
tb.scenario { name = "s", data = tb.data.wine {}, loss = "hinge", optimizer = "sgd", epochs = 1,
  transform = tb.transform.mixup {} }
LUA
"$TB" run "$WORK/a.lua" --db "$DB" >/dev/null 2>&1
"$TB" run "$WORK/b.lua" --db "$DB" >"$WORK/out" 2>&1
has "defaults spelled out: the same run, skipped" "$(cat "$WORK/out")" "1 already recorded"
eq "no stage rows for a default run" \
  "$(q "$DB" "SELECT count(*) FROM params WHERE component IN ('corruption', 'transform', 'reduction')")" 0
"$TB" run "$WORK/c.lua" --db "$DB" >/dev/null 2>&1
eq "the staged run completes" "$(q "$DB" "SELECT count(*) FROM runs WHERE status = 'complete'")" 2
eq "its stages are params" \
  "$(q "$DB" "SELECT group_concat(component || '.' || key || '=' || value, ' ') FROM (SELECT * FROM params
              WHERE component IN ('corruption', 'transform', 'reduction') ORDER BY component, key)")" \
  "corruption.kind=pair corruption.name=label_noise corruption.rate=0.4 reduction.forget=0.3 reduction.name=small_loss reduction.ramp=1.0 transform.alpha=0.4 transform.name=mixup"
eq "labels flipped and rows dropped are counted" \
  "$(q "$DB" "SELECT group_concat(name, ' ') FROM (SELECT name FROM counters WHERE name IN
              ('corruption.changed', 'reduction.dropped') AND value > 0 ORDER BY name)")" \
  "corruption.changed reduction.dropped"
eq "the core's series of every run" \
  "$(q "$DB" "SELECT group_concat(name, ' ') FROM (SELECT DISTINCT name FROM series ORDER BY name)")" \
  "train.grad_norm train.loss train.lr train.lr_factor train.update_norm"
eq "train.lr is lr x factor (constant schedule: 0.1)" \
  "$(q "$DB" "SELECT DISTINCT value FROM series WHERE name = 'train.lr'")" 0.1
has "run labels (--dry-run, progress) name the stages" "$("$TB" run "$WORK/c.lua" --dry-run --db "$WORK/dry.db")" \
  "corruption=label_noise(rate=0.4,kind=pair) transform=mixup(alpha=0.4) reduction=small_loss(forget=0.3,ramp=1) seed=1"
has "... and leave out a stage at its default" "$("$TB" run "$WORK/b.lua" --dry-run --db "$WORK/dry.db")" \
  "s cross_entropy/sgd lr=0.1 data=wine model=mlp(hidden=[8]) seed=1"
eq "runs: settings name the stages" \
  "$("$TB" runs --db "$DB" --csv | awk -F, 'NR > 1 { print $5 }' | sort | tr '\n' '|')" \
  "lr=0.1|lr=0.1 corruption=label_noise corruption.rate=0.4 corruption.kind=pair reduction=small_loss reduction.forget=0.3 reduction.ramp=1.0 transform=mixup transform.alpha=0.4|"
"$TB" run "$WORK/bad.lua" --db "$WORK/bad.db" >"$WORK/out" 2>&1
eq "mixup with hinge: refused (status 1)" "$?" 1
has "... naming the loss and why" "$(cat "$WORK/out")" \
  "loss 'hinge' does not read soft targets (TB_LOSS_SOFT_TARGETS)"
done_checks
