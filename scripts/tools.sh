#!/usr/bin/env bash
# Builds the real servers that Vigil's delivery and source tests run against
# (Prometheus Alertmanager, Mailpit and the versitygw S3 gateway) from the
# versions pinned in tools/go.mod, into $VIGIL_TOOLS (default: .cache/tools/bin
# in the repo), and puts beside them a moto_server wrapper for Moto's AWS
# emulator, which stands in for SQS (see moto_wrapper below).
#
# The build runs only when a binary is missing or when the stamp file beside
# them no longer matches tools/go.mod, tools/go.sum and the Go version, so a
# second run is a no-op. A cold build takes a few minutes on two cores; see
# internal/testsrv for how the tests find the binaries.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${VIGIL_TOOLS:-$repo/.cache/tools/bin}
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)

# Each entry is "name package"; the version comes from tools/go.mod.
tools=(
	"alertmanager github.com/prometheus/alertmanager/cmd/alertmanager"
	"mailpit github.com/axllent/mailpit"
	"versitygw github.com/versity/versitygw/cmd/versitygw"
)

# version prints the version that tools/go.mod requires for a module.
version() {
	local v
	v=$(awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$repo/tools/go.mod")
	if [ -z "$v" ]; then
		echo "tools.sh: $1 is not required by tools/go.mod" >&2
		exit 1
	fi
	echo "$v"
}

# moto_want is the Moto release whose server internal/testsrv was checked
# against (SQS long polling, visibility, ApproximateReceiveCount; S3; SNS).
moto_want=5.2.1

# moto_wrapper writes $bin/moto_server, a wrapper that runs the server of the
# Moto that the machine's Python has. No Go program emulates SQS for
# aws-sdk-go-v2 (which speaks only SQS's JSON protocol), and PyPI cannot be
# reached from here, so Moto is not installed by this script: it comes with
# this kind of machine (pip, with its server extras). Without it the wrapper
# is removed, and the SQS tests skip (or fail under CI).
moto_wrapper() {
	local py=${MOTO_PYTHON:-python3} exe version
	if ! exe=$("$py" -c 'import sys, moto.server, flask; print(sys.executable)' 2>/dev/null); then
		rm -f "$bin/moto_server"
		echo "tools.sh: WARNING: Moto's server (Python package moto with flask) is not installed for $py; the SQS tests will skip, or fail under CI" >&2
		return 0
	fi
	version=$("$exe" -c 'import importlib.metadata as m; print(m.version("moto"))')
	if [ "$version" != "$moto_want" ]; then
		echo "tools.sh: WARNING: Moto $version found, the tests were checked with $moto_want" >&2
	fi
	printf '#!/bin/sh\n# Written by scripts/tools.sh: the server of Moto %s.\nexec %q -m moto.server "$@"\n' "$version" "$exe" >"$bin/.moto_server.tmp"
	chmod +x "$bin/.moto_server.tmp"
	mv -f "$bin/.moto_server.tmp" "$bin/moto_server"
	echo "tools.sh: moto_server runs Moto $version ($exe)"
}

export GOWORK=off
go=${GO:-go}
moto_wrapper
stamp="$bin/.versions"
am_version=$(version github.com/prometheus/alertmanager)
mailpit_version=$(version github.com/axllent/mailpit)
vgw_version=$(version github.com/versity/versitygw)
go_version=$("$go" env GOVERSION)
if command -v sha256sum >/dev/null; then
	sum=$(cat "$repo/tools/go.mod" "$repo/tools/go.sum" | sha256sum)
else
	sum=$(cat "$repo/tools/go.mod" "$repo/tools/go.sum" | shasum -a 256)
fi
want="alertmanager $am_version
mailpit $mailpit_version
versitygw $vgw_version
go $go_version
tools/go.mod+go.sum ${sum%% *}"

summary="alertmanager $am_version, mailpit $mailpit_version, versitygw $vgw_version"

missing=()
for t in "${tools[@]}"; do
	name=${t%% *}
	[ -x "$bin/$name" ] || missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	echo "tools.sh: up to date in $bin ($summary)"
	exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "tools.sh: missing in $bin: ${missing[*]}"
else
	echo "tools.sh: pinned versions changed since the last build in $bin"
fi

# Build into a temporary directory beside the binaries and move them in only
# when every build succeeded, so an interrupted run never leaves a half-built
# or mismatched set behind.
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pkgs=()
for t in "${tools[@]}"; do
	pkgs+=("${t#* }")
done
echo "tools.sh: building $summary with $go_version (a few minutes when cold)"
start=$(date +%s)
if ! "$go" build -C "$repo/tools" -mod=readonly -trimpath -buildvcs=false -o "$tmp/" "${pkgs[@]}"; then
	echo "tools.sh: FAILED to build ${pkgs[*]} (see the errors above)" >&2
	exit 1
fi
for t in "${tools[@]}"; do
	name=${t%% *}
	if [ ! -x "$tmp/$name" ]; then
		echo "tools.sh: FAILED: go build produced no $name binary" >&2
		exit 1
	fi
	mv -f "$tmp/$name" "$bin/$name"
done
echo "$want" >"$stamp"
echo "tools.sh: built ${tools[*]%% *} into $bin in $(($(date +%s) - start))s"
