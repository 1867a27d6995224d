# A throwaway single-node Slurm cluster for tests, sourced by test_slurm.sh.
#
#   slurm_up DIR     write DIR/slurm.conf, start munged (when present), slurmctld and
#                    slurmd on free loopback ports, wait until the node is idle; exports
#                    SLURM_CONF. Returns 77 when a Slurm package is missing.
#   slurm_down       stop every daemon slurm_up started (by pid), cancel jobs first.
#                    A watcher does the same if the calling shell dies without it (kill -9).
#
# Everything lives in DIR (state, spool, logs, pids, munge key and socket), so several
# clusters can run side by side and nothing outside DIR is touched. As root the daemons
# run as root; otherwise SlurmUser/SlurmdUser are the current user.

SLURM_DIR=
SLURM_PIDS=()

slurm__freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm__log() { echo "cluster: $*" >&2; }

# Whatever ends this shell, SIGKILL included (no trap runs then), a watcher in its own
# session stops the cluster in DIR once the shell is gone: the daemons detach themselves,
# so nothing else would. It reads the pid files then, so it also covers a half-started one.
slurm__watch() {
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null; do sleep 1; done
		[ -s "$2/slurmctld.pid" ] || exit 0
		SLURM_CONF=$2/slurm.conf timeout 5 scancel --quiet -u "$(id -un)"
		for f in "$2/slurmd.pid" "$2/slurmctld.pid" "$2/munge/pid"; do
			[ -s "$f" ] && kill "$(cat "$f")"
		done
		sleep 3
		for f in "$2/slurmd.pid" "$2/slurmctld.pid" "$2/munge/pid"; do
			[ -s "$f" ] && kill -9 "$(cat "$f")"
		done
		rm -rf "$2"' slurm-watch "$$" "$1" </dev/null >/dev/null 2>&1 &
}

slurm_up() {
	local d=$1 tool
	for tool in slurmctld slurmd sbatch squeue scancel scontrol sinfo python3; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			slurm__log "$tool not installed (Debian: slurmctld slurmd slurm-client); skipping"
			return 77
		fi
	done
	SLURM_DIR=$d
	mkdir -p "$d/state" "$d/spool" || return 1
	slurm__watch "$d"
	local host user ctl_port d_port cpus auth
	host=$(hostname -s)
	user=$(id -un)
	cpus=$(nproc)
	ctl_port=$(slurm__freeport) && d_port=$(slurm__freeport) || return 1
	# auth/munge as on a real cluster, with our own key and socket; Debian also ships
	# auth/none, used only when munged is missing.
	if command -v munged >/dev/null 2>&1; then
		mkdir -p "$d/munge" && chmod 700 "$d/munge"
		head -c 1024 /dev/urandom >"$d/munge/key" && chmod 400 "$d/munge/key"
		munged --key-file="$d/munge/key" --socket="$d/munge/sock" --pid-file="$d/munge/pid" \
			--log-file="$d/munge/log" --seed-file="$d/munge/seed" --force || {
			slurm__log "munged did not start:"; cat "$d/munge/log" >&2; return 1; }
		SLURM_PIDS+=("$(cat "$d/munge/pid")")
		auth="AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/sock"
	else
		auth="AuthType=auth/none
CredType=cred/none"
	fi
	cat >"$d/slurm.conf" <<CONF
ClusterName=avotest
SlurmctldHost=localhost
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
$auth
SlurmUser=$user
SlurmdUser=$user
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerParameters=sched_interval=1
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
	export SLURM_CONF=$d/slurm.conf
	slurmctld -c || { slurm__log "slurmctld did not start:"; tail -n 20 "$d/slurmctld.log" >&2; return 1; }
	slurm__waitpid "$d/slurmctld.pid" || return 1
	slurmd -N "$host" || { slurm__log "slurmd did not start:"; tail -n 20 "$d/slurmd.log" >&2; return 1; }
	slurm__waitpid "$d/slurmd.pid" || return 1
	slurm_wait_node idle 30 || { tail -n 20 "$d/slurmctld.log" "$d/slurmd.log" >&2; return 1; }
}

slurm__waitpid() {
	local i
	for i in $(seq 1 50); do
		if [ -s "$1" ]; then SLURM_PIDS+=("$(cat "$1")"); return 0; fi
		sleep 0.1
	done
	slurm__log "no pid file $1"
	return 1
}

# slurm_wait_node STATE SECONDS: wait until the node's state (sinfo %t) is STATE exactly:
# "idle*" (not responding yet) is not "idle". With ReturnToService=2 a node set down before
# it answers again is put back in service as soon as it does, so tests wait for this.
slurm_wait_node() {
	local i n=$(($2 * 10)) st=
	for i in $(seq 1 $n); do
		st=$(sinfo -h -o '%t' 2>/dev/null | head -n 1)
		[ "$st" = "$1" ] && return 0
		sleep 0.1
	done
	slurm__log "node state is '$st', not $1, after $2 s"
	return 1
}

# slurm_resume: put the node back in service. A node still ending the jobs it was running
# refuses "resume" for a moment ("Invalid node state"), so try until it takes.
slurm_resume() {
	local i st host
	host=$(hostname -s)
	for i in $(seq 1 100); do
		scontrol update nodename="$host" state=resume 2>/dev/null
		st=$(sinfo -h -o '%t' 2>/dev/null | head -n 1)
		case $st in down* | drain* | drng* | comp* | fail*) sleep 0.2 ;; *) return 0 ;; esac
	done
	slurm__log "node still '$st' after trying to resume it"
	return 1
}

slurm_down() {
	[ -n "$SLURM_DIR" ] || return 0
	scancel --quiet -u "$(id -un)" 2>/dev/null
	local p i alive
	# Let the step daemons end their jobs before their slurmd goes.
	for i in $(seq 1 50); do [ -z "$(squeue -h -t running,completing 2>/dev/null)" ] && break; sleep 0.1; done
	# Reverse order: slurmd, slurmctld, munged.
	for ((i = ${#SLURM_PIDS[@]} - 1; i >= 0; i--)); do
		p=${SLURM_PIDS[$i]}
		kill "$p" 2>/dev/null
		for alive in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
	done
	# Stopped: the watcher must not act on these pids later (they may be reused).
	rm -f "$SLURM_DIR/slurmctld.pid" "$SLURM_DIR/slurmd.pid" "$SLURM_DIR/munge/pid"
	SLURM_PIDS=()
	SLURM_DIR=
}
