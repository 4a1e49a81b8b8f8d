#!/bin/sh
# Builds and runs the jar/layer benchmark (optimised, straight from the sources).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${TMPDIR:-/tmp}/wb-bench
mkdir -p "$out"
[ -f "$out/big.jar" ] || python3 "$root/bench/make_big_jar.py" "$out/big.jar"
g++ -O2 -std=c++20 -I"$root/lib" "$root/bench/jar_layers.cpp" "$root/lib/image/layer.cpp" "$root"/lib/jar/*.cpp \
  "$root/lib/util/encoding.cpp" "$root/lib/util/strings.cpp" "$root/lib/util/result.cpp" \
  -larchive -lz -lcrypto -o "$out/jar_layers"
"$out/jar_layers" "${1:-$out/big.jar}"
