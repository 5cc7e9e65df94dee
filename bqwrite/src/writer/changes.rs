//! Changes by primary key on `_default`: the writer schema with the
//! pseudo-columns, and a change encoded as its row followed by them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use bytes::BufMut;
use prost_types::field_descriptor_proto::{Label, Type};

use super::{AppendTicket, DefaultStream, Writer};
use crate::__private::field_len;
use crate::change::{ChangeOf, ChangeSequence, ChangeType};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::descriptor::{DescriptorProto, FieldDescriptorProto};
use crate::row::BqRow;

/// The pseudo-column saying what a change does.
pub(crate) const CHANGE_TYPE: &str = "_CHANGE_TYPE";
/// The pseudo-column ordering the changes of a key.
pub(crate) const CHANGE_SEQUENCE_NUMBER: &str = "_CHANGE_SEQUENCE_NUMBER";

/// A row type's writer schema extended with the two pseudo-columns, and
/// their field numbers.
#[derive(Debug)]
pub(crate) struct ChangeSchema {
    pub(crate) descriptor: DescriptorProto,
    type_field: u32,
    sequence_field: u32,
}

impl ChangeSchema {
    /// `row`'s message plus `_CHANGE_TYPE` and `_CHANGE_SEQUENCE_NUMBER`,
    /// optional strings numbered after its highest field. Protobuf messages
    /// concatenate, so a change is the row's bytes followed by these fields.
    fn of(row: &DescriptorProto) -> Self {
        let highest = row.field.iter().map(|f| f.number()).max().unwrap_or(0);
        let type_field = next_number(highest);
        let sequence_field = next_number(type_field);
        let mut descriptor = row.clone();
        for (name, number) in [
            (CHANGE_TYPE, type_field),
            (CHANGE_SEQUENCE_NUMBER, sequence_field),
        ] {
            descriptor.field.push(FieldDescriptorProto {
                name: Some(name.to_owned()),
                number: Some(number),
                label: Some(Label::Optional as i32),
                r#type: Some(Type::String as i32),
                ..FieldDescriptorProto::default()
            });
        }
        Self {
            descriptor,
            type_field: type_field as u32,
            sequence_field: sequence_field as u32,
        }
    }

    /// The schema of `T`, built once per row type.
    pub(crate) fn get<T: BqRow + ?Sized>() -> &'static ChangeSchema {
        static SCHEMAS: OnceLock<Mutex<HashMap<usize, &'static ChangeSchema>>> = OnceLock::new();
        let row = T::wire_descriptor();
        // Each row type's descriptor is one static: its address is the key.
        let key = std::ptr::from_ref(row) as usize;
        let mut schemas = SCHEMAS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        schemas
            .entry(key)
            .or_insert_with(|| Box::leak(Box::new(Self::of(row))))
    }

    /// The encoded length of a change's pseudo-column fields.
    pub(crate) fn fields_len(&self, kind: ChangeType, sequence: Option<&ChangeSequence>) -> usize {
        let sequence = sequence.map_or(0, |s| field_len(self.sequence_field, s.text_len()));
        field_len(self.type_field, kind.as_str().len()) + sequence
    }

    /// The pseudo-column fields of a change, encoded, appended to `out`
    /// ([`fields_len`](Self::fields_len) bytes, no allocation).
    pub(crate) fn encode_fields(
        &self,
        kind: ChangeType,
        sequence: Option<&ChangeSequence>,
        out: &mut impl BufMut,
    ) {
        use prost::encoding::{WireType, encode_key, encode_varint};
        encode_key(self.type_field, WireType::LengthDelimited, out);
        encode_varint(kind.as_str().len() as u64, out);
        out.put_slice(kind.as_str().as_bytes());
        if let Some(sequence) = sequence {
            encode_key(self.sequence_field, WireType::LengthDelimited, out);
            encode_varint(sequence.text_len() as u64, out);
            sequence.write_text(out);
        }
    }
}

/// The field number after `n`, skipping the range protobuf reserves.
fn next_number(n: i32) -> i32 {
    match n + 1 {
        19_000..=19_999 => 20_000,
        next => next,
    }
}

impl<T: BqRow> Writer<T, DefaultStream> {
    /// Writes changes by primary key (BigQuery change data capture) and
    /// waits until every one is acknowledged: each
    /// [`Change::upsert`](crate::Change::upsert) inserts its row or replaces the whole row with the
    /// same primary key, each [`Change::delete`](crate::Change::delete) removes it. BigQuery applies
    /// them per key: the change with the highest
    /// [`ChangeSequence`] wins; without sequences,
    /// the one that arrived last.
    ///
    /// ```no_run
    /// use bqwrite::{BqRow, Change, ChangeSequence, Table, Writer};
    ///
    /// #[derive(BqRow)]
    /// struct Customer {
    ///     id: i64,
    ///     name: Option<String>,
    /// }
    ///
    /// # async fn run(table: Table) -> bqwrite::Result<()> {
    /// let mut w = Writer::<Customer>::default_stream(&table).await?;
    /// let alice = Customer { id: 1, name: Some("Alice".into()) };
    /// let bob = Customer { id: 2, name: None }; // a delete needs only the key
    /// w.append_changes([Change::upsert(alice), Change::delete(bob)]).await?;
    /// let carol = Customer { id: 3, name: Some("Carol".into()) };
    /// let seq = ChangeSequence::new([0x1, 0x2a])?;
    /// w.append_changes([Change::upsert(carol).sequence(seq)]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// The table needs a primary key (`PRIMARY KEY (...) NOT ENFORCED`),
    /// and `T` must write every one of its columns. The Storage Write API
    /// does not tell a client the primary key (only the BigQuery REST API
    /// does), so the service checks both when the first change arrives:
    /// from then on the writer sends its requests with a writer schema of
    /// `T`'s columns plus the pseudo-columns `_CHANGE_TYPE` and
    /// `_CHANGE_SEQUENCE_NUMBER`. Rows written with
    /// [`append`](Writer::append) after that carry no change type.
    ///
    /// Only `_default` takes changes: on a writer of another stream type
    /// this method does not exist.
    ///
    /// ```compile_fail
    /// # use bqwrite::{BqRow, Change, Committed, Table, Writer};
    /// # #[derive(BqRow)] struct Customer { id: i64 }
    /// # async fn run(table: Table) -> bqwrite::Result<()> {
    /// let mut w: Writer<Customer, Committed> = Writer::<Customer>::committed(&table).await?;
    /// w.append_changes([Change::upsert(Customer { id: 1 })]).await?; // no such method
    /// # Ok(()) }
    /// ```
    ///
    /// `_default` delivers at least once: after a lost answer a change may
    /// be written twice. With sequence numbers a change written again
    /// cannot alter the outcome; without them, the repeat counts as the
    /// latest arrival of its key. The same holds for a change the writer
    /// sends again after a transient error or beside a rejected row: it
    /// arrives after the changes sent behind it, and without a sequence
    /// number may win over a newer change to the same key. Give changes
    /// sequence numbers when a key can change more than once in flight.
    ///
    /// # Errors
    /// - [`ErrorKind::SchemaMismatch`]
    ///   when the service refuses the change schema: the table has no
    ///   primary key, or `T` lacks one of its columns (the message is the
    ///   service's and names the problem). The writer is closed.
    /// - otherwise as [`append`](Writer::append): row errors (an invalid
    ///   value) carry the index of the change in `changes`.
    pub async fn append_changes<I>(&mut self, changes: I) -> Result<u64>
    where
        I: IntoIterator,
        I::Item: ChangeOf<T>,
    {
        let first = !self.changes;
        let ticket = self.send_changes(changes).await?;
        let outcome = self.outcome(ticket.await);
        match outcome {
            Err(error)
                if first
                    && error.kind() == ErrorKind::Server
                    && error.code() == Some(tonic::Code::InvalidArgument) =>
            {
                Err(refused(self.table.path(), error))
            }
            outcome => outcome,
        }
    }

    /// Queues changes as [`send`](Writer::send) queues rows, and returns
    /// the ticket of their acknowledgement; see
    /// [`append_changes`](Writer::append_changes).
    ///
    /// # Errors
    /// As [`send`](Writer::send).
    pub async fn send_changes<I>(&mut self, changes: I) -> Result<AppendTicket<DefaultStream>>
    where
        I: IntoIterator,
        I::Item: ChangeOf<T>,
    {
        self.handle.check_open()?;
        self.enter_change_mode().await?;
        self.handle.touch();
        let schema = ChangeSchema::get::<T>();
        let mut fields = Vec::with_capacity(64);
        self.send_each(changes.into_iter(), |batcher, change, index| {
            let (row, kind, sequence) = change.__parts();
            fields.clear();
            schema.encode_fields(kind, sequence, &mut fields);
            batcher.push_with(row, &fields, index)
        })
        .await
    }

    /// From the first change on, requests carry the change schema: the
    /// rows sent before are settled, and a new connection starts with it.
    pub(in crate::writer) async fn enter_change_mode(&mut self) -> Result<()> {
        if self.changes {
            return Ok(());
        }
        self.settle().await?;
        let schema = ChangeSchema::get::<T>();
        self.restart_with_schema(&schema.descriptor, &[CHANGE_TYPE, CHANGE_SEQUENCE_NUMBER])?;
        self.changes = true;
        Ok(())
    }
}

/// The service refused the first changes to `table` (their writer schema).
pub(crate) fn refused(table: &impl std::fmt::Display, error: Error) -> Error {
    Error::new(
        ErrorKind::SchemaMismatch,
        format!(
            "`{}` refused changes: a table written with changes needs a primary key, \
             and the row type must write every primary-key column (the service said: {})",
            table,
            error
                .status()
                .map_or_else(|| error.to_string(), |s| s.message().to_owned())
        ),
    )
    .with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_columns_follow_the_highest_field() {
        let row = DescriptorProto {
            name: Some("Row".into()),
            field: vec![FieldDescriptorProto {
                name: Some("id".into()),
                number: Some(7),
                ..FieldDescriptorProto::default()
            }],
            ..DescriptorProto::default()
        };
        let schema = ChangeSchema::of(&row);
        let names: Vec<_> = schema.descriptor.field.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["id", CHANGE_TYPE, CHANGE_SEQUENCE_NUMBER]);
        assert_eq!((schema.type_field, schema.sequence_field), (8, 9));
        assert_eq!(next_number(18_999), 20_000);

        let mut out = Vec::new();
        let sequence = ChangeSequence::new([1, 0x2a]).unwrap();
        schema.encode_fields(ChangeType::Delete, Some(&sequence), &mut out);
        // field 8 "DELETE", field 9 "1/2A"
        assert_eq!(out, b"\x42\x06DELETE\x4a\x041/2A");
        let len = schema.fields_len(ChangeType::Delete, Some(&sequence));
        assert_eq!(len, out.len());
        out.clear();
        schema.encode_fields(ChangeType::Upsert, None, &mut out);
        assert_eq!(out, b"\x42\x06UPSERT");
        assert_eq!(schema.fields_len(ChangeType::Upsert, None), out.len());
    }
}
