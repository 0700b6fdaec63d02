#!/usr/bin/env bash
# What the console's browser test needs (tests/tests/console.rs): Debian's chromium, Node.js
# with npm, and playwright-core pinned by console-test/package-lock.json. playwright-core
# drives the system chromium and downloads no browser of its own.
# Idempotent: on a ready machine it only checks, in well under a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "error: need root for: $*" >&2; exit 1
    fi
}

packages=()
[[ -x /usr/bin/chromium ]] || packages+=(chromium)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if ((${#packages[@]})); then
    say "installing ${packages[*]} (Debian packages)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# The pinned version, read from the lock file; reinstall only when node_modules differs.
want=$(node -e 'console.log(require("./console-test/package-lock.json").packages["node_modules/playwright-core"].version)')
have=$(node -e 'try { console.log(require("./console-test/node_modules/playwright-core/package.json").version) } catch { console.log("none") }')
if [[ $have != "$want" ]]; then
    say "installing playwright-core $want in console-test/ (npm ci)"
    (cd console-test && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
say "browser test: $(/usr/bin/chromium --version 2>/dev/null | head -1), node $(node --version), playwright-core $want"
