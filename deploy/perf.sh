#!/usr/bin/env bash
# The load scenarios of docs/performance.md, each run the same way: a fresh ddn on
# 127.0.0.1 (memory:// or the embedded store in a fresh directory) with the
# limits that throttle one source IP turned off, ddn-bench with the
# scenario's flags (split over several processes when one cannot hold the
# file descriptors), the node's CPU and RSS sampled over a window once the
# load is steady, and one table row per run plus the median per scenario.
#
#   deploy/perf.sh                       # every scenario but hold-5m, PERF_RUNS times each
#   deploy/perf.sh ingest-mem storm-mem  # only these
#   PERF_RUNS=1 deploy/perf.sh hold-5m   # 20,000 connections held for 5 minutes
#
# Scenarios: idle-1k idle-20k hold-5m ingest-mem ingest-max ingest-durable
# storm-mem storm-embedded restart-embedded. Results (JSON of every ddn-bench process, node logs, the
# table) go to PERF_OUT (default ./perf-results). PERF_CONNS overrides the
# size of the 20k scenarios (default 20,000, or less when the hard file
# descriptor limit does not allow it). PERF_PROFILE=1 records a CPU profile
# of the node over each window with perf(1) into PERF_OUT. PERF_NODE_ENV
# adds VAR=value words to the node's environment only (GOMAXPROCS=1, ...).
# PERF_PIN=1 gives the node CPU 0 and the generators CPU 1 (taskset), so
# that the node's figures are those of one core of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${PERF_RUNS:-3}
OUT=${PERF_OUT:-perf-results}
PORT=${PERF_PORT:-9599}
ADDR=127.0.0.1:$PORT
mkdir -p "$OUT" bin

# Unstripped binaries, so that perf(1) can name the node's functions.
go build -o bin/ddn ./cmd/ddn
go build -o bin/ddn-bench ./cmd/ddn-bench

# Every connection is a file descriptor in the node and one in a generator.
ulimit -n "$(ulimit -Hn)"
HARD=$(ulimit -Hn)
if [ -z "${PERF_CONNS:-}" ]; then
	PERF_CONNS=20000
	# The node also holds its listener, the store, logs and stdio.
	if [ "$HARD" != unlimited ] && [ "$HARD" -lt $((PERF_CONNS + 64)) ]; then
		PERF_CONNS=$((HARD - 64))
	fi
fi
# Agents per generator process, below the same limit.
PER_GEN=$(( HARD == 0 ? 10000 : (HARD - 64 < 15000 ? HARD - 64 : 15000) ))
[ "$HARD" = unlimited ] && PER_GEN=15000
CLK=$(getconf CLK_TCK)
NODE_PIN=() GEN_PIN=()
if [ "${PERF_PIN:-0}" = 1 ]; then
	NODE_PIN=(taskset -c 0) GEN_PIN=(taskset -c 1)
fi

node=
gens=()
WARM= WARM_PAUSE=0
cleanup() {
	for p in "${gens[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$node" ]; then kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; fi
	node=
}
trap cleanup EXIT INT TERM

# start_node STORE LOG: a node on memory:// or a fresh embedded store.
start_node() {
	local store=$1 log=$2 env=()
	if [ "$store" = memory ]; then
		env+=(DDN_MONGODB_URI=memory://)
	else
		local dir="$OUT/data"
		rm -rf "$dir" && mkdir -p "$dir"
		env+=(DDN_DATADIR="$dir")
	fi
	env "${env[@]}" DDN_ADDR=$ADDR DDN_LOGLEVEL=warn DDN_NODEID=perf \
		DDN_LIMITS_MAXCONNECTIONS=0 DDN_LIMITS_MAXCONNECTIONSPERIP=0 DDN_LIMITS_MAXANONYMOUS=0 DDN_LIMITS_MESSAGERATE=0 \
		${PERF_NODE_ENV:-} "${NODE_PIN[@]}" ./bin/ddn >"$log" 2>&1 &
	node=$!
	for _ in $(seq 200); do
		./bin/ddn healthcheck -addr $ADDR -path /readyz -timeout 1s >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "perf: the node did not become ready; see $log" >&2
	return 1
}

# cpu_ticks: user+system clock ticks of the node so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$node/stat"; }
# gen_ticks: the same for the generators together (they share the 2 cores).
gen_ticks() { local p; for p in "${gens[@]}"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s += $1} END {print s + 0}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$node/status"; }
# acked: type-2 messages answered code 0, from the node's own metrics.
# (Prometheus writes large counts in exponent form; bc reads plain digits.)
acked() { curl -s "http://$ADDR/metrics" | awk '/^ddn_messages_total\{code="0",type="2"\}/ {printf "%.0f\n", $2; f=1} END {if (!f) print 0}'; }

# run_one NAME RUN STORE AGENTS SETTLE WINDOW BENCH-FLAGS...: one run, one row.
run_one() {
	local name=$1 run=$2 store=$3 agents=$4 settle=$5 window=$6
	shift 6
	local base="$OUT/$name-$run"
	start_node "$store" "$base.node.log"
	local ngen=$(( (agents + PER_GEN - 1) / PER_GEN )) g per
	gens=()
	if [ -n "$WARM" ]; then
		# The same machines once before, so that the store knows them (a
		# restart, not a first contact); then they disconnect.
		for ((g = 0; g < ngen; g++)); do
			per=$(( agents / ngen + (g < agents % ngen ? 1 : 0) ))
			# shellcheck disable=SC2086
			"${GEN_PIN[@]}" ./bin/ddn-bench -url $ADDR -agents "$per" -prefix "perf-$name-$run-$g" -json -progress 0 $WARM \
				>"$base.warm$g.json" 2>&1 &
			gens+=($!)
		done
		for p in "${gens[@]}"; do wait "$p" || true; done
		gens=()
		sleep "${WARM_PAUSE:-0}"
	fi
	for ((g = 0; g < ngen; g++)); do
		per=$(( agents / ngen + (g < agents % ngen ? 1 : 0) ))
		"${GEN_PIN[@]}" ./bin/ddn-bench -url $ADDR -agents "$per" -prefix "perf-$name-$run-$g" -json -progress 0 "$@" \
			>"$base.gen$g.json" 2>"$base.gen$g.err" &
		gens+=($!)
	done
	sleep "$settle"
	local t0 c0 g0 a0 t1 c1 g1 a1 load
	t0=$(date +%s.%N) c0=$(cpu_ticks) g0=$(gen_ticks) a0=$(acked)
	if [ "${PERF_PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
		perf record -F 499 -g -p "$node" -o "$base.perf.data" -- sleep "$window" >/dev/null 2>&1 || true
	else
		sleep "$window"
	fi
	t1=$(date +%s.%N) c1=$(cpu_ticks) g1=$(gen_ticks) a1=$(acked)
	local rss
	rss=$(rss_kib)
	load=$(cut -d' ' -f1 /proc/loadavg)
	for p in "${gens[@]}"; do wait "$p" || true; done
	gens=()
	cleanup
	# Several generators: sum the counts, take the worst latency and the
	# last all-online time.
	jq -s --arg name "$name" --argjson run "$run" --argjson agents "$agents" \
		--argjson cpu "$(echo "($c1 - $c0) / $CLK / ($t1 - $t0) * 100" | bc -l)" \
		--argjson gencpu "$(echo "($g1 - $g0) / $CLK / ($t1 - $t0) * 100" | bc -l)" \
		--argjson rate "$(echo "($a1 - $a0) / ($t1 - $t0)" | bc -l)" \
		--argjson rss "$rss" --argjson load "$load" '{
		scenario: $name, run: $run, agents: $agents,
		held: (map(.connections_held) | add), peak: (map(.connections_peak) | add),
		all_online_s: (if any(.[]; .all_online_seconds == 0) then null else (map(.all_online_seconds) | max) end),
		acked_per_s_window: $rate, acked_per_s_run: (map(.acknowledged_per_second) | add),
		p50_ms: (map(.ack_latency.p50_ms) | max), p99_ms: (map(.ack_latency.p99_ms) | max),
		online_p99_ms: (map(.online_latency.p99_ms) | max),
		errors: (map(.errors | to_entries[]) | group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
		node_cpu_pct: $cpu, gen_cpu_pct: $gencpu, node_rss_mib: ($rss / 1024), load1: $load}' "$base".gen*.json >"$base.row.json"
	row "$base.row.json"
}

row() {
	jq -r '[.scenario, .run, .agents, .held, (.all_online_s // "-" | if type == "number" then (. * 100 | round / 100) else . end),
		(.acked_per_s_window | round), .p50_ms, .p99_ms, (.errors | to_entries | map("\(.key)=\(.value)") | join(",") | if . == "" then "0" else . end),
		(.node_cpu_pct * 10 | round / 10), (.gen_cpu_pct * 10 | round / 10), (.node_rss_mib * 10 | round / 10), .load1] | @tsv' "$1" |
		awk -F'\t' '{printf "| %-14s | %s | %6s | %6s | %6s | %7s | %7s | %7s | %-12s | %6s | %6s | %7s | %5s |\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13}' |
		tee -a "$OUT/table.md"
}

header() {
	echo "| scenario       | # | agents |   held | online s | acked/s | p50 ms  | p99 ms  | errors       | node % | gen %  | RSS MiB | load  |" | tee -a "$OUT/table.md"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|" | tee -a "$OUT/table.md"
}

# scenario NAME: its store, size, sampling window and ddn-bench flags.
scenario() {
	local name=$1 runs=$RUNS
	local -a a
	WARM="" WARM_PAUSE=0
	case $name in
	# Idle connections: pings every 10 s, one report at the start; RSS and CPU
	# once every agent is online.
	idle-1k) a=(memory 1000 15 20 -report-every 1h -ping-every 10s -ramp-up 5s -duration 45s) ;;
	idle-20k) a=(memory "$PERF_CONNS" 40 30 -report-every 1h -ping-every 10s -ramp-up 20s -duration 80s) ;;
	hold-5m) runs=1 a=(memory "$PERF_CONNS" 40 270 -report-every 1h -ping-every 10s -ramp-up 20s -duration 330s) ;;
	# Node-bound ingest: 1,000 agents each reporting every 45 ms (22,000/s
	# offered); acknowledgements and latency counted after 15 s.
	ingest-mem) a=(memory 1000 15 18 -report-every 45ms -ping-every 10s -ramp-up 5s -measure-after 15s -duration 35s) ;;
	# The node's ceiling: every agent reports again as soon as it is answered.
	ingest-max) a=(memory 1000 15 18 -report-every 1ms -ping-every 10s -ramp-up 5s -measure-after 15s -duration 35s) ;;
	# Durable ingest: 500 agents a report every 200 ms each (2,500/s
	# offered); they come online over 30 s (a machine's first contact costs
	# the embedded store several slow writes), counted after 45 s.
	ingest-durable) a=(embedded 500 45 22 -report-every 200ms -ping-every 10s -ramp-up 30s -measure-after 45s -duration 70s) ;;
	# Online storms: every agent connects at once (-ramp-up 0).
	storm-mem) a=(memory 10000 35 1 -report-every 1h -ping-every 10s -ramp-up 0s -duration 40s) ;;
	storm-embedded) a=(embedded 500 35 1 -report-every 1h -ping-every 10s -ramp-up 0s -duration 40s) ;;
	# The same storm of machines the store already knows (a restart): a
	# first run brings them online over 20 s and disconnects them; then 60 s
	# for the store to settle those disconnects before the storm.
	restart-embedded) WARM="-report-every 1h -ramp-up 20s -duration 30s" WARM_PAUSE=60
		a=(embedded 500 35 1 -report-every 1h -ping-every 10s -ramp-up 0s -duration 40s) ;;
	*) echo "perf: unknown scenario $name" >&2; return 2 ;;
	esac
	for ((r = 1; r <= runs; r++)); do
		run_one "$name" "$r" "${a[0]}" "${a[1]}" "${a[2]}" "${a[3]}" "${a[@]:4}"
	done
	if [ "$runs" -gt 1 ]; then
		jq -s --arg name "$name" 'def med: sort | .[length / 2 | floor];
			{scenario: "\($name) median", run: "-", agents: .[0].agents, held: (map(.held) | med),
			 all_online_s: (if any(.[]; .all_online_s == null) then null else (map(.all_online_s) | med) end),
			 acked_per_s_window: (map(.acked_per_s_window) | med), p50_ms: (map(.p50_ms) | med), p99_ms: (map(.p99_ms) | med),
			 errors: (map(.errors | to_entries[]) | group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
			 node_cpu_pct: (map(.node_cpu_pct) | med), gen_cpu_pct: (map(.gen_cpu_pct) | med), node_rss_mib: (map(.node_rss_mib) | med), load1: (map(.load1) | med)}' \
			"$OUT/$name"-[0-9]*.row.json >"$OUT/$name-median.json"
		row "$OUT/$name-median.json"
	fi
}

echo "perf: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB, $(go version | cut -d' ' -f3), ulimit -n $(ulimit -n), 20k scenarios at $PERF_CONNS connections" | tee -a "$OUT/table.md"
header
if [ $# -eq 0 ]; then
	set -- idle-1k idle-20k ingest-mem ingest-max ingest-durable storm-mem storm-embedded
fi
for s in "$@"; do
	rm -f "$OUT/$s"-*.row.json
	scenario "$s"
done
