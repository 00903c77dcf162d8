#!/usr/bin/env bash
# Self-test for the fake `tailscale` CLI: exercises every read path, write path
# and message, argv.log, pids/ bookkeeping, and hangs killed by process group.
# Usage: tests/fake-tailscale/selftest.sh   (prints "N passed, M failed")
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FAKE="$HERE/tailscale"
FIX="$(cd "$HERE/../fixtures" && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/fake-ts-selftest.XXXXXX")"
PASS=0
FAIL=0
BG_PIDS=()

cleanup() {
  local p
  for p in "${BG_PIDS[@]:-}"; do
    [[ -n "$p" ]] && kill -KILL -- "-$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); }
bad() {
  FAIL=$((FAIL + 1))
  echo "FAIL: $*" >&2
}

# new_scen [status-fixture] [serve-fixture]: a scenario dir with the fake symlinked in.
new_scen() {
  local d
  d="$(mktemp -d "$TMP/scen.XXXXXX")"
  ln -s "$FAKE" "$d/tailscale"
  if [[ -n "${1:-}" ]]; then cp "$FIX/$1" "$d/status.json"; fi
  if [[ -n "${2:-}" ]]; then cp "$FIX/$2" "$d/serve.json"; fi
  echo "$d"
}

behave() { printf '%s' "$2" >"$1/behavior.json"; }

# run DIR ARGS...: runs DIR/tailscale with stdin from $STDIN (default /dev/null),
# cwd $RUNCWD (default DIR); sets RC and files $TMP/out, $TMP/err.
run() {
  local d="$1"
  shift
  set +e
  (cd "${RUNCWD:-$d}" && "$d/tailscale" "$@" <"${STDIN:-/dev/null}" >"$TMP/out" 2>"$TMP/err")
  RC=$?
  set -e
}

expect_rc() {
  if [[ "$RC" == "$1" ]]; then ok; else bad "$2: exit $RC, want $1 (stderr: $(head -c 400 "$TMP/err"))"; fi
}
# exact comparisons against a printf-style string (no implicit newline)
expect_out() {
  if printf '%s' "$1" | cmp -s - "$TMP/out"; then ok; else
    bad "$2: stdout mismatch"; diff <(printf '%s' "$1") "$TMP/out" | head -20 >&2 || true
  fi
}
expect_err() {
  if printf '%s' "$1" | cmp -s - "$TMP/err"; then ok; else
    bad "$2: stderr mismatch"; diff <(printf '%s' "$1") "$TMP/err" | head -20 >&2 || true
  fi
}
out_has() { if grep -qF -- "$1" "$TMP/out"; then ok; else bad "$2: stdout lacks [$1]: $(head -c 300 "$TMP/out")"; fi; }
err_has() { if grep -qF -- "$1" "$TMP/err"; then ok; else bad "$2: stderr lacks [$1]: $(head -c 300 "$TMP/err")"; fi; }
err_lacks() { if grep -qF -- "$1" "$TMP/err"; then bad "$2: stderr has [$1]"; else ok; fi; }
out_empty() { if [[ ! -s "$TMP/out" ]]; then ok; else bad "$1: stdout not empty: $(head -c 200 "$TMP/out")"; fi; }
err_empty() { if [[ ! -s "$TMP/err" ]]; then ok; else bad "$1: stderr not empty: $(head -c 300 "$TMP/err")"; fi; }

# serve_is DIR JSON name: serve.json parses to the same value as JSON
serve_is() {
  if python3 - "$1/serve.json" "$2" <<'EOF'; then ok; else bad "$3: serve.json is $(cat "$1/serve.json" 2>/dev/null | tr -d ' \n')"; fi
import json, sys
try:
    got = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
sys.exit(0 if got == json.loads(sys.argv[2]) else 1)
EOF
}
same_file() { if cmp -s "$1" "$2"; then ok; else bad "$3: $1 differs from $2"; fi; }

# alive PID: running and not a zombie
alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo X)"
  [[ "$st" != "Z" && "$st" != "X" ]]
}
wait_for() { # wait_for SECONDS CMD...
  local n=$(($1 * 20))
  shift
  while ((n > 0)); do
    if "$@"; then return 0; fi
    sleep 0.05
    n=$((n - 1))
  done
  return 1
}
pids_count() { find "$1/pids" -type f 2>/dev/null | wc -l | tr -d ' '; }
pids_ge() { [[ "$(pids_count "$1")" -ge "$2" ]]; }

H=box.tail1234.ts.net
HEALTHY_SC='{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}}}'
TRY='try `tailscale serve --help` for usage info'
DOWN_LINUX="failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)"
DOWN_MAC="failed to connect to local Tailscale service; is Tailscale running?"
SOCKERR="Failed to connect to local Tailscale daemon for /localapi/v0/serve-config; not running? Error: dial unix /var/run/tailscale/tailscaled.sock: connect: no such file or directory"
GUI="The Tailscale GUI failed to start: The operation couldn't be completed. (Tailscale.CLIError error 3.)"

# ---------------------------------------------------------------- version, argv.log, pids
D="$(new_scen status-healthy.json)"
run "$D" version
expect_rc 0 "version"
if [[ "$(head -n1 "$TMP/out")" == "1.96.4" ]]; then ok; else bad "version first line: $(head -n1 "$TMP/out")"; fi
out_has "long version: 1.96.4-t1234" "version long"
run "$D" version --daemon
out_has "Daemon: 1.96.4-t1234" "version --daemon"
run "$D" --version
expect_rc 0 "--version"
if python3 - "$D/argv.log" <<'EOF'; then ok; else bad "argv.log format"; fi
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 3, lines
recs = [json.loads(l) for l in lines]
assert recs[0]["argv"] == ["version"] and recs[1]["argv"] == ["version", "--daemon"], recs
for r in recs:
    assert set(r) == {"argv", "pid", "ppid", "t"}, r
    assert isinstance(r["pid"], int) and isinstance(r["ppid"], int) and isinstance(r["t"], float)
assert recs[0]["t"] <= recs[1]["t"] <= recs[2]["t"]
EOF
if [[ "$(pids_count "$D")" == 0 ]]; then ok; else bad "pids not cleaned after normal exits"; fi

# FAKE_TAILSCALE_DIR overrides the scenario dir
D2="$(mktemp -d "$TMP/envscen.XXXXXX")"
cp "$FIX/status-healthy.json" "$D2/status.json"
set +e
FAKE_TAILSCALE_DIR="$D2" "$FAKE" status --json >"$TMP/out" 2>"$TMP/err"
RC=$?
set -e
expect_rc 0 "FAKE_TAILSCALE_DIR"
same_file "$TMP/out" "$FIX/status-healthy.json" "FAKE_TAILSCALE_DIR status"
if [[ -s "$D2/argv.log" ]]; then ok; else bad "FAKE_TAILSCALE_DIR argv.log"; fi

# ---------------------------------------------------------------- status
D="$(new_scen status-healthy.json)"
run "$D" status --json
expect_rc 0 "status --json"
same_file "$TMP/out" "$FIX/status-healthy.json" "status --json bytes"
run "$D" status --json --peers=false
same_file "$TMP/out" "$FIX/status-healthy.json" "status --json --peers=false bytes"
err_empty "status --json stderr"
printf 'this is { not json' >"$D/status.json"
run "$D" status --json --peers=false
expect_rc 0 "status not-json"
expect_out 'this is { not json' "status not-json verbatim"
cp "$FIX/status-healthy.json" "$D/status.json"
run "$D" status
expect_rc 0 "status text"
out_has "100.101.102.103  box" "status text self line"
cp "$FIX/status-stopped.json" "$D/status.json"
run "$D" status
expect_rc 1 "status text stopped"
expect_out $'Tailscale is stopped.\n' "status text stopped msg"
cp "$FIX/status-logged-out.json" "$D/status.json"
run "$D" status
expect_out $'Logged out.\nLog in at: https://login.tailscale.com/a/1a2b3c4d5e6f7\n' "status logged out"
cp "$FIX/status-logged-out.json" "$D/status.json"
run "$D" status --json
expect_rc 0 "status --json logged out exits 0"

behave "$D" '{"daemon":"down"}'
run "$D" status --json --peers=false
expect_rc 1 "status daemon down"
out_empty "status daemon down stdout"
expect_err "$DOWN_LINUX"$'\n' "status daemon down linux"
behave "$D" '{"daemon":"down","platform":"macos"}'
run "$D" status --json
expect_err "$DOWN_MAC"$'\n' "status daemon down macos"
behave "$D" '{"status":"gui_error"}'
run "$D" status --json --peers=false
expect_rc 0 "gui_error rc"
expect_out "$GUI"$'\n' "gui_error stdout"
err_empty "gui_error stderr"
behave "$D" '{"gui_error":true}'
run "$D" serve status --json
expect_out "$GUI"$'\n' "gui_error:true on serve status"
expect_rc 0 "gui_error:true rc"
behave "$D" '{"stderr_warning":"Warning: client version \"1.96.4-t1234\" != tailscaled server version \"1.94.1-t9\""}'
run "$D" status --json
err_has 'Warning: client version "1.96.4-t1234" != tailscaled server version "1.94.1-t9"' "stderr_warning"
expect_rc 0 "stderr_warning rc"
behave "$D" '{"bogus":1}'
run "$D" status --json
expect_rc 1 "unknown knob"
err_has 'unknown knob "bogus"' "unknown knob msg"
behave "$D" '{"cert":"maybe"}'
run "$D" status --json
expect_rc 1 "bad knob value"
rm -f "$D/behavior.json"

# ---------------------------------------------------------------- serve status
D="$(new_scen status-healthy.json)"
run "$D" serve status --json
expect_rc 0 "serve status missing file"
expect_out $'{}\n' "serve status missing -> {}"
cp "$FIX/serve-null.json" "$D/serve.json"
run "$D" serve status --json
expect_out $'{}\n' "serve status null -> {}"
: >"$D/serve.json"
run "$D" funnel status --json
expect_out $'{}\n' "funnel status empty -> {}"
for f in serve-healthy serve-multi serve-stale-name serve-plain-http serve-foreground serve-services-only serve-empty; do
  cp "$FIX/$f.json" "$D/serve.json"
  run "$D" serve status --json
  expect_rc 0 "serve status $f"
  same_file "$TMP/out" "$FIX/$f.json" "serve status --json $f canonical"
done
cp "$FIX/serve-empty.json" "$D/serve.json"
run "$D" serve status
expect_out $'No serve config\n' "serve status text empty"
cp "$FIX/serve-foreground.json" "$D/serve.json"
run "$D" serve status
expect_out $'No serve config\n' "serve status text foreground-only"
cp "$FIX/serve-healthy.json" "$D/serve.json"
run "$D" serve status
expect_out $'https://box.tail1234.ts.net (tailnet only)\n|-- / proxy http://127.0.0.1:18080\n\n' "serve status text healthy"
cp "$FIX/serve-plain-http.json" "$D/serve.json"
run "$D" serve status
expect_out $'http://box (tailnet only)\nhttp://box.tail1234.ts.net (tailnet only)\n|-- / proxy http://127.0.0.1:18080\n\n' "serve status text http"
cp "$FIX/serve-multi.json" "$D/serve.json"
run "$D" serve status
expect_out $'\n# Funnel on:\n#     - https://box.tail1234.ts.net\n\n|-- tcp://box.tail1234.ts.net:2222 (TLS over TCP, tailnet only)\n|-- tcp://100.101.102.103:2222\n|-- tcp://[fd7a:115c:a1e0::1]:2222\n|--> tcp://127.0.0.1:22\n\nhttps://box.tail1234.ts.net (Funnel on)\n|-- /      proxy http://127.0.0.1:18080\n|-- /docs/ path  /var/www/docs\n\nhttps://box.tail1234.ts.net:8443 (tailnet only)\n|-- / proxy http://127.0.0.1:18081\n\n' "serve status text multi"
printf '<html>oops' >"$D/serve.json"
run "$D" serve status --json
expect_out '<html>oops' "serve status not-json verbatim"
cp "$FIX/serve-healthy.json" "$D/serve.json"
behave "$D" '{"daemon":"down"}'
run "$D" serve status --json
expect_rc 1 "serve status daemon down"
expect_err "getting serve config: $SOCKERR"$'\n' "serve status daemon down msg"
out_empty "serve status daemon down stdout"
rm -f "$D/behavior.json"

# ---------------------------------------------------------------- cert
D="$(new_scen status-healthy.json)"
mkdir -p "$D/work"
RUNCWD="$D/work" run "$D" cert "$H"
expect_rc 0 "cert ok"
expect_out $'Wrote public cert to box.tail1234.ts.net.crt\nWrote private key to box.tail1234.ts.net.key\n' "cert ok msgs"
if grep -q 'BEGIN CERTIFICATE' "$D/work/$H.crt" && grep -q 'PRIVATE KEY' "$D/work/$H.key"; then ok; else bad "cert files"; fi
RUNCWD="$D/work" run "$D" cert "$H"
expect_out $'Public cert unchanged at box.tail1234.ts.net.crt\nPrivate key unchanged at box.tail1234.ts.net.key\n' "cert unchanged"
run "$D" cert --cert-file "$D/work/a.pem" --key-file="$D/work/a.key" "$H"
expect_out "Wrote public cert to $D/work/a.pem"$'\n'"Wrote private key to $D/work/a.key"$'\n' "cert explicit files"
run "$D" cert --cert-file - --key-file "$D/work/b.key" "$H"
out_has "BEGIN CERTIFICATE" "cert to stdout"
err_has "Wrote private key to $D/work/b.key" "cert stdout mode status on stderr"
run "$D" cert other.tail1234.ts.net
expect_rc 1 "cert invalid domain"
expect_err $'500 Internal Server Error: invalid domain "other.tail1234.ts.net"; must be one of ["box.tail1234.ts.net"]\n' "cert invalid domain msg"
run "$D" cert
expect_rc 1 "cert usage"
expect_err $'Usage: tailscale cert [flags] <domain>\nFor domain, use "box.tail1234.ts.net".\n\n' "cert usage hint"
cp "$FIX/status-https-off.json" "$D/status.json"
run "$D" cert
expect_err $'Usage: tailscale cert [flags] <domain>\nHTTPS cert support is not enabled/configured for your tailnet.\n\n' "cert usage https off"
run "$D" cert "$H"
expect_rc 1 "cert disabled by CertDomains"
expect_err $'500 Internal Server Error: your Tailscale account does not support getting TLS certs\n' "cert disabled msg"
cp "$FIX/status-stopped.json" "$D/status.json"
run "$D" cert
err_has "Tailscale is not running." "cert usage stopped"
cp "$FIX/status-logged-out.json" "$D/status.json"
run "$D" cert "$H"
expect_err $'500 Internal Server Error: no netmap available\n' "cert no netmap"
cp "$FIX/status-healthy.json" "$D/status.json"
behave "$D" '{"cert":"disabled"}'
run "$D" cert "$H"
expect_err $'500 Internal Server Error: your Tailscale account does not support getting TLS certs\n' "cert knob disabled"
behave "$D" '{"cert":"rate_limited"}'
run "$D" cert "$H"
expect_rc 1 "cert rate limited"
err_has "429 Too Many Requests: 429 urn:ietf:params:acme:error:rateLimited: too many certificates (5)" "cert rate limited msg"
behave "$D" '{"cert":"denied"}'
run "$D" cert "$H"
expect_rc 1 "cert denied"
if [[ "$(head -n1 "$TMP/err")" == "Access denied: cert access denied" ]]; then ok; else bad "cert denied first line: $(head -n1 "$TMP/err")"; fi
err_has "sudo tailscale set --operator=\$USER" "cert denied hint"
behave "$D" '{"daemon":"down"}'
run "$D" cert "$H"
expect_err "Failed to connect to local Tailscale daemon for /localapi/v0/cert/$H; not running? Error: dial unix /var/run/tailscale/tailscaled.sock: connect: no such file or directory"$'\n' "cert daemon down"
behave "$D" '{"platform":"macos"}'
RUNCWD="$D/work" run "$D" cert --cert-file m.crt --key-file m.key "$H"
out_has "Warning: the macOS CLI runs in a sandbox" "cert macos warning"
rm -f "$D/behavior.json"

# ---------------------------------------------------------------- hangs, killed by process group
# start_group DIR ARGS...: runs the fake as leader of a new process group; sets GPID.
start_group() {
  local d="$1"
  shift
  setsid "$d/tailscale" "$@" </dev/null >"$TMP/bg.out" 2>"$TMP/bg.err" &
  GPID=$!
  BG_PIDS+=("$GPID")
}

D="$(new_scen status-healthy.json)"
behave "$D" '{"cert":"hang"}'
start_group "$D" cert "$H"
if wait_for 10 pids_ge "$D" 2; then ok; else bad "cert hang: grandchild never registered"; fi
GRAND=""
for f in "$D"/pids/*; do
  if grep -q '"grandchild"' "$f"; then GRAND="$(basename "$f")"; fi
done
if [[ -n "$GRAND" ]] && alive "$GRAND"; then ok; else bad "cert hang: grandchild not alive"; fi
if [[ -f "$D/pids/$GPID" ]] && alive "$GPID"; then ok; else bad "cert hang: fake not alive/registered"; fi
if [[ "$(ps -o pgid= -p "$GRAND" | tr -d ' ')" == "$GPID" ]]; then ok; else bad "cert hang: grandchild not in the fake's process group"; fi
sleep 0.3
if alive "$GPID"; then ok; else bad "cert hang: fake exited"; fi
kill -KILL -- "-$GPID"
wait "$GPID" 2>/dev/null || true
if wait_for 5 bash -c "! kill -0 $GRAND 2>/dev/null || grep -q '^[0-9]* ([^)]*) Z' /proc/$GRAND/stat"; then ok; else bad "cert hang: grandchild survived group kill"; fi
if ! alive "$GPID" && ! alive "$GRAND"; then ok; else bad "cert hang: something still alive"; fi
if [[ -f "$D/pids/$GPID" && -f "$D/pids/$GRAND" ]]; then ok; else bad "cert hang: pid files should be left after SIGKILL"; fi

D="$(new_scen status-healthy.json)"
behave "$D" '{"status":"hang"}'
start_group "$D" status --json
if wait_for 10 test -f "$D/pids/$GPID"; then ok; else bad "status hang: not registered"; fi
sleep 0.3
if alive "$GPID"; then ok; else bad "status hang: exited"; fi
if [[ ! -s "$TMP/bg.out" ]]; then ok; else bad "status hang printed something"; fi
kill -KILL -- "-$GPID"
wait "$GPID" 2>/dev/null || true
if ! alive "$GPID"; then ok; else bad "status hang: survived"; fi

D="$(new_scen status-healthy.json serve-healthy.json)"
behave "$D" '{"serve_status":"hang"}'
start_group "$D" serve status --json
if wait_for 10 test -f "$D/pids/$GPID"; then ok; else bad "serve_status hang: not registered"; fi
sleep 0.3
if alive "$GPID"; then ok; else bad "serve_status hang: exited"; fi
kill -KILL -- "-$GPID"
wait "$GPID" 2>/dev/null || true

# SIGTERM: dies by the signal, pid file removed
D="$(new_scen status-healthy.json)"
behave "$D" '{"status":"hang"}'
start_group "$D" status --json
wait_for 10 test -f "$D/pids/$GPID" || true
kill -TERM "$GPID"
set +e
wait "$GPID"
RC=$?
set -e
expect_rc 143 "SIGTERM exit status"
if [[ ! -f "$D/pids/$GPID" ]]; then ok; else bad "SIGTERM: pid file left"; fi

# ---------------------------------------------------------------- serve --bg writes
D="$(new_scen status-healthy.json)"
run "$D" serve --bg 18080
expect_rc 0 "serve --bg"
expect_out $'Available within your tailnet:\n\nhttps://box.tail1234.ts.net/\n|-- proxy http://127.0.0.1:18080\n\nServe started and running in the background.\nTo disable the proxy, run: tailscale serve --https=443 off\n' "serve --bg output"
err_empty "serve --bg stderr"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "serve --bg state == serve-healthy fixture"
run "$D" serve --bg --https=8443 localhost:3000
expect_out $'Available within your tailnet:\n\nhttps://box.tail1234.ts.net:8443/\n|-- proxy http://localhost:3000\n\nServe started and running in the background.\nTo disable the proxy, run: tailscale serve --https=8443 off\n' "serve --https=8443 output"
run "$D" serve --bg --set-path=/api https+insecure://localhost:8443
expect_rc 0 "serve --set-path"
out_has $'https://box.tail1234.ts.net/api\n|-- proxy https+insecure://localhost:8443' "serve --set-path output"
out_has $'https://box.tail1234.ts.net/\n|-- proxy http://127.0.0.1:18080' "serve --set-path lists existing /"
run "$D" serve --bg --set-path=/hello --https=10000 text:hello
out_has '|-- text  "hello"' "serve text handler"
run "$D" serve --bg --https=9443 http://example.com:8080
out_has "|-- proxy http://example.com:8080" "serve remote target linux"
serve_is "$D" '{"TCP":{"443":{"HTTPS":true},"8443":{"HTTPS":true},"10000":{"HTTPS":true},"9443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"},"/api":{"Proxy":"https+insecure://localhost:8443"}}},"box.tail1234.ts.net:8443":{"Handlers":{"/":{"Proxy":"http://localhost:3000"}}},"box.tail1234.ts.net:10000":{"Handlers":{"/hello":{"Text":"hello"}}},"box.tail1234.ts.net:9443":{"Handlers":{"/":{"Proxy":"http://example.com:8080"}}}}}' "serve multi state"
run "$D" serve --bg --set-path=/api off
expect_rc 0 "serve --set-path off"
out_empty "serve off prints nothing"
run "$D" serve --https=443 off
expect_rc 0 "serve --https=443 off"
run "$D" serve --https=443 --yes off
expect_rc 1 "serve off again"
expect_err $'error: failed to remove web serve: handler does not exist\n\n'"$TRY"$'\n' "serve off nothing msg"
run "$D" serve --https=8443 --yes off
run "$D" serve --https=10000 --set-path=/hello off
run "$D" serve --https=9443 off
expect_rc 0 "serve off 9443"
expect_out '' "serve off 9443 prints nothing"
serve_is "$D" '{}' "all handlers removed"

D="$(new_scen status-healthy.json)"
run "$D" serve --bg --http=80 18080
expect_rc 0 "serve --http=80"
expect_out $'Available within your tailnet:\n\nhttp://box.tail1234.ts.net/\n|-- proxy http://127.0.0.1:18080\n\nServe started and running in the background.\nTo disable the proxy, run: tailscale serve --http=80 off\n' "serve --http output"
same_file "$D/serve.json" "$FIX/serve-plain-http.json" "serve --http state == fixture"
run "$D" serve --bg --tcp=2222 22
expect_rc 0 "serve --tcp"
expect_out $'Available within your tailnet:\n\n|-- tcp://box.tail1234.ts.net:2222 (TLS over TCP)\n|-- tcp://100.101.102.103:2222\n|-- tcp://[fd7a:115c:a1e0::1]:2222\n|--> tcp://127.0.0.1:22\n\nServe started and running in the background.\nTo disable the proxy, run: tailscale serve --tcp=2222 off\n' "serve --tcp output"
run "$D" serve --bg --https=2222 3000
expect_rc 1 "web on tcp port"
expect_err $'error: failed apply web serve: cannot serve web; already serving TCP\n\n'"$TRY"$'\n' "web on tcp port msg"
run "$D" serve --bg --https=80 3000
expect_rc 1 "https on http port (daemon rejects)"
err_has 'sending serve config: updating config: want to serve "https", but port 80 is already serving "http"' "serve type change msg"
run "$D" serve --tcp=2222 off
expect_rc 0 "tcp off"
run "$D" serve --bg --https=443 /nonexistent/dir
expect_rc 1 "path target missing"
err_has "error: failed apply web serve: invalid path" "path target missing msg"
run "$D" serve --bg --set-path=/files "$TMP"
expect_rc 0 "path target dir"
out_has "https://box.tail1234.ts.net/files/" "dir mount gets trailing slash"
out_has "|-- path  $TMP" "path handler line"

# bad targets and usage errors
D="$(new_scen status-healthy.json)"
run "$D" serve --bg localhost
expect_rc 1 "localhost without port"
expect_err $'error: failed apply web serve: port required for localhost target "http://localhost"\n\n'"$TRY"$'\n' "localhost without port msg"
run "$D" serve --bg example.com:80
expect_err $'error: failed apply web serve: non-localhost target "http://example.com:80" must include a scheme\n\n'"$TRY"$'\n' "non-localhost without scheme"
run "$D" serve --bg ftp://localhost:21
err_has "must be a URL starting with one of the supported schemes: [http https https+insecure unix]" "bad scheme"
run "$D" serve --bg 3000 4000
expect_rc 1 "two targets"
expect_err $'Error: invalid argument format\n'"$TRY"$'\n' "two targets msg"
run "$D" serve --bg a b c
expect_err $'Error: invalid number of arguments (3)\n'"$TRY"$'\n' "three args msg"
run "$D" serve --bg --https=443 --http=80 3000
expect_rc 1 "two types"
expect_err $'error: cannot serve multiple types for a single mount point\n\n'"$TRY"$'\n' "two types msg"
run "$D" serve --bg --set-path=/a/../b 3000
expect_err $'failed to clean the mount point: invalid mount point "/a/../b"\n' "bad mount"
run "$D" serve --frob 3000
expect_rc 1 "unknown flag"
err_has "flag provided but not defined: -frob" "unknown flag msg"
run "$D" serve --https=abc 3000
expect_rc 1 "bad uint"
err_has 'invalid value "abc" for flag -https: parse error' "bad uint msg"
run "$D" funnel --http=80 3000
err_has "flag provided but not defined: -http" "funnel has no --http"
run "$D" serve
expect_rc 0 "serve no args = help"
err_has "tailscale serve <target>" "serve usage"
run "$D" serve --help
expect_rc 0 "serve --help"
run "$D" serve https / http://localhost:3000
expect_rc 1 "legacy"
expect_err $'Error: the CLI for serve and funnel has changed. You can run the following command instead:\n\t- tailscale serve --bg http://localhost:3000\n\nPlease see https://tailscale.com/kb/1242/tailscale-serve for more information.\n'"$TRY"$'\n' "legacy msg"
run "$D" serve tcp:2222 tcp://localhost:22
err_has "- tailscale serve --bg --tcp 2222 tcp://localhost:22" "legacy tcp translation"
run "$D" funnel 443 on
expect_rc 1 "legacy funnel"
expect_err $'Error: the CLI for serve and funnel has changed.\nPlease see https://tailscale.com/kb/1242/tailscale-serve for more information.\ntry `tailscale funnel --help` for usage info\n' "legacy funnel msg"
run "$D" serve 3000 --bg
expect_err $'Error: invalid argument format\n'"$TRY"$'\n' "flags after target are args (Go flag)"
run "$D" frobnicate
expect_rc 1 "unknown subcommand"
expect_err $'tailscale: unknown subcommand: frobnicate\n' "unknown subcommand msg"
run "$D" up
expect_rc 1 "unmodeled subcommand"
err_lacks "Traceback" "no traceback"
run "$D"
expect_rc 1 "no subcommand"
run "$D" serve get-config --all
expect_rc 1 "get-config unmodeled"
err_lacks "Traceback" "no traceback 2"
if [[ ! -e "$D/serve.json" ]] || grep -q '{}' "$D/serve.json"; then ok; else bad "failed commands wrote"; fi

# state checks
D="$(new_scen status-stopped.json serve-healthy.json)"
run "$D" serve --bg 18080
expect_rc 1 "serve when stopped"
expect_err $'Tailscale is stopped.\n' "serve when stopped msg"
run "$D" serve reset
expect_rc 0 "reset while stopped (netmap kept)"
serve_is "$D" '{}' "reset while stopped"
D="$(new_scen status-logged-out.json serve-healthy.json)"
run "$D" serve --bg 18080
expect_err $'Logged out.\nLog in at: https://login.tailscale.com/a/1a2b3c4d5e6f7\n' "serve logged out"
run "$D" serve reset
expect_rc 1 "reset logged out"
expect_err $'sending serve config: updating config: netMap is nil\n' "reset netMap is nil"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "logged-out reset changed nothing"
D="$(new_scen status-needs-approval.json)"
run "$D" serve --bg 18080
expect_err $'Machine is not yet approved by tailnet admin.\n' "serve needs approval"
run "$D" serve status
expect_out $'No serve config\n' "serve status text works when not running (empty)"
cp "$FIX/serve-healthy.json" "$D/serve.json"
run "$D" serve status
expect_rc 1 "serve status text needs running"
run "$D" serve status --json
expect_rc 0 "serve status --json does not need running"

# reset
D="$(new_scen status-healthy.json serve-multi.json)"
run "$D" serve reset
expect_rc 0 "serve reset"
out_empty "serve reset stdout"
err_empty "serve reset stderr"
expect_out '' "serve reset silent"
serve_is "$D" '{}' "serve reset state"
cp "$FIX/serve-multi.json" "$D/serve.json"
run "$D" funnel reset
expect_rc 0 "funnel reset"
serve_is "$D" '{}' "funnel reset state"

# ---------------------------------------------------------------- funnel
D="$(new_scen status-healthy.json)"
run "$D" funnel --bg 18080
expect_rc 0 "funnel --bg"
expect_out $'Available on the internet:\n\nhttps://box.tail1234.ts.net/\n|-- proxy http://127.0.0.1:18080\n\nFunnel started and running in the background.\nTo disable the proxy, run: tailscale funnel --https=443 off\n' "funnel output"
serve_is "$D" '{"TCP":{"443":{"HTTPS":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080"}}}},"AllowFunnel":{"box.tail1234.ts.net:443":true}}' "funnel state"
run "$D" funnel status
out_has $'# Funnel on:\n#     - https://box.tail1234.ts.net' "funnel status text"
out_has "https://box.tail1234.ts.net (Funnel on)" "funnel status text tree"
run "$D" serve --bg 18080
expect_rc 0 "serve over funnel"
expect_err $'Removing Funnel for box.tail1234.ts.net:box.tail1234.ts.net:443\n' "Removing Funnel msg (v1.96.4 prints host twice)"
out_has "Available within your tailnet:" "serve over funnel output"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "funnel removed, serve kept"
run "$D" funnel --bg 18080
run "$D" funnel --https=443 off
expect_rc 0 "funnel off"
serve_is "$D" '{}' "funnel off removes handler, TCP and AllowFunnel"
behave "$D" '{"shields_up":true}'
run "$D" funnel --bg 18080
expect_rc 1 "funnel shields up"
expect_err $'sending serve config: updating config: Unable to turn on Funnel while shields-up is enabled\n' "shields up msg"
run "$D" serve --bg 18080
expect_rc 0 "serve ok with shields up"
cp "$FIX/serve-multi.json" "$TMP/in.json"
STDIN="$TMP/in.json" run "$D" serve set-raw
expect_rc 1 "set-raw funnel with shields up"
rm -f "$D/behavior.json"
python3 - "$D/status.json" <<'EOF'
import json, sys
p = sys.argv[1]; st = json.load(open(p))
cm = st["Self"]["CapMap"]
del cm["https://tailscale.com/cap/funnel-ports?ports=443,8443,10000"]
cm["https://tailscale.com/cap/funnel-ports?ports=8443"] = None
st["Self"]["Capabilities"] = [c for c in st["Self"]["Capabilities"] if "funnel-ports" not in c] + ["https://tailscale.com/cap/funnel-ports?ports=8443"]
open(p, "w").write(json.dumps(st, indent=2))
EOF
run "$D" funnel --bg 18080
expect_rc 1 "funnel port not allowed"
expect_err $'port 443 is not allowed for funnel; allowed ports are: 8443\n' "funnel port msg"
D="$(new_scen status-https-off.json)"
behave "$D" '{"consent":"none"}'
run "$D" funnel --bg 18080
expect_rc 1 "funnel https off"
expect_err $'Funnel not available; HTTPS must be enabled. See https://tailscale.com/s/https.\n' "funnel https msg"
D="$(new_scen status-healthy.json)"
behave "$D" '{"consent":"none"}'
python3 - "$D/status.json" <<'EOF'
import json, sys
p = sys.argv[1]; st = json.load(open(p))
del st["Self"]["CapMap"]["funnel"]
st["Self"]["Capabilities"].remove("funnel")
open(p, "w").write(json.dumps(st, indent=2))
EOF
run "$D" funnel --bg 18080
expect_err $'Funnel not available; "funnel" node attribute not set. See https://tailscale.com/s/no-funnel.\n' "funnel attr msg"
behave "$D" '{}'
run "$D" funnel --bg 18080
expect_rc 0 "funnel consent print_exit0"
expect_out $'\nFunnel is not enabled on your tailnet.\nTo enable, visit:\n\n         https://login.tailscale.com/f/funnel?node=nT1234ABCD11CNTRL\n\n' "funnel consent output"

# ---------------------------------------------------------------- consent for serve
D="$(new_scen status-https-off.json)"
run "$D" serve --bg 18080
expect_rc 0 "consent print_exit0"
expect_out $'\nServe is not enabled on your tailnet.\nTo enable, visit:\n\n         https://login.tailscale.com/f/serve?node=nT1234ABCD11CNTRL\n\n' "consent output"
err_empty "consent stderr"
if [[ ! -e "$D/serve.json" ]]; then ok; else bad "consent print_exit0 changed the config"; fi
run "$D" serve --bg --http=80 18080
expect_rc 0 "--http skips https check"
same_file "$D/serve.json" "$FIX/serve-plain-http.json" "--http state with https off"
run "$D" serve --bg --tcp=2222 22
expect_rc 0 "--tcp skips https check"
run "$D" serve --https=443 off
expect_rc 1 "off skips consent (nothing to remove)"
err_has "handler does not exist" "off skips consent msg"
behave "$D" '{"consent":"none"}'
run "$D" serve --bg 18080
expect_rc 1 "consent none"
err_has "error enabling https feature: " "consent none msg"
behave "$D" '{"consent":"complete"}'
run "$D" serve --bg --https=80 18443
expect_rc 1 "consent complete: https on http port rejected by daemon"
err_has 'want to serve "https", but port 80 is already serving "http"' "daemon type check"
run "$D" serve reset
run "$D" serve --bg 18080
expect_rc 0 "consent complete applies anyway"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "consent complete state"

# block: waits, then status.json gains the cap -> Success. and applies
D="$(new_scen status-https-off.json)"
behave "$D" '{"consent":"block"}'
start_group "$D" serve --bg 18080
if wait_for 10 grep -q "To enable, visit:" "$TMP/bg.out"; then ok; else bad "consent block: no URL printed"; fi
sleep 0.5
if alive "$GPID"; then ok; else bad "consent block: did not block"; fi
if [[ ! -e "$D/serve.json" ]]; then ok; else bad "consent block: wrote before enablement"; fi
cp "$FIX/status-healthy.json" "$D/status.json.tmp" && mv "$D/status.json.tmp" "$D/status.json"
set +e
wait "$GPID"
RC=$?
set -e
expect_rc 0 "consent block completes"
if grep -q '^Success\.$' "$TMP/bg.out" && grep -q "Serve started and running in the background." "$TMP/bg.out"; then ok; else bad "consent block output: $(cat "$TMP/bg.out")"; fi
same_file "$D/serve.json" "$FIX/serve-healthy.json" "consent block state"
D="$(new_scen status-https-off.json)"
behave "$D" '{"consent":"block"}'
start_group "$D" serve --bg 18080
wait_for 10 grep -q "To enable, visit:" "$TMP/bg.out" || true
kill -KILL -- "-$GPID"
wait "$GPID" 2>/dev/null || true
if ! alive "$GPID" && [[ ! -e "$D/serve.json" ]]; then ok; else bad "consent block group kill"; fi

# ---------------------------------------------------------------- set-raw
D="$(new_scen status-healthy.json serve-healthy.json)"
printf '{"TCP":{"443":{"TCPForward":"127.0.0.1:22"}}}' >"$TMP/conflict.json"
STDIN="$TMP/conflict.json" run "$D" serve set-raw
expect_rc 1 "set-raw over conflicting type"
expect_err $'sending serve config: updating config: want to serve "tcp", but port 443 is already serving "https"\n' "set-raw validation"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "rejected set-raw changed nothing"
cp "$FIX/serve-multi.json" "$TMP/in.json"
run "$D" serve reset
STDIN="$TMP/in.json" run "$D" serve set-raw
expect_rc 0 "set-raw"
out_empty "set-raw stdout"
same_file "$D/serve.json" "$FIX/serve-multi.json" "set-raw state"
printf '{"tcp":{"443":{"https":true}},"Web":{"box.tail1234.ts.net:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18080","Extra":1}}}},"Unknown":true}' >"$TMP/in2.json"
run "$D" serve reset
STDIN="$TMP/in2.json" run "$D" funnel set-raw
expect_rc 0 "funnel set-raw case-insensitive"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "set-raw canonicalises like Go"
printf '[1,2]' >"$TMP/bad.json"
STDIN="$TMP/bad.json" run "$D" serve set-raw
expect_rc 1 "set-raw array"
expect_err $'invalid JSON: json: cannot unmarshal array into Go value of type ipn.ServeConfig\n' "set-raw array msg"
printf 'xyz' >"$TMP/bad.json"
STDIN="$TMP/bad.json" run "$D" serve set-raw
expect_rc 1 "set-raw garbage"
expect_err $'invalid JSON: invalid character \'x\' looking for beginning of value\n' "set-raw garbage msg"
printf 'nope' >"$TMP/bad.json"
STDIN="$TMP/bad.json" run "$D" serve set-raw
expect_err $'invalid JSON: invalid character \'o\' in literal null (expecting \'u\')\n' "set-raw bad literal msg"
printf '' >"$TMP/bad.json"
STDIN="$TMP/bad.json" run "$D" serve set-raw
expect_err $'invalid JSON: unexpected end of JSON input\n' "set-raw empty"
printf 'null' >"$TMP/null.json"
STDIN="$TMP/null.json" run "$D" serve set-raw
expect_rc 0 "set-raw null"
serve_is "$D" '{}' "set-raw null -> {}"
same_file "$D/serve.json" "$FIX/serve-empty.json" "set-raw null file"

# ---------------------------------------------------------------- access denied, etag race, daemon down
D="$(new_scen status-healthy.json serve-healthy.json)"
behave "$D" '{"access_denied":true}'
for cmd in "serve --bg 3000" "serve reset" "serve --https=443 off" "funnel --bg 18080"; do
  # shellcheck disable=SC2086
  run "$D" $cmd
  expect_rc 1 "access denied: $cmd"
  if [[ "$(head -n1 "$TMP/err")" == "sending serve config: Access denied: serve config denied" ]]; then ok; else bad "access denied first line ($cmd): $(head -n1 "$TMP/err")"; fi
  err_has "Use 'sudo tailscale $cmd'." "access denied sudo hint ($cmd)"
done
STDIN="$TMP/in.json" run "$D" serve set-raw
expect_rc 1 "access denied set-raw"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "access denied changed nothing"
run "$D" serve status --json
expect_rc 0 "access denied: reads still work"

D="$(new_scen status-healthy.json)"
behave "$D" '{"etag_race_once":true}'
run "$D" serve reset
expect_rc 0 "etag race: reset carries no etag"
if [[ ! -e "$D/etag_race.fired" ]]; then ok; else bad "etag race fired on reset"; fi
run "$D" serve --bg 18080
expect_rc 1 "etag race first write"
expect_err $'Another client is changing the serve config; please try again.\nsending serve config: Preconditions failed: etag mismatch\n' "etag race msg"
out_empty "etag race stdout"
if [[ -e "$D/etag_race.fired" ]]; then ok; else bad "etag race state file"; fi
serve_is "$D" '{}' "etag race wrote nothing"
run "$D" serve --bg 18080
expect_rc 0 "etag race second write"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "etag race then success"

D="$(new_scen status-healthy.json serve-healthy.json)"
behave "$D" '{"daemon":"down"}'
run "$D" serve --bg 3000
expect_rc 1 "write daemon down"
expect_err "error getting serve config: getting serve config: $SOCKERR"$'\n' "serve --bg daemon down"
run "$D" serve reset
expect_err "sending serve config: $SOCKERR"$'\n' "reset daemon down"
STDIN="$TMP/in.json" run "$D" serve set-raw
expect_err "sending serve config: $SOCKERR"$'\n' "set-raw daemon down"
run "$D" funnel --bg 3000
expect_err "getting client status: $DOWN_LINUX"$'\n' "funnel daemon down"
same_file "$D/serve.json" "$FIX/serve-healthy.json" "daemon down changed nothing"

# ---------------------------------------------------------------- macOS GUI-variant restrictions
D="$(new_scen status-healthy.json)"
behave "$D" '{"platform":"macos"}'
run "$D" serve --bg --set-path=/x "$TMP"
expect_rc 1 "macos path serving"
err_has "Path serving is not supported on macOS due to sandbox restrictions." "macos path msg"
run "$D" serve --bg http://192.168.1.5:8080
expect_rc 1 "macos remote target"
expect_err $'Warning: the MacOS extension doesn\'t support connecting to remote destinations from non-default route, see tailscale.com/kb/1552/tailscale-services for detail.\n' "macos remote msg"

# ---------------------------------------------------------------- foreground serve
D="$(new_scen status-healthy.json)"
start_group "$D" serve 18080
if wait_for 10 grep -q "Press Ctrl+C to exit." "$TMP/bg.out"; then ok; else bad "foreground: no message"; fi
if grep -q "fake-session-$GPID" "$D/serve.json"; then ok; else bad "foreground: no Foreground entry"; fi
if alive "$GPID"; then ok; else bad "foreground: did not stay"; fi
run "$D" serve status
expect_out $'No serve config\n' "foreground only in JSON"
run "$D" serve --bg 18080
expect_rc 1 "bg over foreground port"
err_has "foreground listener already exists for port 443" "bg over foreground msg"
kill -INT "$GPID"
set +e
wait "$GPID"
RC=$?
set -e
expect_rc 0 "foreground Ctrl+C"
serve_is "$D" '{}' "foreground session removed"
if [[ ! -f "$D/pids/$GPID" ]]; then ok; else bad "foreground pid file left"; fi
# killed foreground session is pruned on the next read
start_group "$D" serve 18080
wait_for 10 grep -q "Press Ctrl+C to exit." "$TMP/bg.out" || true
kill -KILL -- "-$GPID"
wait "$GPID" 2>/dev/null || true
run "$D" serve status --json
expect_out $'{}\n' "dead foreground session pruned"
# reset ends a foreground session
start_group "$D" serve --https=8443 3000
wait_for 10 grep -q "Press Ctrl+C to exit." "$TMP/bg.out" || true
run "$D" serve reset
set +e
wait "$GPID"
RC=$?
set -e
expect_rc 0 "foreground ends when its session is removed"

# ---------------------------------------------------------------- services
D="$(new_scen status-healthy.json)"
run "$D" serve --service=svc:web 18080
expect_rc 1 "service untagged"
expect_err $'service hosts must be tagged nodes\n' "service untagged msg"
python3 - "$D/status.json" <<'EOF'
import json, sys
p = sys.argv[1]; st = json.load(open(p))
st["Self"]["Tags"] = ["tag:server"]
open(p, "w").write(json.dumps(st, indent=2))
EOF
run "$D" serve --service=svc:web --https=443 18080
expect_rc 0 "service serve"
out_has "This machine is configured as a service proxy for svc:web" "service pending approval msg"
out_has "To remove config for the service, run: tailscale serve clear svc:web" "service clear hint"
same_file "$D/serve.json" "$FIX/serve-services-only.json" "service state == fixture"
run "$D" serve --service=bad 18080
expect_rc 1 "bad service name"
err_has 'invalid value "bad" for flag -service: invalid service name: "bad"' "bad service msg"
run "$D" serve clear svc:web
expect_rc 0 "serve clear"
serve_is "$D" '{}' "serve clear state"

# ---------------------------------------------------------------- bookkeeping at the end
D="$(new_scen status-healthy.json)"
for _ in 1 2 3 4 5; do run "$D" serve status --json; done
run "$D" serve --bg 18080
if [[ "$(wc -l <"$D/argv.log" | tr -d ' ')" == 6 ]]; then ok; else bad "argv.log line count"; fi
if python3 - "$D/argv.log" <<'EOF'; then ok; else bad "argv.log has the write"; fi
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs[-1]["argv"] == ["serve", "--bg", "18080"]
assert all(r["argv"][:2] == ["serve", "status"] for r in recs[:5])
EOF
if [[ "$(pids_count "$D")" == 0 ]]; then ok; else bad "pids left after normal runs"; fi
if [[ -z "$(find "$D" -name '*.tmp' -o -name '.serve.json.*')" ]]; then ok; else bad "temp files left"; fi

echo "$PASS passed, $FAIL failed"
if ((FAIL > 0)); then exit 1; fi
