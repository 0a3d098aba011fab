#!/usr/bin/env bash
# Runs every Go fuzz target in the module for $FUZZTIME (default 10s) each.
# A failing input is written to the package's testdata/fuzz and fails the run.
#
# Go 1.26's fuzz coordinator can report "context deadline exceeded" as a
# failure when -fuzztime expires while a worker is mid-call on a busy
# machine (go.dev/issue/75804, fixed in Go 1.27). Such a run writes no
# failing input; a target that fails that way is run once more, and fails
# the script if it fails again, whatever the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
fuzz() { go test -run '^$' -fuzz "^${2}\$" -fuzztime "$fuzztime" "$1" >"$log" 2>&1; }
deadline_race() {
	grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log" && ! grep -q '^panic:' "$log"
}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($fuzztime)"
		if fuzz "$pkg" "$target"; then
			continue
		fi
		if deadline_race; then
			echo "fuzz $pkg $target: the fuzz coordinator's deadline race (go.dev/issue/75804), no failing input; running it again"
			if fuzz "$pkg" "$target"; then
				continue
			fi
		fi
		cat "$log"
		status=1
	done
done
exit $status
