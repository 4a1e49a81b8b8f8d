#!/usr/bin/env bash
# Installs the build dependencies, builds wb and runs its main job on local defaults: no cluster
# and no registry needed. It shows the help, then the objects `wb app create` would send for an
# app described by examples/wb.yaml (a Deployment and a Service with the platform's defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j"$(nproc)"
wb=$PWD/build/default/cli/wb
"$wb" --help
"$wb" version
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
cp examples/wb.yaml "$demo/wb.yaml"
(cd "$demo" && HOME="$demo" "$wb" app create --dry-run -o yaml -w demo)
