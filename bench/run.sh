#!/usr/bin/env bash
# bench/run.sh: time `vigil scan` against `gzip -dc` and a jq filter on the
# same corpus of gzipped CloudTrail log files, in one run, and check the
# floors: vigil no slower than single-threaded gzip -dc, and under 200 MiB of
# peak RSS. Then time the same scan with 1,000 generated user rules beside
# the built-ins, and check that they cost at most 2x; the scan with and
# without enrichment (at most 10% more with it); and alert delivery
# throughput to a local webhook; and vigil serve's HTTP ingest (at least
# 20,000 events/s with p99 from receipt to receiver under 50 ms). See
# bench/README.md.
#
# Usage: bench/run.sh [--regen]
#
#   --regen    regenerate the corpus even if bench/out/corpus exists
#
# Environment:
#   EVENTS=n   records in the corpus (default 200000); a corpus of another
#              size is regenerated
#   RUNS=n     timed runs of each command (default 5), after 1 warm-up run
#
# Everything goes to bench/out (git-ignored): the vigil binary, the timeit
# binary, the corpus, and results.json.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # the repository root

EVENTS=${EVENTS:-200000}
RUNS=${RUNS:-5}
PER_FILE=1000
SEED=1
regen=false
for arg in "$@"; do
	case $arg in
	--regen) regen=true ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench/run.sh: unknown argument $arg (usage: bench/run.sh [--regen])" >&2
		exit 2
		;;
	esac
done

out=bench/out
corpus=$out/corpus
info=$out/corpus.info # the generator's report, and the flags it was run with
mkdir -p "$out"

# The baselines.
need() { command -v "$1" >/dev/null 2>&1; }
need go || { echo "bench/run.sh: go is not installed" >&2; exit 1; }
need gzip || { echo "bench/run.sh: gzip is not installed" >&2; exit 1; }
if ! need jq; then
	if [[ $EUID -eq 0 ]] && need apt-get; then
		echo "jq is missing; installing it with apt-get"
		apt-get install -y jq || { apt-get update && apt-get install -y jq; }
	fi
	need jq || { echo "bench/run.sh: jq is not installed (apt-get install jq, or see https://jqlang.org/download/)" >&2; exit 1; }
fi

# (a) Build.
echo "building bench/out/vigil and bench/out/timeit"
go build -trimpath -o "$out/vigil" ./cmd/vigil
go build -trimpath -o "$out/timeit" ./bench/timeit

# (b) The corpus: real CloudTrail records replayed with a fixed seed into
# gzipped log files of $PER_FILE records. It is built in a temporary directory
# and moved into place, so an interrupted run never leaves half a corpus.
flags="-events $EVENTS -per-file $PER_FILE -seed $SEED -addrs 5000"
if [[ $regen == true || ! -d $corpus || ! -f $info ]] || [[ "$(head -n1 "$info")" != "$flags" ]]; then
	echo "generating the corpus: go run ./bench/corpus $flags"
	rm -rf "$corpus.tmp"
	report=$(go run ./bench/corpus -out "$corpus.tmp" $flags)
	echo "$report"
	rm -rf "$corpus"
	mv "$corpus.tmp" "$corpus"
	printf '%s\n%s\n' "$flags" "$report" >"$info"
fi

shopt -s nullglob
files=("$corpus"/*.gz)
shopt -u nullglob
if ((${#files[@]} == 0)); then
	echo "bench/run.sh: no .gz files in $corpus; try bench/run.sh --regen" >&2
	exit 1
fi
# vigil is given the directory, gzip and jq the glob: make sure they agree.
all=$(find "$corpus" -type f | wc -l)
if ((all != ${#files[@]})); then
	echo "bench/run.sh: $corpus holds files other than *.gz; try bench/run.sh --regen" >&2
	exit 1
fi

# Machine and corpus.
echo
echo "== machine"
echo "cpus:     $(nproc)"
echo "cpu:      $(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
echo "memory:   $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || true)"
echo "kernel:   $(uname -sr)"
echo "go:       $(go version)"
echo "gzip:     $(gzip --version | head -n1)"
echo "jq:       $(jq --version)"
echo "vigil:    $("$out/vigil" version 2>&1 | head -n1)"
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)
echo "load:     $load (1, 5, 15 min)"
if [[ -n $load ]] && awk -v l="${load%% *}" -v n="$(nproc)" 'BEGIN {exit !(l > n / 2)}'; then
	echo "warning:  the machine is busy; vigil uses every core and gzip one, so other load slows vigil more" >&2
fi

compressed=$(cat "${files[@]}" | wc -c)
uncompressed=$(gzip -dc "${files[@]}" | wc -c)
records=$(sed -n 's/^wrote \([0-9]*\) records.*/\1/p' "$info")
echo
echo "== corpus ($corpus)"
echo "files:        ${#files[@]} gzipped CloudTrail log files of up to $PER_FILE records"
echo "records:      $records ($flags)"
echo "compressed:   $compressed bytes ($(awk -v b="$compressed" 'BEGIN {printf "%.1f MB", b/1e6}'))"
echo "uncompressed: $uncompressed bytes ($(awk -v b="$uncompressed" 'BEGIN {printf "%.1f MB", b/1e6}'))"

# One scan up front, to show that vigil does real work on this corpus (and
# it fills the page cache, though timeit also warms up).
echo
echo "== vigil scan, once (every built-in rule: $("$out/vigil" rules list 2>/dev/null | tail -n +2 | wc -l))"
if ! "$out/vigil" scan --format json --progress=false "$corpus" >"$out/alerts.jsonl" 2>"$out/scan.txt"; then
	cat "$out/scan.txt" >&2
	echo "bench/run.sh: vigil scan failed" >&2
	exit 1
fi
cat "$out/scan.txt"

# (d, e) Timing.
jq_filter='.Records[] | select(.eventSource == "s3.amazonaws.com" and (.eventName == "PutBucketAcl" or .eventName == "PutBucketPolicy" or .eventName == "PutBucketPublicAccessBlock" or .eventName == "DeleteBucketPublicAccessBlock"))'
echo
echo "== timing"
status=0
"$out/timeit" -runs "$RUNS" -warmup 1 \
	-base gzip -check 'vigil<=gzip' -max-rss vigil=200 \
	-json "$out/results.json" \
	-cmd "vigil=$out/vigil scan --format json --progress=false $corpus > /dev/null" \
	-cmd "gzip=gzip -dc $corpus/*.gz > /dev/null" \
	-cmd "jq=gzip -dc $corpus/*.gz | jq -c '$jq_filter' > /dev/null" ||
	status=$? # 1: a floor was violated (timeit says which); 2: a command failed

# (f) Rule scaling: 1,000 generated user rules beside the built-ins, about
# the calls security teams write rules for (mixed), and, as the worst case,
# only about calls in the corpus (every rule meets events; reported, no
# floor). See bench/rules.
echo
echo "== rule scaling: 1,000 generated user rules"
rm -rf "$out/rules-mixed" "$out/rules-corpus"
go run ./bench/rules -out "$out/rules-mixed" -n 1000 -calls mixed
go run ./bench/rules -out "$out/rules-corpus" -n 1000 -calls corpus
"$out/vigil" rules lint "$out/rules-mixed" | tail -n 1
"$out/timeit" -runs "$RUNS" -warmup 1 \
	-base builtins -check 'rules-mixed<=2*builtins' \
	-json "$out/results-rules.json" \
	-cmd "builtins=$out/vigil scan --format json --progress=false $corpus > /dev/null" \
	-cmd "rules-mixed=$out/vigil scan --rules $out/rules-mixed --format json --progress=false $corpus > /dev/null" \
	-cmd "rules-corpus=$out/vigil scan --rules $out/rules-corpus --format json --progress=false $corpus > /dev/null" ||
	{ s=$?; ((s > status)) && status=$s; }

# (g) Enrichment overhead: the same scan with enrichment off, with the
# default (AWS's ranges, bundled), and with GeoIP City and ASN databases as
# well (bench/enrich.yaml); floor: at most 10% over enrichment off.
echo
echo "== enrichment overhead"
"$out/timeit" -runs "$RUNS" -warmup 1 \
	-base enrich-off -check 'enrich-full<=1.1*enrich-off' \
	-json "$out/results-enrich.json" \
	-cmd "enrich-off=$out/vigil scan --enrich=false --format json --progress=false $corpus > /dev/null" \
	-cmd "enrich-aws=$out/vigil scan --format json --progress=false $corpus > /dev/null" \
	-cmd "enrich-full=$out/vigil scan --config bench/enrich.yaml --format json --progress=false $corpus > /dev/null" ||
	{ s=$?; ((s > status)) && status=$s; }

# (h) Delivery throughput: alerts through the durable outbox to a webhook
# on loopback (no floor; reported).
echo
echo "== delivery throughput"
go run ./bench/delivery -alerts 20000

# (i) HTTP ingest: vigil serve takes EventBridge CloudTrail events (the
# corpus's records in EventBridge envelopes) over POST /ingest at 20,000
# events/s for 20 s; floor: all accepted on schedule, and p99 from receipt
# to the alert's arrival at a webhook on loopback under 50 ms, for the
# sustained load (the first second's alerts, while the freshly started
# process warms up, are reported apart). Then one
# event per request, as EventBridge API destinations post (reported).
echo
echo "== HTTP ingest: 20,000 events/s, 100 events per request"
go run ./bench/ingest -vigil "$out/vigil" -corpus "$corpus" -rate 20000 -batch 100 -duration 20s \
	-min-rate 20000 -max-p99 50ms -json "$out/results-ingest.json" ||
	{ s=$?; ((s > status)) && status=$s; }
echo
echo "== HTTP ingest: one event per request, as fast as accepted"
go run ./bench/ingest -vigil "$out/vigil" -corpus "$corpus" -rate 0 -batch 1 -conns 64 -duration 10s \
	-json "$out/results-ingest-single.json" || true

echo
echo "load after timing: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
echo "results written to $out/results.json, $out/results-rules.json and $out/results-enrich.json"
exit $status
