#!/usr/bin/env bash
# One-time set-up: system packages (when root and missing), a virtualenv, and the project with all extras.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]} with apt-get"
    for attempt in 1 2 3; do  # a mirror hiccup should not fail a whole CI run
      if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
        break
      fi
      [ "$attempt" = 3 ] && { echo "setup: apt-get failed 3 times" >&2; exit 1; }
      sleep 10
    done
  else
    echo "setup: missing ${need[*]}; install them with your package manager (browser and graph tests will skip)" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade 'pip>=25.1'  # 25.1: `--group` (PEP 735 dependency groups)
.venv/bin/python - <<'PY'
import sys
from importlib.metadata import version

pip = tuple(int(part) for part in version("pip").split(".")[:2])
sys.exit(0 if pip >= (25, 1) else f"setup: pip {version('pip')} cannot install dependency groups (needs >= 25.1)")
PY
# every extra, plus the `dev` dependency group (test and build tools; not a user-facing extra)
.venv/bin/python -m pip install -q -e '.[all]' --group dev
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
