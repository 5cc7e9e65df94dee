//! Rows encoded into requests: one buffer per request, split by bytes and
//! row count, each row checked before it is encoded.

use bytes::BytesMut;
use prost::Message;

use crate::client::SharedRows;
use crate::error::{Error, ErrorKind, Result, RowError};
use crate::proto::descriptor::DescriptorProto as WireDescriptorProto;
use crate::proto::storage::append_rows_request::{ProtoData, Rows};
use crate::proto::storage::{AppendRowsRequest, ProtoRows, ProtoSchema};
use crate::row::BqRow;

/// The request bytes of an encoded row of `len` bytes (field 1 of
/// `ProtoRows`).
pub(crate) fn wire_len(len: usize) -> usize {
    crate::__private::field_len(1, len)
}

/// Rows encoded into one buffer, to become one request.
#[derive(Debug)]
pub(crate) struct Batch {
    buf: BytesMut,
    ends: Vec<usize>,
    /// The index of its first row among the rows of the call.
    pub(crate) first_index: usize,
    /// The encoded length of the rows as `ProtoRows.serialized_rows`.
    wire_len: usize,
}

impl Batch {
    fn new(first_index: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            ends: Vec::new(),
            first_index,
            wire_len: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(crate) fn rows(&self) -> usize {
        self.ends.len()
    }

    /// The request bytes of the rows.
    pub(crate) fn wire_len(&self) -> usize {
        self.wire_len
    }

    /// The rows, in their one buffer, shared by every send of the request.
    pub(crate) fn into_rows(self) -> SharedRows {
        SharedRows::from_buffers([(self.buf.freeze(), self.ends)])
    }
}

/// Fills batches from the rows of one call.
#[derive(Debug)]
pub(crate) struct Batcher {
    row_budget: usize,
    max_rows: usize,
    max_request_bytes: usize,
    batch: Batch,
    capacity_hint: usize,
}

impl Batcher {
    /// `row_budget` is what a request may carry in rows; `capacity_hint` how
    /// many rows the caller said are coming.
    pub(crate) fn new(
        row_budget: usize,
        max_rows: usize,
        max_request_bytes: usize,
        capacity_hint: usize,
    ) -> Self {
        Self {
            row_budget,
            max_rows,
            max_request_bytes,
            batch: Batch::new(0),
            capacity_hint,
        }
    }

    /// Adds row `index`; returns the batch it filled up, if it did not fit.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidValue`] or [`ErrorKind::RowTooLarge`] naming the
    /// row: nothing of it was added.
    pub(crate) fn push<T: BqRow + ?Sized>(
        &mut self,
        row: &T,
        index: usize,
    ) -> Result<Option<Batch>> {
        self.push_with(row, &[], index)
    }

    /// [`push`](Batcher::push) for a row followed by `extra`: more fields
    /// of the same message, already encoded (a change's pseudo-columns).
    pub(crate) fn push_with<T: BqRow + ?Sized>(
        &mut self,
        row: &T,
        extra: &[u8],
        index: usize,
    ) -> Result<Option<Batch>> {
        if T::__BQ_FALLIBLE {
            row.validate().map_err(|invalid| {
                Error::new(
                    ErrorKind::InvalidValue,
                    format!(
                        "row {index} cannot be written exactly ({invalid}); \
                         the rows before it are written, nothing from it on was sent"
                    ),
                )
                .with_row_errors(vec![RowError {
                    index,
                    column: Some(invalid.column.clone()),
                    message: invalid.error.to_string(),
                }])
                .with_source(invalid)
            })?;
        }
        let row_len = row.encoded_len();
        let len = row_len + extra.len();
        let wire = wire_len(len);
        if wire > self.row_budget {
            return Err(Error::new(
                ErrorKind::RowTooLarge,
                format!(
                    "row {index} is {len} bytes encoded, more than a request of at most {} bytes can carry; \
                     the rows before it are written, nothing from it on was sent",
                    self.max_request_bytes
                ),
            ));
        }
        let mut full = None;
        if !self.batch.is_empty()
            && (self.batch.wire_len + wire > self.row_budget || self.batch.rows() >= self.max_rows)
        {
            full = Some(std::mem::replace(&mut self.batch, Batch::new(index)));
        }
        let batch = &mut self.batch;
        if batch.is_empty() {
            batch.first_index = index;
            // Room for the rows the caller said are coming, up to one request.
            let expected = len
                .saturating_mul(self.capacity_hint.max(1))
                .min(self.row_budget);
            batch.buf.reserve(expected.max(len));
        }
        self.capacity_hint = self.capacity_hint.saturating_sub(1);
        row.encode(&mut batch.buf);
        debug_assert_eq!(
            batch.buf.len() - batch.ends.last().copied().unwrap_or(0),
            row_len,
            "encoded_len and encode disagree"
        );
        batch.buf.extend_from_slice(extra);
        batch.ends.push(batch.buf.len());
        batch.wire_len += wire;
        Ok(full)
    }

    /// Whether rows are waiting in the current batch.
    pub(crate) fn has_rows(&self) -> bool {
        !self.batch.is_empty()
    }

    /// The rows added since the last batch, starting a new one at `next_index`.
    pub(crate) fn take(&mut self, next_index: usize) -> Batch {
        std::mem::replace(&mut self.batch, Batch::new(next_index))
    }
}

/// The encoded size of a request's fields other than its rows, at most.
pub(crate) fn request_overhead(
    schema: &WireDescriptorProto,
    stream: &str,
    trace_id: &str,
) -> usize {
    let request = AppendRowsRequest {
        write_stream: stream.to_owned(),
        offset: Some(i64::MAX),
        rows: Some(Rows::ProtoRows(ProtoData {
            writer_schema: Some(ProtoSchema {
                proto_descriptor: Some(schema.clone()),
            }),
            rows: Some(ProtoRows::default()),
        })),
        trace_id: trace_id.to_owned(),
        ..AppendRowsRequest::default()
    };
    // Two length prefixes grow with the rows: at most 5 bytes each for 4 GiB.
    request.encoded_len() + 10
}
