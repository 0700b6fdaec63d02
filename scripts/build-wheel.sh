#!/usr/bin/env bash
# Builds the Python wheel that carries the static quantumstate-mcp binary (maturin, `bin`
# bindings; pyproject.toml at the root) into dist/, so that
#   uvx --offline --find-links "$PWD/dist" quantumstate-mcp stdio
# runs the stdio server with nothing else installed. Uses the pinned maturin from
# clients/.venv (scripts/setup-clients.sh installs it). Prints the wheel's path last.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

maturin=clients/.venv/bin/maturin
if [[ ! -x $maturin ]]; then
    maturin=$(command -v maturin) || {
        echo "error: maturin is not installed: run scripts/setup-clients.sh" >&2
        exit 1
    }
fi
mkdir -p dist
# One wheel in dist/: the one built now (uvx --find-links would otherwise pick by version).
rm -f dist/quantumstate_mcp-*.whl
# maturin runs `cargo rustc --profile release --bin quantumstate-mcp` with the workspace's
# .cargo/config.toml (static x86_64 target), so after `cargo build --release` it only packs.
"$maturin" build --release --locked --out dist >&2
wheel=$(ls dist/quantumstate_mcp-*.whl)
echo "$PWD/$wheel"
