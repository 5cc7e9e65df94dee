#!/usr/bin/env bash
# bqwrite-emulator against Google's official Node.js client
# (@google-cloud/bigquery-storage): the flows of .ci/official-client-node/flows.js,
# which use the client's managedwriter as its README and samples do.
#
# Installs the pinned packages with `npm ci` (from package-lock.json, no install
# scripts), builds the emulator binary, starts it on free 127.0.0.1 ports with
# the routing header required, waits for its REST port, runs the flows and
# always stops the emulator. Needs node (20+), npm, cargo, and the npm registry.
#
# Environment: NODE (default node), NPM (default npm), CARGO_TARGET_DIR
# (honoured), OFFICIAL_CLIENT_DEADLINE (seconds for the flows, default 180).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

node=${NODE:-node}
npm=${NPM:-npm}
dir=$root/.ci/official-client-node
deadline=${OFFICIAL_CLIENT_DEADLINE:-180}
# A small request limit, so the oversize flow sends about 1 MiB, not 10.
max_request_bytes=1048576
start=$SECONDS

echo "== official Node client: npm ci ($("$node" --version), npm $("$npm" --version))"
# Reinstall only when the lock file changed since the last install.
stamp=$dir/node_modules/.package-lock.sha256
want_stamp=$({ "$node" --version; cat "$dir/package-lock.json"; } | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want_stamp" ]]; then
  (cd "$dir" && "$npm" ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want_stamp" >"$stamp"
fi

echo "== official Node client: build bqwrite-emulator"
cargo build -q -p bqwrite-emulator --bin bqwrite-emulator
bin=${CARGO_TARGET_DIR:-$root/target}/debug/bqwrite-emulator
[[ -x $bin ]] || { echo "official Node client: no emulator binary at $bin" >&2; exit 1; }

workdir=$(mktemp -d "${TMPDIR:-/tmp}/bqwrite-official-node.XXXXXX")
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

echo "== official Node client: start the emulator"
# Port 0 on both: the OS picks free ports; the emulator prints the bound
# addresses once both listeners are up. The Node client sends the routing
# header on every call, AppendRows included, so it is required here.
NO_COLOR=1 RUST_LOG=${RUST_LOG:-info} "$bin" --host 127.0.0.1 --grpc-port 0 --http-port 0 \
  --project test-project --require-routing-header --max-request-bytes "$max_request_bytes" \
  >"$log" 2>&1 &
emu_pid=$!

grpc_addr= rest_url=
for _ in $(seq 300); do # up to ~30 s
  line=$(grep -m1 '^bqwrite-emulator: gRPC on ' "$log" || true)
  if [[ -n $line ]]; then
    grpc_addr=$(sed -E 's#.*gRPC on http://([0-9.]+:[0-9]+).*#\1#' <<<"$line")
    rest_url=$(sed -E 's#.*REST on (http://[0-9.]+:[0-9]+).*#\1#' <<<"$line")
    break
  fi
  kill -0 "$emu_pid" 2>/dev/null || { echo "official Node client: the emulator exited at start" >&2; exit 1; }
  sleep 0.1
done
if [[ ! $grpc_addr =~ ^127\.0\.0\.1:[0-9]+$ || ! $rest_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then
  echo "official Node client: no bound addresses from the emulator within 30 s (got '${grpc_addr}' '${rest_url}')" >&2
  exit 1
fi

# Readiness: the REST port answers (any HTTP status) within a bounded loop.
ready=0
for _ in $(seq 100); do # up to ~20 s
  if "$node" -e '
    fetch(process.argv[1] + "/bigquery/v2/projects/test-project/datasets/readiness-probe",
          {signal: AbortSignal.timeout(1000)})
      .then(() => process.exit(0), () => process.exit(1));' "$rest_url"; then
    ready=1
    break
  fi
  kill -0 "$emu_pid" 2>/dev/null || { echo "official Node client: the emulator died before it was ready" >&2; exit 1; }
  sleep 0.1
done
[[ $ready == 1 ]] || { echo "official Node client: REST port $rest_url not ready within 20 s" >&2; exit 1; }
echo "emulator: gRPC $grpc_addr, REST $rest_url"

echo "== official Node client: flows"
timeout_cmd=()
command -v timeout >/dev/null 2>&1 && timeout_cmd=(timeout -k 5 "$((deadline + 30))")
flows_start=$SECONDS
${timeout_cmd[@]+"${timeout_cmd[@]}"} "$node" "$dir/flows.js" \
  --grpc "$grpc_addr" --rest "$rest_url" --project test-project --deadline "$deadline" \
  --max-request-bytes "$max_request_bytes"
echo "official Node client: flows in $((SECONDS - flows_start)) s, done in $((SECONDS - start)) s"
