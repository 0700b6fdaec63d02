#!/usr/bin/env bash
# A second Docker engine on this machine, as a separate host "b": its own network
# namespace (qs-b) joined to the host by a veth pair (host 10.99.0.1, b 10.99.0.2), its
# own data, exec root and socket (/run/qs-b.sock), a single-node swarm (`swarm` inits it).
# Our images are loaded into it from the first engine. No --live-restore: swarm mode
# refuses it, so stopping the daemon stops its containers (restart policies bring them back).
#
#   scripts/second-engine.sh start   # idempotent; waits until it answers
#   scripts/second-engine.sh swarm   # start, then make it a single-node swarm manager
#   scripts/second-engine.sh stop    # stops the daemon (and so its containers)
#   scripts/second-engine.sh status
#
# nsenter --net, not `ip netns exec` (that remounts /sys and hides the cgroups dockerd
# needs); never --bridge=none in the host namespace (it deletes the first engine's docker0).
set -euo pipefail

NS=qs-b
SOCK=/run/qs-b.sock
ROOT=/var/lib/qs-b
RUN=/run/qs-b
PIDFILE=$RUN/dockerd.pid
HOST_IP=10.99.0.1
B_IP=10.99.0.2
IMAGES=(quantumstate/qs-service:local)

b() { docker -H "unix://$SOCK" "$@"; }

answers() { timeout 5 docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

network() {
    [[ -e /var/run/netns/$NS ]] || ip netns add "$NS"
    if ! ip link show qs-b-h >/dev/null 2>&1; then
        ip link add qs-b-h type veth peer name qs-b-n
        ip link set qs-b-n netns "$NS"
        ip addr add "$HOST_IP/24" dev qs-b-h
        ip link set qs-b-h up
        nsenter --net=/var/run/netns/$NS ip addr add "$B_IP/24" dev qs-b-n
        nsenter --net=/var/run/netns/$NS ip link set qs-b-n up
        nsenter --net=/var/run/netns/$NS ip link set lo up
        nsenter --net=/var/run/netns/$NS ip route add default via "$HOST_IP" || true
    fi
}

load() {
    for img in "${IMAGES[@]}"; do
        if [[ "$(docker image inspect -f '{{.Id}}' "$img")" != "$(b image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)" ]]; then
            echo "==> loading $img into engine b"
            docker save "$img" | b load -q >/dev/null
        fi
    done
}

start() {
    if answers; then load; echo "==> engine b answers on $SOCK"; return 0; fi
    network
    mkdir -p "$ROOT" "$RUN"
    echo "==> starting engine b (netns $NS, $SOCK, $B_IP)"
    # Swarm tries to pull a task's image before each start, even when it is loaded (and
    # there is no registry here): prefer the loaded image.
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 nsenter --net=/var/run/netns/$NS setsid dockerd \
        --data-root "$ROOT/docker" --exec-root "$RUN/exec" -H "unix://$SOCK" \
        --pidfile "$PIDFILE" --bip 172.31.0.1/24 \
        >"$RUN/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        answers && break
        sleep 0.5
    done
    answers || { echo "error: engine b did not answer; $RUN/dockerd.log:" >&2; tail -20 "$RUN/dockerd.log" >&2; exit 1; }
    load
    echo "==> engine b answers on $SOCK"
}

stop() {
    [[ -f $PIDFILE ]] || { echo "==> engine b is not running"; return 0; }
    local pid
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    echo "==> engine b stopped"
}

swarm() {
    start
    if [[ "$(b info --format '{{.Swarm.LocalNodeState}}')" != active ]]; then
        echo "==> swarm init on engine b"
        b swarm init --advertise-addr "$B_IP" >/dev/null
    fi
}

case "${1:-status}" in
    start) start ;;
    swarm) swarm ;;
    stop) stop ;;
    status) if answers; then echo "engine b answers on $SOCK ($B_IP)"; else echo "engine b is not answering"; exit 1; fi ;;
    *) echo "usage: $0 start|swarm|stop|status" >&2; exit 2 ;;
esac
