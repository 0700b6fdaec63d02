#!/usr/bin/env bash
# The demo: the fault-injectable fleet, the scraper, the MCP server over HTTP, and a
# Prometheus and Alertmanager that send alerts to it, with the
# embedded store in ./data, seeded with past incidents and runbooks. Prints the URLs and
# the token. Safe to run again: it rebuilds what changed and keeps the token.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
scripts/build-images.sh

mkdir -p data
if ! grep -qs '^QS_TOKEN=' .env; then
    secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    {
        echo "# Written by scripts/demo.sh. The token guards the MCP server on 127.0.0.1:8080."
        echo "QS_TOKEN=demo:${secret}"
    } >>.env
    echo "==> wrote a new token to .env"
fi
if ! grep -qs '^QS_FAULT_TOKEN=' .env; then
    {
        echo "# The fleet's services take faults only with this token; the MCP server holds it."
        echo "QS_FAULT_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    } >>.env
    echo "==> wrote a new fault token to .env"
fi
if ! grep -qs '^QS_ALERT_TOKEN=' .env; then
    {
        echo "# Alertmanager's bearer secret for POST /api/alerts (its copy: data/alert-token)."
        echo "QS_ALERT_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    } >>.env
    echo "==> wrote a new alert token to .env"
fi
grep '^QS_ALERT_TOKEN=' .env | tail -1 | cut -d= -f2- | tr -d '\n' >data/alert-token
# Containers run as you, with the Docker socket's group, so ./data stays yours.
sed -i '/^QS_UID=/d;/^QS_GID=/d;/^DOCKER_GID=/d' .env
{
    echo "QS_UID=$(id -u)"
    echo "QS_GID=$(id -g)"
    echo "DOCKER_GID=$(stat -c %g /var/run/docker.sock)"
} >>.env

COMPOSE=(docker-compose)
command -v docker-compose >/dev/null || COMPOSE=(docker compose)
echo "==> ${COMPOSE[*]} up -d"
"${COMPOSE[@]}" up -d --remove-orphans

echo "==> seeding incidents and runbooks"
QS_STORE=sqlite:./data/quantumstate.db target/x86_64-unknown-linux-gnu/release/quantumstate-mcp seed >/dev/null

echo "==> waiting for the fleet to be healthy"
for _ in $(seq 1 60); do
    unhealthy=$(docker ps --filter label=quantumstate.managed=true --format '{{.Names}} {{.Status}}' | grep -vc '(healthy)' || true)
    api=$(curl -fsS http://127.0.0.1:8080/healthz >/dev/null 2>&1 && echo up || echo down)
    [[ $unhealthy == 0 && $api == up ]] && break
    sleep 2
done
docker ps --filter 'name=service' --filter 'name=auth-cache' --filter 'name=qs-scraper' --filter 'name=quantumstate-mcp' --filter 'name=qs-prometheus' --filter 'name=qs-alertmanager' \
    --format '    {{.Names}}\t{{.Status}}'

token=$(grep '^QS_TOKEN=' .env | tail -1 | cut -d= -f2- | cut -d: -f2-)
cat <<MSG

QuantumState is running.
  Console      http://127.0.0.1:8080/?token=${token}
  MCP (HTTP)   http://127.0.0.1:8080/mcp     header  Authorization: Bearer ${token}
  Direct call  curl -s -H 'Authorization: Bearer ${token}' -d '{}' http://127.0.0.1:8080/api/tools/detect_anomalies
  Host CLI     QS_STORE=sqlite:./data/quantumstate.db target/x86_64-unknown-linux-gnu/release/quantumstate-mcp call list_services
  Prometheus   http://127.0.0.1:9090     (scrapes the fleet, rules in monitoring/rules.yml)
  Alertmanager http://127.0.0.1:9093     (posts alerts to /api/alerts; they open incidents)
  Stop         ${COMPOSE[*]} down
MSG
