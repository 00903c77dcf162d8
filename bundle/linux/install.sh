#!/usr/bin/env bash
# Installs or removes Serve Doctor's files for a Linux desktop, exactly those in install.list:
# the binary, the .desktop file (the applications menu entry) and the hicolor icons.
#
#   bundle/linux/install.sh install     # BIN= the binary to install (default target/release/…)
#   bundle/linux/install.sh uninstall
#
# Env: PREFIX (default ~/.local: no root needed), DESTDIR (staging root for packagers; files go
# to $DESTDIR$PREFIX/…, while the installed .desktop names $PREFIX/bin, the final place).
#
# The installed .desktop file starts the binary by its absolute path rather than the repo file's
# bare `Exec=serve-doctor`: a graphical session's PATH often lacks ~/.local/bin, and the menu
# entry must work anyway. No icon or desktop caches are rebuilt: menus find a new entry in
# ~/.local/share/applications without one, and a cache would be a file uninstall did not list.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIST="$ROOT/bundle/linux/install.list"
PREFIX=${PREFIX:-$HOME/.local}
DESTDIR=${DESTDIR:-}
BIN=${BIN:-$ROOT/target/release/serve-doctor}
ACTION=${1:-}

die() {
    echo "install: error: $*" >&2
    exit 1
}
case "$PREFIX" in
/*) ;;
*) die "PREFIX must be an absolute path (got '$PREFIX')" ;;
esac
PREFIX=${PREFIX%/}
TARGET="$DESTDIR$PREFIX"

# install.list without comments and blank lines: "dest source mode" per line.
entries() { grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$LIST"; }

# The Exec= value for the binary's final path; quoted only when the path needs it, by the
# Desktop Entry spec (a path with plain characters goes in as it is).
exec_value() {
    local path=$1
    if [[ "$path" =~ ^[A-Za-z0-9/._+-]+$ ]]; then
        printf '%s' "$path"
    else
        local q=${path//\\/\\\\\\\\}
        q=${q//\"/\\\\\"}
        q=${q//\`/\\\\\`}
        q=${q//\$/\\\\\$}
        q=${q//%/%%}
        printf '"%s"' "$q"
    fi
}

case "$ACTION" in
install)
    [ -f "$BIN" ] || die "no binary at $BIN (build it with 'cargo build --release', or pass BIN=)"
    while read -r dest src mode; do
        [ "$src" = BIN ] && src=$BIN || src=$ROOT/$src
        [ -f "$src" ] || die "missing $src"
        install -d "$(dirname "$TARGET/$dest")"
        case "$dest" in
        *.desktop)
            exec=$(exec_value "$PREFIX/bin/serve-doctor")
            tmp=$(mktemp)
            awk -v exec="$exec" '/^Exec=/ { print "Exec=" exec; next } { print }' "$src" >"$tmp"
            install -m "$mode" "$tmp" "$TARGET/$dest"
            rm -f "$tmp"
            ;;
        *) install -m "$mode" "$src" "$TARGET/$dest" ;;
        esac
        echo "installed $TARGET/$dest"
    done < <(entries)
    case ":$PATH:" in
    *":$PREFIX/bin:"*) ;;
    *) echo "note: $PREFIX/bin is not in PATH; the menu entry works anyway, a terminal needs the full path" ;;
    esac
    ;;
uninstall)
    while read -r dest _; do
        if [ -e "$TARGET/$dest" ] || [ -L "$TARGET/$dest" ]; then
            rm -f "$TARGET/$dest"
            echo "removed $TARGET/$dest"
        fi
    done < <(entries)
    ;;
*)
    die "usage: $0 install|uninstall"
    ;;
esac
