#!/usr/bin/env bash
# Installs everything wb needs to build and test, from Debian's packages. Idempotent and
# non-interactive; run as root (or with sudo available).
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates openjdk-17-jdk-headless
  libcli11-dev libcurl4-openssl-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libfmt-dev
  libarchive-dev zlib1g-dev catch2
)
# Test servers and independent checkers: the fake API server (Python + aiohttp), the real OCI
# registry, htpasswd for its auth, openssl for test certificates, skopeo to read what we push,
# podman + runc + debootstrap to run a pushed image on a real JRE base.
test_pkgs=(python3 python3-aiohttp python3-yaml docker-registry apache2-utils openssl skopeo tar
           podman runc debootstrap)
# The shells whose completion scripts are tested, groff and man for the man pages, and what
# `cpack -G DEB` needs to compute the package's dependencies (dpkg-shlibdeps, file).
test_pkgs+=(bash zsh fish groff-base man-db gzip dpkg-dev file)
# gitlab-ci-local (npm, tests/gitlab-ci-local) runs examples/.gitlab-ci.yml and needs rsync.
test_pkgs+=(rsync)
# libfaketime: `wb doctor`'s clock check against a skewed clock (tests/e2e/test_doctor.py).
test_pkgs+=(faketime)
# busybox-static: the fake API server runs an Alpine-like container's commands with it.
test_pkgs+=(busybox-static)
# nghttpx: an HTTP/2 (ALPN h2) TLS proxy in front of the fake API server (tests/e2e/test_http2.py).
test_pkgs+=(nghttp2-proxy)

# --with-fuzz: the fuzz preset (tests/fuzz, scripts/fuzz.sh): clang-16 with libFuzzer and the
# sanitizer runtimes, and llvm-symbolizer for readable crash reports.
fuzz_pkgs=(clang-16 libclang-rt-16-dev libfuzzer-16-dev llvm-16)

want=("${build_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --with-tests) want+=("${test_pkgs[@]}") ;;
    --with-fuzz) want+=("${fuzz_pkgs[@]}") ;;
    *) echo "install-deps: unknown option $arg (--with-tests, --with-fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
