#!/usr/bin/env node
// bqwrite-emulator against Google's official Node.js client
// (@google-cloud/bigquery-storage, its managedwriter), used as its README and
// samples use it: a WriterClient, createStreamConnection, JSONWriter (and
// Writer for raw protobuf rows), adapt.convertStorageSchemaToProto2Descriptor.
// The client is aimed at the emulator's plain-text port with
// grpc.credentials.createInsecure() and google-auth-library's
// PassThroughClient, so it looks up no credentials. Datasets and tables are
// created, and rows read back, through the emulator's BigQuery REST v2 subset.
//
// Flows:
//   pending    PENDING stream, JSONWriter: 2 rows at offset 0, 1 at offset 2;
//              nothing visible before the commit; finalize (rowCount 3),
//              batchCommitWriteStream, 3 rows visible, the stream's commitTime.
//   committed  COMMITTED stream: rows visible once acknowledged; GetWriteStream
//              gives a commitTime equal to the createTime.
//   default    the _default stream with the JSONWriter: no offsets, visible at
//              once; GetWriteStream: COMMITTED, neither time set.
//   types      a row of every column type the client's adapt module maps
//              (INTERVAL has no mapping there) and a row of NULLs, read back
//              through tabledata.list.
//   errors     what the client tells apart: a writer schema with an extra
//              field ends the connection (parseStorageErrors finds
//              SCHEMA_MISMATCH_EXTRA_FIELDS in the trailer); a bad row is
//              in-band "Errors found while processing rows" with rowErrors;
//              no rows is in-band "Rows must be specified"; offsets already
//              written or beyond the end are in-band ALREADY_EXISTS /
//              OUT_OF_RANGE; an oversize request is in-band "request too
//              large" and the connection goes on; a finalized stream refuses
//              appends (STREAM_FINALIZED).
//
// Usage: node flows.js --grpc 127.0.0.1:PORT --rest http://127.0.0.1:PORT
//                      [--project test-project] [--deadline SECONDS]
//                      [--max-request-bytes N]
// Exit status 0 when every flow passes; 1 with what was sent, expected and got.
'use strict';

const crypto = require('node:crypto');
const {adapt, managedwriter, protos} = require('@google-cloud/bigquery-storage');
const gax = require('google-gax');

const {WriterClient, JSONWriter, Writer, parseStorageErrors} = managedwriter;
const StorageError = protos.google.cloud.bigquery.storage.v1.StorageError;
const StorageErrorCode = StorageError.StorageErrorCode;
const FieldType = protos.google.protobuf.FieldDescriptorProto.Type;

// Unique per run, so the flows can run again against a long-lived emulator.
const DATASET = `official_node_${crypto.randomBytes(4).toString('hex')}`;
const HTTP_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 15_000;

class Mismatch extends Error {}

function show(value) {
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

function expect(cond, what, request, expected, got) {
  if (!cond) {
    throw new Mismatch(
      `${what}\n    request:  ${request}\n    expected: ${show(expected)}\n    got:      ${show(got)}`,
    );
  }
}

function parseArgs(argv) {
  const args = {project: 'test-project', deadline: 180, maxRequestBytes: 10 * 1024 * 1024};
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${key} needs a value`);
    if (key === '--grpc') args.grpc = value;
    else if (key === '--rest') args.rest = value;
    else if (key === '--project') args.project = value;
    else if (key === '--deadline') args.deadline = Number(value);
    else if (key === '--max-request-bytes') args.maxRequestBytes = Number(value);
    else throw new Error(`unknown argument ${key}`);
  }
  if (!/^127\.0\.0\.1:\d+$/.test(args.grpc ?? '')) throw new Error('--grpc must be 127.0.0.1:PORT');
  if (!/^http:\/\/127\.0\.0\.1:\d+\/?$/.test(args.rest ?? '')) {
    throw new Error('--rest must be http://127.0.0.1:PORT');
  }
  return args;
}

/** The emulator's BigQuery REST v2 subset. */
class Rest {
  constructor(base, project) {
    this.base = base.replace(/\/$/, '') + '/bigquery/v2';
    this.project = project;
  }

  async call(method, path, body, ok = [200]) {
    const desc = `${method} ${path}${body === undefined ? '' : ' ' + show(body)}`;
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers: body === undefined ? {} : {'Content-Type': 'application/json'},
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
    } catch (e) {
      throw new Mismatch(`REST call failed\n    request:  ${desc}\n    got:      ${e}`);
    }
    const text = await response.text();
    expect(ok.includes(response.status), 'REST call failed', desc, `HTTP ${ok}`, `HTTP ${response.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : null;
  }

  createDataset(dataset) {
    return this.call('POST', `/projects/${this.project}/datasets`, {
      datasetReference: {projectId: this.project, datasetId: dataset},
    });
  }

  createTable(dataset, table, fields) {
    return this.call('POST', `/projects/${this.project}/datasets/${dataset}/tables`, {
      tableReference: {projectId: this.project, datasetId: dataset, tableId: table},
      schema: {fields},
    });
  }

  /** tabledata.list: {total, rows: [[v, ...], ...]}. */
  async rows(dataset, table) {
    const path = `/projects/${this.project}/datasets/${dataset}/tables/${table}/data`;
    const got = await this.call('GET', path);
    expect(
      got.kind === 'bigquery#tableDataList' && typeof got.totalRows === 'string',
      'tabledata.list response shape',
      `GET ${path}`,
      'kind bigquery#tableDataList, totalRows as a string',
      got,
    );
    return {total: Number(got.totalRows), rows: (got.rows ?? []).map(r => r.f.map(c => c.v))};
  }
}

/** Waits for a promise at most ANSWER_TIMEOUT_MS. */
function answer(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Mismatch(`no answer within ${ANSWER_TIMEOUT_MS} ms: ${what}`)), ANSWER_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class Harness {
  constructor(args) {
    this.args = args;
    this.rest = new Rest(args.rest, args.project);
    const [host, port] = args.grpc.split(':');
    // The README's WriterClient, aimed at a plain-text endpoint: the options
    // go to the generated BigQueryWriteClient (google-gax).
    this.clientOptions = {
      projectId: args.project,
      servicePath: host,
      apiEndpoint: host,
      port: Number(port),
      sslCreds: gax.grpc.credentials.createInsecure(),
      authClient: new gax.googleAuthLibrary.PassThroughClient(),
    };
    this.clients = [];
  }

  client() {
    const client = new WriterClient(this.clientOptions);
    this.clients.push(client);
    return client;
  }

  parent(table) {
    return `projects/${this.args.project}/datasets/${DATASET}/tables/${table}`;
  }

  /** Creates `table` and returns its path and the proto2 descriptor the samples derive. */
  async table(table, fields) {
    await this.rest.createTable(DATASET, table, fields);
    const storageSchema = adapt.convertBigQuerySchemaToStorageTableSchema({fields});
    const protoDescriptor = adapt.convertStorageSchemaToProto2Descriptor(storageSchema, 'root');
    return {parent: this.parent(table), protoDescriptor};
  }

  close() {
    for (const client of this.clients) client.close();
  }
}

const CUSTOMER_SCHEMA = [
  {name: 'customer_name', type: 'STRING'},
  {name: 'row_num', type: 'INTEGER', mode: 'REQUIRED'},
];

function offsetOf(response) {
  const offset = response?.appendResult?.offset?.value;
  return offset === undefined || offset === null ? null : String(offset);
}

async function appendOk(writer, rows, offset, what, wantOffset) {
  const response = await answer(writer.appendRows(rows, offset).getResult(), what);
  expect(!response.error, `${what}: an error answer`, what, 'appendResult', response.error);
  if (wantOffset !== undefined) {
    expect(offsetOf(response) === wantOffset, `${what}: offset`, what, wantOffset, offsetOf(response));
  }
  return response;
}

/** An in-band error answer: getResult resolves with `error` set. */
async function appendInBand(writer, rows, offset, what, code) {
  const response = await answer(writer.appendRows(rows, offset).getResult(), what);
  expect(response.error, `${what}: expected an in-band error`, what, `error code ${code}`, response);
  expect(response.error.code === code, `${what}: error code`, what, code, response.error);
  return response;
}

function storageErrorOf(status) {
  const any = (status.details ?? []).find(d => String(d.type_url ?? d.typeUrl).endsWith('StorageError'));
  return any ? StorageError.decode(any.value) : null;
}

async function visible(h, table) {
  return h.rest.rows(DATASET, table);
}

// ---------------------------------------------------------------------------

async function flowPending(h) {
  const table = 'customer_records_pending';
  const {parent, protoDescriptor} = await h.table(table, CUSTOMER_SCHEMA);
  const client = h.client();
  const connection = await client.createStreamConnection({
    streamType: managedwriter.PendingStream,
    destinationTable: parent,
  });
  const streamId = connection.getStreamId();
  const writer = new JSONWriter({connection, protoDescriptor});
  await appendOk(writer, [{customer_name: 'Alice', row_num: 1}, {customer_name: 'Bob', row_num: 2}], 0, 'PENDING append at offset 0', '0');
  await appendOk(writer, [{customer_name: 'Charles', row_num: 3}], 2, 'PENDING append at offset 2', '2');
  let seen = await visible(h, table);
  expect(seen.total === 0, 'PENDING rows visible before the commit', 'tabledata.list', 0, seen);
  const finalized = await answer(connection.finalize(), 'FinalizeWriteStream');
  expect(String(finalized?.rowCount) === '3', 'finalize rowCount', 'FinalizeWriteStream', '3', finalized);
  const [commit] = await answer(
    client.getClient().batchCommitWriteStreams({parent, writeStreams: [streamId]}),
    'BatchCommitWriteStreams',
  );
  expect(commit.commitTime && (commit.streamErrors ?? []).length === 0, 'commit', 'BatchCommitWriteStreams', 'commitTime, no streamErrors', commit);
  seen = await visible(h, table);
  const want = [['Alice', '1'], ['Bob', '2'], ['Charles', '3']];
  const got = seen.rows.sort((a, b) => Number(a[1]) - Number(b[1]));
  expect(seen.total === 3 && show(got) === show(want), 'rows after the commit', 'tabledata.list', want, got);
  const stream = await answer(client.getWriteStream({streamId}), 'GetWriteStream');
  expect(stream.commitTime, 'the committed PENDING stream has a commitTime', 'GetWriteStream', 'commitTime set', stream);
  writer.close();
}

async function flowCommitted(h) {
  const table = 'customer_records_committed';
  const {parent, protoDescriptor} = await h.table(table, CUSTOMER_SCHEMA);
  const client = h.client();
  const connection = await client.createStreamConnection({
    streamType: managedwriter.CommittedStream,
    destinationTable: parent,
  });
  const writer = new JSONWriter({connection, protoDescriptor});
  await appendOk(writer, [{customer_name: 'Dora', row_num: 1}], 0, 'COMMITTED append at offset 0', '0');
  const seen = await visible(h, table);
  expect(show(seen.rows) === show([['Dora', '1']]), 'COMMITTED rows visible once acknowledged', 'tabledata.list', [['Dora', '1']], seen);
  const stream = await answer(client.getWriteStream({streamId: connection.getStreamId()}), 'GetWriteStream');
  expect(
    stream.type === 'COMMITTED' || stream.type === 1,
    'the stream type',
    'GetWriteStream',
    'COMMITTED',
    stream.type,
  );
  expect(
    stream.createTime && show(stream.commitTime) === show(stream.createTime),
    'a COMMITTED stream commitTime equals its createTime',
    'GetWriteStream',
    stream.createTime,
    stream.commitTime,
  );
  writer.close();
}

async function flowDefault(h) {
  const table = 'customer_records_default';
  const {parent, protoDescriptor} = await h.table(table, CUSTOMER_SCHEMA);
  const client = h.client();
  const connection = await client.createStreamConnection({
    streamId: managedwriter.DefaultStream,
    destinationTable: parent,
  });
  expect(connection.getStreamId() === `${parent}/streams/_default`, 'the default stream name', 'createStreamConnection', `${parent}/streams/_default`, connection.getStreamId());
  const writer = new JSONWriter({connection, protoDescriptor});
  const first = await appendOk(writer, [{customer_name: 'Eve', row_num: 1}], undefined, '_default append');
  expect(offsetOf(first) === null, 'no offset on _default', '_default append', null, offsetOf(first));
  await appendOk(writer, [{customer_name: 'Finn', row_num: 2}, {customer_name: 'Gus', row_num: 3}], undefined, '_default append');
  const seen = await visible(h, table);
  expect(seen.total === 3, '_default rows visible at once', 'tabledata.list', 3, seen);
  const stream = await answer(client.getWriteStream({streamId: connection.getStreamId()}), 'GetWriteStream _default');
  expect(!stream.createTime && !stream.commitTime, '_default reports no times', 'GetWriteStream _default', 'neither', stream);
  writer.close();
}

const TYPES_SCHEMA = [
  {name: 'row_num', type: 'INTEGER', mode: 'REQUIRED'},
  {name: 'bool_col', type: 'BOOLEAN'},
  {name: 'bytes_col', type: 'BYTES'},
  {name: 'date_col', type: 'DATE'},
  {name: 'datetime_col', type: 'DATETIME'},
  {name: 'float64_col', type: 'FLOAT'},
  {name: 'geography_col', type: 'GEOGRAPHY'},
  {name: 'int64_col', type: 'INTEGER'},
  {name: 'numeric_col', type: 'NUMERIC'},
  {name: 'bignumeric_col', type: 'BIGNUMERIC'},
  {name: 'string_col', type: 'STRING'},
  {name: 'time_col', type: 'TIME'},
  {name: 'timestamp_col', type: 'TIMESTAMP'},
  {name: 'json_col', type: 'JSON'},
  {name: 'int64_list', type: 'INTEGER', mode: 'REPEATED'},
  {name: 'struct_col', type: 'RECORD', fields: [{name: 'sub_int_col', type: 'INTEGER'}]},
  {name: 'struct_list', type: 'RECORD', mode: 'REPEATED', fields: [{name: 'sub_int_col', type: 'INTEGER'}]},
  {name: 'range_date', type: 'RANGE', rangeElementType: {type: 'DATE'}},
];

async function flowTypes(h) {
  const table = 'every_type';
  const {parent, protoDescriptor} = await h.table(table, TYPES_SCHEMA);
  const client = h.client();
  const connection = await client.createStreamConnection({
    streamType: managedwriter.CommittedStream,
    destinationTable: parent,
  });
  const writer = new JSONWriter({connection, protoDescriptor});
  const full = {
    row_num: 1,
    bool_col: true,
    bytes_col: Buffer.from('Hello, World!'),
    date_col: new Date('2019-02-03T00:00:00Z'), // the encoder turns a Date into days
    datetime_col: '2019-02-03 14:15:16.123456',
    float64_col: 1.5,
    geography_col: 'POINT(-122.347222 47.651111)',
    int64_col: 123,
    numeric_col: '1.23456',
    bignumeric_col: '-98765432109876543210.12345678901234567890123456789012345678',
    string_col: 'Howdy!',
    time_col: '11:07:48.123456',
    timestamp_col: new Date('2023-04-05T06:07:08.901Z'), // ... and into microseconds
    json_col: '{"a":[1,2]}',
    int64_list: [1, 2, 3],
    struct_col: {sub_int_col: 7},
    struct_list: [{sub_int_col: -1}, {sub_int_col: -2}],
    range_date: {start: new Date('2020-01-01T00:00:00Z'), end: new Date('2020-12-31T00:00:00Z')},
  };
  await appendOk(writer, [full, {row_num: 2}], 0, 'every type at offset 0', '0');
  const seen = await visible(h, table);
  expect(seen.total === 2, 'both rows visible', 'tabledata.list', 2, seen);
  const names = TYPES_SCHEMA.map(f => f.name);
  const byNum = Object.fromEntries(seen.rows.map(r => [r[0], Object.fromEntries(names.map((n, i) => [n, r[i]]))]));
  const want = {
    row_num: '1',
    bool_col: 'true',
    bytes_col: Buffer.from('Hello, World!').toString('base64'),
    date_col: '2019-02-03',
    datetime_col: '2019-02-03T14:15:16.123456',
    float64_col: '1.5',
    geography_col: 'POINT(-122.347222 47.651111)',
    int64_col: '123',
    numeric_col: '1.23456',
    bignumeric_col: '-98765432109876543210.12345678901234567890123456789012345678',
    string_col: 'Howdy!',
    time_col: '11:07:48.123456',
    json_col: '{"a":[1,2]}',
    int64_list: [{v: '1'}, {v: '2'}, {v: '3'}],
    struct_col: {f: [{v: '7'}]},
    struct_list: [{v: {f: [{v: '-1'}]}}, {v: {f: [{v: '-2'}]}}],
    range_date: '[2020-01-01, 2020-12-31)',
  };
  const got = byNum['1'];
  expect(got, 'the full row', 'tabledata.list', 'row_num 1', seen.rows);
  for (const [col, value] of Object.entries(want)) {
    expect(show(got[col]) === show(value), `tabledata.list value of ${col}`, 'every type row 1', value, got[col]);
  }
  // TIMESTAMP: seconds since the epoch as a float string
  expect(Number(got.timestamp_col) === Date.parse('2023-04-05T06:07:08.901Z') / 1000, 'tabledata.list value of timestamp_col', 'every type row 1', '1680674828.901', got.timestamp_col);
  const nulls = byNum['2'];
  for (const col of names.filter(n => n !== 'row_num')) {
    const repeated = TYPES_SCHEMA.find(f => f.name === col).mode === 'REPEATED';
    expect(show(nulls[col]) === show(repeated ? [] : null), `absent ${col}`, 'every type row 2', repeated ? [] : null, nulls[col]);
  }
  writer.close();
}

async function flowErrors(h) {
  const table = 'customer_records_errors';
  const {parent, protoDescriptor} = await h.table(table, CUSTOMER_SCHEMA);
  const client = h.client();

  // Offsets, a bad row and no rows: in-band answers on one connection.
  const connection = await client.createStreamConnection({
    streamType: managedwriter.CommittedStream,
    destinationTable: parent,
  });
  const streamId = connection.getStreamId();
  const writer = new JSONWriter({connection, protoDescriptor});
  await appendOk(writer, [{customer_name: 'Ann', row_num: 1}], 0, 'append at offset 0', '0');
  let res = await appendInBand(writer, [{customer_name: 'Ann', row_num: 1}], 0, 'append at an offset already written', gax.Status.ALREADY_EXISTS);
  expect(storageErrorOf(res.error)?.code === StorageErrorCode.OFFSET_ALREADY_EXISTS, 'StorageError of ALREADY_EXISTS', 'offset 0 again', 'OFFSET_ALREADY_EXISTS', storageErrorOf(res.error));
  res = await appendInBand(writer, [{customer_name: 'Ann', row_num: 1}], 5, 'append beyond the end', gax.Status.OUT_OF_RANGE);
  expect(storageErrorOf(res.error)?.code === StorageErrorCode.OFFSET_OUT_OF_RANGE, 'StorageError of OUT_OF_RANGE', 'offset 5', 'OFFSET_OUT_OF_RANGE', storageErrorOf(res.error));
  res = await appendInBand(writer, [{customer_name: 'no row_num'}], 1, 'a row without its REQUIRED column', gax.Status.INVALID_ARGUMENT);
  expect(res.error.message.split('.')[0] === 'Errors found while processing rows', 'the row error message', 'a bad row', 'Errors found while processing rows. ...', res.error.message);
  expect((res.rowErrors ?? []).length === 1 && String(res.rowErrors[0].index) === '0', 'rowErrors', 'a bad row', 'one, at index 0', res.rowErrors);
  res = await appendInBand(writer, [], 1, 'an append without rows', gax.Status.INVALID_ARGUMENT);
  expect(res.error.message.split('.')[0] === 'Rows must be specified', 'the no-rows message', 'no rows', 'Rows must be specified.', res.error.message);
  await appendOk(writer, [{customer_name: 'Ben', row_num: 2}], 1, 'the connection still works', '1');

  // An extra field in the writer schema, after good appends: the service
  // ends the connection; the StorageError is in the trailer.
  let storageErrors = [];
  connection.onConnectionError(err => {
    storageErrors = parseStorageErrors(err);
  });
  const extended = {
    ...protoDescriptor,
    field: [...protoDescriptor.field, {name: 'customer_email', number: 3, type: FieldType.TYPE_STRING}],
  };
  writer.setProtoDescriptor(extended);
  let failure = null;
  try {
    await answer(writer.appendRows([{customer_name: 'Cy', row_num: 3, customer_email: 'cy@example.com'}], 2).getResult(), 'extra field');
  } catch (err) {
    failure = err;
  }
  expect(failure && failure.code === gax.Status.INVALID_ARGUMENT, 'the call ends with INVALID_ARGUMENT', 'a writer schema with an extra field', 'a rejected getResult', failure);
  expect(
    storageErrors.length === 1 &&
      storageErrors[0].code === StorageErrorCode.SCHEMA_MISMATCH_EXTRA_FIELDS &&
      storageErrors[0].errorMessage === 'Schema mismatch due to extra fields in user schema',
    'parseStorageErrors of the connection error',
    'a writer schema with an extra field',
    'SCHEMA_MISMATCH_EXTRA_FIELDS "Schema mismatch due to extra fields in user schema"',
    storageErrors,
  );
  writer.close();

  // An oversize request (raw rows through Writer): in-band, then the
  // connection goes on.
  const bigConnection = await client.createStreamConnection({streamId, destinationTable: parent});
  const raw = new Writer({connection: bigConnection, protoDescriptor});
  // customer_name = 1 (string), row_num = 2 (int64), as adapt numbers them
  const row = Buffer.concat([Buffer.from([0x0a, 0x03]), Buffer.from('Dee'), Buffer.from([0x10, 0x03])]);
  const filler = Buffer.concat([Buffer.from([0x0a, 0x80, 0x80, 0x04]), Buffer.alloc(65536, 0x61), Buffer.from([0x10, 0x03])]);
  const count = Math.ceil(h.args.maxRequestBytes / filler.length) + 1;
  res = await appendInBand(raw, {serializedRows: new Array(count).fill(filler)}, 2, 'an oversize request', gax.Status.INVALID_ARGUMENT);
  expect(res.error.message.includes('request too large'), 'the oversize message', 'an oversize request', '... request too large ...', res.error.message);
  await appendOk(raw, {serializedRows: [row]}, 2, 'the next request on the same connection', '2');
  const finalized = await answer(bigConnection.finalize(), 'FinalizeWriteStream');
  expect(String(finalized?.rowCount) === '3', 'finalize rowCount', 'FinalizeWriteStream', '3', finalized);

  // A finalized stream refuses appends, with STREAM_FINALIZED.
  const after = await client.createStreamConnection({streamId, destinationTable: parent});
  const late = new JSONWriter({connection: after, protoDescriptor});
  res = await appendInBand(late, [{customer_name: 'Late', row_num: 9}], 3, 'an append to a finalized stream', gax.Status.INVALID_ARGUMENT);
  expect(storageErrorOf(res.error)?.code === StorageErrorCode.STREAM_FINALIZED, 'StorageError of a finalized stream', 'append after finalize', 'STREAM_FINALIZED', storageErrorOf(res.error));
  late.close();

  const seen = await visible(h, table);
  const want = [['Ann', '1'], ['Ben', '2'], ['Dee', '3']];
  const got = seen.rows.sort((a, b) => Number(a[1]) - Number(b[1]));
  expect(show(got) === show(want), 'only the accepted rows are stored', 'tabledata.list', want, got);
}

const FLOWS = [
  ['pending', flowPending],
  ['committed', flowCommitted],
  ['default', flowDefault],
  ['types', flowTypes],
  ['errors', flowErrors],
];

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const h = new Harness(args);
  const deadline = setTimeout(() => {
    console.error(`official Node client: flows did not finish within ${args.deadline} s`);
    process.exit(1);
  }, args.deadline * 1000);
  let failed = 0;
  try {
    await h.rest.createDataset(DATASET);
    for (const [name, flow] of FLOWS) {
      const start = Date.now();
      try {
        await flow(h);
        console.log(`ok   ${name} (${Date.now() - start} ms)`);
      } catch (err) {
        failed += 1;
        console.log(`FAIL ${name}: ${err instanceof Mismatch ? err.message : err.stack}`);
      }
    }
  } finally {
    h.close();
    clearTimeout(deadline);
  }
  if (failed) {
    console.log(`official Node client: ${failed} of ${FLOWS.length} flows failed`);
    process.exit(1);
  }
  console.log(`official Node client: all ${FLOWS.length} flows passed`);
}

main().catch(err => {
  console.error(err.stack ?? err);
  process.exit(1);
});
