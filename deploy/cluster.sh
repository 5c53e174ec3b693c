#!/usr/bin/env bash
# Three ddn nodes on this machine over one embedded store (`ddn store`), as
# in README "Three nodes on one machine": 127.0.0.1:9521, :9522, :9523,
# data in ./cluster-data. Ctrl-C stops all four processes.
set -euo pipefail
cd "$(dirname "$0")/.."
sh deploy/build.sh bin "$(git describe --tags --always --dirty 2>/dev/null || echo dev)" ddn
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
./bin/ddn store -addr 127.0.0.1:27017 -dir ./cluster-data &
pids+=($!)
sleep 1
for i in 1 2 3; do
	DDN_MONGODB_URI=mongodb://127.0.0.1:27017/ DDN_OUTBOX_KEEP=1h DDN_ADDR=127.0.0.1:952$i DDN_NODEID=node-$i ./bin/ddn &
	pids+=($!)
done
echo "cluster: ws://127.0.0.1:9521/websocket, :9522, :9523; curl -s 127.0.0.1:9521/api/v0/cluster/nodes"
wait
