#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need (the node test peers in
# test/node: chopsticks for a real subtensor runtime, js-tiktoken as an independent
# tokenizer), runs go vet, the unit and integration tests (tests that need a chain start
# and stop their own chopsticks), every fuzz target for a short time, and the kernel
# tests again with SIMD disabled.
#
# Environment: BTLM_SHARED (default ../shared), BTLM_STRICT=1 to fail on missing data
# (set automatically when CI=true), FUZZTIME (default 3s).
set -euo pipefail
cd "$(dirname "$0")/.."
export BTLM_SHARED="${BTLM_SHARED:-$PWD/../shared}"
if [ "${CI:-}" = "true" ]; then export BTLM_STRICT=1; fi
fuzztime="${FUZZTIME:-3s}"

echo "== npm ci (test/node)"
(cd test/node && npm ci --no-audit --no-fund --loglevel=error)

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 25m ./...

if [ -d kernels ]; then
  echo "== go test ./kernels/... with SIMD disabled"
  BTLM_NOSIMD=1 go test -count=1 ./kernels/...
fi

echo "== fuzz (${fuzztime} each)"
grep -rl --exclude-dir=node_modules --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort | while read -r file; do
  pkg="./$(dirname "${file#./}")"
  grep -oE '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | while read -r fn; do
    echo "-- $pkg $fn"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
echo "== all tests passed"
