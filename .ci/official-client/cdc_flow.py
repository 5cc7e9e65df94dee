#!/usr/bin/env python3
"""bqwrite-emulator's change data capture against Google's official Python client.

Uses seed_flow.py's harness (the samples' BigQueryWriteClient +
writer.AppendRowsStream on an insecure channel, REST v2 with the standard
library) to write BigQuery CDC rows: a proto2 message with the table's columns
plus the pseudo-columns `_CHANGE_TYPE` (UPSERT/DELETE) and
`_CHANGE_SEQUENCE_NUMBER`, appended to the `_default` stream of a table made
through REST tables.insert with `tableConstraints.primaryKey.columns`.

Flows:
  cdc_arrival    300 random upserts and deletes over 25 keys without sequence
                 numbers, in 6 requests: tabledata.list must equal the changes
                 applied in order (the last arrival of a key wins).
  cdc_sequenced  the same with sequence numbers (two sections), sent shuffled:
                 the highest sequence per key wins; then every request sent
                 again (as after a lost answer) changes nothing.
  cdc_refused    `_CHANGE_TYPE` on a table without a primary key is refused
                 (INVALID_ARGUMENT) and nothing is stored; a bad change type
                 is a row error.

Usage: cdc_flow.py --grpc 127.0.0.1:PORT --rest http://127.0.0.1:PORT
                   [--project test-project] [--deadline SECONDS]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading

from google.api_core import exceptions as gexc

import seed_flow as sf
from seed_flow import FDP, Harness, Mismatch, Rest, append_err, append_ok, expect, field, message_class

KEYED_SCHEMA = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "name", "type": "STRING"},
]


def customer_change(msg):
    msg.name = "CustomerChange"
    field(msg, "id", 1, FDP.TYPE_INT64)
    field(msg, "name", 2, FDP.TYPE_STRING)
    field(msg, "_CHANGE_TYPE", 3, FDP.TYPE_STRING)
    field(msg, "_CHANGE_SEQUENCE_NUMBER", 4, FDP.TYPE_STRING)


CustomerChange = message_class("customer_change.proto", customer_change)


def keyed_table(h: Harness, table: str) -> str:
    """tables.insert with a primary key; tables.get must show it back."""
    body = {
        "tableReference": {"projectId": h.project, "datasetId": sf.DATASET, "tableId": table},
        "schema": {"fields": KEYED_SCHEMA},
        "tableConstraints": {"primaryKey": {"columns": ["id"]}},
    }
    h.rest.call("POST", f"/projects/{h.project}/datasets/{sf.DATASET}/tables", body)
    got = h.rest.call("GET", f"/projects/{h.project}/datasets/{sf.DATASET}/tables/{table}")
    key = got.get("tableConstraints", {}).get("primaryKey", {}).get("columns")
    expect(key == ["id"], "tables.get tableConstraints", f"GET .../tables/{table}", ["id"], got)
    return h.client.table_path(h.project, sf.DATASET, table)


def random_changes(seed: int, n: int = 300, keys: int = 25):
    """[(id, name or None, 'UPSERT'/'DELETE')] in the order they happened."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = "DELETE" if rng.random() < 0.3 else "UPSERT"
        name = None if rng.random() < 0.2 else f"name-{i}"
        out.append((rng.randrange(keys), name, kind))
    return out


def model(changes):
    """The table after `changes` in order, as tabledata.list rows sorted by id."""
    table = {}
    for key, name, kind in changes:
        if kind == "DELETE":
            table.pop(key, None)
        else:
            table[key] = name
    return sorted([[str(k), v] for k, v in table.items()], key=lambda r: int(r[0]))


def message(key, name, kind, sequence=None):
    m = CustomerChange()
    m.id = key
    if name is not None:
        m.name = name
    m._CHANGE_TYPE = kind
    if sequence is not None:
        m._CHANGE_SEQUENCE_NUMBER = sequence
    return m


def merged(h: Harness, table: str):
    _, rows = h.rest.rows(sf.DATASET, table)
    return sorted(rows, key=lambda r: int(r[0]))


def flow_arrival(h: Harness) -> None:
    table = "cdc_arrival"
    name = keyed_table(h, table) + "/streams/_default"
    changes = random_changes(1)
    stream = h.open(name, CustomerChange)
    for start in range(0, len(changes), 50):
        rows = [message(*c) for c in changes[start : start + 50]]
        append_ok(stream, h.request(rows), f"AppendRows of CDC rows to {name}")
    h.close_stream(stream)
    want = model(changes)
    expect(merged(h, table) == want, "CDC without sequences: merged table", "tabledata.list", want, merged(h, table))


def flow_sequenced(h: Harness) -> None:
    table = "cdc_sequenced"
    name = keyed_table(h, table) + "/streams/_default"
    changes = random_changes(2)
    # sequence = the change's place among all, as two hexadecimal sections
    sequenced = [message(k, v, t, f"{i // 16:x}/{i % 16:X}") for i, (k, v, t) in enumerate(changes)]
    random.Random(3).shuffle(sequenced)
    requests = [sequenced[s : s + 50] for s in range(0, len(sequenced), 50)]
    stream = h.open(name, CustomerChange)
    for rows in requests:
        append_ok(stream, h.request(rows), f"AppendRows of shuffled CDC rows to {name}")
    want = model(changes)
    expect(merged(h, table) == want, "CDC with sequences: merged table", "tabledata.list", want, merged(h, table))
    for rows in requests:  # every change again, as a client does after a lost answer
        append_ok(stream, h.request(rows), f"AppendRows of the same CDC rows again to {name}")
    h.close_stream(stream)
    expect(merged(h, table) == want, "CDC replayed: merged table unchanged", "tabledata.list", want, merged(h, table))


def flow_refused(h: Harness) -> None:
    plain = h.table("cdc_no_key", KEYED_SCHEMA)
    name = plain + "/streams/_default"
    stream = h.open(name, CustomerChange)
    what = f"AppendRows with _CHANGE_TYPE to {name} (no primary key)"
    e = append_err(stream, h.request([message(1, "x", "UPSERT")]), what, gexc.InvalidArgument, "INVALID_ARGUMENT")
    expect("primary key" in str(e), "the refusal names the missing primary key", what, "'primary key' in message", str(e))
    h.close_stream(stream)
    total, _ = h.rest.rows(sf.DATASET, "cdc_no_key")
    expect(total == 0, "nothing stored after the refusal", "tabledata.list", 0, total)

    keyed = keyed_table(h, "cdc_bad_type") + "/streams/_default"
    stream = h.open(keyed, CustomerChange)
    what = f"AppendRows with _CHANGE_TYPE 'INSERT' to {keyed}"
    e = append_err(stream, h.request([message(1, "x", "INSERT")]), what, gexc.InvalidArgument, "INVALID_ARGUMENT")
    errors = list(getattr(getattr(e, "response", None), "row_errors", []))
    expect(
        len(errors) == 1 and "_CHANGE_TYPE" in errors[0].message,
        "row error naming _CHANGE_TYPE",
        what,
        "one row error about _CHANGE_TYPE",
        errors or str(e),
    )
    h.close_stream(stream)


FLOWS = [("cdc_arrival", flow_arrival), ("cdc_sequenced", flow_sequenced), ("cdc_refused", flow_refused)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--rest", required=True)
    ap.add_argument("--project", default="test-project")
    ap.add_argument("--deadline", type=float, default=180.0)
    args = ap.parse_args()

    def abort():
        print(f"official client (cdc): FAILED: no result within {args.deadline}s", file=sys.stderr, flush=True)
        os._exit(2)

    watchdog = threading.Timer(args.deadline, abort)
    watchdog.daemon = True
    watchdog.start()
    rest = Rest(args.rest, args.project)
    rest.create_dataset(sf.DATASET)
    h = Harness(args.grpc, rest, args.project)
    failed = []
    try:
        for name, flow in FLOWS:
            try:
                flow(h)
                print(f"ok   {name}")
            except Mismatch as e:
                failed.append(name)
                print(f"FAIL {name}: {e}", file=sys.stderr)
            except Exception as e:  # noqa: BLE001 - the client raised something unexpected
                failed.append(name)
                print(f"FAIL {name}: unexpected {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        h.close()
        watchdog.cancel()
    print(f"official client (cdc): {len(FLOWS) - len(failed)} flows passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
