#!/usr/bin/env bash
# Time to the verdict on the real tailnet (tests/tailnet/bench.sh: a real tailscaled v1.102.3, the
# bench control server, Pebble), side by side for three scenarios and three ways of asking:
#
#   scenarios   HTTPS off       certs?on=0: CertDomains empty
#               issuance stall  acme?mode=stall and no cached certificate: the daemon's first
#                               issuance waits on an ACME server that never answers
#               healthy         a certificate issued by Pebble, the backend up
#   tools       a. serve-doctor diagnose --json over the LocalAPI (--socket)
#               b. serve-doctor diagnose --json over the real CLI (--tailscale)
#               c. the manual chain, for real: `curl -vk --max-time 10 https://NAME/ --resolve
#                  NAME:443:IP`, then `timeout 60 tailscale cert NAME` in a throw-away directory
#
# For each cell: median / min / max wall time over N runs, and what it said (serve-doctor: exit
# code and cause; curl and tailscale cert: exit code and their error line). It prints numbers and
# asserts nothing; it is not a timed test. The last thing printed is a Markdown table for the
# README. Every command runs inside the bench's network namespace; the clock (date +%s%N) is read
# inside the namespace too, right around the command, so `ip netns exec` is not counted.
#
# Between runs:
#   - HTTPS off: nothing. tailscaled refuses the certificate before it looks at any cache or lock
#     (no CertDomains), so a run leaves nothing behind.
#   - issuance stall: before EVERY timed command (each serve-doctor run, each curl, each tailscale
#     cert) the server's tailscaled is stopped, its certificate and key are deleted and it is
#     started again; the run begins once the daemon is Running with CertDomains set, its health
#     says "Fetching TLS certificate via ACME" (its own background issuance has started and hangs)
#     and :443 accepts. The hung issuance (it was still hanging after minutes) holds the daemon's
#     per-domain certificate lock and every handshake and `tailscale cert` waits behind it; the
#     restart makes sure no run starts behind the leftovers (abandoned handshakes, a killed
#     `tailscale cert`) of the previous ones, so every run sees the same, fresh stall.
#   - healthy: nothing (the certificate is cached; nothing is issued again). Before the first run
#     the server must have stayed Running, Online and warning-free for 3 s: right after bring-up
#     tailscaled restarts its map poll once and for a moment reports Self.Online false, which
#     serve-doctor would (rightly, for that snapshot) call control_unreachable.
# The scenarios run in the order healthy → HTTPS off → stall (each set up from the one before);
# the tables list them as HTTPS off, stall, healthy.
#
# Env: BENCH_RUNS (5) serve-doctor runs per cell; BENCH_MANUAL_RUNS (2) runs of curl and of
#      tailscale cert per cell (a stall run costs 10 s + 60 s); BENCH_SD_TIMEOUT (unset: the
#      default 5 s) passed as --timeout; BENCH_SCENARIOS ("off stall healthy", any subset);
#      SERVE_DOCTOR_BIN (default target/release/serve-doctor); SKIP_BUILD=1; BENCH_KEEP=1 keeps
#      the work directory (the bench is still torn down).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/tests/tailnet/bench.sh"
RUNS=${BENCH_RUNS:-5}
MRUNS=${BENCH_MANUAL_RUNS:-2}
SCENARIOS=${BENCH_SCENARIOS:-off stall healthy}
NAME=server.tailnet.test
SD_TIMEOUT_ARGS=()
[ -n "${BENCH_SD_TIMEOUT:-}" ] && SD_TIMEOUT_ARGS=(--timeout "$BENCH_SD_TIMEOUT")

die() { echo "bench-tailnet: $*" >&2; exit 2; }

why=$(bash "$BENCH" check 2>&1) || die "the real-tailnet bench cannot run here: $why"
if [ -z "${SKIP_BUILD:-}" ] && [ -z "${SERVE_DOCTOR_BIN:-}" ]; then
    (cd "$ROOT" && cargo build -q --release --bin serve-doctor) || die "build failed"
fi
SRC_BIN=${SERVE_DOCTOR_BIN:-$ROOT/target/release/serve-doctor}
[ -x "$SRC_BIN" ] || die "no $SRC_BIN"

WORK=$(mktemp -d /tmp/sd-bench-tailnet.XXXXXX)
BD=$WORK/bench
cleanup() {
    bash "$BENCH" down "$BD" >/dev/null 2>&1
    if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy: the target directory is shared, a rebuild during the run must not swap the binary.
BIN=$WORK/serve-doctor
cp "$SRC_BIN" "$BIN"
# serve-doctor's own HOME (config, backups, logs) stays in the work dir; the bench itself keeps the
# real HOME, where its binaries and the Go caches are.
SD_HOME=$WORK/home
mkdir -p "$SD_HOME/.config" "$SD_HOME/.local/share" "$SD_HOME/.local/state"

bash "$BENCH" up "$BD" >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "bench.sh up failed"; }
. "$BD/bench.env"
TS="$BD/server/tailscale"
SOCK="$BD/server/ts.sock"
CERTS="$BD/server/certs"

ns() { ip netns exec "$NS" "$@"; }
admin() { ns curl -sf --max-time 10 -X POST "$ADMIN_URL/$1" >/dev/null || die "admin $1 failed"; }
status() { ns timeout 20 "$TS" status --json --peers=false 2>/dev/null; }
# wait_until SECS WHAT CMD...: re-checks CMD every 50 ms.
wait_until() {
    local secs=$1 what=$2; shift 2
    local end=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || die "timed out after ${secs}s waiting for $what (bench logs: BENCH_KEEP=1)"
        sleep 0.05
    done
}
# steady SECS: the server Running and Online, with no health warning, in every sample (50 ms apart)
# for SECS seconds in a row. Right after bring-up tailscaled restarts its map poll once (its log:
# "PollNetMap: … use of closed network connection") and for that moment reports Self.Online false.
steady() {
    local secs=$1 end=$(( $(date +%s) + 90 )) since=$(date +%s%N)
    while [ $(( ($(date +%s%N) - since) / 1000000 )) -lt $(( secs * 1000 )) ]; do
        [ "$(date +%s)" -lt "$end" ] || die "the server did not stay Online and warning-free for ${secs}s"
        status | jq -e '.BackendState == "Running" and .Self.Online == true and ((.Health // []) | length) == 0' >/dev/null \
            || since=$(date +%s%N)
        sleep 0.05
    done
}
running_with_certs() { status | jq -e --arg n "$NAME" '.BackendState == "Running" and .CertDomains[0] == $n and .Self.Online == true' ; }
certs_off() { status | jq -e '.BackendState == "Running" and (.CertDomains | length) == 0'; }
fetching() { status | jq -e '[.Health[]? | select(contains("Fetching TLS certificate via ACME"))] | length > 0'; }
port_open() { ns bash -c "exec 3<>/dev/tcp/$IP/443"; }
have_cert() { [ -s "$CERTS/$NAME.crt" ] && [ -s "$CERTS/$NAME.key" ]; }

# timed OUT ERR CMD...: runs CMD in the namespace; prints "RC MS" (clock read inside the namespace).
timed() {
    local out=$1 err=$2; shift 2
    ip netns exec "$NS" bash -c 'o=$1 e=$2; shift 2
        t0=$(date +%s%N); "$@" >"$o" 2>"$e" </dev/null; rc=$?; t1=$(date +%s%N)
        echo "$rc $(( (t1 - t0) / 1000000 ))"' _ "$out" "$err" "$@"
}

# A fresh daemon whose first issuance has started and hangs (stall scenario, before each run).
fresh_stalled_daemon() {
    bash "$BENCH" stop-node "$BD" server >>"$WORK/nodes.log" 2>&1 || die "stop-node failed"
    rm -f "$CERTS/$NAME.crt" "$CERTS/$NAME.key"
    bash "$BENCH" node "$BD" server >>"$WORK/nodes.log" 2>&1 || die "bench.sh node failed"
    wait_until 60 "the server to run with CertDomains" running_with_certs
    wait_until 30 "the daemon's issuance to start" fetching
    wait_until 30 "the server's :443" port_open
    have_cert && die "a certificate appeared although ACME stalls"
}

between() { # scenario
    [ "$1" = stall ] && fresh_stalled_daemon
    return 0
}

# --- results: R[scenario.tool] = "ms ms ms", W[scenario.tool] = what it said, one per run, "|"-separated
declare -A R W
stats() { # "ms ms ..." → "median min max"
    tr ' ' '\n' | grep -E '^[0-9]+$' | sort -n | awk '{a[NR]=$1} END {
        if (!NR) { print "? ? ?"; exit }
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%d %d %d\n", m, a[1], a[NR] }'
}
fmt_ms() { awk -v m="$1" 'BEGIN { if (m == "?") print "?"; else if (m < 1000) printf "%d ms", m; else printf "%.2f s", m / 1000 }'; }
fmt_bare() { awk -v m="$1" 'BEGIN { if (m == "?") print "?"; else if (m < 1000) printf "%d", m; else printf "%.2f", m / 1000 }'; }
# The distinct answers of a cell, with a count when they differ.
said() {
    tr '|' '\n' | sed '/^$/d' | sort | uniq -c | sort -rn | awk -v total="$1" '
        { n = $1; sub(/^ *[0-9]+ /, ""); s = s (s ? "; " : "") $0 (n < total ? " (" n "×)" : "") }
        END { print s }'
}
cell_time() { # key → "median (min–max)"
    local s; s=$(echo "${R[$1]:-}" | stats)
    set -- $s
    if [ "$1" = "?" ]; then echo "—"; else echo "$(fmt_ms "$1") ($(fmt_bare "$2")–$(fmt_bare "$3"))"; fi
}
cell_said() { # key: the answers, with a count only when they differ between runs
    local n; n=$(echo "${W[$1]:-}" | tr '|' '\n' | sed '/^$/d' | wc -l)
    echo "${W[$1]:-}" | said "$n"
}
median_of() { echo "${R[$1]:-}" | stats | cut -d' ' -f1; }
chain_total() { # scenario: sum of the curl and tailscale cert medians
    local a b; a=$(median_of "$1.curl"); b=$(median_of "$1.cert")
    if [ "$a" = "?" ] || [ "$b" = "?" ]; then echo "—"; else fmt_ms "$((a + b))"; fi
}

run_sd() { # scenario route
    local sc=$1 route=$2 i flag path out rc ms cause
    if [ "$route" = api ]; then flag=--socket path=$SOCK; else flag=--tailscale path=$TS; fi
    for i in $(seq "$RUNS"); do
        between "$sc"
        out=$WORK/sd-$sc-$route-$i
        read -r rc ms < <(timed "$out.json" "$out.err" timeout 120 env HOME="$SD_HOME" XDG_CONFIG_HOME="$SD_HOME/.config" \
            XDG_DATA_HOME="$SD_HOME/.local/share" XDG_STATE_HOME="$SD_HOME/.local/state" \
            "$BIN" diagnose --json "$flag" "$path" --ca-file "$PEBBLE_ROOT" "${SD_TIMEOUT_ARGS[@]}")
        cause=$(jq -r '.cause // "no JSON"' "$out.json" 2>/dev/null || echo "no JSON")
        R[$sc.sd_$route]+="$ms "
        W[$sc.sd_$route]+="exit $rc \`$cause\`|"
        echo "  [$sc] serve-doctor $route #$i: $ms ms, exit $rc, $cause$(jq -r '
            [.checks[]? | select(.status != "pass" and .status != "skip") | "\(.id) \(.status) (\(.ms) ms): \(.detail)"]
            | if length > 0 then " — " + join("; ") else "" end' "$out.json" 2>/dev/null | cut -c1-220)"
    done
}

# The line of curl -v that says what happened: its error, or the status line it got.
curl_said() { # rc errfile
    local line
    if [ "$1" = 0 ]; then
        line=$(tr -d '\r' <"$2" | grep -m1 -o '^< HTTP/.*' | sed 's/^< //; s/ *$//')
        echo "exit 0, ${line:-no status line}"
    else
        line=$(tr '\r' '\n' <"$2" | grep -m1 -o 'curl: ([0-9]*).*')
        echo "exit $1, ${line:-no error line}"
    fi
}
cert_said() { # rc outfile errfile
    local text
    text=$(cat "$2" "$3" | tr -d '\r' | tr -s '\n' ' ' | sed 's/ *$//' | cut -c1-120)
    if [ -n "$text" ]; then text="\"$text\""; else text="nothing"; fi
    if [ "$1" = 124 ]; then echo "exit 124 (killed by timeout 60), printed $text"
    else echo "exit $1, printed $text"; fi
}

run_manual() { # scenario
    local sc=$1 i out rc ms what tmp
    for i in $(seq "$MRUNS"); do
        between "$sc"
        out=$WORK/curl-$sc-$i
        read -r rc ms < <(timed "$out.out" "$out.err" curl -vk --max-time 10 "https://$NAME/" --resolve "$NAME:443:$IP")
        what=$(curl_said "$rc" "$out.err")
        R[$sc.curl]+="$ms "
        # For the tables, "after 10001 milliseconds" and "after 10000 milliseconds" are one answer.
        W[$sc.curl]+="$(sed -E 's/after ([0-9]+)[0-9]{3} milliseconds/after \1 s/' <<<"$what")|"
        echo "  [$sc] curl -vk #$i: $ms ms, $what"

        between "$sc"
        out=$WORK/cert-$sc-$i
        tmp=$(mktemp -d "$WORK/certdir.XXXXXX")
        read -r rc ms < <(cd "$tmp" && timed "$out.out" "$out.err" timeout 60 "$TS" cert "$NAME")
        rm -rf "$tmp"
        what=$(cert_said "$rc" "$out.out" "$out.err")
        R[$sc.cert]+="$ms "; W[$sc.cert]+="$what|"
        echo "  [$sc] tailscale cert #$i: $ms ms, $what"
    done
}

run_scenario() { # scenario
    echo "[$1] serve-doctor over the LocalAPI, $RUNS runs"; run_sd "$1" api
    echo "[$1] serve-doctor over the CLI, $RUNS runs"; run_sd "$1" cli
    echo "[$1] manual chain (curl, then tailscale cert), $MRUNS runs"; run_manual "$1"
}

want() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }

# --- healthy: serve configured, Pebble's certificate issued --------------------------------------
ns "$TS" serve --bg 18080 >"$WORK/serve.log" 2>&1 || die "tailscale serve --bg 18080 failed: $(cat "$WORK/serve.log")"
wait_until 60 "the server to run with CertDomains" running_with_certs
IP=$(status | jq -r '.Self.TailscaleIPs[0]')
wait_until 60 "Pebble's certificate" have_cert
wait_until 30 "the server's :443" port_open
steady 3

SD_VERSION=$("$BIN" --version 2>/dev/null | awk '{print $2}')
TS_DAEMON=$(status | jq -r .Version)
MACHINE="$(nproc) cores, Linux $(uname -r) ($(uname -m)); tailscaled $TS_DAEMON; serve-doctor ${SD_VERSION:-?}"
echo "machine: $MACHINE"
echo "node $NAME at $IP; serve-doctor runs per cell: $RUNS, manual runs per cell: $MRUNS; serve-doctor --timeout ${BENCH_SD_TIMEOUT:-5 (default)}"

if want healthy; then
    run_scenario healthy
fi

# --- HTTPS off ----------------------------------------------------------------------------------
if want off; then
    admin "certs?on=0"
    wait_until 30 "CertDomains to empty" certs_off
    run_scenario off
    admin "certs?on=1"
fi

# --- issuance stall -----------------------------------------------------------------------------
if want stall; then
    admin "certs?on=1"
    admin "acme?mode=stall"
    run_scenario stall
fi

# --- tables -------------------------------------------------------------------------------------
LABELS=(off "HTTPS off" stall "issuance stall" healthy "healthy")
TOOLS=(sd_api "serve-doctor, LocalAPI" sd_cli "serve-doctor, CLI" curl "curl -vk --max-time 10" cert "tailscale cert (timeout 60)")
shown=()
for ((i = 0; i < ${#LABELS[@]}; i += 2)); do want "${LABELS[i]}" && shown+=("${LABELS[i]}" "${LABELS[i + 1]}"); done

echo
echo "== time to the verdict: median (min–max); what it said =="
for ((t = 0; t < ${#TOOLS[@]}; t += 2)); do
    echo "${TOOLS[t + 1]}:"
    for ((s = 0; s < ${#shown[@]}; s += 2)); do
        k="${shown[s]}.${TOOLS[t]}"
        printf '  %-15s %-28s %s\n' "${shown[s + 1]}" "$(cell_time "$k")" "$(cell_said "$k" | tr -d '`')"
    done
done
echo "manual chain, both steps (sum of medians):"
for ((s = 0; s < ${#shown[@]}; s += 2)); do
    printf '  %-15s %s\n' "${shown[s + 1]}" "$(chain_total "${shown[s]}")"
done

echo
echo "== Markdown =="
echo
echo "Real tailnet (\`scripts/bench-tailnet.sh\`; $MACHINE): median (min–max) wall time to the"
echo "answer over $RUNS runs per serve-doctor cell (\`--timeout ${BENCH_SD_TIMEOUT:-5}\`) and $MRUNS per manual one, and what it said."
echo
hdr="| | "; sep="| --- | "
for ((s = 0; s < ${#shown[@]}; s += 2)); do hdr+="${shown[s + 1]} | "; sep+="--- | "; done
echo "${hdr% }"; echo "${sep% }"
for ((t = 0; t < ${#TOOLS[@]}; t += 2)); do
    row="| ${TOOLS[t + 1]} | "
    for ((s = 0; s < ${#shown[@]}; s += 2)); do
        k="${shown[s]}.${TOOLS[t]}"
        ct=$(cell_time "$k"); [ "$ct" = "—" ] || ct="**${ct%% (*}** (${ct#* (}"
        row+="$ct → $(cell_said "$k" | sed 's/|/\\|/g') | "
    done
    echo "${row% }"
done
row="| manual chain, both steps | "
for ((s = 0; s < ${#shown[@]}; s += 2)); do
    row+="**$(chain_total "${shown[s]}")** | "
done
echo "${row% }"
