# Shared by the official-client scripts (sourced, not run): build the
# bqwrite-emulator binary, start it on free 127.0.0.1 ports with the routing
# header required, and wait for the addresses it bound. Always stops it on
# exit, printing its log's tail when the script failed.
#
#   start_emulator LABEL [EXTRA EMULATOR ARGS...]
#
# LABEL prefixes messages ("official client"). Sets: bin, workdir, log,
# emu_pid, grpc_addr (127.0.0.1:P), rest_url (http://127.0.0.1:Q). Expects
# $root (the repository) to be set. Readiness beyond the bound addresses is
# the caller's to probe, with its own language.

emu_pid=
cleanup() {
  local rc=$?
  if [[ -n $emu_pid ]] && kill -0 "$emu_pid" 2>/dev/null; then
    kill "$emu_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$emu_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -f ${log:-} ]]; then
    echo "-- emulator log (last 60 lines):" >&2
    tail -n 60 "$log" >&2 || true
  fi
  [[ -n ${workdir:-} ]] && rm -rf "$workdir"
  exit "$rc"
}

start_emulator() {
  local label=$1
  shift
  echo "== $label: build bqwrite-emulator"
  cargo build -q -p bqwrite-emulator --bin bqwrite-emulator
  bin=${CARGO_TARGET_DIR:-$root/target}/debug/bqwrite-emulator
  [[ -x $bin ]] || { echo "$label: no emulator binary at $bin" >&2; exit 1; }

  workdir=$(mktemp -d "${TMPDIR:-/tmp}/bqwrite-official-client.XXXXXX")
  log=$workdir/emulator.log
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  echo "== $label: start the emulator"
  # Port 0 on both: the OS picks free ports (no race with a pre-picked port);
  # the emulator prints the bound addresses once both listeners are up.
  # --require-routing-header: every call must carry x-goog-request-params, as
  # the real service needs for routing; Google's clients always send it.
  NO_COLOR=1 RUST_LOG=${RUST_LOG:-info} "$bin" --host 127.0.0.1 --grpc-port 0 --http-port 0 \
    --project test-project --require-routing-header "$@" >"$log" 2>&1 &
  emu_pid=$!

  grpc_addr= rest_url=
  local line
  for _ in $(seq 300); do # up to ~30 s
    line=$(grep -m1 '^bqwrite-emulator: gRPC on ' "$log" || true)
    if [[ -n $line ]]; then
      # "bqwrite-emulator: gRPC on http://127.0.0.1:P , REST on http://127.0.0.1:Q/bigquery/v2 ..."
      grpc_addr=$(sed -E 's#.*gRPC on http://([0-9.]+:[0-9]+).*#\1#' <<<"$line")
      rest_url=$(sed -E 's#.*REST on (http://[0-9.]+:[0-9]+).*#\1#' <<<"$line")
      break
    fi
    kill -0 "$emu_pid" 2>/dev/null || { echo "$label: the emulator exited at start" >&2; exit 1; }
    sleep 0.1
  done
  if [[ ! $grpc_addr =~ ^127\.0\.0\.1:[0-9]+$ || ! $rest_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then
    echo "$label: no bound addresses from the emulator within 30 s (got '${grpc_addr}' '${rest_url}')" >&2
    exit 1
  fi
}
