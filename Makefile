# Two commands on a fresh machine: `make run` (the app) and `make test` (everything CI checks).
SHELL := /bin/bash
CARGO ?= cargo
APT_PACKAGES := libgtk-3-dev libdbus-1-dev libayatana-appindicator3-1 \
	xvfb xdotool x11-utils imagemagick trayer xclip dbus python3-dbus python3-gi \
	iproute2 openssl curl jq prometheus openssh-server openssh-client
MAC_TARGET := aarch64-apple-darwin

.PHONY: deps run test lint icons check-macos unit e2e bench test-tailnet bench-tailnet bench-targets headless bench-monitoring
# bundle/ is also a directory: without .PHONY, `make bundle` would be "up to date".
.PHONY: app-icons bundle install uninstall

# System packages (Debian/Ubuntu; nothing to install on macOS) and the macOS Rust target for the
# type-check. Skips apt when everything is already there.
deps:
ifeq ($(shell uname -s),Linux)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@rustup target list --installed 2>/dev/null | grep -qx $(MAC_TARGET) || rustup target add $(MAC_TARGET) || true
endif

run: deps
	$(CARGO) run --release --

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --no-default-features --target-dir target/headless -- -D warnings

# The headless build (no tray: links no GTK, GDK, X11 or D-Bus library) for servers and
# containers: target/headless/release/serve-doctor.
headless:
	$(CARGO) build --release --no-default-features --target-dir target/headless

# Where rustup cannot install the macOS target, say so in one line and pass (only then).
check-macos:
	@if ! rustup target list --installed 2>/dev/null | grep -qx $(MAC_TARGET); then \
		if ! err=$$(rustup target add $(MAC_TARGET) 2>&1); then \
			echo "macOS type-check SKIPPED: $$(echo "$$err" | tail -1)"; exit 0; \
		fi; \
	fi; \
	$(CARGO) check --target $(MAC_TARGET)

# The committed tray PNGs must match what the generator draws.
icons:
	$(CARGO) run -q --example draw_icons -- --check

# The committed app icon (resources/AppIcon.icns, resources/hicolor) must match the tray artwork.
app-icons:
	$(CARGO) run -q --example draw_icons -- --app-icon --check

# Unit and integration tests; the real-tailnet scenarios (tests/tailnet) run in test-tailnet.
unit:
	$(CARGO) test -q --lib --bins --test it

# Real tray under Xvfb (each script prints "N passed, N failed" and exits non-zero on failure).
# The tray on the real daemon (tailnet-*.sh) runs with the other real-tailnet tests.
e2e:
	@set -e; for t in tests/e2e/*.sh; do case $$t in */tailnet-*) continue;; esac; echo "== $$t"; bash "$$t"; done
	bash tests/fake-tailscale/selftest.sh

# Everything that meets the real tailscaled (tests/tailnet/run.sh says how it skips and counts).
test-tailnet:
	bash tests/tailnet/run.sh

test: deps lint check-macos icons app-icons unit e2e test-tailnet

# Numbers, not assertions: diagnose wall times (seed, healthy, LocalAPI vs CLI) and the tray's
# idle CPU / RSS / spawns / time to icon.
bench:
	$(CARGO) bench --bench diagnose
	bash scripts/bench-tray.sh

# Time to the verdict on the real tailnet, beside the manual chain (curl, tailscale cert).
bench-tailnet:
	bash scripts/bench-tailnet.sh

# Start-up of the desktop and headless builds, the exporter's idle cost and scrape latency.
bench-monitoring:
	bash scripts/bench-monitoring.sh

# diagnose --all over several targets against the slowest single one, on the real tailnet.
bench-targets:
	bash scripts/bench-targets.sh

# Packaging (bundle/). `make bundle`: target/bundle/Serve Doctor.app and its zip (see
# bundle/macos.sh for signing and notarization: SIGN_IDENTITY, NOTARY_PROFILE; BIN= skips the build).
bundle:
	bundle/macos.sh

# `make install`: on macOS the .app into $(APPLICATIONS); elsewhere the binary, the menu entry and
# the icons under $(PREFIX) (default ~/.local, no root needed; DESTDIR for packagers). BIN= installs
# a binary you built instead of building the release one. `make uninstall` removes exactly those.
PREFIX ?= $(HOME)/.local
APPLICATIONS ?= /Applications
APP_BUNDLE := target/bundle/Serve Doctor.app

ifeq ($(shell uname -s),Darwin)
install: bundle
	rm -rf "$(APPLICATIONS)/Serve Doctor.app"
	ditto "$(APP_BUNDLE)" "$(APPLICATIONS)/Serve Doctor.app"
	@echo "installed $(APPLICATIONS)/Serve Doctor.app; open it with: open -a 'Serve Doctor'"

uninstall:
	rm -rf "$(APPLICATIONS)/Serve Doctor.app"
else
install:
	@if [ -z "$(BIN)" ]; then $(CARGO) build --release; fi
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" BIN="$(or $(BIN),target/release/serve-doctor)" bundle/linux/install.sh install

uninstall:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" bundle/linux/install.sh uninstall
endif
