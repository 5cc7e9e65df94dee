//! One AppendRows request as the client puts it on the wire, the codec
//! that writes it, and the call that carries it.
//!
//! A writer keeps every request it sent until the service answers it, to
//! send it again after a reconnect. The rows of a request are therefore
//! held once, in [`SharedRows`], by the writer's queue and by each send of
//! the request alike: a send costs a reference count, not a copy of the
//! rows (nor of the writer schema, which is `'static`).
//!
//! [`Append`] is written by hand with prost's encoding functions into the
//! bytes prost writes for the generated
//! [`AppendRowsRequest`](crate::proto::storage::AppendRowsRequest) (the
//! tests check it field by field).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::{BufMut, Bytes};
use prost::encoding::{self, WireType, encode_key, encode_varint};
use tonic::Status;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_prost::ProstDecoder;

use crate::__private::field_len;
use crate::proto::descriptor::DescriptorProto as WireDescriptorProto;
use crate::proto::storage::AppendRowsResponse;

/// The encoded rows of one request, shared: cloning it is a reference
/// count, whatever its size. The rows stay in the buffers they were
/// encoded into (a batch's one buffer, or a sink's few), cut by their ends:
/// no `Bytes` per row to count references to.
#[derive(Clone, Default)]
pub(crate) struct SharedRows(Arc<Segments>);

#[derive(Default)]
struct Segments {
    segments: Vec<Segment>,
    rows: usize,
    /// The encoded length of the rows as a `ProtoRows` message.
    encoded_len: usize,
}

/// Rows encoded back to back into one buffer: row `i` ends at `ends[i]`
/// and starts where row `i - 1` ends (the first at 0).
struct Segment {
    buf: Bytes,
    ends: Vec<usize>,
}

impl Segment {
    fn rows(&self) -> impl Iterator<Item = Bytes> + '_ {
        self.row_ranges().map(|range| self.buf.slice(range))
    }

    fn row_ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).map(|(a, b)| a..b)
    }
}

impl SharedRows {
    /// The rows of `buffers`, each a buffer and the ends of its rows.
    pub(crate) fn from_buffers(buffers: impl IntoIterator<Item = (Bytes, Vec<usize>)>) -> Self {
        let segments: Vec<Segment> = buffers
            .into_iter()
            .map(|(buf, ends)| Segment { buf, ends })
            .collect();
        let rows = segments.iter().map(|s| s.ends.len()).sum();
        let encoded_len = segments
            .iter()
            .flat_map(Segment::row_ranges)
            .map(|row| field_len(1, row.len()))
            .sum();
        Self(Arc::new(Segments {
            segments,
            rows,
            encoded_len,
        }))
    }

    /// Rows each in a buffer of its own.
    pub(crate) fn new(rows: Vec<Bytes>) -> Self {
        Self::from_buffers(rows.into_iter().map(|row| {
            let len = row.len();
            (row, vec![len])
        }))
    }

    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        self.0.rows
    }

    /// The rows, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Bytes> + '_ {
        self.0.segments.iter().flat_map(Segment::rows)
    }

    /// Some of the rows, in the order given, as rows of their own (a
    /// request sent again without some rows).
    pub(crate) fn pick(&self, indices: impl IntoIterator<Item = usize>) -> Self {
        let all: Vec<Bytes> = self.iter().collect();
        Self::new(indices.into_iter().map(|i| all[i].clone()).collect())
    }

    fn encoded_len(&self) -> usize {
        self.0.encoded_len
    }

    /// Writes the rows as the fields of a `ProtoRows` message.
    fn encode(&self, buf: &mut impl BufMut) {
        for segment in &self.0.segments {
            for row in segment.row_ranges() {
                encode_key(1, WireType::LengthDelimited, buf);
                encode_varint(row.len() as u64, buf);
                buf.put_slice(&segment.buf[row]);
            }
        }
    }
}

impl fmt::Debug for SharedRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRows")
            .field("rows", &self.0.rows)
            .field("buffers", &self.0.segments.len())
            .field("encoded_len", &self.0.encoded_len)
            .finish()
    }
}

/// An AppendRows request whose rows are [`SharedRows`] (the fields of
/// `AppendRowsRequest`, `ProtoData` inlined; an empty string or a zero is
/// a field left out, as prost leaves it out).
#[derive(Debug, Clone, Default)]
pub(crate) struct Append {
    /// `write_stream` (1): named by a connection's first request, and by
    /// every request on a shared connection.
    pub(crate) write_stream: Option<Arc<str>>,
    /// `offset` (2), for explicit streams.
    pub(crate) offset: Option<i64>,
    /// `proto_rows.writer_schema` (4.1).
    pub(crate) writer_schema: Option<&'static WireDescriptorProto>,
    /// `proto_rows.rows` (4.2).
    pub(crate) rows: SharedRows,
    /// `trace_id` (6).
    pub(crate) trace_id: String,
    /// `missing_value_interpretations` (7).
    pub(crate) missing_value_interpretations: Arc<HashMap<String, i32>>,
    /// `default_missing_value_interpretation` (8).
    pub(crate) default_missing_value_interpretation: i32,
}

impl Append {
    /// The encoded length of `ProtoSchema { proto_descriptor }`.
    fn schema_len(schema: &WireDescriptorProto) -> usize {
        encoding::message::encoded_len(1, schema)
    }

    /// The encoded length of the `ProtoData` of field 4.
    fn data_len(&self) -> usize {
        let schema = self
            .writer_schema
            .map_or(0, |s| field_len(1, Self::schema_len(s)));
        schema + field_len(2, self.rows.encoded_len())
    }

    /// The encoded length of the request, as `AppendRowsRequest`.
    pub(crate) fn encoded_len(&self) -> usize {
        let stream = self
            .write_stream
            .as_deref()
            .filter(|s| !s.is_empty())
            .map_or(0, |s| field_len(1, s.len()));
        let offset = self
            .offset
            .map_or(0, |offset| encoding::message::encoded_len(2, &offset));
        let trace = if self.trace_id.is_empty() {
            0
        } else {
            field_len(6, self.trace_id.len())
        };
        let missing = encoding::hash_map::encoded_len(
            encoding::string::encoded_len,
            encoding::int32::encoded_len,
            7,
            &self.missing_value_interpretations,
        );
        let default_missing = if self.default_missing_value_interpretation == 0 {
            0
        } else {
            encoding::int32::encoded_len(8, &self.default_missing_value_interpretation)
        };
        stream + offset + field_len(4, self.data_len()) + trace + missing + default_missing
    }

    /// Writes the request as `AppendRowsRequest`, fields in number order.
    pub(crate) fn encode(&self, buf: &mut impl BufMut) {
        if let Some(stream) = self.write_stream.as_deref().filter(|s| !s.is_empty()) {
            encode_key(1, WireType::LengthDelimited, buf);
            encode_varint(stream.len() as u64, buf);
            buf.put_slice(stream.as_bytes());
        }
        if let Some(offset) = &self.offset {
            encoding::message::encode(2, offset, buf);
        }
        encode_key(4, WireType::LengthDelimited, buf);
        encode_varint(self.data_len() as u64, buf);
        if let Some(schema) = self.writer_schema {
            encode_key(1, WireType::LengthDelimited, buf);
            encode_varint(Self::schema_len(schema) as u64, buf);
            encoding::message::encode(1, schema, buf);
        }
        encode_key(2, WireType::LengthDelimited, buf);
        encode_varint(self.rows.encoded_len() as u64, buf);
        self.rows.encode(buf);
        if !self.trace_id.is_empty() {
            encoding::string::encode(6, &self.trace_id, buf);
        }
        encoding::hash_map::encode(
            encoding::string::encode,
            encoding::string::encoded_len,
            encoding::int32::encode,
            encoding::int32::encoded_len,
            7,
            &self.missing_value_interpretations,
            buf,
        );
        if self.default_missing_value_interpretation != 0 {
            encoding::int32::encode(8, &self.default_missing_value_interpretation, buf);
        }
    }
}

/// Opens an AppendRows call on `channel`, as the generated client does,
/// but with [`AppendCodec`]: requests whose rows are shared with the
/// writer's resend queue, not copied into each request.
pub(super) async fn call<S>(
    channel: Channel,
    request: tonic::Request<S>,
) -> Result<tonic::Response<tonic::Streaming<AppendRowsResponse>>, Status>
where
    S: tokio_stream::Stream<Item = Append> + Send + 'static,
{
    const SERVICE: &str = "google.cloud.bigquery.storage.v1.BigQueryWrite";
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(super::MAX_DECODING_MESSAGE_SIZE)
        .max_encoding_message_size(usize::MAX);
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("Service was not ready: {e}")))?;
    let path =
        PathAndQuery::from_static("/google.cloud.bigquery.storage.v1.BigQueryWrite/AppendRows");
    let mut request = request;
    request
        .extensions_mut()
        .insert(tonic::GrpcMethod::new(SERVICE, "AppendRows"));
    grpc.streaming(request, path, AppendCodec).await
}

/// The codec of an AppendRows call: [`Append`] out, prost's
/// `AppendRowsResponse` in.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AppendCodec;

impl Codec for AppendCodec {
    type Encode = Append;
    type Decode = AppendRowsResponse;
    type Encoder = AppendEncoder;
    type Decoder = ProstDecoder<AppendRowsResponse>;

    fn encoder(&mut self) -> Self::Encoder {
        AppendEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::default()
    }
}

/// Writes an [`Append`] into a gRPC message.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AppendEncoder;

impl Encoder for AppendEncoder {
    type Item = Append;
    type Error = Status;

    fn encode(&mut self, item: Append, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.reserve(item.encoded_len());
        item.encode(buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use prost::Message;

    use super::*;
    use crate::proto::storage::append_rows_request::{ProtoData, Rows};
    use crate::proto::storage::{AppendRowsRequest, ProtoRows, ProtoSchema};

    static SCHEMA: LazyLock<WireDescriptorProto> = LazyLock::new(|| WireDescriptorProto {
        name: Some("Row".into()),
        field: vec![crate::proto::descriptor::FieldDescriptorProto {
            name: Some("id".into()),
            number: Some(1),
            ..Default::default()
        }],
        ..Default::default()
    });

    fn rows(n: usize, size: usize) -> Vec<Bytes> {
        (0..n)
            .map(|i| Bytes::from(vec![i as u8; size + i % 3]))
            .collect()
    }

    /// The generated request with the same fields.
    fn generated(append: &Append) -> AppendRowsRequest {
        AppendRowsRequest {
            write_stream: append.write_stream.as_deref().unwrap_or("").to_owned(),
            offset: append.offset,
            rows: Some(Rows::ProtoRows(ProtoData {
                writer_schema: append.writer_schema.map(|s| ProtoSchema {
                    proto_descriptor: Some(s.clone()),
                }),
                rows: Some(ProtoRows {
                    serialized_rows: append.rows.iter().collect(),
                }),
            })),
            trace_id: append.trace_id.clone(),
            missing_value_interpretations: (*append.missing_value_interpretations).clone(),
            default_missing_value_interpretation: append.default_missing_value_interpretation,
        }
    }

    fn decode(bytes: &[u8]) -> AppendRowsRequest {
        AppendRowsRequest::decode(bytes).expect("decodes")
    }

    fn encoded(append: &Append) -> Vec<u8> {
        let mut buf = Vec::new();
        append.encode(&mut buf);
        assert_eq!(buf.len(), append.encoded_len(), "encoded_len is exact");
        buf
    }

    fn cases() -> Vec<Append> {
        let one_column = Arc::new(HashMap::from([("at".to_owned(), 2)]));
        vec![
            // a request behind a connection's first: rows only
            Append {
                rows: SharedRows::new(rows(3, 10)),
                ..Append::default()
            },
            // no rows at all
            Append::default(),
            // a connection's first request on an explicit stream
            Append {
                write_stream: Some(Arc::from("projects/p/datasets/d/tables/t/streams/s")),
                offset: Some(1 << 40),
                writer_schema: Some(&SCHEMA),
                rows: SharedRows::new(rows(200, 300)),
                trace_id: "bqwrite:test".into(),
                missing_value_interpretations: one_column,
                default_missing_value_interpretation: 2,
            },
            // offset zero still goes on the wire (a wrapper message)
            Append {
                offset: Some(0),
                rows: SharedRows::new(rows(1, 0)),
                ..Append::default()
            },
        ]
    }

    #[test]
    fn the_bytes_are_prosts_for_the_generated_request() {
        for append in cases() {
            let ours = encoded(&append);
            let prosts = generated(&append).encode_to_vec();
            assert_eq!(ours, prosts, "{append:?}");
            assert_eq!(decode(&ours), generated(&append));
        }
    }

    #[test]
    fn every_map_entry_goes_on_the_wire() {
        let columns: HashMap<String, i32> = (0..5).map(|i| (format!("column_{i}"), 2)).collect();
        let append = Append {
            rows: SharedRows::new(rows(2, 4)),
            missing_value_interpretations: Arc::new(columns.clone()),
            ..Append::default()
        };
        // the map's order is the map's: compared decoded
        let decoded = decode(&encoded(&append));
        assert_eq!(decoded.missing_value_interpretations, columns);
        assert_eq!(decoded, generated(&append));
    }

    #[test]
    fn clones_share_the_rows_and_picks_copy_only_the_picked() {
        let shared = SharedRows::new(rows(5, 8));
        let again = shared.clone();
        assert!(Arc::ptr_eq(&shared.0, &again.0));
        let all: Vec<Bytes> = shared.iter().collect();
        let picked = shared.pick([4, 1]);
        assert_eq!(picked.len(), 2);
        assert_eq!(
            picked.iter().collect::<Vec<_>>(),
            [all[4].clone(), all[1].clone()]
        );
        assert_eq!(
            picked.encoded_len(),
            ProtoRows {
                serialized_rows: picked.iter().collect()
            }
            .encoded_len()
        );
    }

    #[test]
    fn rows_cut_from_buffers_are_the_rows_as_prost_writes_them() {
        // two buffers of rows back to back, one of them with an empty row
        let first = Bytes::from_static(b"aaabbbbbc");
        let second = Bytes::from(vec![7u8; 300]);
        let shared = SharedRows::from_buffers([
            (first.clone(), vec![3, 8, 8, 9]),
            (second.clone(), vec![100, 300]),
        ]);
        let expected = vec![
            first.slice(0..3),
            first.slice(3..8),
            first.slice(8..8),
            first.slice(8..9),
            second.slice(0..100),
            second.slice(100..300),
        ];
        assert_eq!(shared.len(), 6);
        assert_eq!(shared.iter().collect::<Vec<_>>(), expected);
        assert_eq!(
            shared.pick([5, 0]).iter().collect::<Vec<_>>(),
            [expected[5].clone(), expected[0].clone()]
        );
        let append = Append {
            offset: Some(9),
            rows: shared,
            ..Append::default()
        };
        assert_eq!(encoded(&append), generated(&append).encode_to_vec());
    }
}
