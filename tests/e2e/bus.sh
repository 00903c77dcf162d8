#!/usr/bin/env bash
# End-to-end test of the event-driven tray over tailscaled's IPN bus, under Xvfb:
#
#   a fake tailscaled (examples/fake_daemon: the integration tests' fake LocalAPI as a process)
#   with HTTPS off, the real app on `--socket` with a one-hour interval → the icon is red;
#   the daemon's status becomes healthy and the change is announced on the bus (SIGUSR1)
#   → the icon is green within 2 s of the announcement (no poll could have done it);
#   a logging fake `tailscale` first in PATH records no call: zero CLI processes;
#   the daemon restarts (SIGUSR2) → the app logs the reconnection and still reacts (red again);
#   the daemon saw no request it would have refused (Host, Origin, auth).
#
# Tray host: trayer with the XEmbed fallback, no D-Bus (as tests/e2e/tray.sh).
# Screenshots go to target/e2e/bus-*.png.
# Needs: xvfb trayer xdotool x11-utils imagemagick python3 libayatana-appindicator3-1.
# Env: SERVE_DOCTOR_BIN, TLS_PEER_BIN, FAKE_DAEMON_BIN (defaults: target/debug/…), SKIP_BUILD=1,
# KEEP=1 (keep the work dir), E2E_DEADLINE (seconds per wait, default 20), REACT_MS (2000).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SERVE_DOCTOR_BIN:-$ROOT/target/debug/serve-doctor}
PEER=${TLS_PEER_BIN:-$ROOT/target/debug/examples/tls_peer}
DAEMON_BIN=${FAKE_DAEMON_BIN:-$ROOT/target/debug/examples/fake_daemon}
OUT=${E2E_OUT:-$ROOT/target/e2e}
DEADLINE=${E2E_DEADLINE:-20}
REACT_MS=${REACT_MS:-2000}
NAME=box.tail1234.ts.net
CONVERT=/usr/bin/convert # a stand-in for ImageMagick's `convert` can come first in PATH

. "$(dirname "$0")/lib.sh"

for tool in Xvfb trayer xwininfo xdpyinfo import python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install xvfb trayer x11-utils imagemagick python3"; exit 2; }
done
[ -x "$CONVERT" ] || { echo "missing $CONVERT (imagemagick)"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build -q --bin serve-doctor --example tls_peer --example fake_daemon) || { echo "build failed"; exit 2; }
fi

WORK=$(mktemp -d /tmp/serve-doctor-bus.XXXXXX)
mkdir -p "$OUT"
rm -f "$OUT"/bus-*.png
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then echo "# work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed_ms() { python3 -c "import sys; print(int((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$1" "$(now)"; }
# logged_ms_after T PATTERN NTH: ms from T to the NTH log line matching PATTERN (the app's clock).
logged_ms_after() {
    python3 - "$1" "$WORK/app.log" "$2" "$3" <<'PY'
import datetime, sys
t, path, pat, nth = float(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
seen = 0
for line in open(path, errors="replace"):
    if pat in line:
        seen += 1
        if seen == nth:
            print(int((datetime.datetime.fromisoformat(line.split()[0]).timestamp() - t) * 1000))
            break
PY
}

# --- an isolated user -------------------------------------------------------------------------------
export HOME=$WORK/home
export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share XDG_STATE_HOME=$HOME/.local/state
export XDG_CACHE_HOME=$HOME/.cache XDG_RUNTIME_DIR=$WORK/run
mkdir -p "$XDG_CONFIG_HOME/serve-doctor" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
printf '{"notifications": false}\n' >"$XDG_CONFIG_HOME/serve-doctor/config.json"
unset DBUS_SESSION_BUS_ADDRESS WAYLAND_DISPLAY
export NO_AT_BRIDGE=1

# A logging `tailscale` first (and alone) in the app's PATH: any CLI call would land in argv.log.
logging_cli "$WORK/bin"

# --- the healthy endpoint, and the fake daemon with HTTPS off ---------------------------------------
"$PEER" "$NAME" "$WORK/ca.pem" >"$WORK/peer.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q backend= "$WORK/peer.out" || { fail "tls_peer did not start: $(cat "$WORK/peer.out")"; finish; }
TLS_ADDR=$(sed -n 's/.*tls=\([^ ]*\).*/\1/p' "$WORK/peer.out")
BACKEND_PORT=$(sed -n 's/.*backend=[^:]*:\([0-9]*\).*/\1/p' "$WORK/peer.out")

SCN=$WORK/daemon
mkdir -p "$SCN"
cp "$ROOT/tests/fixtures/status-https-off.json" "$SCN/status.json"
sed "s/18080/$BACKEND_PORT/" "$ROOT/tests/fixtures/serve-healthy.json" >"$SCN/serve.json"
"$DAEMON_BIN" "$SCN" >"$WORK/daemon.out" 2>&1 &
DAEMON=$!
PIDS+=($DAEMON)
wait_for 10 grep -q socket= "$WORK/daemon.out" || { fail "fake_daemon did not start: $(cat "$WORK/daemon.out")"; finish; }
SOCK=$(sed -n 's/^socket=\([^ ]*\) .*/\1/p' "$WORK/daemon.out")
# poke SIGNAL REPLY N: signals the daemon and waits for its Nth REPLY line.
poke() {
    kill -"$1" "$DAEMON"
    wait_for 10 at_least "$WORK/daemon.out" "$2" "$3"
}
set_status() { cp "$ROOT/tests/fixtures/$1" "$SCN/status.json.tmp" && mv "$SCN/status.json.tmp" "$SCN/status.json"; }

# --- X server and tray host ---------------------------------------------------------------------------
for n in $(seq 141 190); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then DISP=$n; break; fi
done
export DISPLAY=:$DISP
Xvfb "$DISPLAY" -screen 0 800x200x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
wait_for 10 xdpyinfo >/dev/null 2>&1 || { fail "Xvfb did not start"; finish; }
trayer --edge top --align right --widthtype percent --width 100 --height 32 --SetDockType true \
    --tint 0xdcdad5 --transparent false >"$WORK/trayer.log" 2>&1 &
PIDS+=($!)

# --- helpers on the icon (as in tray.sh) ------------------------------------------------------------
icon_is() {
    import -window root "$WORK/now.png" 2>/dev/null || return 1
    read -r LAST_LOOK _ < <(look_of "$WORK/now.png" $GEOM)
    [ "$LAST_LOOK" = "$1" ]
}
# poll_look LOOK SECONDS: screenshots until the icon has LOOK.
poll_look() {
    local end
    end=$(python3 -c "import time,sys; print(time.time() + float(sys.argv[1]))" "$2")
    LAST_LOOK=
    while python3 -c "import time,sys; sys.exit(0 if time.time() < float(sys.argv[1]) else 1)" "$end"; do
        icon_is "$1" && return 0
        sleep 0.05
    done
    return 1
}

# --- 1. start on the LocalAPI route: red, and the bus connects ----------------------------------------
APP_ARGS=(--socket "$SOCK" --connect "$TLS_ADDR" --ca-file "$WORK/ca.pem" --interval 3600 --timeout 3 --verbose)
PATH=$FAKEBIN "$BIN" "${APP_ARGS[@]}" >"$WORK/app.log" 2>&1 &
APP=$!
PIDS+=($APP)
wait_icon "$DEADLINE" "$APP"
if [ -z "$GEOM" ]; then
    fail "tray icon did not appear within ${DEADLINE}s"
    sed 's/^/#      app: /' "$WORK/app.log" | tail -20
    finish
fi
if poll_look red "$DEADLINE"; then
    cp "$WORK/now.png" "$OUT/bus-01-red.png"
    pass "icon is red with HTTPS off (LocalAPI route, interval 3600 s)"
else
    cp "$WORK/now.png" "$OUT/bus-01-not-red.png"
    fail "icon never turned red (last look: ${LAST_LOOK:-?})"
fi
if wait_for "$DEADLINE" at_least "$WORK/app.log" "IPN bus connected" 1; then
    pass "subscribed: $(grep -o 'IPN bus connected.*' "$WORK/app.log" | head -1)"
else
    fail "no 'IPN bus connected' in the log: $(grep -i 'bus' "$WORK/app.log" | tail -3)"
fi
# (The fake sends no initial State message, unlike tailscaled: the startup run is the last one.)

# --- 2. HTTPS enabled, announced on the bus → green within REACT_MS ----------------------------------
set_status status-healthy.json
runs_before=$(count_in "$WORK/app.log" "Bus run:")
t1=$(now)
poke USR1 "pushed" 1 || fail "the daemon did not answer SIGUSR1"
if [ "$(sed -n 's/^pushed watchers=\([0-9]*\)/\1/p' "$WORK/daemon.out" | head -1)" -ge 1 ]; then
    pass "the change was announced to $(sed -n 's/^pushed watchers=//p' "$WORK/daemon.out" | head -1) watcher(s)"
else
    fail "nobody was watching the bus: $(tail -1 "$WORK/daemon.out")"
fi
if poll_look green 5; then
    ms=$(elapsed_ms "$t1")
    cp "$WORK/now.png" "$OUT/bus-02-green.png"
    logged=$(logged_ms_after "$t1" "state: green" 1)
    if [ "${logged:-99999}" -le "$REACT_MS" ] && [ "$ms" -le "$REACT_MS" ]; then
        pass "green on screen ${ms} ms after the announcement (the app logged the change after ${logged} ms; limit ${REACT_MS} ms)"
    else
        fail "green only ${logged:-?} ms after the announcement (screenshot: ${ms} ms; limit ${REACT_MS} ms)"
    fi
else
    cp "$WORK/now.png" "$OUT/bus-02-not-green.png"
    fail "icon did not turn green within 5 s of the announcement (last look: ${LAST_LOOK:-?})"
fi
runs_after=$(count_in "$WORK/app.log" "Bus run:")
note "bus runs for the announcement: $((runs_after - runs_before))"

# --- 3. idle: no CLI process at all -----------------------------------------------------------------
sleep 3
if [ ! -s "$ARGV_LOG" ]; then
    pass "zero CLI processes: the logging tailscale in PATH was never run"
else
    fail "the CLI was run $(wc -l <"$ARGV_LOG") times: $(head -3 "$ARGV_LOG")"
fi

# --- 4. the daemon restarts → reconnect, and the bus still drives the icon --------------------------
poke USR2 "restarted" 1 || fail "the daemon did not restart"
if wait_for "$DEADLINE" at_least "$WORK/app.log" "IPN bus closed" 1 &&
    wait_for "$DEADLINE" at_least "$WORK/app.log" "IPN bus connected" 2; then
    pass "reconnected after the restart: $(grep -o 'IPN bus closed.*' "$WORK/app.log" | head -1)"
else
    fail "no reconnection in the log: $(grep -i 'bus' "$WORK/app.log" | tail -3)"
fi
# The stream's end is news itself (the daemon may be gone): let that run finish, then break HTTPS
# again and announce it.
wait_for "$DEADLINE" at_least "$WORK/app.log" "Bus run:" $((runs_after + 1)) || note "no run after the stream ended"
set_status status-https-off.json
t2=$(now)
poke USR1 "pushed" 2 || fail "the daemon did not answer the second SIGUSR1"
if poll_look red 5; then
    cp "$WORK/now.png" "$OUT/bus-03-red-again.png"
    logged=$(logged_ms_after "$t2" "state: red" 2)
    # Red after green is confirmed by one extra run first (the debounce), still well within.
    if [ "${logged:-99999}" -le "$REACT_MS" ]; then
        pass "after the restart the announcement turned it red ${logged} ms later (confirmed once; limit ${REACT_MS} ms)"
    else
        fail "red only ${logged:-?} ms after the announcement after the restart"
    fi
else
    cp "$WORK/now.png" "$OUT/bus-03-not-red.png"
    fail "after the restart the icon did not follow the bus (last look: ${LAST_LOOK:-?})"
fi
[ ! -s "$ARGV_LOG" ] && pass "still zero CLI processes after the restart" || fail "CLI calls: $(head -3 "$ARGV_LOG")"

# --- 5. the daemon's view: nothing it would have refused ---------------------------------------------
kill -TERM "$DAEMON"
wait_for 5 sh -c "! kill -0 $DAEMON 2>/dev/null" || note "fake_daemon still running after SIGTERM"
if python3 - "$SCN/daemon-report.json" >"$WORK/report.check" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['requests']} requests, {r['watch_requests']} watch-ipn-bus, violations: {r['violations']}")
sys.exit(0 if not r["violations"] and r["watch_requests"] >= 2 else 1)
PY
then
    pass "daemon: $(cat "$WORK/report.check")"
else
    fail "daemon: $(cat "$WORK/report.check")"
fi

kill -TERM "$APP"
wait_for 5 sh -c "! kill -0 $APP 2>/dev/null" || fail "app still running 5 s after SIGTERM"
note "bus lines in the log: $(grep -c 'IPN bus' "$WORK/app.log")"
cp "$WORK/app.log" "$OUT/bus-app.log" 2>/dev/null
finish
