#!/usr/bin/env bash
# Performance numbers for the menu-bar app (issue 3). Prints numbers; asserts nothing.
#
#   - time until the icon is visible after start (median of BENCH_STARTS runs), as seen from
#     outside (the tray host shows it) and as the app logs it;
#   - idle CPU over BENCH_IDLE_SECS (default 300) at the default interval (30 s), the app alone and
#     its children (the fake `tailscale`, a Python script: the real CLI is a Go binary);
#   - RSS with the SNI host (gtk-sni-tray-standalone, the realistic case) and with the XEmbed
#     fallback (trayer; Xvfb's software renderer inflates it);
#   - process spawns per poll: CLI calls (the fake's argv.log) per poll;
#   - on the LocalAPI route (examples/fake_daemon, `--socket`): process spawns per minute while
#     idle with the IPN bus connected (every execve of the app and its children, counted by
#     strace when it can attach; expected 0), and the reaction time to a bus event (the daemon's
#     announcement to the app's "state:" log line), for HTTPS enabled (→ green) and disabled
#     (→ red, which is confirmed by one extra run first).
#
# The scenario is healthy (fake CLI + examples/tls_peer), so every poll runs the whole chain.
# Env: SERVE_DOCTOR_BIN, TLS_PEER_BIN (default target/release/…), SKIP_BUILD=1,
#      BENCH_IDLE_SECS (300), BENCH_XEMBED_SECS (60), BENCH_STARTS (5), FAKE_DAEMON_BIN,
#      BENCH_BUS_IDLE_SECS (60), BENCH_BUS_EVENTS (5), BENCH_ONLY_BUS=1 (skip the CLI-route part).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SERVE_DOCTOR_BIN:-$ROOT/target/release/serve-doctor}
PEER=${TLS_PEER_BIN:-$ROOT/target/release/examples/tls_peer}
DAEMON_BIN=${FAKE_DAEMON_BIN:-$ROOT/target/release/examples/fake_daemon}
BUS_IDLE_SECS=${BENCH_BUS_IDLE_SECS:-60}
BUS_EVENTS=${BENCH_BUS_EVENTS:-5}
IDLE_SECS=${BENCH_IDLE_SECS:-300}
XEMBED_SECS=${BENCH_XEMBED_SECS:-60}
STARTS=${BENCH_STARTS:-5}
NAME=box.tail1234.ts.net

for tool in Xvfb trayer xwininfo xdpyinfo python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool"; exit 2; }
done
HAVE_SNI=
if command -v gtk-sni-tray-standalone >/dev/null && command -v dbus-daemon >/dev/null; then HAVE_SNI=1; fi

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build -q --release --bin serve-doctor --example tls_peer --example fake_daemon) || { echo "build failed"; exit 2; }
fi

WORK=$(mktemp -d /tmp/serve-doctor-bench.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export HOME=$WORK/home
export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share XDG_STATE_HOME=$HOME/.local/state
export XDG_CACHE_HOME=$HOME/.cache XDG_RUNTIME_DIR=$WORK/run
mkdir -p "$XDG_CONFIG_HOME/serve-doctor" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
# Notifications off: a health change is not what is measured, and there is no daemon here.
printf '{"notifications": false}\n' >"$XDG_CONFIG_HOME/serve-doctor/config.json"
export NO_AT_BRIDGE=1
unset WAYLAND_DISPLAY

SCN=$WORK/scenario
mkdir -p "$SCN"
ln -s "$ROOT/tests/fake-tailscale/tailscale" "$SCN/tailscale"
cp "$ROOT/tests/fixtures/status-healthy.json" "$SCN/status.json"
"$PEER" "$NAME" "$WORK/ca.pem" >"$WORK/peer.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q backend= "$WORK/peer.out" 2>/dev/null && break; sleep 0.05; done
TLS_ADDR=$(sed -n 's/.*tls=\([^ ]*\).*/\1/p' "$WORK/peer.out")
BACKEND_PORT=$(sed -n 's/.*backend=[^:]*:\([0-9]*\).*/\1/p' "$WORK/peer.out")
sed "s/18080/$BACKEND_PORT/" "$ROOT/tests/fixtures/serve-healthy.json" >"$SCN/serve.json"
APP_ARGS=(--tailscale "$SCN/tailscale" --connect "$TLS_ADDR" --ca-file "$WORK/ca.pem")

for n in $(seq 151 199); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then DISP=$n; break; fi
done
export DISPLAY=:$DISP
Xvfb "$DISPLAY" -screen 0 800x200x24 -nolisten tcp >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.05; done

LOGFILE=$XDG_STATE_HOME/serve-doctor/serve-doctor.log

# visible_ms MODE PID: polls every 5 ms until the host shows the icon; prints ms since $T0.
visible_ms() {
    python3 - "$1" "$T0" <<'PY'
import re, subprocess, sys, time
mode, t0 = sys.argv[1], float(sys.argv[2])
end = time.time() + 20
def xembed():
    out = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.search(r"(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+", line)
        if "tray-icon tray app" in line and m and int(m.group(1)) >= 8:
            return True
    return False
def sni():
    out = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.kde.StatusNotifierWatcher",
                          "/StatusNotifierWatcher", "org.freedesktop.DBus.Properties.Get",
                          "string:org.kde.StatusNotifierWatcher", "string:RegisteredStatusNotifierItems"],
                         capture_output=True, text=True).stdout
    return "string \"" in out
check = xembed if mode == "xembed" else sni
while time.time() < end:
    if check():
        print(int((time.time() - t0) * 1000)); sys.exit(0)
    time.sleep(0.005)
print("timeout")
PY
}

# start_app: starts the app in the background, sets APP and T0.
start_app() {
    rm -f "$LOGFILE"
    T0=$(python3 -c 'import time; print(time.time())')
    "$BIN" "${APP_ARGS[@]}" "$@" >>"$WORK/app.out" 2>&1 &
    APP=$!
}
stop_app() {
    kill -TERM "$APP" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$APP" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$APP" 2>/dev/null
    wait "$APP" 2>/dev/null
}
logged_ms() { sed -n 's/.*tray icon shown \([0-9.]*\)\(m\?s\) after start.*/\1 \2/p' "$LOGFILE" 2>/dev/null | head -1 | awk '{ if ($2 == "s") printf "%d", $1 * 1000; else printf "%d", $1 }'; }
median() { tr ' ' '\n' | grep -E '^[0-9]+$' | sort -n | awk '{a[NR]=$1} END { if (NR) print a[int((NR + 1) / 2)]; else print "?" }'; }

# proc_sample PID: "utime stime cutime cstime" in clock ticks.
proc_sample() { awk '{ print $14, $15, $16, $17 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# measure MODE SECS: start times, then an idle window.
measure() {
    local mode=$1 secs=$2 outside=() inside=() i
    for i in $(seq "$STARTS"); do
        start_app
        outside+=("$(visible_ms "$mode")")
        sleep 0.3
        inside+=("$(logged_ms)")
        stop_app
    done
    echo "[$mode] icon visible after start: median $(echo "${outside[*]}" | median) ms seen by the host (runs: ${outside[*]}); app's own log: median $(echo "${inside[*]}" | median) ms (runs: ${inside[*]})"

    : >"$SCN/argv.log"
    start_app
    visible_ms "$mode" >/dev/null
    sleep 5 # first diagnosis and startup settle
    local before after polls calls ticks
    before=$(proc_sample "$APP")
    local calls0
    calls0=$(wc -l <"$SCN/argv.log")
    local polls0
    polls0=$(grep -c '"argv": \["status"' "$SCN/argv.log")
    sleep "$secs"
    after=$(proc_sample "$APP")
    calls=$(( $(wc -l <"$SCN/argv.log") - calls0 ))
    polls=$(( $(grep -c '"argv": \["status"' "$SCN/argv.log") - polls0 ))
    ticks=$(getconf CLK_TCK)
    python3 - "$before" "$after" "$secs" "$ticks" "$mode" <<'PY'
import sys
b = list(map(int, sys.argv[1].split())); a = list(map(int, sys.argv[2].split()))
secs, hz, mode = float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
own = (a[0] + a[1] - b[0] - b[1]) / hz
kids = (a[2] + a[3] - b[2] - b[3]) / hz
print(f"[{mode}] idle CPU over {secs:.0f} s at the default interval: app {own:.2f} s = {own / secs * 100:.3f} % of a core; "
      f"children (fake CLI, Python) {kids:.2f} s = {kids / secs * 100:.3f} %")
PY
    echo "[$mode] RSS: VmRSS $(status_kb "$APP" VmRSS) kB, RssAnon $(status_kb "$APP" RssAnon) kB, VmHWM $(status_kb "$APP" VmHWM) kB, threads $(status_kb "$APP" Threads)"
    if [ "$polls" -gt 0 ]; then
        echo "[$mode] polls in the window: $polls; CLI calls: $calls = $(python3 -c "print(round($calls / $polls, 2))") per poll"
    else
        echo "[$mode] polls in the window: 0 (window shorter than the interval); CLI calls: $calls"
    fi
    stop_app
}

echo "serve-doctor $("$BIN" --version 2>/dev/null | awk '{print $2}') ($BIN), $(nproc) cores"

# --- SNI host on a private session bus ------------------------------------------------------------
if [ -n "${BENCH_ONLY_BUS:-}" ]; then
    echo "[sni] [xembed] skipped (BENCH_ONLY_BUS)"
elif [ -n "$HAVE_SNI" ]; then
    eval "$(dbus-daemon --session --fork --print-address=1 --print-pid=1 | awk 'NR==1 {print "export DBUS_SESSION_BUS_ADDRESS=" $0} NR==2 {print "BUS_PID=" $0}')"
    PIDS+=("$BUS_PID")
    gtk-sni-tray-standalone --watcher --top --end -s 32 -c "#dcdad5" >"$WORK/sni.log" 2>&1 &
    SNI_PID=$!
    PIDS+=($SNI_PID)
    for _ in $(seq 200); do
        dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.kde.StatusNotifierWatcher 2>/dev/null | grep -q true && break
        sleep 0.05
    done
    measure sni "$IDLE_SECS"
    kill "$SNI_PID" 2>/dev/null
    kill "$BUS_PID" 2>/dev/null
    unset DBUS_SESSION_BUS_ADDRESS
else
    echo "[sni] skipped: gtk-sni-tray-standalone not installed (apt-get install haskell-gtk-sni-tray-utils)"
fi

# --- XEmbed fallback with trayer, no session bus ---------------------------------------------------
unset DBUS_SESSION_BUS_ADDRESS
trayer --edge top --align right --widthtype percent --width 100 --height 32 --SetDockType true >/dev/null 2>&1 &
PIDS+=($!)
sleep 1
if [ -n "${BENCH_ONLY_BUS:-}" ]; then :
elif [ -n "$HAVE_SNI" ]; then measure xembed "$XEMBED_SECS"; else measure xembed "$IDLE_SECS"; fi

# --- LocalAPI route: idle spawns with the bus connected, reaction to a bus event -------------------
BUSD=$WORK/daemon
mkdir -p "$BUSD" "$WORK/bin"
cp "$ROOT/tests/fixtures/status-https-off.json" "$BUSD/status.json"
cp "$SCN/serve.json" "$BUSD/serve.json"
# A logging `tailscale` first in PATH, so CLI calls are counted even without strace.
printf '#!/bin/sh\necho "$*" >>"%s"\nexit 1\n' "$WORK/bus-argv.log" >"$WORK/bin/tailscale"
chmod +x "$WORK/bin/tailscale"
: >"$WORK/bus-argv.log"
"$DAEMON_BIN" "$BUSD" >"$WORK/daemon.out" 2>&1 &
DAEMON=$!
PIDS+=($DAEMON)
for _ in $(seq 200); do grep -q socket= "$WORK/daemon.out" 2>/dev/null && break; sleep 0.05; done
SOCK=$(sed -n 's/^socket=\([^ ]*\) .*/\1/p' "$WORK/daemon.out")
lines_in() { local n; n=$(grep -c -- "$2" "$1" 2>/dev/null); echo "${n:-0}"; }
# wait_lines FILE PATTERN N [SECS]: until FILE has N lines matching PATTERN.
wait_lines() {
    local end=$(( $(date +%s) + ${4:-20} ))
    while [ "$(lines_in "$1" "$2")" -lt "$3" ]; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.02
    done
}
# ms_to T LOOK N: ms from T to the Nth "state: LOOK" line of the app's log.
ms_to() {
    python3 - "$1" "$LOGFILE" "state: $2" "$3" <<'PY'
import datetime, sys
t, path, pat, nth = float(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
seen = 0
for line in open(path, errors="replace"):
    if pat in line:
        seen += 1
        if seen == nth:
            print(int((datetime.datetime.fromisoformat(line.split()[0]).timestamp() - t) * 1000)); break
PY
}
rm -f "$LOGFILE"
# The default interval (30 s): with the bus up the poll becomes the 5-minute safety poll.
PATH=$WORK/bin:$PATH "$BIN" --socket "$SOCK" --connect "$TLS_ADDR" --ca-file "$WORK/ca.pem" >>"$WORK/app-bus.out" 2>&1 &
APP=$!
if wait_lines "$LOGFILE" "IPN bus connected" 1 && wait_lines "$LOGFILE" "state: " 1; then
    sleep 2 # the startup run's tasks wind down
    timeout 2 strace -qq -f -e trace=execve -o /dev/null -p "$APP" >/dev/null 2>&1
    if [ $? -eq 124 ]; then
        timeout "$BUS_IDLE_SECS" strace -qq -f -e trace=execve -o "$WORK/execve.log" -p "$APP" >/dev/null 2>&1
        spawns=$(grep -c 'execve(' "$WORK/execve.log" 2>/dev/null || true)
        how="execve calls of the app and its children, seen by strace"
    else
        calls0=$(wc -l <"$WORK/bus-argv.log")
        sleep "$BUS_IDLE_SECS"
        spawns=$(( $(wc -l <"$WORK/bus-argv.log") - calls0 ))
        how="CLI calls only: strace cannot attach here"
    fi
    echo "[localapi] idle with the bus connected, ${BUS_IDLE_SECS} s at the default settings: ${spawns} process spawns = $(python3 -c "print(round($spawns * 60 / $BUS_IDLE_SECS, 2))") per minute ($how); CLI calls in the whole run: $(wc -l <"$WORK/bus-argv.log")"

    greens=()
    reds=()
    pushes=0
    for _ in $(seq "$BUS_EVENTS"); do
        for look in green red; do
            if [ "$look" = green ]; then f=status-healthy.json; else f=status-https-off.json; fi
            before=$(lines_in "$LOGFILE" "state: $look")
            cp "$ROOT/tests/fixtures/$f" "$BUSD/status.json.tmp" && mv "$BUSD/status.json.tmp" "$BUSD/status.json"
            t=$(python3 -c 'import time; print(time.time())')
            kill -USR1 "$DAEMON"
            pushes=$((pushes + 1))
            wait_lines "$WORK/daemon.out" "pushed" "$pushes" 5
            if wait_lines "$LOGFILE" "state: $look" $((before + 1)) 10; then
                ms=$(ms_to "$t" "$look" $((before + 1)))
                if [ "$look" = green ]; then greens+=("$ms"); else reds+=("$ms"); fi
            fi
            sleep 0.5
        done
    done
    echo "[localapi] reaction to a bus event (announcement → state change logged; 250 ms debounce included): HTTPS enabled → green median $(echo "${greens[*]}" | median) ms (runs: ${greens[*]}); HTTPS off → red, confirmed once, median $(echo "${reds[*]}" | median) ms (runs: ${reds[*]})"
    kill -TERM "$DAEMON"
    for _ in $(seq 100); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.05; done
    echo "[localapi] requests the real daemon would have refused: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["violations"])' "$BUSD/daemon-report.json")"
else
    echo "[localapi] skipped: the app did not connect to the fake daemon's bus ($(tail -2 "$WORK/app-bus.out"))"
fi
stop_app
