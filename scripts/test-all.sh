#!/usr/bin/env bash
# `npm test`: every check, in order, stopping at the first failure:
#   system deps -> tsc --noEmit -> eslint . -> vitest run -> playwright test
# Prints each stage's duration (and a summary at the end, also after a failure).
set -euo pipefail
cd "$(dirname "$0")/.."

declare -a NAMES=() SECS=()
summary() {
  local rc=$?
  echo
  echo "== test-all summary =="
  for n in "${!NAMES[@]}"; do printf '  %-14s %6ss\n' "${NAMES[$n]}" "${SECS[$n]}"; done
  if [[ $rc -ne 0 ]]; then echo "FAILED in stage: ${CURRENT:-?} (exit $rc)"; else echo "all stages passed"; fi
}
trap summary EXIT

stage() {
  CURRENT=$1
  shift
  echo
  echo "== $CURRENT: $* =="
  local t0=$SECONDS
  "$@"
  NAMES+=("$CURRENT")
  SECS+=($((SECONDS - t0)))
  echo "== $CURRENT: ok in $((SECONDS - t0)) s =="
}

stage system-deps bash scripts/install-system-deps.sh
stage typecheck npx tsc --noEmit -p tsconfig.json
stage lint npx eslint .
stage unit npx vitest run
stage e2e npx playwright test
CURRENT=
