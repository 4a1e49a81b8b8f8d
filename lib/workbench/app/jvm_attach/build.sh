#!/bin/sh
# Compiles WbAttach.java into the WbAttach.class committed beside it, which the build embeds into wb
# (so building wb needs no JDK). Run after changing the source; a test checks the two match.
# Usage: build.sh [OUTDIR] (default: this folder).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
javac --release 16 -g:none -encoding UTF-8 -d "$tmp" "$here/WbAttach.java"
cp "$tmp/WbAttach.class" "$out/WbAttach.class"
