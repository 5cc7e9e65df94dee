#!/usr/bin/env python3
"""bqwrite-emulator against Google's official Python client.

Drives a running bqwrite-emulator with google-cloud-bigquery-storage exactly as
Google's public samples do (BigQueryWriteClient + writer.AppendRowsStream with a
request template carrying the writer schema), pointed at the emulator through an
insecure gRPC channel handed to the generated transport: the way to aim a GAPIC
client at a plaintext endpoint (this client reads no emulator environment
variable; with a channel given it looks up no credentials, so none are needed).
Datasets and tables are created, and rows read back, through the emulator's
BigQuery REST v2 subset with the standard library only.

Flows:
  pending  the "append rows pending" sample: PENDING stream, Alice/Bob at offset
           0, Charles at offset 2 (stream name and schema omitted on the second
           request, as the client does), finalize (row_count 3), batch commit;
           nothing visible before the commit, the 3 rows after.
  default  the `_default` stream: 2 rows without offsets, visible at once.
  errors   through the client: an already-written offset -> ALREADY_EXISTS
           (StorageError OFFSET_ALREADY_EXISTS), beyond the end -> OUT_OF_RANGE,
           a row missing a REQUIRED column -> INVALID_ARGUMENT with row_errors;
           the connection stays usable and the rejected rows are not stored.
  types    the "append rows proto2" sample's row of every type on a COMMITTED
           stream, read back through tabledata.list.

Usage: seed_flow.py --grpc 127.0.0.1:PORT --rest http://127.0.0.1:PORT
                    [--project test-project] [--deadline SECONDS]
Exit status 0 when every flow passes; 1 with a message naming the request, the
expectation and the answer otherwise.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import secrets
import sys
import threading
import traceback
import urllib.error
import urllib.parse
import urllib.request

import grpc
from google.api_core import exceptions as gexc
from google.cloud import bigquery_storage_v1
from google.cloud.bigquery_storage_v1 import types, writer
from google.cloud.bigquery_storage_v1.services.big_query_write.transports import (
    BigQueryWriteGrpcTransport,
)
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

# Unique per run, so the script can run again against a long-lived emulator.
DATASET = f"official_client_{secrets.token_hex(4)}"
RPC_TIMEOUT = 15.0  # seconds, every unary call and every append's answer
HTTP_TIMEOUT = 10.0

FDP = descriptor_pb2.FieldDescriptorProto


class Mismatch(Exception):
    """The emulator answered something other than BigQuery would."""


def expect(cond: bool, what: str, request: str, expected, got) -> None:
    if not cond:
        raise Mismatch(f"{what}\n    request:  {request}\n    expected: {expected}\n    got:      {got}")


# --------------------------------------------------------------------------
# REST v2 (standard library only, no proxies, 127.0.0.1 only)


class Rest:
    def __init__(self, base: str, project: str) -> None:
        host = urllib.parse.urlsplit(base).hostname
        if host != "127.0.0.1":
            sys.exit(f"seed_flow.py: --rest must point at 127.0.0.1, got {base!r}")
        self.base = base.rstrip("/") + "/bigquery/v2"
        self.project = project
        # Never route 127.0.0.1 through an HTTP(S)_PROXY from the environment.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body=None, ok=(200,)):
        url = self.base + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        desc = f"{method} {path}" + ("" if body is None else f" {json.dumps(body)}")
        try:
            with self.opener.open(req, timeout=HTTP_TIMEOUT) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode(errors="replace")
        except OSError as e:  # refused, reset, timed out
            raise Mismatch(f"REST call failed\n    request:  {desc}\n    got:      {type(e).__name__}: {e}") from None
        expect(status in ok, "REST call failed", desc, f"HTTP {ok}", f"HTTP {status} {text[:500]}")
        return json.loads(text) if text else None

    def create_dataset(self, dataset: str) -> None:
        self.call(
            "POST",
            f"/projects/{self.project}/datasets",
            {"datasetReference": {"projectId": self.project, "datasetId": dataset}},
        )

    def create_table(self, dataset: str, table: str, fields: list) -> None:
        got = self.call(
            "POST",
            f"/projects/{self.project}/datasets/{dataset}/tables",
            {
                "tableReference": {"projectId": self.project, "datasetId": dataset, "tableId": table},
                "schema": {"fields": fields},
            },
        )
        names = [f.get("name") for f in got.get("schema", {}).get("fields", [])]
        expect(
            names == [f["name"] for f in fields],
            "tables.insert returned a different schema",
            f"POST .../datasets/{dataset}/tables {table}",
            [f["name"] for f in fields],
            names,
        )

    def rows(self, dataset: str, table: str):
        """tabledata.list: (totalRows as int, [[v, ...], ...])."""
        path = f"/projects/{self.project}/datasets/{dataset}/tables/{table}/data"
        got = self.call("GET", path)
        expect(
            got.get("kind") == "bigquery#tableDataList" and isinstance(got.get("totalRows"), str),
            "tabledata.list response shape",
            f"GET {path}",
            'kind "bigquery#tableDataList", totalRows as a string',
            got,
        )
        rows = [[cell["v"] for cell in row["f"]] for row in got.get("rows", [])]
        return int(got["totalRows"]), rows


# --------------------------------------------------------------------------
# Row messages built at run time (no protoc), proto2 like the samples' .proto


def message_class(file_name: str, build):
    """Builds a proto2 file with one top-level message and returns its class.

    No package, like the samples' .proto files: the DescriptorProto sent as the
    writer_schema stands alone, so nested type names must resolve without one
    (".SampleData.SampleStruct"); BigQuery rejects a package-qualified name.
    """
    fdp = descriptor_pb2.FileDescriptorProto(name=file_name, syntax="proto2")
    msg = fdp.message_type.add()
    build(msg)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName(msg.name)
    return message_factory.GetMessageClass(desc)


def field(msg, name, number, ftype, label=FDP.LABEL_OPTIONAL, type_name=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name


def customer_record(msg):
    # The samples' customer_record.proto:
    #   message CustomerRecord { optional string customer_name = 1; optional int64 row_num = 2; }
    msg.name = "CustomerRecord"
    field(msg, "customer_name", 1, FDP.TYPE_STRING)
    field(msg, "row_num", 2, FDP.TYPE_INT64)


CUSTOMER_SCHEMA = [
    {"name": "customer_name", "type": "STRING", "mode": "NULLABLE"},
    {"name": "row_num", "type": "INTEGER", "mode": "REQUIRED"},
]


def sample_data(msg):
    # The samples' sample_data.proto (append_rows_proto2).
    msg.name = "SampleData"
    sub = msg.nested_type.add(name="SampleStruct")
    field(sub, "sub_int_col", 1, FDP.TYPE_INT64)
    rng = msg.nested_type.add(name="RangeValue")
    field(rng, "start", 1, FDP.TYPE_INT32)
    field(rng, "end", 2, FDP.TYPE_INT32)
    field(msg, "bool_col", 1, FDP.TYPE_BOOL)
    field(msg, "bytes_col", 2, FDP.TYPE_BYTES)
    field(msg, "float64_col", 3, FDP.TYPE_DOUBLE)
    field(msg, "int64_col", 4, FDP.TYPE_INT64)
    field(msg, "string_col", 5, FDP.TYPE_STRING)
    field(msg, "date_col", 6, FDP.TYPE_INT32)
    field(msg, "datetime_col", 7, FDP.TYPE_STRING)
    field(msg, "geography_col", 8, FDP.TYPE_STRING)
    field(msg, "numeric_col", 9, FDP.TYPE_STRING)
    field(msg, "bignumeric_col", 10, FDP.TYPE_STRING)
    field(msg, "time_col", 11, FDP.TYPE_STRING)
    field(msg, "timestamp_col", 12, FDP.TYPE_INT64)
    field(msg, "int64_list", 13, FDP.TYPE_INT64, FDP.LABEL_REPEATED)
    field(msg, "struct_col", 14, FDP.TYPE_MESSAGE, type_name=".SampleData.SampleStruct")
    field(
        msg,
        "struct_list",
        15,
        FDP.TYPE_MESSAGE,
        FDP.LABEL_REPEATED,
        type_name=".SampleData.SampleStruct",
    )
    field(msg, "range_date", 16, FDP.TYPE_MESSAGE, type_name=".SampleData.RangeValue")
    field(msg, "row_num", 17, FDP.TYPE_INT64, FDP.LABEL_REQUIRED)


SAMPLE_SCHEMA = [
    {"name": "bool_col", "type": "BOOLEAN"},
    {"name": "bytes_col", "type": "BYTES"},
    {"name": "date_col", "type": "DATE"},
    {"name": "datetime_col", "type": "DATETIME"},
    {"name": "float64_col", "type": "FLOAT"},
    {"name": "geography_col", "type": "GEOGRAPHY"},
    {"name": "int64_col", "type": "INTEGER"},
    {"name": "numeric_col", "type": "NUMERIC"},
    {"name": "bignumeric_col", "type": "BIGNUMERIC"},
    {"name": "row_num", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "string_col", "type": "STRING"},
    {"name": "time_col", "type": "TIME"},
    {"name": "timestamp_col", "type": "TIMESTAMP"},
    {"name": "int64_list", "type": "INTEGER", "mode": "REPEATED"},
    {"name": "struct_col", "type": "RECORD", "fields": [{"name": "sub_int_col", "type": "INTEGER"}]},
    {
        "name": "struct_list",
        "type": "RECORD",
        "mode": "REPEATED",
        "fields": [{"name": "sub_int_col", "type": "INTEGER"}],
    },
    {"name": "range_date", "type": "RANGE", "rangeElementType": {"type": "DATE"}},
]


# --------------------------------------------------------------------------
# The official client, as the samples use it


class Harness:
    def __init__(self, grpc_addr: str, rest: Rest, project: str) -> None:
        host = grpc_addr.rsplit(":", 1)[0]
        if host != "127.0.0.1":
            sys.exit(f"seed_flow.py: --grpc must be 127.0.0.1:PORT, got {grpc_addr!r}")
        # An emulator speaks plaintext gRPC: hand the generated transport an
        # insecure channel (credentials are ignored when a channel is given).
        # grpc.enable_http_proxy=0: never send 127.0.0.1 through an http_proxy.
        self.channel = grpc.insecure_channel(grpc_addr, options=[("grpc.enable_http_proxy", 0)])
        try:
            grpc.channel_ready_future(self.channel).result(timeout=RPC_TIMEOUT)
        except grpc.FutureTimeoutError:
            raise Mismatch(f"gRPC channel to {grpc_addr} not ready within {RPC_TIMEOUT}s")
        transport = BigQueryWriteGrpcTransport(channel=self.channel)
        self.client = bigquery_storage_v1.BigQueryWriteClient(transport=transport)
        self.rest = rest
        self.project = project
        self.streams: list[writer.AppendRowsStream] = []

    def close(self) -> None:
        for s in self.streams:
            try:
                s.close()
            except Exception:
                pass
        self.channel.close()

    def table(self, table: str, fields: list) -> str:
        self.rest.create_table(DATASET, table, fields)
        return self.client.table_path(self.project, DATASET, table)

    def create_stream(self, parent: str, stream_type) -> types.WriteStream:
        ws = types.WriteStream()
        ws.type_ = stream_type
        got = self.client.create_write_stream(parent=parent, write_stream=ws, timeout=RPC_TIMEOUT)
        expect(
            got.name.startswith(parent + "/streams/") and got.type_ == stream_type,
            "CreateWriteStream answer",
            f"CreateWriteStream(parent={parent}, type={stream_type.name})",
            f"name under {parent}/streams/, type {stream_type.name}",
            f"name {got.name!r}, type {got.type_.name}",
        )
        return got

    def open(self, stream_name: str, msg_cls) -> writer.AppendRowsStream:
        """The samples' request template: write_stream + writer_schema."""
        template = types.AppendRowsRequest()
        template.write_stream = stream_name
        proto_schema = types.ProtoSchema()
        proto_descriptor = descriptor_pb2.DescriptorProto()
        msg_cls.DESCRIPTOR.CopyToProto(proto_descriptor)
        proto_schema.proto_descriptor = proto_descriptor
        proto_data = types.AppendRowsRequest.ProtoData()
        proto_data.writer_schema = proto_schema
        template.proto_rows = proto_data
        stream = writer.AppendRowsStream(self.client, template)
        self.streams.append(stream)
        return stream

    @staticmethod
    def request(rows, offset=None) -> types.AppendRowsRequest:
        proto_rows = types.ProtoRows()
        for row in rows:
            proto_rows.serialized_rows.append(row.SerializeToString())
        req = types.AppendRowsRequest()
        if offset is not None:
            req.offset = offset
        proto_data = types.AppendRowsRequest.ProtoData()
        proto_data.rows = proto_rows
        req.proto_rows = proto_data
        return req

    def close_stream(self, stream: writer.AppendRowsStream) -> None:
        stream.close()
        self.streams.remove(stream)


def append_ok(stream, req, what: str, expected_offset=None) -> types.AppendRowsResponse:
    try:
        resp = stream.send(req).result(timeout=RPC_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - report whatever the client raised
        raise Mismatch(
            f"append failed\n    request:  {what}\n    expected: an AppendResult\n"
            f"    got:      {type(e).__name__}: {e}"
        ) from None
    got_offset = resp.append_result.offset if "offset" in resp.append_result else None
    if expected_offset is not None:
        expect(
            got_offset == expected_offset,
            "AppendResult.offset",
            what,
            expected_offset,
            f"{got_offset} (response {resp})",
        )
    expect(not resp.row_errors, "row_errors on a good append", what, "none", list(resp.row_errors))
    return resp


def append_err(stream, req, what: str, exc_type, code_name: str):
    """Sends a request the emulator must refuse in-band; returns the exception."""
    fut = stream.send(req)
    try:
        resp = fut.result(timeout=RPC_TIMEOUT)
    except exc_type as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise Mismatch(
            f"wrong error\n    request:  {what}\n    expected: {exc_type.__name__} ({code_name})\n"
            f"    got:      {type(e).__name__}: {e}"
        ) from None
    raise Mismatch(
        f"append accepted\n    request:  {what}\n    expected: {exc_type.__name__} ({code_name})\n"
        f"    got:      success {resp}"
    )


def storage_errors(exc) -> list:
    """The StorageErrors packed in an in-band error's google.rpc.Status.details."""
    out = []
    resp = getattr(exc, "response", None)
    if resp is None:
        return out
    for any_pb in resp.error.details:
        se = types.StorageError.pb()()
        if any_pb.Unpack(se):
            out.append(types.StorageError.wrap(se))
    return out


def visible(h: Harness, table: str):
    return h.rest.rows(DATASET, table)


# --------------------------------------------------------------------------
# Flows


def flow_pending(h: Harness) -> None:
    """Google's append_rows_pending sample, step by step."""
    table = "customer_records"
    parent = h.table(table, CUSTOMER_SCHEMA)
    CustomerRecord = message_class("customer_record.proto", customer_record)

    def row(row_num, name):
        r = CustomerRecord()
        r.row_num = row_num
        r.customer_name = name
        return r

    ws = h.create_stream(parent, types.WriteStream.Type.PENDING)
    # CreateWriteStream returns the table's schema (the reference: "It is only
    # returned in CreateWriteStream response"); clients build rows from it.
    got_schema = [(f.name, f.type_.name, f.mode.name) for f in ws.table_schema.fields]
    want_schema = [("customer_name", "STRING", "NULLABLE"), ("row_num", "INT64", "REQUIRED")]
    expect(
        got_schema == want_schema,
        "CreateWriteStream table_schema",
        f"CreateWriteStream(parent={parent}, type=PENDING)",
        want_schema,
        got_schema,
    )
    stream = h.open(ws.name, CustomerRecord)
    # The first request: the template (write_stream, writer_schema) merged in.
    f1 = stream.send(h.request([row(1, "Alice"), row(2, "Bob")], offset=0))
    # The second request carries neither write_stream nor writer_schema.
    f2 = stream.send(h.request([row(3, "Charles")], offset=2))
    for fut, off in ((f1, 0), (f2, 2)):
        try:
            resp = fut.result(timeout=RPC_TIMEOUT)
        except Exception as e:  # noqa: BLE001
            raise Mismatch(
                f"append failed\n    request:  AppendRows offset {off} on {ws.name}\n"
                f"    expected: an AppendResult\n    got:      {type(e).__name__}: {e}"
            ) from None
        expect(
            resp.append_result.offset == off,
            "AppendResult.offset",
            f"AppendRows offset {off}",
            off,
            resp,
        )
    h.close_stream(stream)

    total, rows = visible(h, table)
    expect(total == 0 and not rows, "PENDING rows visible before commit", "tabledata.list", "0 rows", rows)

    fin = h.client.finalize_write_stream(name=ws.name, timeout=RPC_TIMEOUT)
    expect(fin.row_count == 3, "FinalizeWriteStream row_count", f"Finalize({ws.name})", 3, fin.row_count)
    total, rows = visible(h, table)
    expect(total == 0 and not rows, "finalized rows visible before commit", "tabledata.list", "0 rows", rows)

    req = types.BatchCommitWriteStreamsRequest()
    req.parent = parent
    req.write_streams = [ws.name]
    commit = h.client.batch_commit_write_streams(req, timeout=RPC_TIMEOUT)
    expect(
        not commit.stream_errors and commit.commit_time is not None and commit._pb.HasField("commit_time"),
        "BatchCommitWriteStreams answer",
        f"BatchCommit({parent}, [{ws.name}])",
        "commit_time set, no stream_errors",
        commit,
    )

    total, rows = visible(h, table)
    want = [["Alice", "1"], ["Bob", "2"], ["Charles", "3"]]
    expect(total == 3, "totalRows after commit", "tabledata.list", 3, total)
    expect(sorted(rows, key=lambda r: r[1]) == want, "rows after commit", "tabledata.list", want, rows)

    got = h.client.get_write_stream(name=ws.name, timeout=RPC_TIMEOUT)
    expect(
        got.name == ws.name and got.type_ == types.WriteStream.Type.PENDING and got._pb.HasField("commit_time"),
        "GetWriteStream after commit",
        f"GetWriteStream({ws.name})",
        "the PENDING stream with commit_time set",
        got,
    )


def flow_default(h: Harness) -> None:
    """The _default stream: committed semantics, no offsets."""
    table = "default_stream"
    h.table(table, CUSTOMER_SCHEMA)
    CustomerRecord = message_class("customer_record_default.proto", customer_record)
    name = h.client.write_stream_path(h.project, DATASET, table, "_default")

    def row(row_num, name_):
        r = CustomerRecord()
        r.row_num = row_num
        r.customer_name = name_
        return r

    stream = h.open(name, CustomerRecord)
    resp = append_ok(stream, h.request([row(1, "Dana")]), f"AppendRows to {name} (no offset)")
    # "The offset will not be set if appending using default streams."
    expect(
        "offset" not in resp.append_result,
        "AppendResult.offset on _default",
        f"AppendRows to {name}",
        "unset",
        resp.append_result,
    )
    total, rows = visible(h, table)
    expect(total == 1 and rows == [["Dana", "1"]], "_default row visible at once", "tabledata.list", [["Dana", "1"]], rows)
    append_ok(stream, h.request([row(2, "Eve")]), f"AppendRows to {name} (no offset, 2nd request)")
    h.close_stream(stream)
    total, rows = visible(h, table)
    want = [["Dana", "1"], ["Eve", "2"]]
    expect(total == 2 and sorted(rows, key=lambda r: r[1]) == want, "_default rows", "tabledata.list", want, rows)


def flow_errors(h: Harness) -> None:
    """In-band errors through the official client; the connection survives."""
    table = "error_cases"
    parent = h.table(table, CUSTOMER_SCHEMA)
    CustomerRecord = message_class("customer_record_errors.proto", customer_record)

    def row(row_num=None, name=None):
        r = CustomerRecord()
        if row_num is not None:
            r.row_num = row_num
        if name is not None:
            r.customer_name = name
        return r

    ws = h.create_stream(parent, types.WriteStream.Type.COMMITTED)
    stream = h.open(ws.name, CustomerRecord)
    append_ok(stream, h.request([row(1, "a"), row(2, "b")], offset=0), "AppendRows offset 0 (2 rows)", 0)

    # An offset already written: ALREADY_EXISTS, StorageError OFFSET_ALREADY_EXISTS.
    what = "AppendRows offset 0 again (already written)"
    e = append_err(stream, h.request([row(9, "dup")], offset=0), what, gexc.AlreadyExists, "ALREADY_EXISTS")
    codes = [se.code for se in storage_errors(e)]
    expect(
        types.StorageError.StorageErrorCode.OFFSET_ALREADY_EXISTS in codes,
        "StorageError in the ALREADY_EXISTS status details",
        what,
        "OFFSET_ALREADY_EXISTS",
        f"{codes} (response {e.response})",
    )

    # Beyond the end: OUT_OF_RANGE, StorageError OFFSET_OUT_OF_RANGE.
    what = "AppendRows offset 10 (end is 2)"
    e = append_err(stream, h.request([row(9, "far")], offset=10), what, gexc.OutOfRange, "OUT_OF_RANGE")
    codes = [se.code for se in storage_errors(e)]
    expect(
        types.StorageError.StorageErrorCode.OFFSET_OUT_OF_RANGE in codes,
        "StorageError in the OUT_OF_RANGE status details",
        what,
        "OFFSET_OUT_OF_RANGE",
        f"{codes} (response {e.response})",
    )

    # A row missing a REQUIRED column: the whole request is refused.
    what = "AppendRows offset 2, rows [ok, row_num missing (REQUIRED)]"
    e = append_err(
        stream, h.request([row(3, "ok"), row(None, "no-row-num")], offset=2), what, gexc.InvalidArgument, "INVALID_ARGUMENT"
    )
    row_errors = list(e.response.row_errors) if getattr(e, "response", None) is not None else []
    expect(
        len(row_errors) == 1
        and row_errors[0].index == 1
        and row_errors[0].code == types.RowError.RowErrorCode.FIELDS_ERROR
        and "row_num" in row_errors[0].message.lower(),
        "row_errors of a row missing a REQUIRED column",
        what,
        "one RowError index 1, FIELDS_ERROR, message naming row_num",
        row_errors,
    )

    # The connection is still usable and nothing of the refused requests was stored.
    append_ok(stream, h.request([row(3, "c")], offset=2), "AppendRows offset 2 after the errors", 2)
    h.close_stream(stream)
    total, rows = visible(h, table)
    want = [["a", "1"], ["b", "2"], ["c", "3"]]
    expect(total == 3 and sorted(rows, key=lambda r: r[1]) == want, "rows after the errors", "tabledata.list", want, rows)

    # BatchCommit of a stream that is not PENDING: nothing committed, a
    # per-stream error (INVALID_STREAM_TYPE) and no commit_time.
    req = types.BatchCommitWriteStreamsRequest(parent=parent, write_streams=[ws.name])
    commit = h.client.batch_commit_write_streams(req, timeout=RPC_TIMEOUT)
    codes = [(se.code, se.entity) for se in commit.stream_errors]
    expect(
        codes == [(types.StorageError.StorageErrorCode.INVALID_STREAM_TYPE, ws.name)]
        and not commit._pb.HasField("commit_time"),
        "BatchCommit of a COMMITTED stream",
        f"BatchCommit({parent}, [{ws.name}])",
        "stream_errors [INVALID_STREAM_TYPE for the stream], no commit_time",
        commit,
    )
    # BatchCommit of a PENDING stream not finalized: INVALID_STREAM_STATE.
    pending = h.create_stream(parent, types.WriteStream.Type.PENDING)
    req = types.BatchCommitWriteStreamsRequest(parent=parent, write_streams=[pending.name])
    commit = h.client.batch_commit_write_streams(req, timeout=RPC_TIMEOUT)
    codes = [(se.code, se.entity) for se in commit.stream_errors]
    expect(
        codes == [(types.StorageError.StorageErrorCode.INVALID_STREAM_STATE, pending.name)]
        and not commit._pb.HasField("commit_time"),
        "BatchCommit of a PENDING stream not finalized",
        f"BatchCommit({parent}, [{pending.name}])",
        "stream_errors [INVALID_STREAM_STATE for the stream], no commit_time",
        commit,
    )

    # A fresh connection to a finalized stream is refused too (STREAM_FINALIZED).
    h.client.finalize_write_stream(name=ws.name, timeout=RPC_TIMEOUT)
    stream = h.open(ws.name, CustomerRecord)
    what = f"AppendRows to finalized {ws.name}"
    e = append_err(stream, h.request([row(4, "late")], offset=3), what, gexc.GoogleAPICallError, "STREAM_FINALIZED")
    codes = [se.code for se in storage_errors(e)]
    expect(
        types.StorageError.StorageErrorCode.STREAM_FINALIZED in codes,
        "StorageError of an append to a finalized stream",
        what,
        "STREAM_FINALIZED",
        f"{type(e).__name__} {codes}: {e}",
    )


def flow_types(h: Harness) -> None:
    """The append_rows_proto2 sample's rows (every type) on a COMMITTED stream."""
    table = "sample_data"
    parent = h.table(table, SAMPLE_SCHEMA)
    SampleData = message_class("sample_data.proto", sample_data)

    epoch = datetime.date(1970, 1, 1)
    ts = datetime.datetime(2023, 4, 5, 6, 7, 8, 901234, tzinfo=datetime.timezone.utc)
    ts_micros = int(ts.timestamp()) * 1_000_000 + ts.microsecond
    full = SampleData()
    full.row_num = 1
    full.bool_col = True
    full.bytes_col = b"Hello, World!"
    full.float64_col = float("+inf")
    full.int64_col = 123
    full.string_col = "Howdy!"
    full.date_col = (datetime.date(2019, 2, 3) - epoch).days
    full.datetime_col = datetime.datetime(2019, 2, 3, 14, 15, 16, 123456).strftime("%Y-%m-%d %H:%M:%S.%f")
    full.geography_col = "POINT(-122.347222 47.651111)"
    full.numeric_col = "1.23456"
    full.bignumeric_col = "-98765432109876543210.12345678901234567890123456789012345678"
    full.time_col = datetime.time(11, 7, 48, 123456).strftime("%H:%M:%S.%f")
    full.timestamp_col = ts_micros
    full.int64_list.append(1)
    full.int64_list.append(2)
    full.int64_list.append(3)
    full.struct_col.sub_int_col = 7
    for v in (-1, -2, -3):
        full.struct_list.add().sub_int_col = v
    full.range_date.start = (datetime.date(2020, 1, 1) - epoch).days
    full.range_date.end = (datetime.date(2020, 12, 31) - epoch).days

    nulls = SampleData()  # only the REQUIRED column: everything else NULL / empty
    nulls.row_num = 2

    ws = h.create_stream(parent, types.WriteStream.Type.COMMITTED)
    stream = h.open(ws.name, SampleData)
    append_ok(stream, h.request([full, nulls], offset=0), "AppendRows sample_data rows (offset 0)", 0)
    h.close_stream(stream)

    total, rows = visible(h, table)
    expect(total == 2 and len(rows) == 2, "COMMITTED rows visible once acknowledged", "tabledata.list", 2, rows)
    names = [f["name"] for f in SAMPLE_SCHEMA]
    by_num = {r[names.index("row_num")]: dict(zip(names, r)) for r in rows}
    got = by_num.get("1")
    expect(got is not None, "the full row", "tabledata.list", "row_num 1", rows)

    want = {
        "bool_col": "true",
        "bytes_col": base64.b64encode(b"Hello, World!").decode(),
        "date_col": "2019-02-03",
        "datetime_col": "2019-02-03T14:15:16.123456",
        "float64_col": "Infinity",
        "geography_col": "POINT(-122.347222 47.651111)",
        "int64_col": "123",
        "numeric_col": "1.23456",
        "bignumeric_col": "-98765432109876543210.12345678901234567890123456789012345678",
        "row_num": "1",
        "string_col": "Howdy!",
        "time_col": "11:07:48.123456",
        "int64_list": [{"v": "1"}, {"v": "2"}, {"v": "3"}],
        "struct_col": {"f": [{"v": "7"}]},
        "struct_list": [{"v": {"f": [{"v": str(v)}]}} for v in (-1, -2, -3)],
        "range_date": "[2020-01-01, 2020-12-31)",
    }
    for col, value in want.items():
        expect(got[col] == value, f"tabledata.list value of {col}", "AppendRows sample_data row 1", value, got[col])
    # TIMESTAMP: tabledata.list gives seconds since the epoch as a float string.
    try:
        secs = float(got["timestamp_col"])
    except (TypeError, ValueError):
        secs = None
    expect(
        secs is not None and abs(secs * 1e6 - ts_micros) < 2,
        "tabledata.list value of timestamp_col",
        "AppendRows sample_data row 1",
        f"~{ts_micros / 1e6} (seconds as a float string)",
        got["timestamp_col"],
    )

    got = by_num.get("2")
    expect(got is not None, "the NULL row", "tabledata.list", "row_num 2", rows)
    for col in names:
        if col == "row_num":
            continue
        # REPEATED columns are never NULL in BigQuery: an empty array.
        value = [] if col in ("int64_list", "struct_list") else None
        expect(got[col] == value, f"tabledata.list value of absent {col}", "AppendRows sample_data row 2", value, got[col])


FLOWS = [
    ("pending", flow_pending),
    ("default", flow_default),
    ("errors", flow_errors),
    ("types", flow_types),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grpc", required=True, help="127.0.0.1:PORT of the emulator's gRPC server")
    ap.add_argument("--rest", required=True, help="http://127.0.0.1:PORT of the emulator's REST server")
    ap.add_argument("--project", default="test-project")
    ap.add_argument("--deadline", type=float, default=180.0, help="abort after this many seconds")
    ap.add_argument("--only", action="append", help="run only this flow (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="tracebacks on failures")
    args = ap.parse_args()

    # A hard bound on the whole run: the client's background threads must not
    # keep CI waiting if an answer never comes.
    def abort():
        print(f"official client: FAILED: no result within {args.deadline}s (hung call?)", file=sys.stderr, flush=True)
        os._exit(2)

    watchdog = threading.Timer(args.deadline, abort)
    watchdog.daemon = True
    watchdog.start()

    rest = Rest(args.rest, args.project)
    passed, failed = 0, []
    try:
        rest.create_dataset(DATASET)
        h = Harness(args.grpc, rest, args.project)
    except Mismatch as e:
        print(f"official client: setup FAILED: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001
        print(f"official client: setup FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    try:
        for name, flow in FLOWS:
            if args.only and name not in args.only:
                continue
            try:
                flow(h)
            except Mismatch as e:
                failed.append(name)
                print(f"FAIL {name}: {e}", file=sys.stderr)
            except Exception as e:  # noqa: BLE001 - the client raised something unexpected
                failed.append(name)
                print(f"FAIL {name}: unexpected {type(e).__name__}: {e}", file=sys.stderr)
                if args.verbose:
                    traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {name}")
    finally:
        h.close()
        watchdog.cancel()
    print(f"official client: {passed} flows passed, {len(failed)} failed" + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
