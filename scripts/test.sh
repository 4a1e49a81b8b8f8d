#!/usr/bin/env bash
# Installs what the tests need, builds wb (preset: default, or the first argument, e.g. asan) and
# runs the whole suite: unit tests, the fake API server's own tests, kubectl fidelity, end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
scripts/install-deps.sh --with-tests
# The independent schema validator for generated objects (npm kubernetes-models).
if command -v npm >/dev/null; then npm ci --prefix tests/validate --no-audit --no-fund --loglevel=error; fi
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
ctest --preset "$preset" -j2
