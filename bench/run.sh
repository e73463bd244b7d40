#!/usr/bin/env bash
# Load harness: the same workloads directly against the simulated rack and
# through a bare httputil.ReverseProxy, nginx and rack-gateway, in one run.
# Usage: bash bench/run.sh   (results also in bench/results/latest.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
ulimit -n 65536 2>/dev/null || true
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx (Debian package) for the reference path"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null || true
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/rack-gateway" ./cmd/rack-gateway
go build -o "$bin/bareproxy" ./bench/cmd/bareproxy
go build -o "$bin/harness" ./bench/cmd/harness
mkdir -p bench/results
"$bin/harness" -gateway "$bin/rack-gateway" -bareproxy "$bin/bareproxy" -out bench/results/latest.txt "$@"
