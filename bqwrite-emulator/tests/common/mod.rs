//! Helpers shared by the emulator's integration tests: descriptors and rows
//! built by hand, an AppendRows connection, error unpacking, a tiny HTTP client.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use bqwrite::proto::descriptor::DescriptorProto as WireDescriptorProto;
use bqwrite::proto::rpc;
use bqwrite::proto::storage::{
    AppendRowsRequest, AppendRowsResponse, CreateWriteStreamRequest, ProtoRows, ProtoSchema,
    StorageError, TableFieldSchema, TableSchema, WriteStream,
    append_rows_request::{ProtoData, Rows},
    append_rows_response::Response as Outcome,
    big_query_write_client::BigQueryWriteClient,
    storage_error::StorageErrorCode,
    table_field_schema::{FieldElementType, Mode, Type},
    write_stream,
};
use bqwrite_emulator::{Emulator, EmulatorBuilder};
use bytes::Bytes;
use prost::Message;
use prost::encoding::{self, WireType};
use prost_types::field_descriptor_proto::{Label, Type as PType};
use prost_types::{DescriptorProto, FieldDescriptorProto};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Streaming};

pub const LIMIT: Duration = Duration::from_secs(30);
pub const PROJECT: &str = "test-project";
pub const TABLE: &str = "projects/test-project/datasets/d/tables/t";

/// Runs a future with the test time limit.
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(LIMIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

pub async fn start() -> Emulator {
    Emulator::builder()
        .project(PROJECT)
        .start()
        .await
        .expect("emulator starts")
}

/// An emulator with the seed table [`TABLE`], and a client of it.
pub async fn seeded() -> (Emulator, BigQueryWriteClient<Channel>) {
    seeded_with(Emulator::builder()).await
}

/// Same as [`seeded`], from a builder carrying the test's own options; the
/// project is [`PROJECT`].
pub async fn seeded_with(builder: EmulatorBuilder) -> (Emulator, BigQueryWriteClient<Channel>) {
    let emu = builder
        .project(PROJECT)
        .start()
        .await
        .expect("emulator starts");
    emu.create_table(TABLE, seed_schema()).unwrap();
    let client = client(&emu).await;
    (emu, client)
}

pub async fn client(emu: &Emulator) -> BigQueryWriteClient<Channel> {
    bounded("connect", BigQueryWriteClient::connect(emu.grpc_endpoint()))
        .await
        .expect("client connects")
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

pub fn column(name: &str, ty: Type, mode: Mode) -> TableFieldSchema {
    TableFieldSchema {
        name: name.into(),
        r#type: ty as i32,
        mode: mode as i32,
        ..Default::default()
    }
}

pub fn struct_column(name: &str, mode: Mode, fields: Vec<TableFieldSchema>) -> TableFieldSchema {
    TableFieldSchema {
        fields,
        ..column(name, Type::Struct, mode)
    }
}

pub fn range_column(name: &str, element: Type) -> TableFieldSchema {
    TableFieldSchema {
        range_element_type: Some(FieldElementType {
            r#type: element as i32,
        }),
        ..column(name, Type::Range, Mode::Nullable)
    }
}

/// The seed table: `id INT64 REQUIRED, name STRING`.
pub fn seed_schema() -> TableSchema {
    TableSchema {
        fields: vec![
            column("id", Type::Int64, Mode::Required),
            column("name", Type::String, Mode::Nullable),
        ],
    }
}

pub fn field(name: &str, number: i32, ty: PType, label: Label) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        r#type: Some(ty as i32),
        label: Some(label as i32),
        ..Default::default()
    }
}

pub fn message_field(
    name: &str,
    number: i32,
    type_name: &str,
    label: Label,
) -> FieldDescriptorProto {
    FieldDescriptorProto {
        type_name: Some(type_name.into()),
        ..field(name, number, PType::Message, label)
    }
}

pub fn message(name: &str, fields: Vec<FieldDescriptorProto>) -> DescriptorProto {
    DescriptorProto {
        name: Some(name.into()),
        field: fields,
        ..Default::default()
    }
}

/// The seed row descriptor: `required int64 id = 1; optional string name = 2;`.
pub fn seed_descriptor() -> DescriptorProto {
    message(
        "SeedRow",
        vec![
            field("id", 1, PType::Int64, Label::Required),
            field("name", 2, PType::String, Label::Optional),
        ],
    )
}

/// A row encoder over prost's wire functions.
#[derive(Debug, Default, Clone)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn new() -> Self {
        Enc(Vec::new())
    }
    pub fn int64(mut self, tag: u32, v: i64) -> Self {
        encoding::int64::encode(tag, &v, &mut self.0);
        self
    }
    pub fn int32(mut self, tag: u32, v: i32) -> Self {
        encoding::int32::encode(tag, &v, &mut self.0);
        self
    }
    pub fn uint64(mut self, tag: u32, v: u64) -> Self {
        encoding::uint64::encode(tag, &v, &mut self.0);
        self
    }
    pub fn sint64(mut self, tag: u32, v: i64) -> Self {
        encoding::sint64::encode(tag, &v, &mut self.0);
        self
    }
    pub fn boolean(mut self, tag: u32, v: bool) -> Self {
        encoding::bool::encode(tag, &v, &mut self.0);
        self
    }
    pub fn double(mut self, tag: u32, v: f64) -> Self {
        encoding::double::encode(tag, &v, &mut self.0);
        self
    }
    pub fn float(mut self, tag: u32, v: f32) -> Self {
        encoding::float::encode(tag, &v, &mut self.0);
        self
    }
    pub fn string(mut self, tag: u32, v: &str) -> Self {
        encoding::string::encode(tag, &v.to_string(), &mut self.0);
        self
    }
    pub fn bytes(mut self, tag: u32, v: &[u8]) -> Self {
        encoding::bytes::encode(tag, &v.to_vec(), &mut self.0);
        self
    }
    pub fn message(mut self, tag: u32, inner: Enc) -> Self {
        encoding::encode_key(tag, WireType::LengthDelimited, &mut self.0);
        encoding::encode_varint(inner.0.len() as u64, &mut self.0);
        self.0.extend_from_slice(&inner.0);
        self
    }
    pub fn packed_int64(mut self, tag: u32, values: &[i64]) -> Self {
        encoding::int64::encode_packed(tag, values, &mut self.0);
        self
    }
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    pub fn done(self) -> Vec<u8> {
        self.0
    }
}

pub fn seed_row(id: i64, name: &str) -> Vec<u8> {
    Enc::new().int64(1, id).string(2, name).done()
}

/// An AppendRowsRequest; `stream` may be empty and `schema` absent.
pub fn append_request(
    stream: &str,
    offset: Option<i64>,
    schema: Option<DescriptorProto>,
    rows: Vec<Vec<u8>>,
) -> AppendRowsRequest {
    append_request_wire(stream, offset, schema.map(Into::into), rows)
}

/// An AppendRowsRequest whose writer schema may carry field options
/// `prost_types` drops, such as `column_name`.
pub fn append_request_wire(
    stream: &str,
    offset: Option<i64>,
    schema: Option<WireDescriptorProto>,
    rows: Vec<Vec<u8>>,
) -> AppendRowsRequest {
    AppendRowsRequest {
        write_stream: stream.into(),
        offset,
        rows: Some(Rows::ProtoRows(ProtoData {
            writer_schema: schema.map(|d| ProtoSchema {
                proto_descriptor: Some(d),
            }),
            rows: Some(ProtoRows {
                serialized_rows: rows.into_iter().map(Bytes::from).collect(),
            }),
        })),
        ..Default::default()
    }
}

/// One open AppendRows call.
pub struct Conn {
    tx: mpsc::Sender<AppendRowsRequest>,
    rx: Streaming<AppendRowsResponse>,
}

impl Conn {
    pub async fn open(client: &mut BigQueryWriteClient<Channel>) -> Conn {
        Self::open_with_header(client, None).await
    }

    /// Opens a call, with `x-goog-request-params: write_stream=...` if given.
    pub async fn open_with_header(
        client: &mut BigQueryWriteClient<Channel>,
        routed_stream: Option<&str>,
    ) -> Conn {
        Self::try_open(client, routed_stream)
            .await
            .expect("AppendRows call opens")
    }

    pub async fn try_open(
        client: &mut BigQueryWriteClient<Channel>,
        routed_stream: Option<&str>,
    ) -> Result<Conn, tonic::Status> {
        let header = routed_stream.map(|s| format!("write_stream={}", s.replace('/', "%2F")));
        Self::try_open_routed(client, header).await
    }

    /// Opens a multiplexed call routed by location, as Google's clients do:
    /// `x-goog-request-params: write_location=projects/P/locations/L`.
    pub async fn open_at_location(
        client: &mut BigQueryWriteClient<Channel>,
        project: &str,
        location: &str,
    ) -> Conn {
        let header = format!("write_location=projects%2F{project}%2Flocations%2F{location}");
        Self::try_open_routed(client, Some(header))
            .await
            .expect("AppendRows call opens")
    }

    async fn try_open_routed(
        client: &mut BigQueryWriteClient<Channel>,
        header: Option<String>,
    ) -> Result<Conn, tonic::Status> {
        let (tx, rx) = mpsc::channel(64);
        let mut request = tonic::Request::new(ReceiverStream::new(rx));
        if let Some(value) = header {
            request
                .metadata_mut()
                .insert("x-goog-request-params", value.parse().expect("ascii"));
        }
        let rx = bounded("open AppendRows", client.append_rows(request))
            .await?
            .into_inner();
        Ok(Conn { tx, rx })
    }

    pub async fn send(&self, request: AppendRowsRequest) {
        self.tx.send(request).await.expect("request queued");
    }

    /// The next response or the call's final status.
    pub async fn recv(&mut self) -> Result<Option<AppendRowsResponse>, tonic::Status> {
        bounded("AppendRows response", self.rx.message()).await
    }

    /// Sends one request and returns its response.
    pub async fn append(&mut self, request: AppendRowsRequest) -> AppendRowsResponse {
        self.send(request).await;
        self.recv()
            .await
            .expect("the call is alive")
            .expect("a response")
    }

    /// Half-closes the call and returns its final status.
    pub async fn close(mut self) -> Result<(), tonic::Status> {
        drop(self.tx);
        match bounded("call end", self.rx.message()).await? {
            None => Ok(()),
            Some(r) => panic!("unexpected response after close: {r:?}"),
        }
    }
}

/// The offset of a successful append; panics on an error response.
pub fn ok_offset(response: &AppendRowsResponse) -> Option<i64> {
    match &response.response {
        Some(Outcome::AppendResult(r)) => r.offset,
        other => panic!(
            "expected success, got {other:?} (row_errors {:?})",
            response.row_errors
        ),
    }
}

/// The in-band error of a response; panics on success.
pub fn in_band_error(response: &AppendRowsResponse) -> &rpc::Status {
    match &response.response {
        Some(Outcome::Error(status)) => status,
        other => panic!("expected an error, got {other:?}"),
    }
}

pub fn unpack_storage_error(status: &rpc::Status) -> Option<StorageError> {
    let any = status.details.first()?;
    assert_eq!(
        any.type_url,
        "type.googleapis.com/google.cloud.bigquery.storage.v1.StorageError"
    );
    Some(StorageError::decode(any.value.as_slice()).expect("StorageError decodes"))
}

/// The status that ended a call; panics if a response or the end came
/// instead.
pub async fn call_end(conn: &mut Conn) -> tonic::Status {
    match conn.recv().await {
        Err(status) => status,
        Ok(other) => panic!("expected the call to end with an error status, got {other:?}"),
    }
}

/// The StorageErrors of a status's `storageerror-bin` trailer, where
/// Google's clients look for them.
pub fn storage_trailer(status: &tonic::Status) -> Vec<StorageError> {
    status
        .metadata()
        .get_all_bin("google.cloud.bigquery.storage.v1.storageerror-bin")
        .iter()
        .map(|value| {
            let bytes = value.to_bytes().expect("base64 trailer");
            StorageError::decode(bytes.as_ref()).expect("StorageError decodes")
        })
        .collect()
}

/// Asserts a call-ending status carries one StorageError, both in its
/// `storageerror-bin` trailer and in its `grpc-status-details-bin`.
pub fn assert_storage_error(
    status: &tonic::Status,
    code: StorageErrorCode,
    entity: &str,
    message: &str,
) {
    let want = StorageError {
        code: code as i32,
        entity: entity.into(),
        error_message: message.into(),
    };
    assert_eq!(storage_trailer(status), vec![want.clone()], "{status:?}");
    let details = rpc::Status::decode(status.details()).expect("details decode");
    assert_eq!(unpack_storage_error(&details), Some(want));
}

/// Asserts an in-band error's gRPC code and StorageError code.
pub fn assert_in_band(
    response: &AppendRowsResponse,
    code: Code,
    storage: Option<StorageErrorCode>,
) {
    let status = in_band_error(response);
    assert_eq!(
        Code::from_i32(status.code),
        code,
        "unexpected code in {status:?}"
    );
    let found = unpack_storage_error(status).map(|e| e.code);
    assert_eq!(
        found,
        storage.map(|c| c as i32),
        "unexpected StorageError in {status:?}"
    );
}

/// Asserts a unary call's status code and StorageError code.
pub fn assert_status(status: &tonic::Status, code: Code, storage: Option<StorageErrorCode>) {
    assert_eq!(status.code(), code, "unexpected status {status:?}");
    let details = rpc::Status::decode(status.details()).expect("details decode");
    assert_eq!(details.code, code as i32);
    let found = unpack_storage_error(&details).map(|e| e.code);
    assert_eq!(
        found,
        storage.map(|c| c as i32),
        "unexpected StorageError in {details:?}"
    );
}

pub async fn create_stream(
    client: &mut BigQueryWriteClient<Channel>,
    table: &str,
    ty: write_stream::Type,
) -> WriteStream {
    bounded(
        "create stream",
        client.create_write_stream(CreateWriteStreamRequest {
            parent: table.into(),
            write_stream: Some(WriteStream {
                r#type: ty as i32,
                ..Default::default()
            }),
        }),
    )
    .await
    .expect("stream created")
    .into_inner()
}

/// A minimal HTTP/1.1 request over a fresh connection: (status, JSON body).
pub async fn http(
    emu: &Emulator,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    http_at(emu.http_addr(), method, path, body).await
}

/// Same as [`http`], to any address.
pub async fn http_at(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    bounded("HTTP request", async {
        let mut socket = tokio::net::TcpStream::connect(addr)
            .await
            .expect("HTTP connects");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.expect("HTTP write");
        let mut response = Vec::new();
        socket.read_to_end(&mut response).await.expect("HTTP read");
        let text = String::from_utf8(response).expect("UTF-8 response");
        let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_string()
        };
        let json = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("JSON body ({e}): {body}"))
        };
        (status, json)
    })
    .await
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

// ---- The error tests' helpers (errors_in_band.rs, errors_status.rs) ----------

/// A stream of `ty` and a connection whose first request appended one row.
pub async fn open_stream(
    client: &mut BigQueryWriteClient<Channel>,
    ty: write_stream::Type,
) -> (WriteStream, Conn) {
    let stream = create_stream(client, TABLE, ty).await;
    let mut conn = Conn::open(client).await;
    let offset = (ty != write_stream::Type::Unspecified).then_some(0);
    ok_offset(
        &conn
            .append(append_request(
                &stream.name,
                offset,
                Some(seed_descriptor()),
                vec![seed_row(1, "a")],
            ))
            .await,
    );
    (stream, conn)
}

pub fn default_stream() -> String {
    format!("{TABLE}/streams/_default")
}

/// Asserts an in-band answer: code, StorageError code, message.
pub fn assert_answer(
    response: &bqwrite::proto::storage::AppendRowsResponse,
    code: Code,
    storage: Option<StorageErrorCode>,
    message: &str,
) {
    assert_in_band(response, code, storage);
    assert_eq!(in_band_error(response).message, message);
}

/// Asserts a unary call failed with `code` and StorageError `storage`, which
/// also travels in the `storageerror-bin` trailer.
pub fn assert_unary<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    storage: Option<StorageErrorCode>,
    message: &str,
) {
    let status = result.expect_err("the call fails");
    assert_status(&status, code, storage);
    assert_eq!(status.message(), message);
    let trailer: Vec<i32> = storage_trailer(&status).iter().map(|e| e.code).collect();
    assert_eq!(
        trailer,
        storage.map(|c| c as i32).into_iter().collect::<Vec<_>>()
    );
}
