#!/usr/bin/env bash
# Installs the build dependencies, builds wb and runs its main job on local defaults: no cluster
# and no registry needed. It builds a small Spring-Boot-shaped jar with the JDK, pushes it as a
# layered image into a local OCI image layout (the local default when no registry is configured),
# pushes it again to show that nothing is rebuilt, and prints the objects `wb app create` would
# send for the app described by examples/wb.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j"$(nproc)"
wb=$PWD/build/default/cli/wb
"$wb" version
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
tests/fixtures/jars/build.sh "$demo/jars" >/dev/null
cp examples/wb.yaml "$demo/wb.yaml"
cd "$demo"
export HOME="$demo"
echo "== wb push jar (cold): layers and where the image went"
"$wb" push jar jars/boot.jar --to "oci:$demo/image" -o json
echo "== wb push jar (again): same digest, every layer skipped"
"$wb" push jar jars/boot.jar --to "oci:$demo/image"
echo "== wb app create --dry-run: the app's objects with the platform's defaults"
"$wb" app create --dry-run -o yaml -w demo
