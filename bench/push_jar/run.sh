#!/bin/sh
# `wb push jar` side by side with buildah and the local limit (sha256sum + a one-blob upload of the
# jar), on a ~80 MB Spring-Boot-shaped jar pushed to a local docker-registry, from scratch and FROM
# a JRE base; with peak RSS. Not a timed test; ~2 min for 3 runs.
#
#   bench/push_jar/run.sh [RUNS] [RSS_SIZES]   WB_BIN=path/to/wb (default: build/default/cli/wb, an
#                                              optimised build; a Debug build measures the wrong thing)
#                                              WB_BENCH_JRE=OCI layout of the JRE base (tag 17; default:
#                                              the e2e tests' /var/tmp/wb-test-cache/jre-layout if there)
#                                              RSS_SIZES e.g. 10,300,1000: cold pushes of jars that big
# Needs docker-registry, skopeo and curl; buildah is used when installed (apt-get install buildah).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
wb=${WB_BIN:-$root/build/default/cli/wb}
[ -x "$wb" ] || { echo "no wb at $wb: build it (cmake --preset default && cmake --build build/default) or set WB_BIN" >&2; exit 2; }
work=${WB_BENCH_DIR:-${TMPDIR:-/tmp}/wb-bench-push}
jre=${WB_BENCH_JRE:-/var/tmp/wb-test-cache/jre-layout}
[ -f "$jre/index.json" ] || jre=""
exec /usr/bin/python3 "$root/bench/push_jar/bench.py" --wb "$wb" --work "$work" --runs "${1:-3}" --jre "$jre" \
  --rss-mb "${2:-}"
