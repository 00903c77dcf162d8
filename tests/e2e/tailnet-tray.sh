#!/usr/bin/env bash
# End-to-end test of the event-driven tray on a REAL tailscaled (v1.102.3 from the real-tailnet
# bench, tests/tailnet/bench.sh) over its LocalAPI, under Xvfb:
#
#   HTTPS certificates off in the tailnet (the bench control's admin `certs?on=0`), serve
#   configured, no certificate cached → the app, started inside the bench's network namespace on
#   `--socket` with a one-hour interval, shows a red icon;
#   the admin turns certificates on → control pushes the change down the map stream, tailscaled
#   fetches a certificate from Pebble (the file's mtime is the issuance time) → the icon turns
#   green by itself, within REACT_MS of the issuance (no click, and no poll could have done it);
#   a logging fake `tailscale` first in the app's PATH records no call: zero CLI processes;
#   tailscaled restarts (`bench.sh node`) → the app logs the reconnection, re-diagnoses, still green;
#   tailscaled stopped → the icon leaves green; started again → reconnected, green again.
#
# The app runs in the namespace (it must reach the tailnet addresses); Xvfb and trayer run outside.
# X clients try the abstract socket @/tmp/.X11-unix/XN first, which is per network namespace and so
# refused there, then fall back to the filesystem socket /tmp/.X11-unix/XN, which is shared:
# DISPLAY=:N works unchanged (checked with xdpyinfo inside the namespace before the app starts).
#
# Tray host: trayer with the XEmbed fallback, no D-Bus (as tests/e2e/tray.sh and bus.sh).
# Screenshots go to target/e2e/tailnet-tray-*.png; next to them the app's log, tailscaled's log
# up to its first restart, and the IPN bus as a second watcher saw it (ns timestamp, raw Notify).
# Skips (exit 0, one line) when the bench cannot run here, unless SD_REQUIRE_TAILNET=1 (exit 1).
# Needs: root, go, iproute2 (the bench); xvfb trayer x11-utils imagemagick python3 jq curl.
# Env: SERVE_DOCTOR_BIN (default target/debug/serve-doctor), SKIP_BUILD=1, KEEP=1 (keep the work
# and bench dirs; the bench is still stopped), E2E_DEADLINE (seconds per wait, default 30),
# REACT_MS (the allowed lag from certificate issued to icon green, default 2000).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tests/tailnet/bench.sh
BIN=${SERVE_DOCTOR_BIN:-$ROOT/target/debug/serve-doctor}
OUT=${E2E_OUT:-$ROOT/target/e2e}
DEADLINE=${E2E_DEADLINE:-30}
REACT_MS=${REACT_MS:-2000}
NAME=server.tailnet.test
CONVERT=/usr/bin/convert # a stand-in for ImageMagick's `convert` can come first in PATH

. "$(dirname "$0")/lib.sh"

# --- can this machine run the bench at all? -----------------------------------------------------------
if ! why=$(bash "$BENCH" check 2>&1); then
    why=$(printf '%s' "$why" | tr '\n' ' ')
    if [ "${SD_REQUIRE_TAILNET:-}" = 1 ]; then
        echo "real-tailnet tray test FAILED: the bench is required (SD_REQUIRE_TAILNET=1) but cannot run: $why"
        exit 1
    fi
    echo "real-tailnet tray test SKIPPED: $why"
    exit 0
fi
for tool in Xvfb trayer xwininfo xdpyinfo import python3 jq curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install xvfb trayer x11-utils imagemagick python3 jq curl"; exit 2; }
done
[ -x "$CONVERT" ] || { echo "missing $CONVERT (imagemagick)"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build -q --bin serve-doctor) || { echo "build failed"; exit 2; }
fi

WORK=$(mktemp -d /tmp/sd-tailnet-tray.XXXXXX)
BDIR=$(mktemp -d /tmp/sd-tray-bench.XXXXXX)
mkdir -p "$OUT"
rm -f "$OUT"/tailnet-tray-*
PIDS=() # outside the namespace: Xvfb, trayer, our bus watcher and status sampler
APP=
cleanup() {
    local p
    if [ -n "$APP" ] && kill -0 "$APP" 2>/dev/null; then
        kill "$APP" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$APP" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$APP" 2>/dev/null
    fi
    # Stops every bench process by PID and anything else left in the namespace, then deletes it.
    bash "$BENCH" down "$BDIR" >/dev/null 2>&1
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$p" 2>/dev/null
    done
    if [ -n "${KEEP:-}" ]; then
        echo "# kept: $WORK $BDIR"
    else
        rm -rf "$WORK" "$BDIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms_between() { echo $(( ($2 - $1) / 1000000 )); } # ms_between NS1 NS2
# log_ns PATTERN NTH: the app's timestamp (ns since the epoch) of its NTH log line matching PATTERN.
log_ns() {
    python3 - "$WORK/app.log" "$1" "$2" <<'PY'
import datetime, sys
path, pat, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = 0
for line in open(path, errors="replace"):
    if pat in line:
        seen += 1
        if seen == nth:
            t = datetime.datetime.fromisoformat(line.split()[0])
            print(round(t.timestamp() * 1000) * 1000000)
            break
PY
}
# log_line_no PATTERN NTH: the line number of the NTH matching line (empty if none).
log_line_no() { grep -n -- "$1" "$WORK/app.log" | sed -n "${2}p" | cut -d: -f1; }
mtime_ns() { python3 -c 'import os,sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$1"; }
# quiet_for MS FILE...: none of the files changed in the last MS ms.
quiet_for() {
    python3 - "$@" <<'PY'
import os, sys, time
ms = int(sys.argv[1])
sys.exit(0 if all(time.time() - os.stat(f).st_mtime >= ms / 1000 for f in sys.argv[2:]) else 1)
PY
}

# --- the bench ------------------------------------------------------------------------------------
t_up=$(now_ns)
if ! bash "$BENCH" up "$BDIR" >"$WORK/bench-up.log" 2>&1; then
    fail "bench.sh up failed: $(tail -3 "$WORK/bench-up.log" | tr '\n' ' ')"
    finish
fi
# shellcheck disable=SC1091
. "$BDIR/bench.env"
SOCK=$BDIR/server/ts.sock
CERT=$BDIR/server/certs/$NAME.crt
DLOG=$BDIR/tailscaled-server.log
note "bench up in $(ms_between "$t_up" "$(now_ns)") ms: namespace $NS, tailscaled $TS_VERSION"
ts() { ip netns exec "$NS" timeout 60 "$BDIR/server/tailscale" "$@"; }
admin() { ip netns exec "$NS" curl -sS --fail-with-body --max-time 10 -X POST "$ADMIN_URL/$1"; }
status_is() { # status_is JQ-EXPR VALUE: `tailscale status --json` of the server, compared compactly
    [ "$(ts status --json --peers=false 2>/dev/null | jq -c "$1" 2>/dev/null)" = "$2" ]
}
running() { status_is .BackendState '"Running"'; }
serve_ok() {
    curl -s --max-time 5 --unix-socket "$SOCK" http://local-tailscaled.sock/localapi/v0/serve-config |
        jq -e --arg k "$NAME:443" '.Web[$k].Handlers["/"].Proxy == "http://127.0.0.1:18080"' >/dev/null 2>&1
}
no_cert() { ! ls "$BDIR"/server/certs/*.crt >/dev/null 2>&1; }

# Serve as a user sets it up (certificates are on at the start, so a first one is issued now).
ts serve --bg 18080 >"$WORK/serve.out" 2>&1 || fail "tailscale serve --bg 18080: $(cat "$WORK/serve.out")"
# HTTPS certificates off for the tailnet: control says so live, CertDomains goes away.
admin "certs?on=0" >/dev/null || fail "admin certs?on=0"
if wait_for "$DEADLINE" status_is .CertDomains null; then
    pass "certificates off: the server's status shows CertDomains null"
else
    fail "CertDomains still $(ts status --json --peers=false | jq -c .CertDomains)"
fi
# No certificate cached, on disk or in memory, so that the one later is really issued after the
# switch: stop the daemon, delete, start it again (its state and serve config kept).
bash "$BENCH" stop-node "$BDIR" server >>"$WORK/bench-up.log" 2>&1
rm -f "$BDIR"/server/certs/*.crt "$BDIR"/server/certs/*.key
bash "$BENCH" node "$BDIR" server >>"$WORK/bench-up.log" 2>&1 || fail "bench.sh node (restart after deleting the certificate) failed"
if wait_for "$DEADLINE" running && status_is .CertDomains null && serve_ok && no_cert; then
    pass "server restarted without a certificate: Running, CertDomains null, serve config kept"
else
    fail "after the restart: state $(ts status --json --peers=false | jq -c '[.BackendState, .CertDomains]'), serve $(serve_ok && echo ok || echo missing), certs: $(ls "$BDIR/server/certs" 2>&1 | tr '\n' ' ')"
fi

# Our own watcher on the bus, next to the app's: what tailscaled announced, raw, with timestamps
# (until this daemon stops).
curl -sN --unix-socket "$SOCK" 'http://local-tailscaled.sock/localapi/v0/watch-ipn-bus?mask=8338' 2>/dev/null |
    while IFS= read -r l; do printf '%s %s\n' "$(now_ns)" "$l"; done >"$WORK/bus-raw.log" &
PIDS+=($!)

# --- X server and tray host (outside the namespace) ---------------------------------------------------
for n in $(seq 191 240); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then DISP=$n; break; fi
done
Xvfb ":$DISP" -screen 0 800x200x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
export DISPLAY=:$DISP
wait_for 10 xdpyinfo >/dev/null 2>&1 || { fail "Xvfb did not start: $(tail -3 "$WORK/xvfb.log")"; finish; }
if ip netns exec "$NS" env DISPLAY=":$DISP" xdpyinfo >"$WORK/xdpyinfo-ns.out" 2>&1; then
    pass "the X server is reachable from inside the namespace (DISPLAY=:$DISP, through /tmp/.X11-unix/X$DISP)"
else
    fail "no X from inside the namespace: $(head -2 "$WORK/xdpyinfo-ns.out")"
    finish
fi
trayer --edge top --align right --widthtype percent --width 100 --height 32 --SetDockType true \
    --tint 0xdcdad5 --transparent false >"$WORK/trayer.log" 2>&1 &
PIDS+=($!)

# --- helpers on the icon (as in tray.sh / bus.sh) ---------------------------------------------------
# look_now: screenshot to $WORK/now.png; its look in $LAST_LOOK, the time the capture ended in $SHOT_NS.
look_now() {
    import -window root "$WORK/now.png" 2>/dev/null || { LAST_LOOK=noshot; return 1; }
    SHOT_NS=$(now_ns)
    read -r LAST_LOOK _ < <(look_of "$WORK/now.png" $GEOM)
}
# poll_look LOOK SECONDS: screenshots until the icon has LOOK (with "!LOOK": anything else).
poll_look() {
    local end=$(( $(now_ns) + $2 * 1000000000 ))
    LAST_LOOK=
    while [ "$(now_ns)" -lt "$end" ]; do
        if look_now; then
            case $1 in
                !*) [ "$LAST_LOOK" != "${1#!}" ] && [ "$LAST_LOOK" != none ] && return 0 ;;
                *) [ "$LAST_LOOK" = "$1" ] && return 0 ;;
            esac
        fi
        sleep 0.05
    done
    return 1
}
shot_as() { cp "$WORK/now.png" "$OUT/tailnet-tray-$1.png"; }

# --- an isolated user for the app, and a logging `tailscale` first in its PATH ------------------------
APPHOME=$WORK/home
mkdir -p "$APPHOME/.config/serve-doctor" "$WORK/run"
chmod 700 "$WORK/run"
printf '{"notifications": false}\n' >"$APPHOME/.config/serve-doctor/config.json"
logging_cli "$WORK/bin"
cli_calls() { [ -s "$ARGV_LOG" ] && wc -l <"$ARGV_LOG" || echo 0; }

# --- 1. certificates off: the tray, in the namespace, on the LocalAPI → red ----------------------------
# `ip netns exec` and `env` both exec: $! is the app itself.
ip netns exec "$NS" env -u DBUS_SESSION_BUS_ADDRESS -u WAYLAND_DISPLAY -u XDG_SESSION_TYPE \
    PATH="$FAKEBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    DISPLAY=":$DISP" NO_AT_BRIDGE=1 USER=alice HOME="$APPHOME" \
    XDG_CONFIG_HOME="$APPHOME/.config" XDG_DATA_HOME="$APPHOME/.local/share" \
    XDG_STATE_HOME="$APPHOME/.local/state" XDG_CACHE_HOME="$APPHOME/.cache" XDG_RUNTIME_DIR="$WORK/run" \
    "$BIN" --socket "$SOCK" --ca-file "$PEBBLE_ROOT" --interval 3600 --verbose >"$WORK/app.log" 2>&1 &
APP=$!
wait_icon "$DEADLINE" "$APP"
if [ -z "$GEOM" ]; then
    fail "tray icon did not appear within ${DEADLINE}s"
    sed 's/^/#      app: /' "$WORK/app.log" | tail -20
    finish
fi
if [ "$(ip netns identify "$APP" 2>/dev/null)" = "$NS" ]; then
    pass "the app (pid $APP) runs inside the namespace $NS, its icon embedded by trayer (${GEOM// /,})"
else
    fail "the app is not in the namespace: '$(ip netns identify "$APP" 2>&1)'"
fi
if poll_look red "$DEADLINE"; then
    shot_as 01-red
    pass "icon is red with HTTPS certificates off (LocalAPI route, interval 3600 s): $(grep -o 'state: red.*' "$WORK/app.log" | head -1 | cut -c1-120)"
else
    shot_as 01-not-red
    fail "icon never turned red (last look: ${LAST_LOOK:-?}; log: $(grep 'state:' "$WORK/app.log" | tail -1))"
fi
if wait_for "$DEADLINE" at_least "$WORK/app.log" "IPN bus connected" 1; then
    pass "subscribed: $(grep -o 'IPN bus connected.*' "$WORK/app.log" | head -1)"
else
    fail "no 'IPN bus connected' in the log: $(grep -i 'bus' "$WORK/app.log" | tail -3)"
fi
# Let the startup settle (tailscaled's first message, and the run it causes) before the switch.
wait_for "$DEADLINE" at_least "$WORK/app.log" "Bus run:" 1 || note "no run for the bus's first message"
# A freshly started tailscaled can still announce a self-node change or two (its map poll settling):
# switch only once the bus and the app have been quiet for a second, so the run measured below is
# the one the switch caused.
wait_for "$DEADLINE" quiet_for 1000 "$WORK/bus-raw.log" "$WORK/app.log" || note "the bus or the app never went quiet before the switch"
no_cert || fail "a certificate exists before the switch: $(ls "$BDIR/server/certs")"

# --- 2. the admin turns certificates on → issued → green by itself ------------------------------------
line_switch=$(( $(wc -l <"$WORK/app.log") + 1 ))
runs_before=$(count_in "$WORK/app.log" "Bus run:")
# What the daemon's status says meanwhile, straight from the LocalAPI (for the notes below).
sample_status() {
    while :; do
        printf '%s %s\n' "$(now_ns)" "$(curl -s --max-time 2 --unix-socket "$SOCK" \
            'http://local-tailscaled.sock/localapi/v0/status?peers=false' |
            jq -c '[.BackendState, .Self.Online, (.CertDomains | length)]' 2>/dev/null)"
        sleep 0.02
    done
}
sample_status >"$WORK/status-samples.log" 2>/dev/null &
SAMPLER=$!
PIDS+=($SAMPLER)
t_switch=$(now_ns)
admin "certs?on=1" >/dev/null || fail "admin certs?on=1"
t_admin_done=$(now_ns)
if wait_for "$DEADLINE" test -s "$CERT"; then
    t_seen=$(now_ns)
    t_cert=$(mtime_ns "$CERT")
    issue_ms=$(ms_between "$t_switch" "$t_cert")
    got=$(grep -m1 'got cert' "$DLOG" | cut -c1-19)
    pass "certificate issued ${issue_ms} ms after the admin switch (file mtime; the admin call took $(ms_between "$t_switch" "$t_admin_done") ms; tailscaled logged 'got cert' at ${got:-?}, 1 s resolution; the file was seen $(ms_between "$t_cert" "$t_seen") ms after its mtime)"
else
    fail "no certificate within ${DEADLINE}s of the switch (daemon log: $(grep -i 'cert' "$DLOG" | tail -2 | tr '\n' ' '))"
    t_cert=
fi
if poll_look green "$DEADLINE"; then
    shot_as 02-green
    t_green_logged=$(log_ns "state: green" 1)
    if [ -n "$t_cert" ] && [ -n "$t_green_logged" ]; then
        lag_logged=$(ms_between "$t_cert" "$t_green_logged")
        lag_screen=$(ms_between "$t_cert" "$SHOT_NS")
        if [ "$lag_screen" -le "$REACT_MS" ] && [ "$lag_logged" -le "$REACT_MS" ]; then
            pass "green by itself: the app logged it ${lag_logged} ms after the certificate was issued, on screen within ${lag_screen} ms (limit ${REACT_MS} ms)"
        else
            fail "green too late: logged ${lag_logged} ms, on screen ${lag_screen} ms after the certificate (limit ${REACT_MS} ms)"
        fi
        note "switch → green: logged $(ms_between "$t_switch" "$t_green_logged") ms, on screen $(ms_between "$t_switch" "$SHOT_NS") ms"
    else
        fail "green, but no issuance time or no 'state: green' line to measure from"
    fi
else
    shot_as 02-not-green
    fail "icon did not turn green within ${DEADLINE}s of the switch (last look: ${LAST_LOOK:-?}; log: $(grep 'state:' "$WORK/app.log" | tail -1))"
fi
kill "$SAMPLER" 2>/dev/null
note "the daemon's status after the switch ([BackendState, Self.Online, CertDomains]): $(awk -v t="$t_switch" 'prev != $2 { printf "%s at %+d ms; ", $2, ($1 - t) / 1000000; prev = $2 }' "$WORK/status-samples.log")"
# Any look between red and green (the app's log of what it showed).
others=$(grep -o 'state: [a-z]* ([a-z_]*)' "$WORK/app.log" | tail -n +2 | grep -v -e 'state: red' -e 'state: green' | sort -u | paste -sd ',' -)
[ -z "$others" ] || note "NOTE: on the way from red to green the app showed: $others"
# What the bus said after the switch, and what the app ran for it: which came first, the
# certificate or the app's run (whose TLS handshake to serve can itself make tailscaled fetch one).
tail -n +"$line_switch" "$WORK/app.log" >"$WORK/after-switch.log"
python3 - "$WORK/after-switch.log" "$t_switch" "${t_cert:-0}" <<'PY'
import datetime, re, sys
path, t_switch, t_cert = sys.argv[1], int(sys.argv[2]) / 1e9, int(sys.argv[3]) / 1e9
ms = lambda t: int(round((t - t_switch) * 1000))
unit = {"s": 1, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}
self_at = health_at = run = None
for line in open(path, errors="replace"):
    try:
        t = datetime.datetime.fromisoformat(line.split()[0]).timestamp()
    except (ValueError, IndexError):
        continue
    if "IPN bus: change" in line:
        if self_at is None and "self true" in line:
            self_at = t
        if health_at is None and "health true" in line:
            health_at = t
    m = re.search(r"(\w+) run: (\w+) in ([\d.]+)(s|ms|µs|us|ns)$", line.strip())
    if m and run is None:
        run = (m.group(1), m.group(2), t - float(m.group(3)) * unit[m.group(4)], t)
say = lambda s: print("#      " + s)
say(f"SelfChange on the bus {ms(self_at)} ms after the switch" if self_at else "no SelfChange on the bus after the switch")
if health_at:
    say(f"first Health message {ms(health_at)} ms after the switch (tailscaled's tls-cert-pending warning)")
if run:
    kind, cause, start, end = run
    say(f"first run after the switch: {kind} ({cause}), from {ms(start)} to {ms(end)} ms")
    if t_cert:
        if t_cert >= start:
            say(f"the certificate was issued {int((t_cert - start) * 1000)} ms into that run: its TLS handshake "
                "made tailscaled fetch it (it did not fetch when CertDomains appeared)")
        else:
            say(f"the certificate was issued {int((start - t_cert) * 1000)} ms before that run: tailscaled fetched it by itself")
PY
note "bus messages after the switch: $(grep -o 'IPN bus: change (.*' "$WORK/after-switch.log" | sed 's/IPN bus: change //' | sort | uniq -c | sed 's/^ *//' | paste -sd ';' -)"
note "runs after the switch: $(grep -o '[A-Za-z]* run: [a-z_]*' "$WORK/after-switch.log" | paste -sd ',' -)"
grep -q "Poll run:" "$WORK/after-switch.log" && fail "a poll ran after the switch (interval 3600 s): the test measured the poll, not the bus"

# --- 3. zero CLI processes -------------------------------------------------------------------------
if [ ! -s "$ARGV_LOG" ]; then
    pass "zero CLI processes: the logging tailscale first in the app's PATH was never run"
else
    fail "the CLI was run $(cli_calls) times: $(head -3 "$ARGV_LOG")"
fi

# --- 4. tailscaled restarts → the app reconnects, re-diagnoses, green -----------------------------------
# A change between restarts would be missed without the reconnection: the daemon's log is rewritten.
cp "$DLOG" "$WORK/tailscaled-server-1.log" 2>/dev/null
connected_before=$(count_in "$WORK/app.log" "IPN bus connected")
closed_before=$(count_in "$WORK/app.log" "IPN bus closed")
t_restart=$(now_ns)
bash "$BENCH" node "$BDIR" server >>"$WORK/bench-up.log" 2>&1 || fail "bench.sh node server (restart) failed"
note "bench.sh node took $(ms_between "$t_restart" "$(now_ns)") ms"
if wait_for "$DEADLINE" at_least "$WORK/app.log" "IPN bus closed" $((closed_before + 1)) &&
    wait_for "$DEADLINE" at_least "$WORK/app.log" "IPN bus connected" $((connected_before + 1)); then
    t_closed=$(log_ns "IPN bus closed" $((closed_before + 1)))
    t_reconn=$(log_ns "IPN bus connected" $((connected_before + 1)))
    pass "reconnected after the restart: 'IPN bus closed' $(ms_between "$t_restart" "$t_closed") ms after it began, 'IPN bus connected' again $(ms_between "$t_closed" "$t_reconn") ms later"
    # The socket's mtime is when the new tailscaled bound it: from then on the app could connect.
    note "the new tailscaled listened $(ms_between "$t_closed" "$(mtime_ns "$SOCK")") ms after the stream closed; the app reconnected $(ms_between "$(mtime_ns "$SOCK")" "$t_reconn") ms after that (reconnect backoff)"
else
    fail "no reconnection in the log: $(grep -i 'IPN bus' "$WORK/app.log" | tail -3)"
fi
wait_for "$DEADLINE" running || fail "the server is not Running after the restart"
# A run after the reconnection (tailscaled's first message on the new stream), then green.
reconn_line=$(log_line_no "IPN bus connected" $((connected_before + 1)))
ran_after() { [ -n "$reconn_line" ] && tail -n +"$reconn_line" "$WORK/app.log" | grep -q "Bus run:"; }
if wait_for "$DEADLINE" ran_after; then
    pass "re-diagnosed on the new stream: $(tail -n +"$reconn_line" "$WORK/app.log" | grep -o 'Bus run: .*' | head -1)"
else
    fail "no run after the reconnection"
fi
if poll_look green "$DEADLINE"; then
    shot_as 03-green-after-restart
    pass "green after the restart"
else
    shot_as 03-not-green-after-restart
    fail "icon is ${LAST_LOOK:-?} after the restart (log: $(grep 'state:' "$WORK/app.log" | tail -1))"
fi
t_gray=$(log_ns "state: gray" 1)
[ -n "$t_gray" ] && note "the icon was gray (daemon_unreachable) for $(ms_between "$t_gray" "$(log_ns "state: green" 2)") ms during the restart"
note "during the restart: $(tail -n +"$(log_line_no "IPN bus closed" $((closed_before + 1)))" "$WORK/app.log" | grep -o -e 'state: [a-z]* ([a-z_]*)' -e '[a-z_]* after healthy: confirming' -e 're-check is healthy again' | paste -sd ',' -)"

# --- 5. tailscaled gone → not green; back → reconnected, green ------------------------------------------
connected_before=$(count_in "$WORK/app.log" "IPN bus connected")
closed_before=$(count_in "$WORK/app.log" "IPN bus closed")
bash "$BENCH" stop-node "$BDIR" server >>"$WORK/bench-up.log" 2>&1 || fail "bench.sh stop-node failed"
if wait_for "$DEADLINE" at_least "$WORK/app.log" "IPN bus closed" $((closed_before + 1)) && poll_look '!green' "$DEADLINE"; then
    shot_as 04-daemon-gone
    pass "with tailscaled stopped the icon is $LAST_LOOK, not green: $(grep -o 'state: .*' "$WORK/app.log" | tail -1 | cut -c1-120)"
else
    shot_as 04-still-green
    fail "with tailscaled stopped the icon stayed ${LAST_LOOK:-?}"
fi
bash "$BENCH" node "$BDIR" server >>"$WORK/bench-up.log" 2>&1 || fail "bench.sh node server (start) failed"
if wait_for "$DEADLINE" at_least "$WORK/app.log" "IPN bus connected" $((connected_before + 1)); then
    pass "reconnected $(ms_between "$(mtime_ns "$SOCK")" "$(log_ns "IPN bus connected" $((connected_before + 1)))") ms after tailscaled listened again (reconnect backoff)"
else
    fail "no reconnection after tailscaled came back: $(grep -i 'IPN bus' "$WORK/app.log" | tail -3)"
fi
if poll_look green "$DEADLINE"; then
    shot_as 05-green-again
    pass "green again once tailscaled is back"
else
    shot_as 05-not-green-again
    fail "icon is ${LAST_LOOK:-?} after tailscaled came back (log: $(grep 'state:' "$WORK/app.log" | tail -1))"
fi
if [ ! -s "$ARGV_LOG" ]; then
    pass "still zero CLI processes after the restarts"
else
    fail "CLI calls: $(head -3 "$ARGV_LOG")"
fi

# --- the end --------------------------------------------------------------------------------------
kill -TERM "$APP"
if wait_for 5 sh -c "! kill -0 $APP 2>/dev/null"; then
    pass "SIGTERM: the app exited"
else
    fail "app still running 5 s after SIGTERM"
fi
note "IPN bus lines: $(grep -o 'IPN bus [a-z]*' "$WORK/app.log" | sort | uniq -c | sed 's/^ *//' | paste -sd ',' -)"
note "warnings: $(grep -c -e ' WARN' -e ' ERROR' "$WORK/app.log" || true)"
cp "$WORK/app.log" "$OUT/tailnet-tray-app.log" 2>/dev/null
cp "$WORK/tailscaled-server-1.log" "$OUT/tailnet-tray-tailscaled.log" 2>/dev/null
cp "$WORK/bus-raw.log" "$OUT/tailnet-tray-bus.log" 2>/dev/null
finish
