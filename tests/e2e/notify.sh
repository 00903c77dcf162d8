#!/usr/bin/env bash
# End-to-end test of a notification's button under Xvfb, on a private D-Bus session bus:
#
#   a notification server of our own (tests/e2e/notify-server.py) owns
#   org.freedesktop.Notifications and records every Notify with its actions;
#   the real binary + the fake `tailscale` in the HTTPS-off scenario → red, no notification
#   (the first result is not news); the scenario becomes "Tailscale stopped", "Diagnose now" from
#   the menu → gray → a notification with the button ("diagnose", "Diagnose");
#   the server emits ActionInvoked(id, "diagnose") → the app logs the click as the monitor's
#   DiagnoseNow and the fake's argv.log shows a status read after it, with the poll 60 s away.
#
# Tray host: trayer with the XEmbed fallback, as in tray.sh: the bus has no StatusNotifierWatcher,
# so libayatana-appindicator falls back to a GtkStatusIcon.
# Needs: xvfb trayer xdotool x11-utils dbus python3-dbus python3-gi libayatana-appindicator3-1.
# Env: SERVE_DOCTOR_BIN (default target/debug/serve-doctor), SKIP_BUILD=1, KEEP=1 (keep the work
# dir), E2E_DEADLINE (seconds per wait, default 20).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SERVE_DOCTOR_BIN:-$ROOT/target/debug/serve-doctor}
DEADLINE=${E2E_DEADLINE:-20}
# The Debian python, which has dbus-python and PyGObject (a pyenv one first in PATH may not).
PY=/usr/bin/python3
# Long enough that no poll runs during the test: every status read is one somebody asked for.
INTERVAL=60

. "$(dirname "$0")/lib.sh"

for tool in Xvfb trayer xdotool xwininfo xdpyinfo dbus-daemon dbus-send; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install xvfb trayer xdotool x11-utils dbus"; exit 2; }
done
"$PY" -c 'import dbus, gi' 2>/dev/null || { echo "missing dbus-python or PyGObject: apt-get install python3-dbus python3-gi"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build -q --bin serve-doctor) || { echo "build failed"; exit 2; }
fi

WORK=$(mktemp -d /tmp/serve-doctor-notify.XXXXXX)
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

# --- an isolated user ----------------------------------------------------------------------------
export HOME=$WORK/home
export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share XDG_STATE_HOME=$HOME/.local/state
export XDG_CACHE_HOME=$HOME/.cache XDG_RUNTIME_DIR=$WORK/run
mkdir -p "$XDG_CONFIG_HOME/serve-doctor" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
unset WAYLAND_DISPLAY
export NO_AT_BRIDGE=1

# --- the scenario: fake CLI, HTTPS off -----------------------------------------------------------
SCN=$WORK/scenario
mkdir -p "$SCN"
ln -s "$ROOT/tests/fake-tailscale/tailscale" "$SCN/tailscale"
cp "$ROOT/tests/fixtures/status-https-off.json" "$SCN/status.json"
cp "$ROOT/tests/fixtures/serve-healthy.json" "$SCN/serve.json"

# --- a session bus of our own, and the notification server on it ---------------------------------
BUS=$(dbus-daemon --session --fork --print-address=1 --print-pid=1 2>"$WORK/dbus.log")
export DBUS_SESSION_BUS_ADDRESS=$(printf '%s\n' "$BUS" | sed -n 1p)
PIDS+=($(printf '%s\n' "$BUS" | sed -n 2p))
[ -n "$DBUS_SESSION_BUS_ADDRESS" ] || { fail "dbus-daemon did not start: $(cat "$WORK/dbus.log")"; finish; }
NOTES=$WORK/notify.jsonl
: >"$NOTES"
"$PY" "$ROOT/tests/e2e/notify-server.py" "$NOTES" >"$WORK/server.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q ready "$WORK/server.out" || { fail "notification server did not start: $(cat "$WORK/server.out")"; finish; }
pass "private session bus and notification server up ($DBUS_SESSION_BUS_ADDRESS)"

# --- X server and tray host ----------------------------------------------------------------------
for n in $(seq 141 190); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then DISP=$n; break; fi
done
export DISPLAY=:$DISP
Xvfb "$DISPLAY" -screen 0 1280x720x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
wait_for 10 xdpyinfo >/dev/null 2>&1 || { fail "Xvfb did not start"; finish; }
trayer --edge top --align right --widthtype percent --width 100 --height 32 --SetDockType true \
    --tint 0xdcdad5 --transparent false >"$WORK/trayer.log" 2>&1 &
PIDS+=($!)
wait_for 10 sh -c 'xwininfo -root -tree | grep -q "\"panel\""' || note "trayer window not named as expected; continuing"

# --- 1. start: red, and no notification for the first result ------------------------------------
mkdir -p "$WORK/empty-path"
PATH=$WORK/empty-path "$BIN" --tailscale "$SCN/tailscale" --interval "$INTERVAL" --timeout 3 --verbose \
    >"$WORK/app.log" 2>&1 &
APP=$!
PIDS+=($APP)
wait_icon "$DEADLINE" "$APP"
if [ -z "$GEOM" ]; then
    fail "tray icon did not appear within ${DEADLINE}s"
    sed 's/^/#      app: /' "$WORK/app.log" | tail -20
    finish
fi
read -r IW IH IX IY <<<"$GEOM"
if wait_for "$DEADLINE" grep -q "state: red" "$WORK/app.log"; then
    pass "the app is up and red for the HTTPS-off scenario"
else
    fail "no red state in the log: $(tail -3 "$WORK/app.log")"
fi
[ ! -s "$NOTES" ] && pass "the first result sent no notification" || fail "notified at start: $(cat "$NOTES")"

# --- 2. Tailscale stops; Diagnose now from the menu → gray → a notification with its button -----
cp "$ROOT/tests/fixtures/status-stopped.json" "$SCN/status.json.tmp" && mv "$SCN/status.json.tmp" "$SCN/status.json"
menu_open() {
    xwininfo -root -children 2>/dev/null | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.search(r"\s(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s", line)
    if m and int(m.group(2)) > 100 and int(m.group(1)) < 1200:
        print(*m.groups()); break
' | grep -q .
}
xdotool mousemove $((IX + IW / 2)) $((IY + IH / 2)) click 1
if wait_for 5 menu_open; then
    sleep 0.3
    # "Diagnose now", by its id among the items the arrow keys visit (the check lines before it
    # are submenus), as the app last logged them.
    n=$(grep -F "menu keys: " "$WORK/app.log" | tail -1 | sed 's/.*menu keys: //' | tr '|' '\n' |
        awk '{ gsub(/ /, "") } $0 == "diagnose" { print NR; exit }')
    # shellcheck disable=SC2046
    [ -n "$n" ] && xdotool key $(yes Down | head -n "$n") Return
else
    fail "menu did not open"
fi
notified() { grep -q '"diagnose", "Diagnose"' "$NOTES"; }
if wait_for "$DEADLINE" notified; then
    pass "health changed: Notify with the Diagnose button: $(tail -1 "$NOTES" | cut -c1-200)"
else
    fail "no notification with a Diagnose button (server log: $(cat "$NOTES"); app: $(grep -i notif "$WORK/app.log" | tail -2))"
    finish
fi
NID=$("$PY" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["id"])' "$NOTES")

# --- 3. the click: ActionInvoked(id, "diagnose") → the app runs a diagnosis ----------------------
statuses() { grep -c '"status"' "$SCN/argv.log" 2>/dev/null || true; }
# Let the run that sent the notification finish its reads first.
wait_for 10 grep -q "state: gray" "$WORK/app.log"
before=$(statuses)
clicked() { grep -q 'notification clicked: DiagnoseNow' "$WORK/app.log"; }
# The app subscribes to the server's signals right after its Notify returns; an ActionInvoked
# sent before that would be lost, so the click is sent again until the app has seen one.
for _ in 1 2 3; do
    dbus-send --session --type=method_call --dest=org.freedesktop.Notifications \
        /org/freedesktop/Notifications test.Control.Invoke "uint32:$NID" string:diagnose
    wait_for 3 clicked && break
done
if clicked; then
    pass "ActionInvoked reached the app: $(grep -o 'notification clicked: .*' "$WORK/app.log" | head -1)"
else
    fail "the app never logged the click (log: $(grep -i notif "$WORK/app.log" | tail -3))"
fi
if wait_for 10 sh -c "[ \$(grep -c '\"status\"' '$SCN/argv.log') -gt $before ]"; then
    pass "…and diagnosed: status reads $before → $(statuses), with the next poll ${INTERVAL}s away"
else
    fail "no status read after the click (still $before)"
fi

kill -TERM "$APP"
wait_for 5 sh -c "! kill -0 $APP 2>/dev/null" || fail "app still running 5 s after SIGTERM"
cp "$WORK/app.log" "$ROOT/target/e2e-notify-app.log" 2>/dev/null
finish
