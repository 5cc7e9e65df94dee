#!/usr/bin/env bash
# bqwrite-emulator against Google's official Python client
# (google-cloud-bigquery-storage): issue 2's promise that a client following the
# public API reference works unmodified.
#
# Creates a venv under target/, installs .ci/official-client/requirements.txt
# from PyPI, builds the emulator binary, starts it on free 127.0.0.1 ports,
# waits for its REST port, runs .ci/official-client/seed_flow.py and
# cdc_flow.py (change data capture) and always stops the emulator. Needs
# python3 (3.9+) with venv, cargo, and PyPI.
#
# Environment: PYTHON (default python3), OFFICIAL_CLIENT_VENV (default
# target/official-client-venv), CARGO_TARGET_DIR (honoured),
# OFFICIAL_CLIENT_DEADLINE (seconds for the Python run, default 180).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

python=${PYTHON:-python3}
venv=${OFFICIAL_CLIENT_VENV:-$root/target/official-client-venv}
req=$root/.ci/official-client/requirements.txt
deadline=${OFFICIAL_CLIENT_DEADLINE:-180}
start=$SECONDS

echo "== official client: python venv ($venv)"
stamp=$venv/.requirements.sha256
want_stamp=$({ "$python" --version 2>&1; cat "$req"; } | sha256sum | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want_stamp" ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req"
  echo "$want_stamp" >"$stamp"
fi

# shellcheck source=.ci/emulator.sh
source "$root/.ci/emulator.sh"
start_emulator "official client"

# Readiness: the REST port answers (any HTTP status) within a bounded loop.
ready=0
for _ in $(seq 100); do # up to ~20 s
  if "$venv/bin/python" - "$rest_url" <<'EOF'; then
import sys, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    opener.open(sys.argv[1] + "/bigquery/v2/projects/test-project/datasets/readiness-probe", timeout=1)
except urllib.error.HTTPError:
    pass  # 404 for the probe dataset: the server is up
except OSError:
    sys.exit(1)
EOF
    ready=1
    break
  fi
  kill -0 "$emu_pid" 2>/dev/null || { echo "official client: the emulator died before it was ready" >&2; exit 1; }
  sleep 0.1
done
[[ $ready == 1 ]] || { echo "official client: REST port $rest_url not ready within 20 s" >&2; exit 1; }
echo "emulator: gRPC $grpc_addr, REST $rest_url"

echo "== official client: flows"
export PYTHONDONTWRITEBYTECODE=1
timeout_cmd=()
command -v timeout >/dev/null 2>&1 && timeout_cmd=(timeout -k 5 "$((deadline + 30))")
${timeout_cmd[@]+"${timeout_cmd[@]}"} "$venv/bin/python" "$root/.ci/official-client/seed_flow.py" \
  --grpc "$grpc_addr" --rest "$rest_url" --project test-project --deadline "$deadline"
echo "== official client: change data capture"
${timeout_cmd[@]+"${timeout_cmd[@]}"} "$venv/bin/python" "$root/.ci/official-client/cdc_flow.py" \
  --grpc "$grpc_addr" --rest "$rest_url" --project test-project --deadline "$deadline"
echo "official client: done in $((SECONDS - start)) s"
