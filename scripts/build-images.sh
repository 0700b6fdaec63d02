#!/usr/bin/env bash
# Builds the static release binaries and the FROM-scratch images of the fleet.
# Idempotent: cargo and Docker's layer cache make a second run take seconds.
# An image whose binary (or Dockerfile) does not exist yet is skipped, and said so.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN_DIR=target/x86_64-unknown-linux-gnu/release
# binary  package  Dockerfile  image tag
IMAGES=(
    "qs-service quantumstate-service services/Dockerfile quantumstate/qs-service:local"
    "qs-scraper quantumstate-scraper scraper/Dockerfile quantumstate/qs-scraper:local"
    "quantumstate-mcp quantumstate-mcp mcp-server/Dockerfile quantumstate/quantumstate-mcp:local"
)
declare -A BUILT=()

echo "==> cargo build --release --bins (static, x86_64-unknown-linux-gnu via .cargo/config.toml)"
if cargo build --release --bins; then
    for entry in "${IMAGES[@]}"; do
        read -r binary _ _ _ <<<"$entry"
        BUILT[$binary]=1
    done
else
    # A crate still being written must not block the others: build package by package.
    echo "==> the workspace build failed; building each package's binaries on its own"
    for entry in "${IMAGES[@]}"; do
        read -r binary package _ _ <<<"$entry"
        if cargo build --release -p "$package" --bins; then
            BUILT[$binary]=1
        elif [[ $package == quantumstate-service ]]; then
            echo "error: qs-service does not build" >&2
            exit 1
        else
            echo "==> $package does not build; its image is skipped"
        fi
    done
fi

for entry in "${IMAGES[@]}"; do
    read -r binary _ dockerfile tag <<<"$entry"
    if [[ -z ${BUILT[$binary]:-} ]]; then
        echo "==> skip $tag: $binary did not build in this run"
    elif [[ ! -x "$BIN_DIR/$binary" ]]; then
        echo "==> skip $tag: no $BIN_DIR/$binary (that crate has no binary yet)"
    elif [[ ! -f "$dockerfile" ]]; then
        echo "==> skip $tag: $dockerfile does not exist yet"
    else
        echo "==> docker build --target prebuilt -f $dockerfile -t $tag ."
        docker build --quiet --target prebuilt -f "$dockerfile" -t "$tag" .
    fi
done

echo "==> images:"
docker images --filter 'reference=quantumstate/*' --format '    {{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}'
