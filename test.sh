#!/usr/bin/env bash
# Runs rlvr's test suite (setting the machine up first) and ends with "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"
./setup.sh || exit 1
log=$(mktemp)
dotnet test Rlvr.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# VSTest's summary line: "Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total:    12, ..."
summary=$(grep -E 'Failed:[[:space:]]+[0-9]+, Passed:' "$log" | tail -n 1)
rm -f "$log"
if [ -z "$summary" ]; then echo "0 passed, 1 failed"; exit 1; fi
failed=$(sed -E 's/.*Failed:[[:space:]]+([0-9]+).*/\1/' <<<"$summary")
passed=$(sed -E 's/.*Passed:[[:space:]]+([0-9]+).*/\1/' <<<"$summary")
skipped=$(sed -E 's/.*Skipped:[[:space:]]+([0-9]+).*/\1/' <<<"$summary")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$rc" = 0 ] && [ "$failed" = 0 ]
