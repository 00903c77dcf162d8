#!/usr/bin/env bash
# Numbers for where monitoring runs, on the real tailnet (tests/tailnet/bench.sh):
#  1. start-up: the desktop build against the headless one (`--no-default-features`): how many
#     shared libraries each loads, `--version`, and `diagnose` of the server over its LocalAPI;
#  2. the exporter (headless build): idle CPU and RSS, then scrape latency of /probe with a
#     cached result and with a fresh diagnosis each time, beside what a user would otherwise run
#     per scrape: a `diagnose --format prometheus` process (the textfile collector's way).
# It prints medians and asserts nothing; it is not a timed test. Times are read inside the
# bench's namespace with bash's $EPOCHREALTIME (no process started around the command) or by
# curl's own %{time_total}.
#
# Env: BENCH_RUNS (21), BENCH_SCRAPES (200), BENCH_IDLE_SECS (10), SKIP_BUILD=1.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/tests/tailnet/bench.sh"
RUNS=${BENCH_RUNS:-21}
SCRAPES=${BENCH_SCRAPES:-200}
IDLE=${BENCH_IDLE_SECS:-10}
NAME=server.tailnet.test
die() { echo "bench-monitoring: $*" >&2; exit 2; }

why=$(bash "$BENCH" check 2>&1) || die "the real-tailnet bench cannot run here: $why"
if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build -q --release --bin serve-doctor) || die "desktop build failed"
    (cd "$ROOT" && cargo build -q --release --no-default-features --bin serve-doctor \
        --target-dir target/headless) || die "headless build failed"
fi
WORK=$(mktemp -d /tmp/sd-bench-monitoring.XXXXXX)
BD=$WORK/bench
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    bash "$BENCH" down "$BD" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$ROOT/target/release/serve-doctor" "$WORK/desktop" || die "no desktop build"
cp "$ROOT/target/headless/release/serve-doctor" "$WORK/headless" || die "no headless build"
# The bench's build cache and Go's stay the user's own: HOME moves below only for serve-doctor.
export SERVE_DOCTOR_BENCH_CACHE=${SERVE_DOCTOR_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/serve-doctor-tailnet}
GOCACHE=$(go env GOCACHE 2>/dev/null) && export GOCACHE
GOMODCACHE=$(go env GOMODCACHE 2>/dev/null) && export GOMODCACHE
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config XDG_DATA_HOME=$WORK/home/.local/share
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"

bash "$BENCH" up "$BD" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "bench.sh up failed"; }
. "$BD/bench.env"
bash "$BENCH" node "$BD" server >"$WORK/node.log" 2>&1 || { cat "$WORK/node.log" >&2; die "node failed"; }
TS="$BD/server/tailscale"
ns() { ip netns exec "$NS" env HOME="$HOME" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" XDG_DATA_HOME="$XDG_DATA_HOME" "$@"; }
ns "$TS" serve --bg 18080 >/dev/null 2>&1 || die "serve --bg failed"
IP=$(ns "$TS" status --json --peers=false | jq -r '.Self.TailscaleIPs[0]')
end=$(( $(date +%s) + 90 ))
until ns curl -s -o /dev/null --max-time 5 --cacert "$PEBBLE_ROOT" --resolve "$NAME:443:$IP" https://$NAME/ 2>/dev/null; do
    [ "$(date +%s)" -lt "$end" ] || die "no certificate within 90 s"
    sleep 0.2
done
COMMON=(--socket "$BD/server/ts.sock" --ca-file "$PEBBLE_ROOT")

# median_ms CMD...: the median wall time of RUNS runs (after one not counted), in ms.
median_ms() {
    ns bash -c '
        runs=$1; shift
        "$@" >/dev/null 2>&1
        for _ in $(seq "$runs"); do
            t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1; t1=$EPOCHREALTIME
            echo "$t0 $t1"
        done' _ "$RUNS" "$@" |
        awk '{ print ($2 - $1) * 1000 }' | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2) { printf "%.1f", $1 }'
}
libs() { ldd "$1" | grep -c '=>'; }

echo "== start-up (median of $RUNS runs)"
echo
echo "| build | shared libraries | \`--version\` | \`diagnose --json\` over the LocalAPI |"
echo "| --- | ---: | ---: | ---: |"
for b in desktop headless; do
    printf '| %s | %s | %s ms | %s ms |\n' "$b" "$(libs "$WORK/$b")" \
        "$(median_ms "$WORK/$b" --version)" "$(median_ms "$WORK/$b" diagnose --json "${COMMON[@]}")"
done

# exporter PORT CACHE: starts the headless exporter; waits until it answers.
exporter() {
    ns "$WORK/headless" exporter --listen "127.0.0.1:$1" --cache "$2" "${COMMON[@]}" \
        >"$WORK/exporter-$1.log" 2>&1 &
    local end=$(( $(date +%s) + 20 ))
    until ns curl -s -o /dev/null "http://127.0.0.1:$1/"; do
        [ "$(date +%s)" -lt "$end" ] || die "exporter on $1 did not start: $(cat "$WORK/exporter-$1.log")"
        sleep 0.1
    done
    # The exporter itself, not the subshell & made of the function.
    PIDS+=("$(pgrep -f "headless exporter --listen 127.0.0.1:$1" | head -1)")
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# scrapes PORT N: N scrapes of /probe?target=local over one keep-alive connection, as
# Prometheus keeps its connection; the median of curl's time_total, in ms.
scrapes() {
    local args=()
    for _ in $(seq "$2"); do args+=(-o /dev/null "http://127.0.0.1:$1/probe?target=local"); done
    ns curl -s -w '%{time_total}\n' "${args[@]}" |
        awk '{ print $1 * 1000 }' | sort -n | awk -v n="$2" 'NR == int((n + 1) / 2) { printf "%.2f", $1 }'
}

exporter 19839 60
PID=${PIDS[-1]}
rss_start=$(rss_mb "$PID")
t0=$(cpu_ticks "$PID")
sleep "$IDLE"
t1=$(cpu_ticks "$PID")
hz=$(getconf CLK_TCK)
echo
echo "== exporter (headless build)"
echo
echo "| what | number |"
echo "| --- | ---: |"
printf '| idle CPU over %s s | %s %% (%s ticks of 1/%s s) |\n' "$IDLE" \
    "$(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$IDLE" 'BEGIN { printf "%.2f", d / hz / s * 100 }')" $((t1 - t0)) "$hz"
printf '| RSS idle, before any scrape | %s MB |\n' "$rss_start"
ns curl -s -o /dev/null "http://127.0.0.1:19839/probe?target=local"
printf '| /probe, cached result (median of %s) | %s ms |\n' "$SCRAPES" "$(scrapes 19839 "$SCRAPES")"
printf '| RSS after %s scrapes | %s MB |\n' "$SCRAPES" "$(rss_mb "$PID")"
exporter 19840 0
printf '| /probe, fresh diagnosis each time (median of %s) | %s ms |\n' "$RUNS" "$(scrapes 19840 "$RUNS")"
printf '| per scrape without the exporter: a diagnose --format prometheus process (median of %s) | %s ms |\n' \
    "$RUNS" "$(median_ms "$WORK/headless" diagnose --format prometheus "${COMMON[@]}")"
