#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input (the cargo-fuzz targets in fuzz/): builds every target
# once, then runs each for FUZZ_SECONDS (default 30; 0 skips fuzzing) on a temporary copy of
# its seeds in fuzz/corpus-seed/<target>/. Fails on any crash, timeout or out-of-memory and
# names the input that caused it (kept under fuzz/artifacts/<target>/); prints one summary
# line per target. Usage: scripts/fuzz.sh [target...]   (default: every target)
#
# Reproduce a failure:  fuzz/target/<host triple>/release/<target> <artifact>
#   or, from fuzz/:     cargo +nightly fuzz run -s none -a --codegen-units 16 <target> <artifact>
#
# Build: `-s none` (no AddressSanitizer). The gateway forbids unsafe code: ASan would only
# watch its dependencies' unsafe Rust (their C, aws-lc and ring, is not instrumented by
# cargo-fuzz either way), and what the targets check is panics and properties, which need no
# sanitizer. Measured on two cores shared with other builds: the full release build took
# 20 min (16 min CPU) without ASan against about 31 min (25 min CPU) with it, and the targets
# ran 1.7x (path_canonicalize) to 9x (basic_parse) more executions per second without it
# (config_parse 10,900 against 2,000, jwt_decode 7,700 against 3,000, session_cookie 24,800
# against 3,300). `--codegen-units 16` (cargo-fuzz's default is 1; its help suggests 16 for
# faster builds) lets the largest crates (the AWS SDK, Pingora, the gateway) use both cores.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-30}
if [ "$seconds" = 0 ]; then
  echo "== fuzz: skipped (FUZZ_SECONDS=0)"
  exit 0
fi
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "== fuzz: installing the nightly toolchain (cargo-fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "== fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

build=(-s none --debug-assertions --codegen-units 16)
echo "== fuzz: building the targets (${build[*]})"
cargo +nightly fuzz build "${build[@]}"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir="target/$triple/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
summary=()
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus" "artifacts/$t"
  if [ -d "corpus-seed/$t" ]; then
    cp -R "corpus-seed/$t/." "$corpus/"
  fi
  log="$work/$t.log"
  echo "== fuzz: $t for ${seconds}s"
  set +e
  "$bin_dir/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  runs=$(stat number_of_executed_units)
  speed=$(stat average_exec_per_sec)
  files=$(find "$corpus" -type f | wc -l)
  line=$(printf '%-18s runs %-10s exec/s %-8s corpus %s' "$t" "${runs:-?}" "${speed:-?}" "$files")
  if [ "$rc" -ne 0 ]; then
    status=1
    tail -n 40 "$log" >&2
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "FAILED: $t (exit $rc): input in fuzz/${artifact:-artifacts/$t/ (none written)}" >&2
    line="$line  FAILED: fuzz/${artifact:-?}"
  fi
  summary+=("$line")
done

echo
echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
