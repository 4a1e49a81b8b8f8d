#!/usr/bin/env bash
# The Debian package as a user gets it: `cpack -G DEB` in the build directory makes
# wb_<version>_<arch>.deb; unpacked into a scratch root (dpkg -x) its wb runs, its man pages read
# with man(1) and its bash completion completes with its own binary.
#   tests/package/test_deb.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: test_deb.sh BUILD_DIR}" && pwd)
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack -G DEB failed"; }
debs=("$tmp"/out/wb_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one wb_*.deb in $tmp/out: $(ls "$tmp/out")"
deb=${debs[0]}
echo "package: $(basename "$deb")"
[[ $(basename "$deb") == "wb_${version}_$(dpkg --print-architecture).deb" ]] || fail "unexpected file name $(basename "$deb")"

# The control fields: name, version, dependencies computed from the binary (dpkg-shlibdeps).
[[ $(dpkg-deb -f "$deb" Package) == wb ]] || fail "Package is not wb"
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "Version is not $version"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libc6 libcurl4 libstdc++6 libarchive13 ca-certificates; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib"
done
[[ -n $(dpkg-deb -f "$deb" Maintainer) ]] || fail "no Maintainer"
[[ -n $(dpkg-deb -f "$deb" Description) ]] || fail "no Description"

# What it installs.
dpkg -c "$deb" | awk '{print $6}' >"$tmp/contents"
for f in ./usr/bin/wb ./usr/share/man/man1/wb.1.gz ./usr/share/bash-completion/completions/wb \
         ./usr/share/zsh/vendor-completions/_wb ./usr/share/fish/vendor_completions.d/wb.fish; do
  grep -qx -- "$f" "$tmp/contents" || fail "$f is not in the package"
done
src=$(cd "$(dirname "$0")/../.." && pwd)
for page in "$src"/man/*.1; do
  f="./usr/share/man/man1/$(basename "$page").gz"
  grep -qx -- "$f" "$tmp/contents" || fail "$f is not in the package"
done

# Unpacked into a scratch root, it works.
root=$tmp/root
dpkg -x "$deb" "$root"
out=$("$root/usr/bin/wb" version)
[[ $out == "wb $version ("* ]] || fail "wb version printed '$out'"
echo "$out"
man_out=$(MANWIDTH=80 man -M "$root/usr/share/man" -P cat wb-app 2>&1) || fail "man wb-app: $man_out"
[[ $man_out == *"wb app create"* ]] || fail "man wb-app does not document wb app create"
warnings=$(zcat "$root/usr/share/man/man1/wb.1.gz" | groff -ww -man -Tutf8 2>&1 >/dev/null)
[[ -z $warnings ]] || fail "groff warns about the packaged wb.1: $warnings"
# The packaged bash completion, with the packaged wb first on PATH.
got=$(PATH="$root/usr/bin:$PATH" bash --norc --noprofile -c \
  'source "$1"; COMP_LINE="wb app st"; COMP_POINT=${#COMP_LINE}; _wb; echo "${COMPREPLY[*]}"' \
  bash "$root/usr/share/bash-completion/completions/wb")
[[ $got == "status start stop" ]] || fail "bash completion of 'wb app st' gave '$got'"
echo "ok: $(basename "$deb") installs wb, $(grep -c 'man1/.*\.gz$' "$tmp/contents") man pages and completions for bash, zsh and fish"
