# Helpers shared by the Xvfb end-to-end scripts (tray.sh, bus.sh, tailnet-tray.sh): the pass/fail
# tally and its closing "N passed, N failed" line, bounded waits, log counting, and reading the
# tray icon's colour off a screenshot. Sourced, not run; the caller sets CONVERT.

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
note() { echo "#      $*"; }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

now_ns() { date +%s%N; }

# wait_for SECONDS CMD...: polls every 50 ms until CMD succeeds; returns 1 on timeout.
# SECONDS is a whole number (bash's 64-bit arithmetic; mawk's printf %d stops at 2^31 ns).
wait_for() {
    local end=$(( $(now_ns) + $1 * 1000000000 ))
    shift
    until "$@"; do
        [ "$(now_ns)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# count_in FILE PATTERN: matching lines (0 when none).
count_in() { grep -c -- "$2" "$1" 2>/dev/null || true; }
at_least() { [ "$(count_in "$1" "$2")" -ge "$3" ]; }

# icon_geometry: "W H X Y" of the embedded icon window (absolute position), or nothing.
icon_geometry() {
    xwininfo -root -tree 2>/dev/null | python3 -c '
import re, sys
for line in sys.stdin:
    if "tray-icon tray app" in line:
        m = re.search(r"(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)", line)
        # Before trayer embeds it the window is 1x1 at 0,0, and for a moment after it has its
        # size but no place yet (-1,-1): wait for the real one.
        if m and int(m.group(1)) >= 8 and int(m.group(2)) >= 8 and int(m.group(3)) >= 0 and int(m.group(4)) >= 0:
            print(*m.groups())
            break
'
}

# look_of FILE W H X Y: which palette colour dominates the icon's pixels (see src/tray/icons.rs).
look_of() {
    "$CONVERT" "$1" -crop "${2}x${3}+${4}+${5}" +repage txt:- 2>/dev/null | python3 -c '
import re, sys
palette = {"green": (0x1f, 0x88, 0x3d), "yellow": (0xe3, 0xa0, 0x08), "red": (0xcf, 0x22, 0x2e),
           "gray": (0x6e, 0x77, 0x81), "checking": (0x09, 0x69, 0xda)}
counts = dict.fromkeys(palette, 0)
for line in sys.stdin:
    m = re.search(r"\((\d+),(\d+),(\d+)", line)
    if not m:
        continue
    px = tuple(int(v) for v in m.groups())
    for name, c in palette.items():
        if all(abs(a - b) <= 30 for a, b in zip(px, c)):
            counts[name] += 1
best = max(counts, key=counts.get)
print(best if counts[best] >= 20 else "none", counts[best])
'
}

# logging_cli DIR: a `tailscale` in DIR that records every call in $ARGV_LOG (DIR/../argv.log)
# and fails; put DIR first (and alone) in the app's PATH to prove that no CLI process ran.
logging_cli() {
    FAKEBIN=$1
    ARGV_LOG=$(dirname "$1")/argv.log
    mkdir -p "$FAKEBIN"
    : >"$ARGV_LOG"
    cat >"$FAKEBIN/tailscale" <<EOF
#!/bin/sh
echo "\$0 \$*" >>"$ARGV_LOG"
exit 1
EOF
    chmod +x "$FAKEBIN/tailscale"
}

# wait_icon SECONDS PID: polls every 20 ms (to time the start) until the icon is embedded, or
# PID exits, or time is up; leaves "W H X Y" in $GEOM (empty when it never came).
wait_icon() {
    local end=$(( $(now_ns) + $1 * 1000000000 ))
    GEOM=
    while [ -z "$GEOM" ] && [ "$(now_ns)" -lt "$end" ] && kill -0 "$2" 2>/dev/null; do
        GEOM=$(icon_geometry)
        [ -n "$GEOM" ] || sleep 0.02
    done
}
