#!/usr/bin/env bash
# Builds "Serve Doctor.app" and a zip of it for download (`make bundle` calls this).
#
#   1. binary: `cargo build --release`; on a Mac with both Apple targets installed, one build per
#      architecture joined by `lipo` into a universal binary. BIN=path skips the build and uses
#      that file (any binary: this is how the layout is tested on Linux).
#   2. assembly: target/bundle/Serve Doctor.app/Contents/{Info.plist, PkgInfo, MacOS/serve-doctor,
#      Resources/AppIcon.icns}, Info.plist from bundle/Info.plist.in with the Cargo.toml version.
#   3. signing: ad hoc (`codesign -s -`) by default, which is what a Mac needs to run a bundle
#      built on it; SIGN_IDENTITY="Developer ID Application: Name (TEAMID)" signs for
#      distribution, with the hardened runtime and a secure timestamp, as notarization requires.
#   4. zip: `ditto -c -k --keepParent` (keeps what Finder needs); `zip -r` where there is no ditto.
#   5. notarization, only with a Developer ID and credentials: NOTARY_PROFILE=<keychain profile
#      from `xcrun notarytool store-credentials`>, or APPLE_ID + APPLE_TEAM_ID +
#      APPLE_APP_PASSWORD (an app-specific password). The ticket is stapled to the app and the zip
#      is made again so the download carries it.
#
# Steps whose tools are absent (codesign, lipo, ditto, xcrun off a Mac) are skipped with a message;
# a step the user asked for by name (SIGN_IDENTITY, notarization) fails instead.
#
# Env: BIN, OUT (default target/bundle), CARGO (default cargo), SIGN_IDENTITY (default "-"),
#      NOTARY_PROFILE | APPLE_ID APPLE_TEAM_ID APPLE_APP_PASSWORD, ZIP=0 (no zip).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CARGO=${CARGO:-cargo}
OUT=${OUT:-$ROOT/target/bundle}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # absolute: the zip step runs from inside it
SIGN_IDENTITY=${SIGN_IDENTITY:--}
APP_NAME="Serve Doctor"
EXE=serve-doctor
APP="$OUT/$APP_NAME.app"

say() { echo "bundle: $*"; }
skip() { echo "bundle: skipped: $*"; }
die() {
    echo "bundle: error: $*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# The [package] version. Apple wants plain integers (x.y.z) in both version keys, so a
# pre-release or build suffix ("-beta.1", "+abc") is left out there.
VERSION=$(awk '
    /^\[/ { in_pkg = ($0 == "[package]") }
    in_pkg && /^version[[:space:]]*=/ { gsub(/.*=[[:space:]]*"|".*/, ""); print; exit }
' Cargo.toml)
[ -n "$VERSION" ] || die "no version in Cargo.toml's [package]"
PLIST_VERSION=${VERSION%%[-+]*}

# 1. The binary.
if [ -n "${BIN:-}" ]; then
    [ -f "$BIN" ] || die "BIN=$BIN is not a file"
    say "using $BIN"
else
    targets=()
    if [ "$(uname -s)" = Darwin ] && have rustup && have lipo; then
        installed=$(rustup target list --installed)
        if grep -qx aarch64-apple-darwin <<<"$installed" && grep -qx x86_64-apple-darwin <<<"$installed"; then
            targets=(aarch64-apple-darwin x86_64-apple-darwin)
        fi
    fi
    if [ ${#targets[@]} -eq 2 ]; then
        for t in "${targets[@]}"; do
            say "cargo build --release --target $t"
            "$CARGO" build --release --target "$t"
        done
        BIN="$ROOT/target/universal/$EXE"
        mkdir -p "$(dirname "$BIN")"
        lipo -create -output "$BIN" "$ROOT/target/aarch64-apple-darwin/release/$EXE" \
            "$ROOT/target/x86_64-apple-darwin/release/$EXE"
        say "universal binary: $(lipo -archs "$BIN")"
    else
        if [ "$(uname -s)" = Darwin ]; then
            skip "universal binary (needs lipo and both targets: rustup target add aarch64-apple-darwin x86_64-apple-darwin); building for this Mac only"
        fi
        say "cargo build --release"
        "$CARGO" build --release
        BIN="$ROOT/target/release/$EXE"
    fi
fi
if [ "$(head -c 4 "$BIN" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
    say "note: $BIN is an ELF (Linux) binary: this bundle only shows the layout, it will not run on a Mac"
fi

# 2. Assembly.
rm -rf "$APP"
mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources"
install -m 0755 "$BIN" "$APP/Contents/MacOS/$EXE"
sed "s/@VERSION@/$PLIST_VERSION/g" bundle/Info.plist.in >"$APP/Contents/Info.plist"
grep -q '@[A-Z_]*@' "$APP/Contents/Info.plist" && die "unfilled placeholder in Info.plist"
printf 'APPL????' >"$APP/Contents/PkgInfo"
install -m 0644 resources/AppIcon.icns "$APP/Contents/Resources/AppIcon.icns"
if have plutil; then
    plutil -lint "$APP/Contents/Info.plist" >/dev/null || die "Info.plist does not lint"
fi
say "assembled $APP (version $VERSION)"

# 3. Signing.
if have codesign; then
    if [ "$SIGN_IDENTITY" = - ]; then
        codesign --force --sign - "$APP"
        say "signed ad hoc (runs on this Mac; use SIGN_IDENTITY + notarization to distribute)"
    else
        codesign --force --options runtime --timestamp --sign "$SIGN_IDENTITY" "$APP"
        say "signed by $SIGN_IDENTITY"
    fi
    codesign --verify --strict --verbose=1 "$APP"
elif [ "$SIGN_IDENTITY" = - ]; then
    skip "signing (no codesign here; a Mac signs ad hoc)"
else
    die "SIGN_IDENTITY is set but codesign is not available (signing needs a Mac)"
fi

# 4. Zip.
ZIP_PATH="$OUT/Serve-Doctor-$VERSION-macos.zip"
make_zip() {
    rm -f "$ZIP_PATH"
    if have ditto; then
        ditto -c -k --keepParent "$APP" "$ZIP_PATH"
    elif have zip; then
        (cd "$OUT" && zip -qry "$ZIP_PATH" "$APP_NAME.app")
    else
        skip "zip (neither ditto nor zip is installed)"
        return 0
    fi
    say "zipped $ZIP_PATH"
}
if [ "${ZIP:-1}" != 0 ]; then
    make_zip
fi

# 5. Notarization.
notary=()
if [ -n "${NOTARY_PROFILE:-}" ]; then
    notary=(--keychain-profile "$NOTARY_PROFILE")
elif [ -n "${APPLE_ID:-}" ]; then
    [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ] ||
        die "APPLE_ID needs APPLE_TEAM_ID and APPLE_APP_PASSWORD too"
    notary=(--apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" --password "$APPLE_APP_PASSWORD")
fi
if [ ${#notary[@]} -gt 0 ]; then
    [ "$SIGN_IDENTITY" != - ] || die "notarization needs a Developer ID: set SIGN_IDENTITY"
    have xcrun || die "notarization needs xcrun (a Mac with the Xcode command line tools)"
    [ "${ZIP:-1}" != 0 ] && [ -f "$ZIP_PATH" ] || die "notarization submits the zip: do not set ZIP=0"
    say "notarizing (this waits for Apple's answer)"
    xcrun notarytool submit "$ZIP_PATH" "${notary[@]}" --wait
    xcrun stapler staple "$APP"
    make_zip
    say "notarized and stapled"
else
    skip "notarization (set SIGN_IDENTITY and NOTARY_PROFILE, or APPLE_ID/APPLE_TEAM_ID/APPLE_APP_PASSWORD)"
fi
