#!/usr/bin/env bash
# Builds the static release binaries (x86_64-unknown-linux-gnu, +crt-static, from
# .cargo/config.toml) and the FROM-scratch images (the three of ours, and the demo's
# Prometheus and Alertmanager from Debian's binaries). Nothing is pulled from a registry.
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
# The demo's Prometheus and Alertmanager, from Debian's binaries (scripts/setup.sh installs
# them): the binaries, libc, the loader and their templates, in a FROM-scratch image.
if command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null; then
    root=target/monitoring-root
    rm -rf "$root" && mkdir -p "$root/bin" "$root/lib/x86_64-linux-gnu" "$root/lib64"
    cp "$(command -v prometheus)" "$root/bin/prometheus"
    cp "$(command -v prometheus-alertmanager)" "$root/bin/alertmanager"
    cp -L /lib/x86_64-linux-gnu/libc.so.6 "$root/lib/x86_64-linux-gnu/"
    cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
    # Alertmanager's default notification templates and Prometheus's web assets.
    mkdir -p "$root/usr/share" && cp -rL /usr/share/prometheus "$root/usr/share/"
    echo "==> docker build -f monitoring/Dockerfile -t quantumstate/monitoring:local $root"
    docker build --quiet -f monitoring/Dockerfile -t quantumstate/monitoring:local "$root" >/dev/null
else
    echo "==> skipping quantumstate/monitoring:local: prometheus and prometheus-alertmanager are not installed (scripts/setup.sh installs them)"
fi
docker images --filter 'reference=quantumstate/*' --format '    {{.Repository}}:{{.Tag}}  {{.Size}}'
