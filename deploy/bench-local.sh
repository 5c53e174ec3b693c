#!/usr/bin/env bash
# ddn-bench against a node started here on memory:// (127.0.0.1:9599), then
# the node is stopped. Arguments go to ddn-bench, e.g. -agents 2000 -duration 1m.
set -euo pipefail
cd "$(dirname "$0")/.."
sh deploy/build.sh bin "$(git describe --tags --always --dirty 2>/dev/null || echo dev)" ddn ddn-bench
DDN_MONGODB_URI=memory:// DDN_ADDR=127.0.0.1:9599 DDN_LOGLEVEL=warn ./bin/ddn &
node=$!
trap 'kill "$node" 2>/dev/null; wait "$node"' EXIT INT TERM
for _ in $(seq 100); do ./bin/ddn healthcheck -addr 127.0.0.1:9599 -timeout 1s >/dev/null 2>&1 && break; sleep 0.1; done
./bin/ddn-bench -url 127.0.0.1:9599 "$@"
