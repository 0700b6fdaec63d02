#!/usr/bin/env bash
# Makes a fresh Debian machine ready to build, test and demo QuantumState:
# Docker engine + docker-compose (started with --live-restore, reusing a daemon that is
# already up), Prometheus, cargo-nextest, and the pinned Python and Node test clients.
# Idempotent: on a ready machine it only checks, in a few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '==> %s\n' "$*"; }
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "error: need root for: $*" >&2; exit 1
    fi
}

docker_up() { docker info >/dev/null 2>&1; }

# --- Docker engine and compose -------------------------------------------------------
if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null; then
    say "installing docker.io and docker-compose (Debian packages)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq docker.io docker-compose >/dev/null
fi
if ! docker_up; then
    say "starting dockerd --live-restore"
    as_root sh -c 'nohup dockerd --live-restore >/var/log/quantumstate-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do docker_up && break; sleep 1; done
    docker_up || { echo "error: dockerd did not come up; see /var/log/quantumstate-dockerd.log" >&2; exit 1; }
fi
say "docker $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

# --- Prometheus and Alertmanager (the metrics-source and alert tests run real ones; the
# demo's images are built from these binaries), and what a second engine needs ---------
missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
# The second engine of the multi-host test (scripts/second-engine.sh) needs ip and nsenter.
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
    say "installing ${missing[*]} (Debian packages)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packages may start daemons on :9090/:9093 where an init system runs; the tests start
# their own on free ports.
say "$(prometheus --version 2>&1 | head -1)"
say "$(prometheus-alertmanager --version 2>&1 | head -1)"

# --- Rust test runner ----------------------------------------------------------------
if ! cargo nextest --version >/dev/null 2>&1; then
    say "installing cargo-nextest"
    cargo install --locked cargo-nextest >/dev/null
fi

# --- Test clients (issue: every client works) ----------------------------------------
if [[ -x scripts/setup-clients.sh ]]; then
    scripts/setup-clients.sh
fi
scripts/setup-model.sh    # all-MiniLM-L6-v2 for hybrid incident/runbook search
scripts/setup-browser.sh  # chromium + playwright-core for the console's browser test
say "setup done"
