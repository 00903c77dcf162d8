#!/usr/bin/env bash
# The real-tailnet bench: a real tailscaled + tailscale CLI, Tailscale's test control server, a
# Pebble ACME CA and a real HTTP backend, all on loopback inside one Linux network namespace.
#
#   tests/tailnet/bench.sh build          build (once, cached) every binary the bench runs
#   tests/tailnet/bench.sh check          say whether this machine can run the bench (exit 0) or why not
#   tests/tailnet/bench.sh up DIR         start a bench in a new namespace; writes DIR/bench.env
#   tests/tailnet/bench.sh down DIR       stop everything started for DIR (by PID) and remove the namespace
#   tests/tailnet/bench.sh node DIR NAME [--version V] [--userspace]   (re)start one node's tailscaled
#   tests/tailnet/bench.sh stop-node DIR NAME
#
# Nothing here dials outside the namespace: it has only its own loopback interface (and the
# server node's TUN device), so a stray connection to the internet fails at once.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SERVE_DOCTOR_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/serve-doctor-tailnet}
TS_VERSION=${TS_VERSION:-v1.102.3}
# The newest release before 1.100 the module proxy serves: no hourly cert refresh, no
# tls-cert-pending warning, the first certificate is fetched on the first handshake.
TS_OLD_VERSION=${TS_OLD_VERSION:-v1.98.10}
PEBBLE_VERSION=v2.10.1

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# go install into a versioned folder: a second run finds the binaries and builds nothing.
build_one() { # dir module@version...
	local dir=$1; shift
	local missing=0 m
	for m in "$@"; do
		local b=${m%@*}; b=${b##*/}
		[ -x "$dir/$b" ] || missing=1
	done
	[ "$missing" = 0 ] && return 0
	log "building $* into $dir"
	mkdir -p "$dir"
	GOBIN="$dir" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$@"
}

build_control() {
	local sum
	sum=$(cat "$HERE/control/main.go" "$HERE/control/go.mod" "$HERE/control/go.sum" | sha256sum | cut -c1-16)
	local out="$CACHE/benchcontrol-$sum"
	if [ ! -x "$out" ]; then
		log "building the bench control server"
		(cd "$HERE/control" && CGO_ENABLED=0 GOFLAGS= go build -trimpath -buildvcs=false -o "$out.tmp" . && mv "$out.tmp" "$out")
	fi
	ln -sf "$out" "$CACHE/benchcontrol"
}

cmd_build() {
	command -v go >/dev/null || die "no Go toolchain on PATH"
	build_one "$CACHE/tailscale-$TS_VERSION" "tailscale.com/cmd/tailscaled@$TS_VERSION" "tailscale.com/cmd/tailscale@$TS_VERSION"
	build_one "$CACHE/tailscale-$TS_OLD_VERSION" "tailscale.com/cmd/tailscaled@$TS_OLD_VERSION" "tailscale.com/cmd/tailscale@$TS_OLD_VERSION"
	build_one "$CACHE/pebble-$PEBBLE_VERSION" "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$PEBBLE_VERSION"
	build_control
	echo "$CACHE"
}

# Why this machine cannot run the bench, or nothing.
why_not() {
	[ "$(uname -s)" = Linux ] || { echo "not Linux"; return; }
	[ "$(id -u)" = 0 ] || { echo "not root (network namespaces need it)"; return; }
	[ -c /dev/net/tun ] || { echo "no /dev/net/tun"; return; }
	command -v go >/dev/null || { echo "no Go toolchain"; return; }
	command -v ip >/dev/null || { echo "no ip(8) (iproute2)"; return; }
	command -v openssl >/dev/null || { echo "no openssl"; return; }
	local probe="sdcheck-$$"
	if ! ip netns add "$probe" 2>/dev/null; then echo "cannot create a network namespace"; return; fi
	ip netns del "$probe"
}

cmd_check() {
	local why; why=$(why_not)
	if [ -n "$why" ]; then echo "$why"; exit 1; fi
	echo ok
}

# A process started in the namespace: its PID goes to DIR/pids so `down` can stop it.
spawn() { # name cmd...
	local name=$1; shift
	ip netns exec "$NS" "$@" >"$DIR/$name.log" 2>&1 </dev/null &
	echo "$! $name" >>"$DIR/pids"
	echo $!
}

# Wait (bounded) for a condition; each check is cheap, the wait is for an event, not a fixed time.
wait_for() { # seconds what cmd...
	local secs=$1 what=$2; shift 2
	local deadline=$(( $(date +%s%N) + secs * 1000000000 ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what (logs in $DIR)"
		sleep 0.02
	done
}

load_env() { DIR=$1; [ -f "$DIR/bench.env" ] || die "no bench in $DIR"; . "$DIR/bench.env"; }

# Pebble serves its API over HTTPS: a throw-away CA for that listener (tailscaled trusts it through
# SSL_CERT_FILE). Pebble's *issuing* root is another one, fetched from its management port.
make_api_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=bench ACME API CA" -keyout "$DIR/api-ca.key" -out "$DIR/api-ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$DIR/api.key" -out "$DIR/api.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$DIR/api.ext"
	openssl x509 -req -in "$DIR/api.csr" -CA "$DIR/api-ca.pem" -CAkey "$DIR/api-ca.key" -CAcreateserial \
		-days 2 -extfile "$DIR/api.ext" -out "$DIR/api.pem" 2>/dev/null
}

cmd_up() {
	DIR=$1
	local why; why=$(why_not)
	[ -z "$why" ] || die "cannot run here: $why"
	cmd_build >/dev/null
	mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
	[ ! -f "$DIR/pids" ] || die "$DIR already has a bench; run down first"
	NS="sdbench-$(basename "$DIR" | tr -c 'a-zA-Z0-9\n' - | cut -c1-20)-$$"
	ip netns add "$NS"
	echo "$NS" >"$DIR/netns"
	: >"$DIR/pids"
	ip netns exec "$NS" ip link set lo up
	# tailscaled calls a machine with nothing but loopback "offline" (a health warning, and no
	# netcheck). A veth pair whose both ends stay in the namespace, on TEST-NET-1 and without a
	# default route, makes the network "up" while nothing can leave.
	ip netns exec "$NS" ip link add bench0 type veth peer name bench1
	ip netns exec "$NS" ip addr add 192.0.2.1/24 dev bench0
	ip netns exec "$NS" ip link set bench0 up
	ip netns exec "$NS" ip link set bench1 up
	make_api_cert

	local P="$CACHE/pebble-$PEBBLE_VERSION"
	cat >"$DIR/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
 "certificate": "$DIR/api.pem", "privateKey": "$DIR/api.key", "httpPort": 5002, "tlsPort": 5001,
 "ocspResponderURL": "", "externalAccountBindingRequired": false,
 "domainBlocklist": ["blocked.tailnet.test"], "retryAfter": {"authz": 1, "order": 1},
 "keyAlgorithm": "ecdsa",
 "profiles": {"default": {"description": "bench", "validityPeriod": 7776000}}}}
EOF
	spawn challtestsrv "$P/pebble-challtestsrv" -dnsserver 127.0.0.1:8053 -management 127.0.0.1:8055 \
		-http01 "" -https01 "" -tlsalpn01 "" -doh "" >/dev/null
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 spawn pebble "$P/pebble" -config "$DIR/pebble.json" \
		-dnsserver 127.0.0.1:8053 >/dev/null
	wait_for 20 "pebble" ip netns exec "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/15000'
	wait_for 20 "challtestsrv" ip netns exec "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8055'
	ip netns exec "$NS" curl -sfk https://127.0.0.1:15000/roots/0 >"$DIR/pebble-root.pem" \
		|| die "could not read Pebble's root"

	# The control program prints its addresses on its first line.
	spawn control "$CACHE/benchcontrol" -backend 127.0.0.1:18080 -acme-upstream 127.0.0.1:14000 \
		-acme-cert "$DIR/api.pem" -acme-key "$DIR/api.key" -acme-ca "$DIR/api-ca.pem" -challtestsrv http://127.0.0.1:8055 >/dev/null
	wait_for 30 "the control server" grep -q '"admin"' "$DIR/control.log"
	local ready; ready=$(grep -m1 '"admin"' "$DIR/control.log")
	CONTROL_URL=$(jq -r .control <<<"$ready")
	ADMIN_URL=$(jq -r .admin <<<"$ready")
	ACME_ADDR=$(jq -r .acme <<<"$ready")
	BACKEND_ADDR=$(jq -r .backend <<<"$ready")
	cat >"$DIR/bench.env" <<EOF
NS=$NS
DIR=$DIR
CACHE=$CACHE
CONTROL_URL=$CONTROL_URL
ADMIN_URL=$ADMIN_URL
ACME_ADDR=$ACME_ADDR
BACKEND_ADDR=$BACKEND_ADDR
PEBBLE_ROOT=$DIR/pebble-root.pem
TS_VERSION=$TS_VERSION
TS_OLD_VERSION=$TS_OLD_VERSION
EOF
	start_node server
	start_node phone --userspace
}

# (Re)start one node's tailscaled and bring it up; state survives in DIR/NAME.
start_node() { # name [--version V] [--userspace] [--acme URL]
	local name=$1; shift
	local version=$TS_VERSION userspace=0
	local acme="https://$ACME_ADDR/dir"
	while [ $# -gt 0 ]; do
		case $1 in
			--version) version=$2; shift 2 ;;
			--userspace) userspace=1; shift ;;
			--acme) acme=$2; shift 2 ;;
			*) die "start_node: unknown $1" ;;
		esac
	done
	local bin="$CACHE/tailscale-$version"
	local nd="$DIR/$name"
	mkdir -p "$nd"
	local tun="--tun=ts-$name" socks=""
	if [ "$userspace" = 1 ]; then
		tun="--tun=userspace-networking"
		socks="--socks5-server=127.0.0.1:1055"
	fi
	TS_DEBUG_ACME_DIRECTORY_URL="$acme" SSL_CERT_FILE="$DIR/api-ca.pem" \
		TS_ASSUME_NETWORK_UP_FOR_TEST=1 TS_DISABLE_PORTMAPPER=1 TS_PANIC_IF_HIT_MAIN_CONTROL=1 \
		TS_LOGS_DIR="$nd" \
		spawn "tailscaled-$name" "$bin/tailscaled" --statedir="$nd" --socket="$nd/ts.sock" $tun $socks \
		--port=0 --no-logs-no-support >/dev/null
	cat >"$nd/tailscale" <<EOF
#!/bin/sh
exec '$bin/tailscale' --socket='$nd/ts.sock' "\$@"
EOF
	chmod +x "$nd/tailscale"
	echo "$version" >"$nd/version"
	wait_for 30 "$name's LocalAPI socket" test -S "$nd/ts.sock"
	wait_for 30 "$name's daemon to answer" ip netns exec "$NS" "$nd/tailscale" status --json
	ip netns exec "$NS" timeout 60 "$nd/tailscale" up --login-server="$CONTROL_URL" --hostname="$name" \
		--accept-dns=false --netfilter-mode=off --reset >>"$DIR/up-$name.log" 2>&1 \
		|| die "tailscale up failed for $name"
}

stop_pid_named() { # name
	local name=$1 pid n
	while read -r pid n; do
		[ "$n" = "$name" ] || continue
		kill "$pid" 2>/dev/null || true
		local i; for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$pid" 2>/dev/null || true
	done <"$DIR/pids"
	grep -v " $name\$" "$DIR/pids" >"$DIR/pids.new" || true
	mv "$DIR/pids.new" "$DIR/pids"
}

cmd_down() {
	DIR=$1
	[ -d "$DIR" ] || exit 0
	local ns; ns=$(cat "$DIR/netns" 2>/dev/null || true)
	if [ -f "$DIR/pids" ]; then
		local pid n
		while read -r pid n; do kill "$pid" 2>/dev/null || true; done <"$DIR/pids"
		sleep 0.2
		while read -r pid n; do kill -9 "$pid" 2>/dev/null || true; done <"$DIR/pids"
		rm -f "$DIR/pids"
	fi
	# Anything else still inside the namespace (a CLI a test left behind) goes too.
	if [ -n "$ns" ] && ip netns list | grep -qw "$ns"; then
		local p; for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
	fi
}

case ${1:-} in
	build) cmd_build ;;
	check) cmd_check ;;
	up) [ $# -eq 2 ] || die "usage: up DIR"; cmd_up "$2" ;;
	down) [ $# -eq 2 ] || die "usage: down DIR"; cmd_down "$2" ;;
	node) [ $# -ge 3 ] || die "usage: node DIR NAME [...]"; load_env "$2"; n=$3; shift 3; stop_pid_named "tailscaled-$n"; start_node "$n" "$@" ;;
	stop-node) [ $# -eq 3 ] || die "usage: stop-node DIR NAME"; load_env "$2"; stop_pid_named "tailscaled-$3" ;;
	*) sed -n '2,12p' "$0"; exit 2 ;;
esac
