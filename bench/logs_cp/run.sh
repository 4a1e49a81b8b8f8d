#!/bin/sh
# wb logs vs kubectl logs vs curl of the raw log stream (lines/s), and wb cp-files vs kubectl cp
# vs the raw exec stream (MB/s, peak RSS), against one fake API server. Needs root (the fake's
# exec), /usr/bin/time and kubectl. WB_BIN=path/to/wb picks the binary.
set -e
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
