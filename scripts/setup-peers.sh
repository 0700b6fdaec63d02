#!/usr/bin/env bash
# Installs the four peer MCP servers `quantumstate-mcp bench --peers` measures beside ours,
# from the package registries only, into $QS_PEERS_DIR (default $QS_DATA_DIR/peers):
#   docker-mcp 0.2.0 (with mcp<2) and mcp-server-docker 0.3.0 — Python, in venvs on pyenv's
#   Python 3.12.1 (made with uv, itself from PyPI);
#   mcp-grafana 2.1.1 — the Go binary inside its PyPI wheel;
#   kubernetes-mcp-server 0.0.67 — the Go binary of its npm package for linux-amd64, with a
#   kubeconfig whose current context points at an unused loopback port (enough for
#   tools/list; nothing is ever sent to it).
# Idempotent; each peer is installed on its own and one that fails is reported, not fatal.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n ${QS_DATA_DIR:-} ]]; then data=$QS_DATA_DIR
elif [[ -n ${XDG_DATA_HOME:-} ]]; then data=$XDG_DATA_HOME/quantumstate
else data=$HOME/.local/share/quantumstate; fi
dest="${QS_PEERS_DIR:-$data/peers}"
mkdir -p "$dest"
say() { printf '==> %s\n' "$*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=python3
failed=0

# uv, for the Python peers' venvs.
uv=$dest/uv/bin/uv
if [[ ! -x $uv ]]; then
    "$py" -m pip install --quiet --disable-pip-version-check --target "$dest/uv" 'uv==0.9.*' \
        || { say "uv: pip install failed"; failed=1; }
fi
py312=""
if command -v pyenv >/dev/null && p=$(pyenv prefix 3.12.1 2>/dev/null); then py312=$p/bin/python; fi
venv() { # name, entry point, requirements...
    local name=$1 entry=$2; shift 2
    if [[ -x $dest/venv-$name/bin/$entry ]]; then say "$name: $dest/venv-$name"; return; fi
    if [[ -z $py312 ]]; then say "$name: needs Python 3.12 (pyenv prefix 3.12.1 found none)"; failed=1; return; fi
    rm -rf "$dest/venv-$name.partial"
    if "$uv" venv --quiet --python "$py312" "$dest/venv-$name.partial" \
        && VIRTUAL_ENV=$dest/venv-$name.partial "$uv" pip install --quiet --compile-bytecode "$@"; then
        rm -rf "$dest/venv-$name"
        mv "$dest/venv-$name.partial" "$dest/venv-$name"
        # A venv records its own path; recreate the entry point's shebang for the final name.
        sed -i "1s|venv-$name.partial|venv-$name|" "$dest/venv-$name/bin/$entry"
        sed -i "s|venv-$name.partial|venv-$name|g" "$dest/venv-$name/pyvenv.cfg" "$dest/venv-$name/bin/activate" 2>/dev/null
        say "$name: $dest/venv-$name"
    else
        say "$name: install failed"; failed=1
    fi
}
if [[ -x $uv ]]; then
    venv docker-mcp docker-mcp 'docker-mcp==0.2.0' 'mcp<2'
    venv mcp-server-docker mcp-server-docker 'mcp-server-docker==0.3.0'
fi

# mcp-grafana: the Go binary shipped in the wheel.
if [[ ! -x $dest/mcp-grafana ]]; then
    if "$py" -m pip download --quiet --disable-pip-version-check --no-deps 'mcp-grafana==2.1.1' -d "$tmp" \
        && "$py" - "$tmp" "$dest" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/mcp_grafana-2.1.1-*.whl")[0]
out = os.path.join(sys.argv[2], "mcp-grafana.partial")
with open(out, "wb") as f:
    f.write(zipfile.ZipFile(wheel).read("mcp_grafana/bin/mcp-grafana"))
os.chmod(out, 0o755)
os.rename(out, out[: -len(".partial")])
PY
    then say "mcp-grafana: $dest/mcp-grafana"; else say "mcp-grafana: install failed"; failed=1; fi
else say "mcp-grafana: $dest/mcp-grafana"; fi

# kubernetes-mcp-server: the Go binary of the npm package, and a dummy kubeconfig.
if [[ ! -x $dest/kubernetes-mcp-server ]]; then
    if (cd "$tmp" && npm pack --silent 'kubernetes-mcp-server-linux-amd64@0.0.67' >/dev/null) \
        && tar -xzf "$tmp"/kubernetes-mcp-server-linux-amd64-0.0.67.tgz -C "$tmp" \
        && install -m 755 "$tmp/package/bin/kubernetes-mcp-server-linux-amd64" "$dest/kubernetes-mcp-server.partial" \
        && mv "$dest/kubernetes-mcp-server.partial" "$dest/kubernetes-mcp-server"; then
        say "kubernetes-mcp-server: $dest/kubernetes-mcp-server"
    else say "kubernetes-mcp-server: install failed"; failed=1; fi
else say "kubernetes-mcp-server: $dest/kubernetes-mcp-server"; fi
cat > "$dest/kubeconfig" <<'KUBE'
# For kubernetes-mcp-server's tools/list only: no cluster listens on port 9.
apiVersion: v1
kind: Config
clusters:
- name: unused
  cluster: {server: "https://127.0.0.1:9"}
contexts:
- name: unused
  context: {cluster: unused, user: unused}
current-context: unused
users:
- name: unused
  user: {token: unused}
KUBE
exit $failed
