#!/usr/bin/env bash
# `make test-tailnet`: every test that meets the real tailscaled — the Rust scenarios in
# tests/tailnet/*.rs (one bench for the whole binary) and the tray under Xvfb
# (tests/e2e/tailnet-tray.sh, a bench of its own).
#
# Where this machine cannot run the bench (not root, no /dev/net/tun, no Go, no namespaces) it
# prints one line saying so and passes — except in CI (CI=true) or with SD_REQUIRE_TAILNET=1,
# where that is a failure. When it runs, it counts: every #[test] in tests/tailnet must have run
# and passed (a test that skipped itself would panic under SD_REQUIRE_TAILNET=1 anyway).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
CARGO=${CARGO:-cargo}

if ! why=$(bash tests/tailnet/bench.sh check); then
    if [ "${CI:-}" = true ] || [ "${SD_REQUIRE_TAILNET:-}" = 1 ]; then
        echo "real-tailnet tests cannot run here: $why"
        exit 1
    fi
    echo "real-tailnet tests SKIPPED: $why"
    exit 0
fi
export SD_REQUIRE_TAILNET=1
# Built once into a versioned cache; a second run builds nothing.
bash tests/tailnet/bench.sh build >/dev/null || { echo "building the bench failed"; exit 1; }

want=$(grep -h -c '^#\[test\]' tests/tailnet/*.rs | awk '{s += $1} END {print s}')
log=$(mktemp)
$CARGO test -q --test tailnet -- --test-threads=1 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
got=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log" | tail -1)
rm -f "$log"
if [ "$rc" -ne 0 ]; then
    echo "real-tailnet scenarios FAILED"
    exit 1
fi
if [ "${got:-0}" -ne "$want" ]; then
    echo "real-tailnet scenarios: $got passed, but tests/tailnet has $want tests"
    exit 1
fi
echo "real-tailnet scenarios: all $want ran and passed on tailscaled $(grep -m1 -o 'v1\.[0-9.]*' tests/tailnet/bench.sh)"

echo "== tests/e2e/tailnet-tray.sh"
SKIP_BUILD=${SKIP_BUILD:-} bash tests/e2e/tailnet-tray.sh
