#!/usr/bin/env bash
# Fuzz mpath-console with cargo-fuzz (libFuzzer + AddressSanitizer).
#
#   scripts/fuzz.sh [-t SECONDS | -n RUNS] [TARGET...]
#
#   -t SECONDS  run each target for this long (default 60)
#   -n RUNS     run each target for this many executions instead
#   TARGET      any of: pdu_decoder nvme_structs rpc_request rpc_methods
#               target_commands hostile_target theme_parser scenario_parser (default: all,
#               one after another)
#
# Environment: FUZZ_NO_BUILD=1 runs the binaries built before (say, while
# the sources change under another build); FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS=-jobs=1
# -workers=1 — by default each target is one process on one core, which is
# the same load); CARGO_FUZZ_VERSION pins the cargo-fuzz installed if it is
# missing.
#
# Installs cargo-fuzz if missing (cargo install cargo-fuzz --locked). The
# instrumented build needs nightly-only rustc flags: on a stable toolchain
# RUSTC_BOOTSTRAP=1 unlocks them (set here). Builds with debug assertions
# and overflow checks on (-a) and, by default, without a sanitizer
# (FUZZ_SANITIZER=none): the fuzzed code is safe Rust but for one bounded
# snprintf, so AddressSanitizer finds nothing the Rust checks miss and
# costs two to three times the executions per second. FUZZ_SANITIZER=address
# builds with it. Each target starts from its seeds in
# fuzz/corpus/<target>/ and writes what it finds to fuzz/work/<target>/
# (not kept); crashes land in fuzz/artifacts/<target>/. A crash found here
# becomes a test in tests/fuzz_regressions.rs (input under
# fuzz/regressions/<target>/).
#
# Prints, per target: executions, seconds, executions per second, and
# crashes (new artifacts). Exits 1 if any target crashed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ALL=(pdu_decoder nvme_structs rpc_request rpc_methods target_commands hostile_target theme_parser scenario_parser)
SECS=60
RUNS=
while getopts "t:n:h" o; do
    case "$o" in
    t) SECS="$OPTARG" RUNS= ;;
    n) RUNS="$OPTARG" ;;
    *)
        sed -n '2,14p' "$0"
        exit 2
        ;;
    esac
done
shift $((OPTIND - 1))
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
    [[ " ${ALL[*]} " == *" $t "* ]] || {
        echo "scripts/fuzz.sh: unknown target '$t' (known: ${ALL[*]})" >&2
        exit 2
    }
done

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> cargo install cargo-fuzz --locked" >&2
    cargo install cargo-fuzz --locked ${CARGO_FUZZ_VERSION:+--version "$CARGO_FUZZ_VERSION"}
fi
export RUSTC_BOOTSTRAP=1

# Largest input per target: PDUs with 4 KiB of data, 4 KiB NVMe structures.
max_len() {
    case "$1" in
    pdu_decoder | target_commands) echo 16384 ;;
    nvme_structs) echo 9000 ;;
    *) echo 4096 ;;
    esac
}

if [ -n "${FUZZ_NO_BUILD:-}" ]; then
    echo "==> FUZZ_NO_BUILD set: running the binaries already built" >&2
else
    san="${FUZZ_SANITIZER:-none}"
    echo "==> cargo fuzz build -a -s $san (instrumented, debug assertions)" >&2
    (cd fuzz && cargo fuzz build -a -s "$san")
fi
BIN="$ROOT/fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

fail=0
summary=()
for t in "${TARGETS[@]}"; do
    work="fuzz/work/$t"
    arts="fuzz/artifacts/$t"
    mkdir -p "$work" "$arts"
    before=$(find "$arts" -type f | wc -l)
    stamp=$(mktemp)
    log="fuzz/work/$t.log"
    limit=(-max_total_time="$SECS")
    [ -n "$RUNS" ] && limit=(-runs="$RUNS")
    if [ -n "$RUNS" ]; then what="$RUNS runs"; else what="$SECS s"; fi
    echo "==> $t ($what), log $log" >&2
    rm -f fuzz-[0-9]*.log # per-job logs of a -jobs=N run land in the current directory
    set +e
    # The binaries are run directly: `cargo fuzz run` would rebuild the
    # instrumented library whenever a source file changed meanwhile.
    # shellcheck disable=SC2086
    "$BIN/$t" -artifact_prefix="$ROOT/$arts/" "${limit[@]}" -max_len="$(max_len "$t")" \
        -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -print_pcs=0 ${FUZZ_ARGS:-} \
        "$work" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    after=$(find "$arts" -type f | wc -l)
    for j in fuzz-[0-9]*.log; do
        if [ -e "$j" ]; then cat "$j" >>"$log" && rm -f "$j"; fi
    done
    runs=$( (grep -h 'stat::number_of_executed_units' "$log" || true) | awk '{s+=$2} END {print s+0}')
    secs=$( (grep -ho 'Done [0-9]* runs in [0-9]* second' "$log" || true) | awk '{print $5}' | tail -1)
    eps=$( (grep -h 'stat::average_exec_per_sec' "$log" || true) | awk '{print $2}' | tail -1)
    crashes=$((after - before))
    [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes="? (exit $rc, see $log)"
    line=$(printf '%-16s executions %-11s seconds %-6s exec/s %-7s crashes %s' \
        "$t" "${runs:-?}" "${secs:-?}" "${eps:-?}" "$crashes")
    summary+=("$line")
    echo "$line"
    if [ "$rc" -ne 0 ]; then
        fail=1
        grep -m1 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)" "$log" >&2 || true
        find "$arts" -type f -newer "$stamp" -print >&2 || true
    fi
    rm -f "$stamp"
done

echo
echo "==> summary"
printf '%s\n' "${summary[@]}"
exit "$fail"
