#!/usr/bin/env bash
# Bounded fuzz run for CI: every cargo-fuzz target for a short time on its committed corpus.
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 20)
# Needs a nightly toolchain and cargo-fuzz; without them it replays the committed corpora
# through the same checks in a plain test (tests/fuzz_corpus.rs) and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
targets=(simconfig onnx genome checkpoint cli_files)

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly' || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: nightly or cargo-fuzz missing (rustup toolchain install nightly; cargo install cargo-fuzz);" \
        "replaying the corpora with cargo test instead" >&2
    exec cargo test --release --test fuzz_corpus
fi

cd fuzz
# A persistent target dir: the nightly sanitizer build of tract takes ~17 min cold.
tdir="${RNC_FUZZ_TARGET_DIR:-/var/tmp/rnc-fuzz-target}"
cargo +nightly fuzz build --target-dir "$tdir"
for t in "${targets[@]}"; do
    # Inputs found during the run go to a scratch folder: the committed corpus stays as is.
    scratch="$(mktemp -d)"
    echo "fuzz-smoke: $t for ${secs}s"
    log="$scratch.log"
    status=0
    cargo +nightly fuzz run --target-dir "$tdir" "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 >"$log" 2>&1 || status=$?
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" || true
    if [ "$status" != 0 ]; then
        tail -n 40 "$log" >&2
    fi
    rm -f "$log"
    rm -rf "$scratch"
    if [ "$status" != 0 ]; then
        echo "fuzz-smoke: $t failed (crash input saved under fuzz/artifacts/$t/)" >&2
        exit 1
    fi
done
echo "fuzz-smoke: all ${#targets[@]} targets ran ${secs}s without a crash"
