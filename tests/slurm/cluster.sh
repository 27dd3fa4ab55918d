#!/usr/bin/env bash
# A real single-node Slurm cluster for tests, in a folder of its own: munged with a fresh key, slurmctld and
# slurmd (Debian 12's packages) with a generated slurm.conf, on free ports, as the current user.
# Source it, then: cluster_start DIR (exports SLURM_CONF), ... , cluster_stop (also run on EXIT by the caller).
cluster_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cluster_start() {
  local dir="$1" host user cpus
  host=$(hostname -s); user=$(id -un); cpus=$(nproc)
  CLUSTER_DIR="$dir"
  mkdir -p "$dir"/{munge,state,spool,log}
  chmod 700 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" || { echo "munged failed"; cat "$dir/log/munged.log"; return 1; }
  cat > "$dir/slurm.conf" <<CONF
ClusterName=sedenergytest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$(cluster_free_port)
SlurmdPort=$(cluster_free_port)
AuthType=auth/munge
AuthInfo=socket=$dir/munge/socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=30
MinJobAge=600
SchedulerParameters=bf_interval=1,sched_interval=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" || { cat "$dir/log/slurmctld.log"; return 1; }
  slurmd -f "$SLURM_CONF" || { cat "$dir/log/slurmd.log"; return 1; }
  local i
  for i in $(seq 1 60); do
    if [ "$(sinfo -h -o %T 2>/dev/null)" = "idle" ]; then return 0; fi
    sleep 1
  done
  echo "the node never became idle:"; sinfo; tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log"
  return 1
}

cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] || return 0
  local f
  for f in slurmd.pid slurmctld.pid munge/pid; do
    [ -f "$CLUSTER_DIR/$f" ] && kill "$(cat "$CLUSTER_DIR/$f")" 2>/dev/null
  done
  sleep 1
  for f in slurmd.pid slurmctld.pid munge/pid; do
    [ -f "$CLUSTER_DIR/$f" ] && kill -9 "$(cat "$CLUSTER_DIR/$f")" 2>/dev/null
  done
  CLUSTER_DIR=""
  return 0
}
