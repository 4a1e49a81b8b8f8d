#!/usr/bin/env bash
# Installs what the tests need, builds wb (preset: default, or the first argument, e.g. asan) and
# runs the whole suite: unit tests, the fake API server's own tests, kubectl fidelity, end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
scripts/install-deps.sh --with-tests
# The independent schema validator for generated objects (npm kubernetes-models).
if command -v npm >/dev/null; then npm ci --prefix tests/validate --no-audit --no-fund --loglevel=error; fi
# gitlab-ci-local, which runs examples/.gitlab-ci.yml for real in tests/e2e/test_gitlab_ci.py.
if command -v npm >/dev/null; then npm ci --prefix tests/gitlab-ci-local --no-audit --no-fund --loglevel=error; fi
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
# The "runs for real" test (a pushed image on a debootstrapped JRE base under podman) needs root;
# it runs once, with the default preset (the JRE base is cached in /var/tmp/wb-test-cache).
if [[ "$preset" == "default" && $(id -u) -eq 0 ]]; then export WB_TEST_PODMAN=1; fi
# The 1 GiB cp-files round trip (same sha256 both ways, memory flat) runs with the default preset.
if [[ "$preset" == "default" ]]; then export WB_TEST_BIG=1; fi
ctest --preset "$preset" -j2
