#!/usr/bin/env bash
# Builds the fuzz preset (clang-16, libFuzzer, ASan + UBSan) and runs every fuzz target
# (tests/fuzz/fuzz_<name>.cpp) for SECONDS each (default 60) on a copy of its seed corpus, with
# its dictionary when tests/fuzz/dict/<name>.dict exists. Prints runs, runs/s, coverage and
# crashes per target; exits 1 when any target crashed (or leaked, hung, ran out of memory).
# What crashed is kept in build/fuzz/crashes/<name>/; a new regression input goes into
# tests/fuzz/corpus/<name>/ as crash-<what>.
#
#   scripts/fuzz.sh [SECONDS] [--install] [--jobs N] [--no-build] [--build-dir DIR] [--seed N] [NAME...]
#     --install   install clang-16 and libFuzzer first (scripts/install-deps.sh --with-fuzz)
#     --jobs N    run N targets at once (default 1; a machine has 2 cores)
#     --no-build  use what build/fuzz has
#     --build-dir DIR  the build tree holding tests/fuzz/fuzz_* (default build/fuzz; CI uses
#                 build/sanitize, where the whole suite and the fuzz targets are one build)
#     --keep-going  go on after a crash (libFuzzer's fork mode), to find more than the first bug
#     --seed N    libFuzzer's random seed (default: a new one each run). CI passes a fixed seed so
#                 its few seconds start down the same mutations each run (not byte for byte: seeds
#                 of equal size run in the order the directory lists them); any crash it finds is
#                 a bug, fixed and kept in the corpus. Long runs with new seeds are the campaigns
#     --skip-open   leave out targets with a bug found and not fixed yet (tests/fuzz/open/<name>/
#                   holds its input): they would find it again at once (CI uses this; ctest runs
#                   those inputs and fails when one stops crashing)
#     NAME...     only these targets (e.g. yaml tar_extract); default: all
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60 install=0 jobs=1 build=1 keep_going=0 skip_open=0 seed=0 only=() out=build/fuzz
while (($#)); do
  case "$1" in
    --install) install=1 ;;
    --jobs) jobs="$2"; shift ;;
    --no-build) build=0 ;;
    --build-dir) out="$2"; shift ;;
    --keep-going) keep_going=1 ;;
    --skip-open) skip_open=1 ;;
    --seed) seed="$2"; shift ;;
    [0-9]*) seconds="$1" ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) only+=("$1") ;;
  esac
  shift
done
if ((install)); then scripts/install-deps.sh --with-fuzz; fi
if ((build)); then
  start=$SECONDS
  cmake --preset fuzz >/dev/null
  nice -n 15 cmake --build --preset fuzz -j2
  echo "fuzz: built in $((SECONDS - start)) s"
fi

names=()
if ((${#only[@]})); then
  names=("${only[@]}")
else
  for src in tests/fuzz/fuzz_*.cpp; do n=$(basename "$src" .cpp); names+=("${n#fuzz_}"); done
fi

if [[ -x /usr/lib/llvm-16/bin/llvm-symbolizer ]]; then export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-16/bin/llvm-symbolizer; fi
if ((skip_open)); then
  kept=()
  for name in "${names[@]}"; do
    if compgen -G "tests/fuzz/open/$name/crash-*" >/dev/null; then
      echo "fuzz: $name not fuzzed: open bug(s) in tests/fuzz/open/$name/ ($(ls tests/fuzz/open/"$name" | tr '\n' ' '))"
    else
      kept+=("$name")
    fi
  done
  names=("${kept[@]}")
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1:handle_abort=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# Runs one target; its log goes to build/fuzz/run/<name>.log.
run_one() {
  local name="$1" bin="$out/tests/fuzz/fuzz_$1"
  local work="$out/run/$name" crashes="$out/crashes/$name"
  rm -rf "$work" "$crashes"; mkdir -p "$work/corpus" "$crashes"
  # A copy of the seeds: new inputs the fuzzer keeps stay out of the source tree.
  cp -r tests/fuzz/corpus/"$name"/. "$work/corpus/" 2>/dev/null || true
  local args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048
              -artifact_prefix="$crashes/")
  if ((seed)); then args+=(-seed="$seed"); fi
  if [[ -f tests/fuzz/dict/$name.dict ]]; then args+=(-dict="tests/fuzz/dict/$name.dict"); fi
  if ((keep_going)); then args+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); fi
  set +e
  nice -n 15 "$bin" "${args[@]}" "$work/corpus" >"$out/run/$name.log" 2>&1
  echo $? >"$out/run/$name.rc"
  set -e
}

mkdir -p "$out/run"
running=0
for name in "${names[@]}"; do
  [[ -x "$out/tests/fuzz/fuzz_$name" ]] || { echo "fuzz: no target fuzz_$name in $out" >&2; exit 2; }
  run_one "$name" &
  running=$((running + 1))
  if ((running >= jobs)); then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0
printf '%-16s %10s %8s %7s %7s  %s\n' target runs runs/s cov corpus result
for name in "${names[@]}"; do
  log="$out/run/$name.log" rc=$(cat "$out/run/$name.rc" 2>/dev/null || echo 99)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
  if [[ -z "$runs" ]]; then  # fork mode: "#RUNS: cov: ... exec/s: N ... time: Ss"
    runs=$(grep -oE '^#[0-9]+: cov' "$log" | tail -1 | tr -dc 0-9 || true)
    rate=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -1 | tr -dc 0-9 || true)
  fi
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
  found=$(find "$out/crashes/$name" -type f | wc -l)
  if [[ "$rc" == 0 && "$found" == 0 ]]; then
    result=ok
  else
    result="CRASHED (exit $rc; $found input(s) in $out/crashes/$name; log $log)"
    failed=1
  fi
  printf '%-16s %10s %8s %7s %7s  %s\n' "$name" "${runs:--}" "${rate:--}" "${cov:--}" "${corp:--}" "$result"
done
if ((failed)); then
  for name in "${names[@]}"; do
    rc=$(cat "$out/run/$name.rc" 2>/dev/null || echo 99)
    if [[ "$rc" != 0 ]]; then
      echo "---- $name: the report"
      grep -A30 -m1 -E '^==[0-9]+==ERROR|runtime error|^==[0-9]+== ERROR|deadly signal|ALARM' "$out/run/$name.log" || tail -30 "$out/run/$name.log"
      # The inputs themselves, so a crash on a machine nobody can reach (CI) can be replayed:
      # base64 -d > crash-x, then build/fuzz/tests/fuzz/fuzz_<name> crash-x.
      for input in "$out/crashes/$name"/*; do
        [[ -f "$input" ]] || continue
        if (($(stat -c %s "$input") <= 16384)); then
          echo "---- $name: $(basename "$input") as base64 ($(stat -c %s "$input") bytes)"
          base64 -w 100 "$input"
        else
          echo "---- $name: $(basename "$input") is $(stat -c %s "$input") bytes, too big to print"
        fi
      done
    fi
  done
  exit 1
fi
