#!/usr/bin/env bash
# Builds the static release binaries (x86_64-unknown-linux-gnu, +crt-static, from
# .cargo/config.toml) and the three FROM-scratch images. Nothing is pulled from a registry.
# Idempotent: cargo and Docker's layer cache make a second run take seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN_DIR=target/x86_64-unknown-linux-gnu/release
# binary  Dockerfile  image
IMAGES=(
    "qs-service services/Dockerfile quantumstate/qs-service:local"
    "qs-scraper scraper/Dockerfile quantumstate/qs-scraper:local"
    "quantumstate-mcp mcp-server/Dockerfile quantumstate/quantumstate-mcp:local"
)

echo "==> cargo build --release --bins"
cargo build --release --bins

for entry in "${IMAGES[@]}"; do
    read -r binary dockerfile tag <<<"$entry"
    [[ -x "$BIN_DIR/$binary" ]] || { echo "error: $BIN_DIR/$binary was not built" >&2; exit 1; }
    echo "==> docker build --target prebuilt -f $dockerfile -t $tag ."
    docker build --quiet --target prebuilt -f "$dockerfile" -t "$tag" . >/dev/null
done
docker images --filter 'reference=quantumstate/*' --format '    {{.Repository}}:{{.Tag}}  {{.Size}}'
