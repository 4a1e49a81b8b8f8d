#!/usr/bin/env bash
# Installs the build dependencies, builds wb and runs it on local defaults (no cluster needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j"$(nproc)"
./build/default/cli/wb --help
./build/default/cli/wb version
