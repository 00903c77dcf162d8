#!/usr/bin/env bash
# End-to-end test of the menu-bar app under Xvfb, the way a user sees it:
#
#   the real binary + the fake `tailscale` (tests/fake-tailscale) in the HTTPS-off scenario
#   → the tray icon's pixels are red;
#   open the menu with xdotool, pick "Copy SSH tunnel command" → xclip reads the exact command;
#   rewrite the scenario to healthy (TLS + backend from `examples/tls_peer`)
#   → the icon turns green within the interval;
#   a second start exits 75 with "already running (pid N)" and leaves exactly one icon;
#   Settings → Launch at login creates and removes $XDG_CONFIG_HOME/autostart/serve-doctor.desktop,
#   and the read-back follows the file when it is changed by hand;
#   on the healthy menu "Open https://…/" → an `xdg-open` stub first in PATH records exactly that
#   URL;
#   "Recreate serve…" → its dialog (found by its window title) → Return (Cancel is the default) →
#   no write in the fake's argv.log; again → OK (the fake's reset made slow, so a poll would land
#   between the two writes) → argv.log shows `serve reset` then `serve --bg --https=443 …` with no
#   `status` call between them, the monitor's own run right after the write, and a backup exists
#   in the data dir;
#   `serve-doctor targets add site --url …` (another node, seen from here) → the running app shows
#   a second section, red while that node is offline, and the icon shows the worst of the two
#   (red); the node back and its own "Diagnose now" → site green, icon green; `targets remove
#   site` → the section goes and the icon stays green;
#   SIGTERM → the app leaves cleanly; no display → one line and a non-zero exit.
#
# Tray host: trayer with the XEmbed fallback (no StatusNotifier host needed). DBUS_SESSION_BUS_ADDRESS is
# unset so libayatana-appindicator falls back to a GtkStatusIcon that trayer embeds; no D-Bus.
#
# Screenshots go to target/e2e/ (UPDATE_DOCS=1 also copies the best to docs/).
# Needs: xvfb trayer xdotool x11-utils imagemagick xclip python3 libayatana-appindicator3-1.
# Env: SERVE_DOCTOR_BIN, TLS_PEER_BIN (defaults: target/debug/…), SKIP_BUILD=1, KEEP=1 (keep the
# work dir), E2E_DEADLINE (seconds per wait, default 20).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SERVE_DOCTOR_BIN:-$ROOT/target/debug/serve-doctor}
PEER=${TLS_PEER_BIN:-$ROOT/target/debug/examples/tls_peer}
OUT=${E2E_OUT:-$ROOT/target/e2e}
DEADLINE=${E2E_DEADLINE:-20}
INTERVAL=1
SCREEN_W=1280
NAME=box.tail1234.ts.net
CONVERT=/usr/bin/convert # a stand-in for ImageMagick's `convert` can come first in PATH

. "$(dirname "$0")/lib.sh"

for tool in Xvfb trayer xdotool xwininfo xdpyinfo import xclip python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install xvfb trayer xdotool x11-utils imagemagick xclip python3"; exit 2; }
done
[ -x "$CONVERT" ] || { echo "missing $CONVERT (imagemagick)"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build -q --bin serve-doctor --example tls_peer) || { echo "build failed"; exit 2; }
fi

WORK=$(mktemp -d /tmp/serve-doctor-e2e.XXXXXX)
mkdir -p "$OUT"
rm -f "$OUT"/*.png
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


# --- an isolated user: config, data, logs, runtime dir -------------------------------------------
export HOME=$WORK/home
export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share XDG_STATE_HOME=$HOME/.local/state
export XDG_CACHE_HOME=$HOME/.cache XDG_RUNTIME_DIR=$WORK/run
mkdir -p "$XDG_CONFIG_HOME/serve-doctor" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
# A fixed SSH user, so the copied tunnel command is known exactly.
printf '{"ssh_user": "alice", "future_key": "kept"}\n' >"$XDG_CONFIG_HOME/serve-doctor/config.json"
unset DBUS_SESSION_BUS_ADDRESS WAYLAND_DISPLAY
export NO_AT_BRIDGE=1

# --- the scenario: fake CLI, HTTPS off ------------------------------------------------------------
SCN=$WORK/scenario
mkdir -p "$SCN"
ln -s "$ROOT/tests/fake-tailscale/tailscale" "$SCN/tailscale"
cp "$ROOT/tests/fixtures/status-https-off.json" "$SCN/status.json"
cp "$ROOT/tests/fixtures/serve-healthy.json" "$SCN/serve.json"

# The healthy endpoint for later: TLS for $NAME signed by a CA we trust via --ca-file, a backend.
"$PEER" "$NAME" "$WORK/ca.pem" >"$WORK/peer.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q backend= "$WORK/peer.out" || { fail "tls_peer did not start: $(cat "$WORK/peer.out")"; finish; }
TLS_ADDR=$(sed -n 's/.*tls=\([^ ]*\).*/\1/p' "$WORK/peer.out")
BACKEND_PORT=$(sed -n 's/.*backend=[^:]*:\([0-9]*\).*/\1/p' "$WORK/peer.out")
# The second target's serve, another node of the tailnet ("site", seen from here at 127.0.0.1):
# its own certificate, its own CA, trusted through the same --ca-file.
SITE_NAME=site.tail1234.ts.net
"$PEER" "$SITE_NAME" "$WORK/ca-site.pem" >"$WORK/peer-site.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q backend= "$WORK/peer-site.out" || { fail "site tls_peer did not start: $(cat "$WORK/peer-site.out")"; finish; }
SITE_PORT=$(sed -n 's/.*tls=[^:]*:\([0-9]*\).*/\1/p' "$WORK/peer-site.out")
cat "$WORK/ca.pem" "$WORK/ca-site.pem" >"$WORK/ca-all.pem"

# --- X server and tray host -----------------------------------------------------------------------
for n in $(seq 91 140); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then DISP=$n; break; fi
done
export DISPLAY=:$DISP
Xvfb "$DISPLAY" -screen 0 ${SCREEN_W}x720x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS+=($!)
wait_for 10 xdpyinfo >/dev/null 2>&1 || { fail "Xvfb did not start"; finish; }
trayer --edge top --align right --widthtype percent --width 100 --height 32 --SetDockType true \
    --tint 0xdcdad5 --transparent false >"$WORK/trayer.log" 2>&1 &
PIDS+=($!)
wait_for 10 sh -c 'xwininfo -root -tree | grep -q "\"panel\""' || note "trayer window not named as expected; continuing"

# --- helpers on the icon --------------------------------------------------------------------------
shot() { import -window root "$1" 2>/dev/null; }
# icon_is LOOK: screenshot now and compare; leaves the last result in $LAST_LOOK.
icon_is() {
    shot "$WORK/now.png" || return 1
    read -r LAST_LOOK _ < <(look_of "$WORK/now.png" $GEOM)
    [ "$LAST_LOOK" = "$1" ]
}
# pixel_at FILE X Y: one pixel, as ImageMagick names it (for the log).
pixel_at() { "$CONVERT" "$1" -format "%[pixel:p{$2,$3}]" info: 2>/dev/null; }

# --- 1. start: the icon appears, red ---------------------------------------------------------------
APP_ARGS=(--tailscale "$SCN/tailscale" --interval "$INTERVAL" --connect "$TLS_ADDR" --ca-file "$WORK/ca-all.pem" --timeout 3 --verbose)
t0=$(now)
# An empty PATH: no xdg-open or gio, so "Open admin console" takes the no-browser path (copy the
# URL and say so) instead of launching something on a developer's desktop.
mkdir -p "$WORK/empty-path"
PATH=$WORK/empty-path "$BIN" "${APP_ARGS[@]}" >"$WORK/app.log" 2>&1 &
APP=$!
PIDS+=($APP)
wait_icon "$DEADLINE" "$APP"
if [ -z "$GEOM" ]; then
    fail "tray icon did not appear within ${DEADLINE}s"
    sed 's/^/#      app: /' "$WORK/app.log" | tail -20
    finish
fi
pass "tray icon appeared after $(elapsed_ms "$t0") ms (window ${GEOM// /,})"
read -r IW IH IX IY <<<"$GEOM"
CX=$((IX + IW / 2))
CY=$((IY + IH / 2))

poll_look() { # poll_look LOOK SECONDS
    local end=$(( $(date +%s) + $2 ))
    LAST_LOOK=
    while [ "$(date +%s)" -lt "$end" ]; do
        icon_is "$1" && return 0
        sleep 0.1
    done
    return 1
}

if poll_look red "$DEADLINE"; then
    cp "$WORK/now.png" "$OUT/01-red.png"
    pass "icon is red for the HTTPS-off scenario (ring pixel $(pixel_at "$OUT/01-red.png" "$CX" $((IY + IH / 5))))"
else
    cp "$WORK/now.png" "$OUT/01-not-red.png"
    fail "icon never turned red (last look: ${LAST_LOOK:-?})"
fi
"$CONVERT" "$OUT/01-red.png" -crop "${IW}x${IH}+${IX}+${IY}" +repage -scale 400% "$OUT/01-red-icon.png" 2>/dev/null

# --- 2. the menu: Copy SSH tunnel command -> clipboard ---------------------------------------------
# Let a poll pass first: a GTK menu opened while its text changes width gets clipped.
sleep 1.2
# menu_open: a popup window taller than 100 px exists (the GTK menu is an override-redirect
# child of the root).
menu_open() {
    xwininfo -root -children 2>/dev/null | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.search(r"\s(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s", line)
    if m and int(m.group(2)) > 100 and int(m.group(1)) < 1200:
        print(*m.groups()); break
' >"$WORK/menu.geom"
    [ -s "$WORK/menu.geom" ]
}
open_menu() {
    xdotool mousemove "$CX" "$CY" click 1
    wait_for 5 menu_open
}
# menu_labels: the menu's top-level labels as the app last logged them, one per line, with what
# changes from run to run (work paths, clock times, versions, durations, loopback ports) replaced by a word: what
# the README's screenshots are compared by.
menu_labels() {
    grep -F "menu shows: " "$WORK/app.log" | tail -1 | sed 's/.*menu shows: //' | sed 's/ | /\n/g' |
        sed -E 's#/tmp/[^ )]*#<path>#g; s/since [0-9]{1,2}:[0-9]{2}/since <time>/; s/tailscaled [^ ]+/tailscaled <version>/; s/[0-9]+ ms/<n> ms/g; s/127\.0\.0\.1:[0-9]+/127.0.0.1:<port>/g; s/\(port [0-9]+/(port <port>/g'
}
# menu_has TEXT / menu_lacks TEXT: the menu's top level, as the app last logged it.
menu_top() { grep -F "menu shows: " "$WORK/app.log" | tail -1; }
menu_has() { menu_top | grep -qF -- "$1"; }
menu_lacks() { ! menu_has "$1"; }
# down_to PATTERN: presses Down until the top-level item whose id matches PATTERN (a glob) is
# selected, counting from the ids the arrow keys visit as the app last logged them ("menu keys:").
# Check lines are submenus, so how many come before an item depends on the scenario.
down_to() {
    local n
    n=$(grep -F "menu keys: " "$WORK/app.log" | tail -1 | sed 's/.*menu keys: //' | python3 -c '
import fnmatch, sys
keys = sys.stdin.read().strip().split(" | ")
print(next((i + 1 for i, k in enumerate(keys) if fnmatch.fnmatchcase(k, sys.argv[1])), ""))
' "$1")
    [ -n "$n" ] || { note "no menu item matches $1: $(grep -F 'menu keys: ' "$WORK/app.log" | tail -1)"; return 1; }
    # shellcheck disable=SC2046
    xdotool key $(yes Down | head -n "$n")
}
EXPECTED="ssh -N -L 18080:127.0.0.1:18080 alice@$NAME"
if open_menu; then
    sleep 0.3
    shot "$OUT/02-menu-red.png"
    pass "menu opens on click"
    # Keyboard navigation skips the disabled lines: the check lines (submenus), Diagnose now,
    # Open admin console, Recreate serve…, Copy SSH tunnel command.
    down_to 'fix.*.ssh_tunnel'
    sleep 0.3
    shot "$OUT/03-menu-red-hover.png"
    cp "$WORK/menu.geom" "$WORK/menu-red.geom"
    menu_labels >"$OUT/menu-red.labels"
    xdotool key Return
    got=
    end=$(( $(date +%s) + 5 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        got=$(xclip -o -selection clipboard 2>/dev/null || true)
        [ "$got" = "$EXPECTED" ] && break
        sleep 0.1
    done
    if [ "$got" = "$EXPECTED" ]; then
        pass "Copy SSH tunnel command put the exact command on the clipboard: $got"
    else
        fail "clipboard has '${got}', expected '$EXPECTED'"
    fi
else
    fail "menu did not open"
fi
xdotool key Escape 2>/dev/null

# --- 2b. Open admin console with no browser: the URL lands on the clipboard, and the app watches --
# clip_is TEXT SECONDS: polls the clipboard.
clip_is() {
    local end=$(( $(date +%s) + $2 ))
    CLIP=
    while [ "$(date +%s)" -lt "$end" ]; do
        CLIP=$(xclip -o -selection clipboard 2>/dev/null || true)
        [ "$CLIP" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
sleep 0.5
if open_menu; then
    down_to 'fix.*.open_admin_dns' && xdotool key Return
    if clip_is "https://login.tailscale.com/admin/dns" 5; then
        pass "Open admin console with no browser copied the URL"
    else
        fail "Open admin console: clipboard has '$CLIP'"
    fi
    if wait_for 5 grep -q "Nothing could open it" "$WORK/app.log"; then
        pass "…and said so"
    else
        fail "no 'Nothing could open it' message in the log"
    fi
    sleep 0.5
    if open_menu; then
        sleep 0.3
        shot "$OUT/03b-menu-watching.png"
        xdotool key Escape
    fi
else
    fail "menu did not open for the admin console"
fi

# --- 3. fixed: healthy scenario -> green within the interval ---------------------------------------
sed "s/18080/$BACKEND_PORT/" "$ROOT/tests/fixtures/serve-healthy.json" >"$SCN/serve.json.tmp" && mv "$SCN/serve.json.tmp" "$SCN/serve.json"
cp "$ROOT/tests/fixtures/status-healthy.json" "$SCN/status.json.tmp" && mv "$SCN/status.json.tmp" "$SCN/status.json"
t1=$(now)
# The next poll is at most INTERVAL away and one run takes a few hundred ms with the Python fake.
if poll_look green $((INTERVAL + 4)); then
    ms=$(elapsed_ms "$t1")
    cp "$WORK/now.png" "$OUT/04-green.png"
    # The app's own log says when the state changed, without the screenshot loop's latency.
    logged=$(python3 - "$t1" "$WORK/app.log" <<'PY'
import datetime, sys
t1 = float(sys.argv[1])
for line in open(sys.argv[2], errors="replace"):
    if "state: green" in line:
        t = datetime.datetime.fromisoformat(line.split()[0]).timestamp()
        print(int((t - t1) * 1000)); break
PY
)
    pass "icon turned green ${ms} ms after the scenario became healthy (app logged it after ${logged:-?} ms; interval ${INTERVAL}s)"
else
    cp "$WORK/now.png" "$OUT/04-not-green.png"
    fail "icon did not turn green within $((INTERVAL + 4))s (last look: ${LAST_LOOK:-?})"
fi
"$CONVERT" "$OUT/04-green.png" -crop "${IW}x${IH}+${IX}+${IY}" +repage -scale 400% "$OUT/04-green-icon.png" 2>/dev/null
if wait_for 5 grep -q "the watched fix worked" "$WORK/app.log"; then
    pass "after the admin console, the app noticed the fix and said so"
else
    fail "no 'the watched fix worked' in the log"
fi
sleep 1.2
if open_menu; then
    sleep 0.3
    shot "$OUT/05-menu-green.png"
    cp "$WORK/menu.geom" "$WORK/menu-green.geom"
    menu_labels >"$OUT/menu-green.labels"
    xdotool key Escape
fi

# --- 3b. healthy: Open https://…/ goes to the browser (an xdg-open stub, first in the app's PATH) --
# The app's PATH is $WORK/empty-path: the stub put there now is the only launcher the `open` crate
# finds. Each call appends its arguments, one line per call.
OPENED=$WORK/xdg-open.log
: >"$OPENED"
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s"\n' "$OPENED" >"$WORK/empty-path/xdg-open"
chmod +x "$WORK/empty-path/xdg-open"
WANT_URL="https://$NAME/"
opened_is() { [ "$(cat "$OPENED")" = "$WANT_URL" ]; }
if menu_has "Open $WANT_URL" && menu_has "Copy URL"; then
    pass "the healthy menu offers 'Open $WANT_URL' and 'Copy URL'"
else
    fail "healthy menu lacks Open/Copy URL: $(menu_top | cut -c1-300)"
fi
sleep 0.5
if open_menu; then
    sleep 0.3
    down_to 'open.0' && xdotool key Return
    if wait_for 5 opened_is; then
        pass "Open $WANT_URL: the xdg-open stub got exactly that URL"
    else
        fail "xdg-open stub recorded '$(cat "$OPENED")', expected '$WANT_URL'"
    fi
else
    fail "menu did not open for Open URL"
fi
xdotool key Escape 2>/dev/null

# --- 4. history and config survive; SIGTERM leaves cleanly -----------------------------------------
HIST=$XDG_DATA_HOME/serve-doctor/history.json
if python3 -c 'import json,sys; c=[e["cause"] for e in json.load(open(sys.argv[1]))]; sys.exit(0 if c[-2:]==["https_disabled","healthy"] else 1)' "$HIST" 2>/dev/null; then
    pass "history recorded https_disabled then healthy"
else
    fail "history: $(cat "$HIST" 2>/dev/null)"
fi
if grep -q '"future_key": "kept"' "$XDG_CONFIG_HOME/serve-doctor/config.json"; then
    pass "config file left with its unknown key"
else
    fail "config file changed: $(cat "$XDG_CONFIG_HOME/serve-doctor/config.json")"
fi
# --- 4b. a second start: one clear line, exit 75, still one icon -----------------------------------
icon_count() { xwininfo -root -tree 2>/dev/null | grep -c "tray-icon tray app" || true; }
before=$(icon_count)
msg=$(timeout 15 "$BIN" "${APP_ARGS[@]}" 2>&1 >/dev/null)
rc=$?
sleep 1
after=$(icon_count)
if [ "$rc" -eq 75 ] && [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] && [[ "$msg" == *"already running (pid $APP)"* ]]; then
    pass "second start: exit 75 with one line: $msg"
else
    fail "second start: exit $rc, output: $msg"
fi
if [ "$before" -eq 1 ] && [ "$after" -eq 1 ]; then
    pass "still exactly one tray icon after the second start"
else
    fail "tray icons: $before before, $after after the second start"
fi

# --- 4c. Settings → Launch at login: the autostart file, and the read-back follows it ---------------
AUTOSTART=$XDG_CONFIG_HOME/autostart/serve-doctor.desktop
# login_logged STATE N: the app has logged "launch at login: STATE (read back)" at least N times.
login_logged() { [ "$(grep -c "launch at login: $1 (read back)" "$WORK/app.log")" -ge "$2" ]; }
# toggle_login: Settings is the second item from the bottom, "Launch at login" its first.
toggle_login() {
    open_menu || return 1
    sleep 0.3
    xdotool key Up Up Right
    sleep 0.4
    shot "$OUT/07-menu-settings.png"
    xdotool key Return
}
sleep 0.5
if [ -e "$AUTOSTART" ]; then
    fail "autostart entry exists before the toggle"
elif toggle_login && wait_for 5 test -f "$AUTOSTART" && wait_for 5 login_logged on 1; then
    pass "Launch at login on: $AUTOSTART written ($(grep '^Exec=' "$AUTOSTART")) and read back as on"
else
    fail "Launch at login did not create $AUTOSTART (log: $(grep -i 'launch at login' "$WORK/app.log" | tail -2))"
fi
cp "$AUTOSTART" "$WORK/autostart.saved" 2>/dev/null
sleep 0.5
if toggle_login && wait_for 5 sh -c "! test -e '$AUTOSTART'" && wait_for 5 login_logged off 2; then
    pass "Launch at login off: $AUTOSTART removed and read back as off"
else
    fail "Launch at login off: file $( [ -e "$AUTOSTART" ] && echo still there || echo gone), log: $(grep -i 'launch at login' "$WORK/app.log" | tail -2)"
fi
# Put the entry back by hand: the check mark follows the file at the next read-back.
[ -f "$WORK/autostart.saved" ] && cp "$WORK/autostart.saved" "$AUTOSTART"
if wait_for 10 login_logged on 2; then
    pass "an autostart entry written by hand is read back as on"
else
    fail "the app did not notice the autostart entry written by hand"
fi
rm -f "$AUTOSTART"
wait_for 10 login_logged off 3 || note "the removal by hand was not read back within 10 s"

# --- 4d. a write action end to end: Recreate serve → the dialog → Cancel, then → Run ---------------
argv_before=$(wc -l <"$SCN/argv.log")
BACKUPS=$XDG_DATA_HOME/serve-doctor/backups
DIALOG_TITLE='Recreate serve?'
done_logged() { grep -q "Recreate serve: Done" "$WORK/app.log"; }
# dialog_up: a mapped window titled $DIALOG_TITLE exists; its id in $DLG, "W H X Y" in $DLG_GEOM.
dialog_up() {
    DLG=$(xdotool search --onlyvisible --name "^${DIALOG_TITLE//\?/\\?}\$" 2>/dev/null | head -1)
    [ -n "$DLG" ] || return 1
    DLG_GEOM=$(xwininfo -id "$DLG" | awk '/Absolute upper-left X/{x=$NF} /Absolute upper-left Y/{y=$NF} /Width:/{w=$NF} /Height:/{h=$NF} END{print w, h, x, y}')
}
dialog_gone() { ! dialog_up; }
# writes_since N: the fake's calls after line N that change serve (reset, --bg, set-raw).
writes_since() { tail -n +"$(($1 + 1))" "$SCN/argv.log" | grep -c '"reset"\|"--bg"\|"set-raw"' || true; }
# pick_recreate: after the watched fix the green menu offers it (found by its id: the check lines
# before it are submenus, so their count depends on the scenario).
pick_recreate() {
    open_menu || return 1
    sleep 0.3
    down_to 'offer.recreate_serve' && xdotool key Return
}
sleep 0.5
if pick_recreate && wait_for 10 dialog_up; then
    pass "Recreate serve… opened the dialog '$DIALOG_TITLE' (window $DLG, ${DLG_GEOM// /,})"
    shot "$OUT/08-dialog.png"
    echo "$DLG_GEOM" >"$WORK/dialog.geom"
    [ "$(writes_since "$argv_before")" -eq 0 ] && pass "planning changed nothing (no write call)" || fail "planning ran $(writes_since "$argv_before") write calls"
    # While the dialog waits, the app does not: the monitor polls on (the background thread is
    # not held by the worker's dialog), and the menu still opens and answers clicks (the UI
    # thread is not held either).
    polls=$(count_in "$WORK/app.log" "Poll run:")
    if wait_for 10 at_least "$WORK/app.log" "Poll run:" $((polls + 2)); then
        pass "with the dialog up the monitor kept polling ($polls → $(count_in "$WORK/app.log" "Poll run:") runs)"
    else
        fail "no poll ran while the dialog was up"
    fi
    # menu_beside_dialog: a popup taller than 100 px that is not the dialog's window.
    menu_beside_dialog() {
        xwininfo -root -children 2>/dev/null | grep -v "^ *$(printf '0x%x' "$DLG") " | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.search(r"\s(\d+)x(\d+)\+(-?\d+)\+(-?\d+)\s", line)
    if m and int(m.group(2)) > 100 and int(m.group(1)) < 1200:
        sys.exit(0)
sys.exit(1)
'
    }
    xdotool mousemove "$CX" "$CY" click 1
    if wait_for 5 menu_beside_dialog; then
        sleep 0.3
        shot "$OUT/08-menu-while-dialog.png"
        xdotool key Escape
        pass "with the dialog up the menu still opens"
    else
        fail "the menu did not open while the dialog was up"
    fi
    # Return presses the default button, which must be Cancel.
    xdotool windowfocus --sync "$DLG" key --window "$DLG" Return
    if wait_for 5 grep -q "Recreate serve: the dialog answered cancel" "$WORK/app.log" && wait_for 5 dialog_gone; then
        pass "Return in the dialog is Cancel: it closed and the app logged the answer"
    else
        fail "Return did not cancel (log: $(grep 'dialog answered' "$WORK/app.log" | tail -1))"
    fi
    if [ "$(writes_since "$argv_before")" -eq 0 ] && ! grep -q "Recreate serve: Done" "$WORK/app.log"; then
        pass "after Cancel the serve config is untouched: no reset, --bg or set-raw in argv.log"
    else
        fail "Cancel still wrote: $(tail -n +"$((argv_before + 1))" "$SCN/argv.log" | grep '"reset"\|"--bg"' | head -2)"
    fi
else
    fail "no dialog '$DIALOG_TITLE' after Recreate serve… (log: $(grep 'Recreate serve' "$WORK/app.log" | tail -2))"
fi
sleep 0.5
argv_before=$(wc -l <"$SCN/argv.log")
# A poll in the gap between the two writes would see no serve config: the slow reset leaves 2 s
# (two poll intervals) for one to land there, unless the monitor waits for the write.
printf '{"slow_reset": true}' >"$SCN/behavior.json"
if pick_recreate && wait_for 10 dialog_up; then
    pass "Recreate serve… opened the dialog again"
    # GTK's OK/Cancel put OK after Cancel, which has the focus: Tab moves it to OK.
    xdotool windowfocus --sync "$DLG" key --window "$DLG" Tab
    sleep 0.2
    shot "$OUT/08-dialog-run-focused.png"
    xdotool key --window "$DLG" Return
    if wait_for 20 done_logged; then
        pass "OK in the dialog ran it: $(grep -o 'Recreate serve: Done.*' "$WORK/app.log" | head -1 | cut -c1-160)"
    else
        fail "recreate did not finish as done (log: $(grep 'Recreate serve' "$WORK/app.log" | tail -2))"
    fi
    wait_for 5 dialog_gone || fail "the dialog stayed up after OK"
    if tail -n +"$((argv_before + 1))" "$SCN/argv.log" | python3 -c '
import json, sys
calls = [json.loads(l)["argv"] for l in sys.stdin if l.strip()]
reset = next((i for i, a in enumerate(calls) if a == ["serve", "reset"]), None)
bg = next((i for i, a in enumerate(calls) if a[:3] == ["serve", "--bg", "--https=443"]), None)
ok = reset is not None and bg is not None and reset < bg
print("reset at", reset, "then", calls[bg] if bg is not None else None)
sys.exit(0 if ok else 1)
' >"$WORK/argv.check" 2>&1; then
        pass "argv.log: $(cat "$WORK/argv.check")"
    else
        fail "argv.log has no reset then serve --bg --https=443: $(cat "$WORK/argv.check")"
    fi
    if tail -n +"$((argv_before + 1))" "$SCN/argv.log" | python3 -c '
import json, sys
calls = [json.loads(l) for l in sys.stdin if l.strip()]
reset = next(i for i, c in enumerate(calls) if c["argv"] == ["serve", "reset"])
bg = next(i for i, c in enumerate(calls) if c["argv"][:3] == ["serve", "--bg", "--https=443"])
between = [c["argv"] for c in calls[reset + 1:bg]]
gap = calls[bg]["t"] - calls[reset]["t"]
print("%d calls in the %.1f s between reset and --bg: %s" % (len(between), gap, between))
sys.exit(0 if gap >= 2 and not any(a[:1] == ["status"] for a in between) else 1)
' >"$WORK/gap.check" 2>&1; then
        pass "no status poll between serve reset and serve --bg: $(cat "$WORK/gap.check")"
    else
        fail "a status read landed between serve reset and serve --bg: $(cat "$WORK/gap.check")"
    fi
    rm -f "$SCN/behavior.json"
    # The monitor's own run after the write: the line it logs when the gate opens, then a status
    # read after that line (the fix's own read-back and re-diagnosis come before it).
    resumed_logged() { grep -q "write action finished: diagnosing now" "$WORK/app.log"; }
    wait_for 10 resumed_logged || note "no 'write action finished' in the log"
    resumed_at=$(grep -m1 "write action finished: diagnosing now" "$WORK/app.log" | cut -d' ' -f1)
    status_after() {
        tail -n +"$((argv_before + 1))" "$SCN/argv.log" | python3 -c '
import datetime, json, sys
resumed = datetime.datetime.fromisoformat(sys.argv[1]).timestamp()
calls = [json.loads(l) for l in sys.stdin if l.strip()]
bg = next(c["t"] for c in calls if c["argv"][:3] == ["serve", "--bg", "--https=443"])
sys.exit(0 if resumed > bg and any(c["argv"][:1] == ["status"] and resumed <= c["t"] <= resumed + 2 for c in calls) else 1)
' "$resumed_at"
    }
    if [ -n "$resumed_at" ] && wait_for 10 status_after; then
        pass "the monitor diagnosed right after the write (the gate opened at $resumed_at)"
    else
        fail "no monitor diagnosis after the write (gate opened: ${resumed_at:-never})"
    fi
    nb=$(find "$BACKUPS" -name '*.json' 2>/dev/null | wc -l)
    if [ "$nb" -ge 1 ]; then
        pass "backup written in the data dir: $(find "$BACKUPS" -name '*.json' | head -1)"
    else
        fail "no backup in $BACKUPS"
    fi
    sleep 1
    if open_menu; then
        sleep 0.3
        shot "$OUT/09-menu-outcome.png"
        cp "$WORK/menu.geom" "$WORK/menu-outcome.geom"
        xdotool key Escape
    fi
    if poll_look green 5; then
        pass "still green after the recreate and the immediate re-diagnosis"
    else
        fail "icon is ${LAST_LOOK:-?} after the recreate"
    fi
else
    fail "no dialog for the second Recreate serve…"
fi

# --- 4e. a second target: the running app picks it up from the config file ------------------------
# `serve-doctor targets add` writes {"targets":[{"name":"site","url":…}]} into the same file; the
# app diagnoses it from this device (the view from another device): its node is in this node's
# netmap (the fake status's Peer map) at 127.0.0.1, where its own serve answers. First that node
# is offline (red), then back (green): the icon shows the worst of both, the menu a section each.
CONFIG=$XDG_CONFIG_HOME/serve-doctor/config.json
SITE_URL="https://127.0.0.1:$SITE_PORT/"
SITE_RED="✗ site — That node is offline"
SITE_GREEN="✓ site — Serve healthy"
LOCAL_GREEN="Serve healthy — https://$NAME"
# site_online true|false: the status this node's tailscaled reports, with the site's peer entry.
site_online() {
    python3 - "$SCN/status.json" "$SITE_NAME" "$1" <<'PYEOF'
import json, sys
path, name, online = sys.argv[1], sys.argv[2], sys.argv[3] == "true"
s = json.load(open(path))
s["Peer"] = {"nodekey:site": {"DNSName": name + ".", "HostName": "site", "TailscaleIPs": ["127.0.0.1"], "Online": online}}
open(path + ".tmp", "w").write(json.dumps(s))
PYEOF
    mv "$SCN/status.json.tmp" "$SCN/status.json"
}
site_online false
out=$("$BIN" targets add site --url "$SITE_URL" 2>&1)
if python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
sys.exit(0 if c["targets"] == [{"name": "site", "url": sys.argv[2]}] and c["future_key"] == "kept" else 1)
' "$CONFIG" "$SITE_URL"; then
    pass "targets add wrote the second target into the app's config file: $out"
else
    fail "targets add: $out; config: $(cat "$CONFIG")"
fi
if wait_for 15 menu_has "$SITE_RED" && menu_has "$LOCAL_GREEN"; then
    pass "two sections in the menu's top level: '$LOCAL_GREEN' and the submenu '$SITE_RED'"
else
    fail "menu has no red site section: $(menu_top)"
fi
if poll_look red 10; then
    cp "$WORK/now.png" "$OUT/10-red-two-targets.png"
    pass "icon is red: the worst of this node (green) and site (its node offline)"
else
    fail "icon is ${LAST_LOOK:-?} with this node green and site red"
fi
# Fix the red one: its node comes back; its own "Diagnose now" re-checks it at once.
site_online true
sleep 1.2
# Bottom up, separators skipped: Quit, Settings, History, site; its first enabled item is
# "Diagnose now".
if open_menu; then
    sleep 0.3
    xdotool key Up Up Up Up Right
    sleep 0.4
    shot "$OUT/11-menu-site.png"
    xdotool key Return
    if wait_for 5 grep -qF 'menu: target.site.diagnose → Monitor(DiagnoseTarget("site"))' "$WORK/app.log"; then
        pass "the site submenu is drawn, and its Diagnose now asks for that target"
    else
        fail "no click on target.site.diagnose in the log"
    fi
else
    fail "menu did not open with two targets"
fi
xdotool key Escape 2>/dev/null
if wait_for 15 menu_has "$SITE_GREEN" && poll_look green 10; then
    pass "the red target fixed: site green ('$SITE_GREEN') and the icon green"
else
    fail "after the site came back: icon ${LAST_LOOK:-?}, menu: $(menu_top | cut -c1-300)"
fi
out=$("$BIN" targets remove site 2>&1)
if wait_for 10 menu_lacks "site —" && poll_look green 10; then
    pass "targets remove: the site section is gone and the icon is green ($out)"
else
    fail "after targets remove ($out): icon ${LAST_LOOK:-?}, menu: $(menu_top | cut -c1-200)"
fi

kill -TERM "$APP"
end=$(( $(date +%s) + 5 ))
while kill -0 "$APP" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
if kill -0 "$APP" 2>/dev/null; then
    fail "app still running 5 s after SIGTERM"
else
    leftovers=$(find "$XDG_RUNTIME_DIR" -name 'tray-icon-*.png' 2>/dev/null | wc -l)
    if [ "$leftovers" -eq 0 ]; then
        pass "SIGTERM: app exited and removed its icon file"
    else
        fail "SIGTERM: $leftovers icon files left in $XDG_RUNTIME_DIR"
    fi
fi
slow=$(grep -c 'UI handler' "$WORK/app.log" || true)
note "UI handlers over 16 ms: $slow$( [ "$slow" -gt 0 ] && grep 'UI handler' "$WORK/app.log" | sed 's/.*UI handler/;/' | tr '\n' ' ')"
note "CLI calls in total: $(wc -l <"$SCN/argv.log")"

# --- 5. no display: one line, non-zero exit --------------------------------------------------------
msg=$(env -u DISPLAY -u WAYLAND_DISPLAY "$BIN" --tailscale "$SCN/tailscale" 2>&1 >/dev/null)
rc=$?
if [ "$rc" -ne 0 ] && [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] && [[ "$msg" == *"serve-doctor diagnose"* ]]; then
    pass "no display: exit $rc with one line: $msg"
else
    fail "no display: exit $rc, output: $msg"
fi

cp "$WORK/app.log" "$OUT/app.log" 2>/dev/null
if [ -n "${UPDATE_DOCS:-}" ] && [ "$failed" -eq 0 ]; then
    mkdir -p "$ROOT/docs"
    # The panel's right end with the open menu under it (menu.geom: W H X Y of the menu window).
    crop_menu() { # crop_menu SHOT GEOM OUT
        local w h x y
        read -r w h x y <"$2"
        "$CONVERT" "$1" -crop "$((SCREEN_W - x + 8))x$((y + h + 8))+$((x - 8))+0" +repage "$3"
    }
    crop_menu "$OUT/03-menu-red-hover.png" "$WORK/menu-red.geom" "$ROOT/docs/screenshot-menu.png"
    crop_menu "$OUT/05-menu-green.png" "$WORK/menu-green.geom" "$ROOT/docs/screenshot-menu-green.png"
    "$CONVERT" "$OUT/01-red-icon.png" "$OUT/04-green-icon.png" +append "$ROOT/docs/screenshot-icon-red-green.png"
    read -r dw dh dx dy <"$WORK/dialog.geom"
    "$CONVERT" "$OUT/08-dialog.png" -crop "$((dw + 16))x$((dh + 16))+$((dx - 8))+$((dy - 8))" +repage "$ROOT/docs/screenshot-dialog.png"
    cp "$OUT/menu-red.labels" "$ROOT/docs/screenshot-menu.labels"
    cp "$OUT/menu-green.labels" "$ROOT/docs/screenshot-menu-green.labels"
    note "docs/screenshot-*.png and their .labels updated"
else
    # The README's screenshots must show the menu as it is: their labels, recorded when they
    # were taken, against the labels of this run's menus in the same states.
    for state in red green; do
        doc=$ROOT/docs/screenshot-menu.labels
        [ "$state" = green ] && doc=$ROOT/docs/screenshot-menu-green.labels
        if [ -s "$OUT/menu-$state.labels" ] && diff -u "$doc" "$OUT/menu-$state.labels" >"$WORK/labels.diff" 2>&1; then
            pass "the README's $state menu screenshot shows the labels the app shows"
        else
            fail "the README's $state menu screenshot is stale (UPDATE_DOCS=1 bash tests/e2e/tray.sh renews it): $(head -20 "$WORK/labels.diff" | tr '\n' ' ')"
        fi
    done
fi
finish
