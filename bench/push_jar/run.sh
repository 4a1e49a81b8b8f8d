#!/bin/sh
# `wb push jar` side by side with gzip -1 | sha256sum (the local limit), skopeo copy and buildah,
# pushing a ~80 MB Spring-Boot-shaped jar to a local docker-registry. Not a timed test; < 5 min.
#
#   bench/push_jar/run.sh [RUNS]          WB_BIN=path/to/wb (default: build/default/cli/wb, an
#                                         optimised build; a Debug build measures the wrong thing)
# Needs docker-registry and skopeo; buildah is used when installed (apt-get install buildah).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
wb=${WB_BIN:-$root/build/default/cli/wb}
[ -x "$wb" ] || { echo "no wb at $wb: build it (cmake --preset default && cmake --build build/default) or set WB_BIN" >&2; exit 2; }
work=${WB_BENCH_DIR:-${TMPDIR:-/tmp}/wb-bench-push}
exec /usr/bin/python3 "$root/bench/push_jar/bench.py" --wb "$wb" --work "$work" --runs "${1:-3}"
