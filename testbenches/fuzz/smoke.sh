#!/usr/bin/env bash
# Fuzz smoke run (CTest `fuzz.smoke`, label fuzz; docs/fuzzing.md): configures
# BUILD_DIR with clang, -DMLSSIM_FUZZ=ON and -O0 (half the build time of -O1),
# builds the harnesses only, and runs each for SECONDS from a copy of its seed
# corpus (the source tree is never written). Fails if a harness finds a crash,
# or if clang or libFuzzer is missing: this test never skips.
#
#   bash testbenches/fuzz/smoke.sh SOURCE_DIR BUILD_DIR [SECONDS]
#
# Crash inputs are kept in BUILD_DIR/smoke-findings/ and each harness's output in
# BUILD_DIR/smoke-logs/.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 SOURCE_DIR BUILD_DIR [SECONDS]" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
build=$2
seconds=${3:-5}
targets=(fuzz_npy fuzz_trace fuzz_energy_table fuzz_sweep)
targets+=(fuzz_merge fuzz_resume fuzz_point_record)  # the stores of issue 29
targets+=(fuzz_topology fuzz_layer_config fuzz_cli_values)  # budgets and parsers of issue 29
here="$src/testbenches/fuzz"

fail() {
  echo "fuzz smoke: FAILED: $*" >&2
  exit 1
}

for tool in clang clang++; do
  command -v "$tool" >/dev/null ||
    fail "'$tool' not found. The fuzz harnesses need clang and libFuzzer; on Debian 12: apt-get install clang libclang-rt-14-dev"
done

# Stacks name functions and lines only with llvm-symbolizer (Debian: package llvm,
# or llvm-14's copy, which is not on PATH).
if ! command -v llvm-symbolizer >/dev/null; then
  for s in /usr/lib/llvm-*/bin/llvm-symbolizer; do
    [ -x "$s" ] && export ASAN_SYMBOLIZER_PATH="$s" && break
  done
  [ -n "${ASAN_SYMBOLIZER_PATH:-}" ] ||
    echo "fuzz smoke: warning: no llvm-symbolizer (package llvm): crash stacks will show addresses only" >&2
fi

start=$(date +%s)
echo "fuzz smoke: configuring $build (clang, MLSSIM_FUZZ=ON)"
mkdir -p "$build" || fail "cannot create $build"
CC=clang CXX=clang++ cmake -S "$src" -B "$build" -DMLSSIM_FUZZ=ON -DMLSSIM_FUZZ_OPT=-O0 >"$build/smoke-configure.log" 2>&1 ||
  { tail -n 30 "$build/smoke-configure.log" >&2; fail "configuring $build (log: $build/smoke-configure.log)"; }
echo "fuzz smoke: building ${targets[*]}"
cmake --build "$build" --target fuzzers -j "$(nproc)" >"$build/smoke-build.log" 2>&1 ||
  { tail -n 60 "$build/smoke-build.log" >&2; fail "building the harnesses (log: $build/smoke-build.log)"; }
echo "fuzz smoke: built in $(($(date +%s) - start)) s"

work=$(mktemp -d "${TMPDIR:-/tmp}/mlssim-fuzz-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
findings="$build/smoke-findings"
logs="$build/smoke-logs"
rm -rf "$findings" "$logs"
mkdir -p "$findings" "$logs"

failed=()
for t in "${targets[@]}"; do
  cp -r "$here/corpus/$t" "$work/$t"
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  "$build/testbenches/fuzz/$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$findings/$t-" "$work/$t" >"$logs/$t.log" 2>&1
  rc=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$logs/$t.log" | grep -Eo '[0-9]+$')
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz smoke: $t: FOUND A CRASH (exit $rc); input in $findings/, output:" >&2
    grep -E -m 12 'ERROR|SUMMARY|terminate called|what\(\)|runtime error|#[0-9]+ 0x.* in (mls|YAML|nlohmann)|Test unit written' \
      "$logs/$t.log" >&2
    echo "  (full output: $logs/$t.log)" >&2
  else
    echo "fuzz smoke: $t: ok, ${execs:-?} inputs in ${seconds} s"
  fi
done

echo "fuzz smoke: total $(($(date +%s) - start)) s"
[ ${#failed[@]} -eq 0 ] || fail "crash found by ${failed[*]}; reproduce with: $build/testbenches/fuzz/<target> <crash file> (docs/fuzzing.md)"
