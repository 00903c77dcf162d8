#!/usr/bin/env bash
# `diagnose --all` over several targets against the slowest of them alone, on the real tailnet
# (tests/tailnet/bench.sh): the targets are run side by side, so --all should cost about the
# slowest single target, not their sum.
#
# The targets: this node (the bench's server node, over its LocalAPI) and BENCH_TARGETS - 1 URL
# targets, each the server's serve seen from here as another device would see it (the URL view:
# this node's netmap, the handshake with the node's name, a request through serve).
# BENCH_RUNS rounds, each running `diagnose --target NAME` for every target and then
# `diagnose --all`; the medians of each. It prints numbers and asserts nothing; it is not a timed
# test. The clock is read inside the bench's namespace, right around each command.
#
# Env: BENCH_TARGETS (10), BENCH_RUNS (5), SERVE_DOCTOR_BIN (default target/release/serve-doctor),
#      SKIP_BUILD=1.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/tests/tailnet/bench.sh"
N=${BENCH_TARGETS:-10}
RUNS=${BENCH_RUNS:-5}
NAME=server.tailnet.test
die() { echo "bench-targets: $*" >&2; exit 2; }

why=$(bash "$BENCH" check 2>&1) || die "the real-tailnet bench cannot run here: $why"
if [ -z "${SKIP_BUILD:-}" ] && [ -z "${SERVE_DOCTOR_BIN:-}" ]; then
    (cd "$ROOT" && cargo build -q --release --bin serve-doctor) || die "build failed"
fi
SRC_BIN=${SERVE_DOCTOR_BIN:-$ROOT/target/release/serve-doctor}
[ -x "$SRC_BIN" ] || die "no $SRC_BIN"

WORK=$(mktemp -d /tmp/sd-bench-targets.XXXXXX)
BD=$WORK/bench
cleanup() { bash "$BENCH" down "$BD" >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
BIN=$WORK/serve-doctor
cp "$SRC_BIN" "$BIN"
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
ns() { ip netns exec "$NS" "$@"; }
ns "$TS" serve --bg 18080 >/dev/null 2>&1 || die "serve --bg failed"
IP=$(ns "$TS" status --json --peers=false | jq -r '.Self.TailscaleIPs[0]')
# The first handshake fetches the certificate (Pebble); wait until one completes.
end=$(( $(date +%s) + 90 ))
until ns curl -s -o /dev/null --max-time 5 --cacert "$PEBBLE_ROOT" --resolve "$NAME:443:$IP" https://$NAME/ 2>/dev/null; do
    [ "$(date +%s)" -lt "$end" ] || die "no certificate within 90 s"
    sleep 0.2
done

COMMON=(--socket "$BD/server/ts.sock" --ca-file "$PEBBLE_ROOT")
for i in $(seq 2 "$N"); do
    # By address: the namespace has no system resolver for tailnet names (from a real device the
    # name would do; the DNS lookups cost a few milliseconds, side by side with the handshake).
    "$BIN" targets add "site$i" --url "https://$IP/" >/dev/null || die "targets add failed"
done

# once_ms ARGS...: the wall time of one run, in ms; its cause goes to $WORK/cause.
once_ms() {
    ns env HOME="$HOME" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" XDG_DATA_HOME="$XDG_DATA_HOME" bash -c '
        t0=$(date +%s%N); "$@" >/tmp/sd-bench-targets.out 2>/dev/null; t1=$(date +%s%N)
        echo $(( (t1 - t0) / 1000000 ))' _ "$BIN" diagnose --json "${COMMON[@]}" "$@"
    jq -r '.cause // ([.targets[].diagnosis.cause] | unique | join(","))' /tmp/sd-bench-targets.out >"$WORK/cause" 2>/dev/null
}

median() { sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }

# Rounds, not blocks: each round runs every target alone and then --all, so a machine that
# speeds up or slows down during the run moves both sides alike.
TARGETS=(local $(seq -f 'site%g' 2 "$N"))
for r in $(seq "$RUNS"); do
    for t in "${TARGETS[@]}"; do
        echo "$(once_ms --target "$t")" >>"$WORK/ms-$t"
        cp "$WORK/cause" "$WORK/cause-$t"
    done
    echo "$(once_ms --all)" >>"$WORK/ms-all"
    cp "$WORK/cause" "$WORK/cause-all"
done

printf '%-10s %8s  %s\n' target "median" cause
slowest=0
for t in "${TARGETS[@]}"; do
    m=$(median <"$WORK/ms-$t")
    printf '%-10s %6s ms  %s\n' "$t" "$m" "$(cat "$WORK/cause-$t")"
    [ "$m" -gt "$slowest" ] && slowest=$m
done
all=$(median <"$WORK/ms-all")
printf '%-10s %6s ms  %s\n' "--all" "$all" "$(cat "$WORK/cause-all")"
echo
echo "| targets | slowest single target (median) | \`diagnose --all\` (median) | ratio |"
echo "| --- | ---: | ---: | ---: |"
awk -v n="$N" -v s="$slowest" -v a="$all" 'BEGIN { printf "| %d | %d ms | %d ms | %.2f× |\n", n, s, a, a / s }'
