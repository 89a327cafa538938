# Sourced by tools/* scripts: puts a Node >= 22 first on PATH.
# A fresh machine of our kind has Node 20; then Node 24 is installed from the npm registry
# (package node@24) into the git-ignored .toolchain/ folder and used for everything.
MESH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MESH_TOOLCHAIN="$MESH_ROOT/.toolchain"

mesh_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

mesh_ensure_node() {
  if [ -x "$MESH_TOOLCHAIN/node_modules/.bin/node" ]; then
    export PATH="$MESH_TOOLCHAIN/node_modules/.bin:$PATH"
  fi
  if [ "$(mesh_node_major)" -ge 22 ]; then return 0; fi
  command -v npm >/dev/null || { echo "mesh: npm not found; install Node.js (any version) first" >&2; return 1; }
  echo "mesh: Node $(node --version 2>/dev/null || echo none) is older than 22; installing node@24 into .toolchain/" >&2
  mkdir -p "$MESH_TOOLCHAIN"
  npm install --prefix "$MESH_TOOLCHAIN" --no-save --no-audit --no-fund --loglevel=error node@24 >&2 || return 1
  export PATH="$MESH_TOOLCHAIN/node_modules/.bin:$PATH"
  if [ "$(mesh_node_major)" -lt 22 ]; then echo "mesh: node@24 install did not give a working Node" >&2; return 1; fi
}
