# Sourced by scripts/serve and scripts/test: makes .venv and installs the project into it
# when pyproject.toml is newer than the last install, so both commands work on a fresh machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FACADE_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
extras="${1:-}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.facade-installed$extras"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  log="$venv/install.log"
  echo "facade: installing into $venv (log: $log)" >&2
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check -e "$root$extras" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    exit 1
  fi
  touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
