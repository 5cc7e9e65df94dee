#!/usr/bin/env bash
# bqwrite-emulator against Google's official Python client
# (google-cloud-bigquery-storage): issue 2's promise that a client following the
# public API reference works unmodified.
#
# Creates a venv under target/, installs .ci/official-client/requirements.txt
# from PyPI, builds the emulator binary, starts it on free 127.0.0.1 ports,
# waits for its REST port, runs .ci/official-client/seed_flow.py and always
# stops the emulator. Needs python3 (3.9+) with venv, cargo, and PyPI.
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

echo "== official client: build bqwrite-emulator"
cargo build -q -p bqwrite-emulator --bin bqwrite-emulator
bin=${CARGO_TARGET_DIR:-$root/target}/debug/bqwrite-emulator
[[ -x $bin ]] || { echo "official client: no emulator binary at $bin" >&2; exit 1; }

workdir=$(mktemp -d "${TMPDIR:-/tmp}/bqwrite-official-client.XXXXXX")
log=$workdir/emulator.log
emu_pid=
cleanup() {
  local rc=$?
  if [[ -n $emu_pid ]] && kill -0 "$emu_pid" 2>/dev/null; then
    kill "$emu_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$emu_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -f $log ]]; then
    echo "-- emulator log (last 60 lines):" >&2
    tail -n 60 "$log" >&2 || true
  fi
  rm -rf "$workdir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== official client: start the emulator"
# Port 0 on both: the OS picks free ports (no race with a pre-picked port); the
# emulator prints the bound addresses once both listeners are up.
# --require-routing-header: every call must carry x-goog-request-params, as the
# real service needs for routing; the official client always sends it.
NO_COLOR=1 RUST_LOG=${RUST_LOG:-info} "$bin" --host 127.0.0.1 --grpc-port 0 --http-port 0 \
  --project test-project --require-routing-header >"$log" 2>&1 &
emu_pid=$!

grpc_addr= rest_url=
for _ in $(seq 300); do # up to ~30 s
  line=$(grep -m1 '^bqwrite-emulator: gRPC on ' "$log" || true)
  if [[ -n $line ]]; then
    # "bqwrite-emulator: gRPC on http://127.0.0.1:P , REST on http://127.0.0.1:Q/bigquery/v2 ..."
    grpc_addr=$(sed -E 's#.*gRPC on http://([0-9.]+:[0-9]+).*#\1#' <<<"$line")
    rest_url=$(sed -E 's#.*REST on (http://[0-9.]+:[0-9]+).*#\1#' <<<"$line")
    break
  fi
  kill -0 "$emu_pid" 2>/dev/null || { echo "official client: the emulator exited at start" >&2; exit 1; }
  sleep 0.1
done
if [[ ! $grpc_addr =~ ^127\.0\.0\.1:[0-9]+$ || ! $rest_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then
  echo "official client: no bound addresses from the emulator within 30 s (got '${grpc_addr}' '${rest_url}')" >&2
  exit 1
fi

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
echo "official client: done in $((SECONDS - start)) s"
