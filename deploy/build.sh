#!/bin/sh
# The one way ddn's binaries are built: the Dockerfile, `task build`, CI
# (.ci/run) and the tests that run real processes all call this script, and
# deploy/dockerfile_test.go checks that they do and what it produces.
#
#   deploy/build.sh OUT_DIR [VERSION] [COMMAND...]
#
# Builds ./cmd/COMMAND (default: ddn ddn-agent ddn-bench) into OUT_DIR:
# static (CGO_ENABLED=0; the embedded store's SQLite is pure Go), pure-Go
# resolver and user lookup (tags netgo,osusergo), -trimpath, stripped, with
# VERSION (default dev) stamped into main.version. GOOS and GOARCH from the
# environment cross-compile.
set -eu
out=${1:?usage: deploy/build.sh OUT_DIR [VERSION] [COMMAND...]}
version=${2:-dev}
shift
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- ddn ddn-agent ddn-bench
export CGO_ENABLED=0
for cmd in "$@"; do
	go build -trimpath -tags netgo,osusergo -ldflags "-s -w -X main.version=$version" -o "$out/$cmd" "./cmd/$cmd"
done
