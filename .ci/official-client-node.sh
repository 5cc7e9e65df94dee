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

# shellcheck source=.ci/emulator.sh
source "$root/.ci/emulator.sh"
start_emulator "official Node client" --max-request-bytes "$max_request_bytes"

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
