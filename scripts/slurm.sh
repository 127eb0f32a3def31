#!/usr/bin/env bash
# A single-node Slurm (munged + slurmctld + slurmd, Debian's packages) under a directory of
# its own, for tests and benchmarks: no systemd, no cgroups, no slurmdbd, own ports.
#
#   scripts/slurm.sh start DIR   starts it (or finds it running) and prints
#                                `export SLURM_CONF=DIR/slurm.conf` (also in DIR/env)
#   scripts/slurm.sh stop DIR    scancels every job, then stops the daemons by PID
#   scripts/slurm.sh env DIR     prints the export line
#
# Both start and stop are idempotent. The node is `localhost` with SLURM_NODE_CPUS CPUs
# (default 64: config_overrides lets it exceed the real cores, so many test jobs run at
# once). KillWait (the SIGTERM -> SIGKILL grace of scancel) is SLURM_KILL_WAIT seconds
# (default 2). Final job states are kept by jobcomp/filetxt for `sacct -c`.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|env DIR" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd -P)
conf=$dir/slurm.conf
export SLURM_CONF=$conf
# A JWT in a daemon's environment kills slurmctld at start.
unset SLURM_JWT || true

pid_alive() {  # pid_alive FILE: the process named by the pid file is alive (not a zombie)
  local pid
  [[ -s $1 ]] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  local state
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ $state != Z && $state != X ]]
}

free_port() {  # a TCP port no socket uses, avoiding $1 (the one already picked)
  local port
  for _ in $(seq 1 200); do
    # Below the kernel's ephemeral range (32768-60999), so an outgoing connection cannot
    # take it between this check and the daemon's bind.
    port=$((20000 + RANDOM % 12000))
    [[ $port == "${1:-}" ]] && continue
    if ! ss -Htan "sport = :$port" 2>/dev/null | grep -q .; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

print_env() {
  echo "export SLURM_CONF=$conf"
}

write_config() {
  local ctld_port slurmd_port
  ctld_port=$(free_port)
  slurmd_port=$(free_port "$ctld_port")
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
  chmod 700 "$dir/munge"
  cat >"$conf.tmp" <<EOF
# Written by scripts/slurm.sh: a single-node Slurm for tests.
ClusterName=sluice-test
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SlurmdParameters=config_overrides
MailProg=/bin/true
ReturnToService=2
KillWait=${SLURM_KILL_WAIT:-2}
MinJobAge=${SLURM_MIN_JOB_AGE:-300}
MaxJobCount=100000
InactiveLimit=0
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${SLURM_NODE_CPUS:-64} RealMemory=${SLURM_NODE_MEMORY_MB:-65536} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.tmp" "$conf"
}

start_munge() {
  if pid_alive "$dir/munge/munged.pid"; then return 0; fi
  if [[ ! -s $dir/munge/munge.key ]]; then
    (umask 077 && dd if=/dev/urandom of="$dir/munge/munge.key.tmp" bs=1024 count=1 status=none)
    mv "$dir/munge/munge.key.tmp" "$dir/munge/munge.key"
  fi
  chmod 600 "$dir/munge/munge.key"
  rm -f "$dir/munge/munge.socket" "$dir/munge/munge.socket.lock"
  # --force: a checkout under /root has a path component that is not o+x.
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed"
  for _ in $(seq 1 100); do
    [[ -S $dir/munge/munge.socket ]] && return 0
    sleep 0.05
  done
  echo "munged did not start; see $dir/munge/munged.log" >&2
  return 1
}

wait_ready() {
  local state
  for _ in $(seq 1 300); do
    if scontrol ping 2>/dev/null | grep -q UP; then
      state=$(sinfo -h -N -n localhost -o %t 2>/dev/null || true)
      case $state in
        idle* | mix* | alloc*) return 0 ;;
        down* | drain* | fail*) scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
      esac
    fi
    sleep 0.1
  done
  echo "slurm did not become ready; logs in $dir/log" >&2
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  return 1
}

start_daemons() {
  # Fresh ports unless slurmctld still runs on the old ones (the state dir is kept).
  if ! pid_alive "$dir/run/slurmctld.pid"; then
    stop_pid "$dir/run/slurmd.pid"  # a leftover would keep the old ports
    write_config
  fi
  start_munge
  mkdir -p "$dir/spool/localhost"
  if ! pid_alive "$dir/run/slurmctld.pid"; then
    # `cd /`: the daemons must not keep a test's directory busy.
    (cd / && slurmctld)
  fi
  if ! pid_alive "$dir/run/slurmd.pid"; then
    (cd / && slurmd -N localhost)
  fi
}

do_start() {
  # A daemon that could not bind its port (taken by someone else meanwhile) exits at once:
  # start again on fresh ports, a few times.
  for attempt in 1 2 3; do
    start_daemons
    sleep 0.3
    if pid_alive "$dir/run/slurmctld.pid" && pid_alive "$dir/run/slurmd.pid"; then
      break
    fi
    echo "slurm.sh: a daemon did not stay up (attempt $attempt); new ports" >&2
    stop_pid "$dir/run/slurmd.pid"
    stop_pid "$dir/run/slurmctld.pid"
  done
  wait_ready
  print_env >"$dir/env"
  print_env
}

stop_pid() {  # stop_pid FILE NAME: TERM, wait, then KILL
  local file=$1 pid
  pid_alive "$file" || { rm -f "$file"; return 0; }
  pid=$(cat "$file")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    pid_alive "$file" || { rm -f "$file"; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$file"
}

do_stop() {
  if [[ -s $conf ]] && pid_alive "$dir/run/slurmctld.pid"; then
    # Killing slurmd leaves job processes running: cancel every job first and wait for them.
    local ids
    ids=$(squeue -h -o %i 2>/dev/null || true)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086
      scancel $ids 2>/dev/null || true
      for _ in $(seq 1 200); do
        [[ -z $(squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING,CONFIGURING -o %i 2>/dev/null) ]] && break
        sleep 0.1
      done
    fi
  fi
  stop_pid "$dir/run/slurmd.pid"
  stop_pid "$dir/run/slurmctld.pid"
  stop_pid "$dir/munge/munged.pid"
  rm -f "$dir/env"
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  env) print_env ;;
  *) usage ;;
esac
