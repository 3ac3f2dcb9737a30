#!/bin/sh
# `trainbench slurm --submit` on a real SLURM cluster: one node on loopback
# (slurmctld, slurmd and munged from Debian's packages, a generated
# slurm.conf, private ports, folders and munge key), a 3-task array of the
# shard sweep plus its merge job; the merged database equals a local run of
# the same script row for row. A task submitted again alone resumes its
# shard, and the merge submitted again adds nothing.
# Skips (77) where it cannot run: not root, SLURM or munge not installed
# (scripts/setup.sh installs them with TB_TEST_TOOLS=1), daemons that do not
# start. Every daemon it starts is stopped on exit.
. "$(dirname "$0")/lib.sh"
S="$E2E/shard.lua"
C="$WORK/cluster"
PATH="$PATH:/usr/sbin:/sbin"
skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "the SLURM test starts slurmctld, slurmd and munged, which needs root"
for p in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$p" >/dev/null 2>&1 ||
    skip "'$p' is not installed (apt-get install slurmctld slurmd slurm-client munge; scripts/setup.sh does with TB_TEST_TOOLS=1)"
done

stop_cluster() {
  if [ -f "$C/slurm.conf" ]; then
    SLURM_CONF="$C/slurm.conf" scontrol shutdown >/dev/null 2>&1
    for i in 1 2 3 4 5 6 7 8 9 10; do
      alive=0
      for f in "$C/slurmctld.pid" "$C/slurmd.pid"; do
        [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
      done
      [ $alive -eq 0 ] && break
      sleep 0.5
    done
    for f in "$C/slurmctld.pid" "$C/slurmd.pid"; do
      [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
  fi
  [ -f "$C/munged.pid" ] && kill "$(cat "$C/munged.pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap stop_cluster EXIT
trap 'exit 1' INT TERM HUP

# two free TCP ports of our own: another test run may have a cluster up
in_use() { # port
  hex=$(printf ':%04X ' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q "$hex"
}
port=$((20000 + ($$ * 7) % 20000))
while in_use $port || in_use $((port + 1)); do port=$((port + 2)); done

mkdir -p "$C/munge" "$C/sock" "$C/state" "$C/spool" "$C/log"
# munged wants its socket reachable by every user (execute on each folder)
# and its key readable by none but its owner
chmod 711 "$WORK" "$C"
chmod 755 "$C/sock"
chmod 700 "$C/munge"
dd if=/dev/urandom of="$C/munge/key" bs=1024 count=1 2>/dev/null
chmod 400 "$C/munge/key"
munged --key-file="$C/munge/key" --socket="$C/sock/munge.sock" --pid-file="$C/munged.pid" \
  --log-file="$C/log/munged.log" --seed-file="$C/munge/seed" >"$C/log/munged.out" 2>&1 ||
  skip "munged does not start: $(cat "$C/log/munged.out" "$C/log/munged.log" 2>/dev/null | tail -3)"

host=$(hostname -s)
cpus=$(nproc)
[ "$cpus" -gt 2 ] && cpus=2
cat >"$C/slurm.conf" <<EOF
ClusterName=tbtest$$
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$C/sock/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldPidFile=$C/slurmctld.pid
SlurmdPidFile=$C/slurmd.pid
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$C/slurm.conf"
slurmctld -f "$C/slurm.conf" >"$C/log/slurmctld.out" 2>&1 ||
  skip "slurmctld does not start: $(tail -3 "$C/log/slurmctld.log" 2>/dev/null)"
slurmd -f "$C/slurm.conf" >"$C/log/slurmd.out" 2>&1 ||
  skip "slurmd does not start: $(tail -3 "$C/log/slurmd.log" 2>/dev/null)"
ready=0
for i in $(seq 1 60); do
  state=$(sinfo -h -o %T 2>/dev/null | head -1)
  case "$state" in idle*) ready=1; break ;; esac
  sleep 0.5
done
[ $ready -eq 1 ] || skip "the SLURM node did not come up (state '$state'): $(tail -3 "$C/log/slurmd.log" 2>/dev/null)"
echo "ok    a one-node SLURM cluster is up on 127.0.0.1:$port ($cpus CPUs)"

job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
wait_job() { # wait_job ID — until it has ended (at most 3 minutes)
  for i in $(seq 1 360); do
    case "$(job_state "$1")" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | "") return 0 ;;
    esac
    sleep 0.5
  done
  return 1
}

# ---- the two commands from a script to a merged database --------------------
OUT="$WORK/results/merged.db"
t0=$(date +%s)
out=$("$TB" slurm "$S" --array 3 --cpus-per-task 1 --time 5 --db "$OUT" --submit 2>&1)
eq "trainbench slurm --submit" "$?" 0
has "prints the job ids" "$out" "submitted the shards as job"
shards_job=$(printf '%s\n' "$out" | sed -n 's/^shards job //p')
merge_job=$(printf '%s\n' "$out" | sed -n 's/^merge job //p')
ok "the merge job waits for the shards (afterany)" sh -c "scontrol show job $merge_job | grep -q 'Dependency=afterany:$shards_job'"
wait_job "$merge_job"
eq "the merge job ends" "$?" 0
eq "having completed" "$(job_state "$merge_job")" COMPLETED
echo "      (the sweep went through SLURM in $(($(date +%s) - t0)) s)"
for i in 1 2 3; do
  ok "task $i copied its shard to shared storage" test -f "$WORK/results/merged.slurm/shards/shard-$i-of-3.db"
done
eq "no temporary copy is left" "$(ls -a "$WORK/results/merged.slurm/shards" | grep -c '\.tmp$')" 0
has "the merge job's log" "$(cat "$WORK/results/merged.slurm/logs/merge.out")" "merge: 12 runs added"
eq "the merged database holds the three shards" \
  "$(q "$OUT" "SELECT group_concat(shard_index || '/' || shard_count, ' ') FROM (SELECT * FROM sweeps ORDER BY shard_index)")" "1/3 2/3 3/3"

"$TB" run "$S" --db "$WORK/local.db" -j 2 >/dev/null 2>&1
eq "the same script runs locally" "$?" 0
python3 "$E2E/db_same.py" "$WORK/local.db" "$OUT" >"$WORK/same.out" 2>&1
eq "the merged database equals the local run, row for row" "$?" 0
cat "$WORK/same.out" | sed 's/^/      /'

# ---- a task again, alone: it resumes; the merge again adds nothing ----------
again=$(sbatch --parsable --array=2 "$WORK/results/merged.slurm/shards.sbatch" | cut -d';' -f1)
wait_job "$again"
eq "task 2 submitted again alone completes" "$(job_state "$again")" COMPLETED
log=$(cat "$WORK/results/merged.slurm/logs/shard-2.out")
has "resuming its shard from its copy" "$log" "shard 2/3: resuming from"
has "with nothing left to do" "$log" "0 runs to do"
merge2=$(sbatch --parsable --dependency=afterany:"$again" "$WORK/results/merged.slurm/merge.sbatch" | cut -d';' -f1)
wait_job "$merge2"
eq "the merge submitted again completes" "$(job_state "$merge2")" COMPLETED
has "adding nothing" "$(cat "$WORK/results/merged.slurm/logs/merge.out")" "merge: 0 runs added, 0 replaced"
python3 "$E2E/db_same.py" "$WORK/local.db" "$OUT" >/dev/null 2>&1
eq "still the local run's database" "$?" 0
done_checks
