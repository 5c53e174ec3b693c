#!/bin/sh
# Rebuilds adapters/chain/testdata/{TestRegistry,TestRent,TestFreeRental}.{abi,bin}
# from their .sol sources
# with the exact solc version pinned in package.json (npm ci keeps it exact).
# Usage: contracts/build.sh [output dir]
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent >/dev/null
node compile.js "$@"
