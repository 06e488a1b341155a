#!/usr/bin/env bash
# Coverage-guided fuzzing of the C++ core with libFuzzer + ASan + UBSan.
#
#   tools/fuzz_native.sh [RUNS] [TARGET ...]     default: 100000 runs of every target
#
# Targets (cpp/src/fuzz/, contracts in cpp/include/scalecore/fuzz/fuzz.h):
#   expr           law-expression programs -> compile_expr -> law_predict at every SIMD level,
#                  against a long-double tree walk with a propagated error bound
#   tp_plan        irreps + instructions + CG -> tp_plan_build -> every product slot and the
#                  backward at every level, against the reference kernel
#   lowbit_codec   element encode/decode and block quantize/dequantize at every level, against
#                  the reference codecs; decode ignores high bits; encode(decode(c)) == c
#   lowbit_packed  packed weights (pack.h layouts) -> unpack round trip -> GEMV/GEMM at every
#                  level against the reference (bit-exact on int8 activations)
# Needs clang (apt-get install clang) and a Python with pybind11, cmeel-eigen or libeigen3-dev
# (the build configures the whole project).  Each target's corpus is merged into
# tests/fuzz_corpus/native_<target>/, which tests/test_fuzz_corpus.py replays through
# _core._fuzz_one in every test run; a crash is written to build/fuzz/crash-<target>-*.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-100000}
shift || true
TARGETS=${*:-expr tp_plan lowbit_codec lowbit_packed}
CXX=${FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || command -v clang++-15 || true)}
[ -n "$CXX" ] || { echo "fuzz_native: clang++ not found (apt-get install clang)"; exit 2; }
PY=${PYTHON:-python3}
B=build/fuzz
mkdir -p build  # a fresh clone has none: the logs below sit beside $B
prefix=$($PY -m cmeel cmake 2>/dev/null || true)
cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$CXX" -DSCALECORE_FUZZ=ON \
  -DSCALECORE_CUDA=OFF -DPython_EXECUTABLE="$(command -v $PY)" \
  -Dpybind11_DIR="$($PY -m pybind11 --cmakedir)" ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} > $B.configure.log
cmake --build $B --target $(for t in $TARGETS; do printf 'fuzz_%s ' "$t"; done) > $B.build.log
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}
for t in $TARGETS; do
  corpus=tests/fuzz_corpus/native_$t
  mkdir -p "$corpus" $B/work_$t
  echo "== fuzz_native: $t, $RUNS runs"
  start=$(date +%s)
  # Fuzz into a scratch corpus seeded by the saved one, then merge what adds coverage back.
  rc=0
  $B/fuzz_$t -runs="$RUNS" -max_len=512 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix=$B/crash-$t- $B/work_$t "$corpus" > $B/fuzz_$t.log 2>&1 || rc=$?
  grep -E "^(#[0-9]+ +DONE|stat::number|stat::new|SUMMARY|scalecore)|runtime error|ERROR: AddressSanitizer" $B/fuzz_$t.log || true
  [ $rc -eq 0 ] || { echo "fuzz_native: $t FAILED (log $B/fuzz_$t.log, input $B/crash-$t-*)"; exit 1; }
  $B/fuzz_$t -merge=1 "$corpus" $B/work_$t > /dev/null 2>&1
  echo "   $t: $(ls "$corpus" | wc -l) corpus inputs, $(( $(date +%s) - start )) s"
done
echo "== fuzz_native passed: $TARGETS"
