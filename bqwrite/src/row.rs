//! Rows: Rust structs written as BigQuery rows with `#[derive(BqRow)]`.
//!
//! ```
//! use bqwrite::BqRow;
//! use bqwrite::types::{Date, Numeric};
//!
//! #[derive(BqRow)]
//! #[bq(rename_all = "camelCase")]
//! struct Order<'a> {
//!     order_id: i64,                 // orderId   INT64    REQUIRED
//!     customer: &'a str,             // customer  STRING   REQUIRED
//!     placed_on: Date,               // placedOn  DATE     REQUIRED
//!     total: Option<Numeric>,        // total     NUMERIC  NULLABLE
//!     tags: Vec<String>,             // tags      STRING   REPEATED
//!     shipping: Option<Address>,     // shipping  STRUCT   NULLABLE
//!     #[bq(type = "JSON")]
//!     attributes: String,            // attributes JSON    REQUIRED
//!     #[bq(skip)]
//!     cache_key: u64,                // not a column
//! }
//!
//! #[derive(BqRow)]
//! struct Address {
//!     street: String,
//!     #[bq(rename = "zip_code")]
//!     zip: Option<String>,
//! }
//!
//! let order = Order {
//!     order_id: 17,
//!     customer: "Ada",
//!     placed_on: Date::from_ymd(2024, 1, 2)?,
//!     total: Some("19.99".parse()?),
//!     tags: vec!["gift".into()],
//!     shipping: Some(Address { street: "1 Main St".into(), zip: None }),
//!     attributes: r#"{"channel": "web"}"#.into(),
//!     cache_key: 0,
//! };
//! let mut buf = Vec::new();
//! order.encode(&mut buf); // one serialized proto2 row, as AppendRows takes it
//! assert_eq!(buf.len(), order.encoded_len());
//! assert_eq!(Order::descriptor().field.len(), 7);
//! assert_eq!(Order::table_schema().fields[0].name, "orderId");
//! # Ok::<(), bqwrite::types::ValueError>(())
//! ```
//!
//! # Columns
//!
//! Each named field is a column, in declaration order, named as the field
//! (without `r#`). Its mode comes from its type:
//!
//! | field type | mode | proto2 label |
//! | --- | --- | --- |
//! | `T` | REQUIRED | `required` |
//! | `Option<T>` | NULLABLE (`None` is NULL) | `optional` |
//! | `Vec<T>` | REPEATED (empty is an empty array) | `repeated` (numbers packed) |
//!
//! `Option<Vec<T>>`, `Vec<Option<T>>`, `Option<Option<T>>` and `Vec<Vec<T>>`
//! have no BigQuery meaning and do not compile.
//!
//! `T` is any type that implements [`BqField`]:
//!
//! | Rust type | BigQuery type | proto type |
//! | --- | --- | --- |
//! | `i64`, `i32`, `i16`, `i8`, `isize`, `u32`, `u16`, `u8` | INT64 | `int64` |
//! | `f64` / `f32` | FLOAT64 | `double` / `float` |
//! | `bool` | BOOL | `bool` |
//! | `String`, `str` | STRING | `string` |
//! | `bytes::Bytes`, `[u8]`, `Vec<u8>` with `#[bq(bytes)]` | BYTES | `bytes` |
//! | [`types::Date`] | DATE | `int32` days |
//! | [`types::Timestamp`] | TIMESTAMP | `int64` microseconds |
//! | [`types::DateTime`] / [`types::Time`] | DATETIME / TIME | `int64` packed civil time |
//! | [`types::Numeric`] / [`types::BigNumeric`] | NUMERIC / BIGNUMERIC | `bytes` |
//! | [`types::Json`], `serde_json::Value` | JSON | `string` |
//! | [`types::Geography`] | GEOGRAPHY | `string` |
//! | [`types::Interval`] | INTERVAL | `string` |
//! | [`types::Range<T>`](crate::types::Range) | `RANGE<DATE/DATETIME/TIMESTAMP>` | message `{start = 1, end = 2}` |
//! | `uuid::Uuid` (feature `uuid`) | STRING | `string`, hyphenated |
//! | a struct that derives [`BqRow`] | STRUCT | a nested message |
//! | `&T`, `Box<T>`, `Rc<T>`, `Arc<T>`, `Cow<'_, T>` | as `T` | as `T` |
//!
//! `u64`, `usize` and `u128` are not INT64 columns: INT64 is signed, and their
//! large values would not fit. Use `i64`, or write them as NUMERIC with
//! `#[bq(type = "NUMERIC")]`, which holds every `u64` exactly.
//!
//! A plain `Vec<u8>` field does not compile either: say `#[bq(bytes)]` for a
//! BYTES column or `#[bq(type = "INT64")]` for an `ARRAY<INT64>`. Inside an
//! array it is unambiguous (BigQuery has no arrays of arrays):
//! `Vec<Vec<u8>>` is a REPEATED BYTES column, and `&[u8]` is always BYTES.
//!
//! # Attributes
//!
//! On the struct:
//! - `#[bq(rename_all = "...")]`: column names from field names by a rule:
//!   `"lowercase"`, `"UPPERCASE"`, `"PascalCase"`, `"camelCase"`, `"snake_case"`,
//!   `"SCREAMING_SNAKE_CASE"`.
//! - `#[bq(missing = "default")]`: every column a row leaves out (a `None`
//!   field, or a column the struct lacks) takes the column's default value;
//!   see [Column defaults](#column-defaults). `missing = "null"` is the
//!   default behaviour, spelt out.
//!
//! On a field:
//! - `#[bq(rename = "name")]`: the column name.
//! - `#[bq(skip)]`: the field is not a column (its type needs no [`BqField`]).
//! - `#[bq(type = "...")]`: write the values as another BigQuery type where the
//!   Rust type allows it, checked at compile time: a string as STRING, BYTES,
//!   JSON, GEOGRAPHY, NUMERIC, BIGNUMERIC, DATE, DATETIME, TIME, TIMESTAMP or
//!   INTERVAL (BigQuery parses the text); an integer (`u64` too) as NUMERIC;
//!   bytes as BYTES. Legacy names (`INTEGER`, `FLOAT`, `BOOLEAN`, `DECIMAL`,
//!   `BIGDECIMAL`) are accepted, in any case.
//! - `#[bq(bytes)]`: the same as `#[bq(type = "BYTES")]`.
//! - `#[bq(description = "...")]`: the column description in [`BqRow::table_schema`].
//! - `#[bq(default)]` on an `Option<T>` field: `None` asks BigQuery for the
//!   column's default value instead of NULL; see [Column defaults](#column-defaults).
//!
//! # Column defaults
//!
//! A column may have a default value expression (`defaultValueExpression` in
//! the table schema, `DEFAULT ...` in DDL): a literal, or `CURRENT_TIMESTAMP()`,
//! `GENERATE_UUID()` and the like, evaluated when the row is written. The
//! Storage Write API applies it only when asked, column by column
//! (`missing_value_interpretations`, sent with every request) or for the whole
//! connection (`default_missing_value_interpretation`, sent on each
//! connection's first request, so again after every reconnect):
//!
//! - `#[bq(default)]` on an `Option<T>` field: when the field is `None` the
//!   column gets its default (or NULL if it has none); `Some` values are
//!   written as they are.
//! - `#[bq(missing = "default")]` on the struct: the same for every column a
//!   row leaves out, including columns of the table the struct has no field for.
//! - A REQUIRED column with a default may be left out of the struct: the writer
//!   asks for its default on every request. It may also be written by an
//!   `Option<T>` field that asks for defaults.
//!
//! Defaults apply to top-level columns only, as in BigQuery (a STRUCT column's
//! default is set for the whole STRUCT): when a struct with `#[bq(default)]`
//! fields is nested as a STRUCT column, its `None` fields are NULL.
//!
//! ```
//! use bqwrite::BqRow;
//!
//! // The table: id INT64 REQUIRED, status STRING DEFAULT 'new',
//! // created TIMESTAMP REQUIRED DEFAULT CURRENT_TIMESTAMP()
//! #[derive(BqRow)]
//! struct Ticket {
//!     id: i64,
//!     #[bq(default)]
//!     status: Option<String>,
//!     // `created` is left out: BigQuery writes the time of the append
//! }
//!
//! assert_eq!(Ticket::DEFAULT_COLUMNS, ["status"]);
//! ```
//!
//! # Column names
//!
//! A column name that is a proto identifier (ASCII letters, digits and `_`,
//! not starting with a digit) is also the proto field name. Any other name
//! BigQuery accepts as a [flexible column name] works too, such as
//! `first-name`, `total %` or `名前`: the proto field gets a generated name
//! (`_col` and the field number) and the Storage Write API's `column_name`
//! field option carries the column name. That option is only in
//! [`BqRow::wire_descriptor`], which the writer sends; [`BqRow::descriptor`]
//! (a `prost_types` descriptor, which drops options it does not know) shows
//! just the generated name.
//!
//! Names are at most 300 characters, unique regardless of case, do not start
//! with a prefix BigQuery reserves (`_TABLE_`, `_FILE_`, `_PARTITION`, ...),
//! and contain none of the characters flexible column names exclude:
//! `` ! " $ ( ) * , . / ; ? @ [ \ ] ^ ` { } ~ `` and control characters.
//! Every rule is checked at compile time.
//!
//! ```
//! use bqwrite::BqRow;
//!
//! #[derive(BqRow)]
//! struct Person {
//!     #[bq(rename = "first-name")]
//!     first_name: String,
//!     age: i64,
//! }
//!
//! let field = &Person::wire_descriptor().field[0];
//! let column = field.options.as_ref().and_then(|o| o.column_name.as_deref());
//! assert_eq!(column, Some("first-name"));
//! assert_eq!(Person::table_schema().fields[0].name, "first-name");
//! ```
//!
//! [flexible column name]: https://cloud.google.com/bigquery/docs/schemas#flexible-column-names
//!
//! # Nesting
//!
//! A field whose type derives `BqRow` is a STRUCT column; `Vec<Address>` is a
//! REPEATED STRUCT. Nesting may go 15 levels deep, as in BigQuery; deeper or
//! recursive structs do not compile (when two structs contain each other the
//! compiler reports a cycle in evaluating `__BQ_DEPTH`). The descriptor holds
//! every nested message inside the root message, so it is self-contained.
//!
//! # The types applications already have
//!
//! With the feature of the same name on, these are columns directly, and
//! inside `Option`, `Vec` and nested structs; the date and time ones are
//! also the elements of a [`types::Range`] (`Range<NaiveDate>`,
//! `Range<DateTime<Utc>>`, ...):
//!
//! | Rust type | BigQuery type | feature |
//! | --- | --- | --- |
//! | `chrono::DateTime<Utc>`, `chrono::DateTime<FixedOffset>` | TIMESTAMP | `chrono` |
//! | `chrono::NaiveDateTime` / `NaiveDate` / `NaiveTime` | DATETIME / DATE / TIME | `chrono` |
//! | `time::OffsetDateTime` | TIMESTAMP | `time` |
//! | `time::PrimitiveDateTime` / `Date` / `Time` | DATETIME / DATE / TIME | `time` |
//! | `rust_decimal::Decimal` | NUMERIC (`#[bq(type = "BIGNUMERIC")]`: BIGNUMERIC) | `rust_decimal` |
//! | `uuid::Uuid` | STRING | `uuid` |
//! | `serde_json::Value` | JSON | |
//! | `std::net::IpAddr` | STRING | |
//! | `std::time::Duration` | INTERVAL (hours, minutes, seconds) | |
//! | `std::time::SystemTime` | TIMESTAMP | |
//! | `&[T]` (`&[String]`, `&[&str]`, ...) | REPEATED, as `Vec<T>` | |
//!
//! Each is written as its [`types`] counterpart (the same
//! bytes), converted while it is encoded. A value BigQuery cannot hold
//! exactly (a chrono instant with nanoseconds, a `Decimal` with 10
//! fractional digits, a date past 9999, a `Duration` beyond INTERVAL's
//! range) is never rounded or truncated silently:
//!
//! - [`BqRow::validate`] returns a [`ColumnValueError`] naming the column
//!   (`address.since` for nested fields) and the value. The writer calls it
//!   on every row of such a struct: `append` fails with
//!   [`ErrorKind::InvalidValue`](crate::ErrorKind::InvalidValue), its
//!   [`row_errors`](crate::Error::row_errors) give the row index, the column
//!   and the value, and every row before it is written.
//! - `#[bq(truncate)]` on a field opts into truncating precision toward zero
//!   (nanoseconds to microseconds, decimal digits past the ninth); a value out
//!   of range is still rejected.
//! - Only those types make a struct fallible: for the others `validate` is a
//!   constant `Ok(())` and the writer does not call it.
//!
//! # Your own types
//!
//! `#[derive(BqField)]` makes a newtype the column of the type it wraps, and
//! a fieldless enum a STRING column of its variant names, renamed as serde
//! renames unit variants (`#[bq(rename_all = "...")]` on the enum,
//! `#[bq(rename = "...")]` on a variant):
//!
//! ```
//! # #[cfg(all(feature = "chrono", feature = "rust_decimal"))] {
//! use bqwrite::{BqField, BqRow};
//! use chrono::{DateTime, NaiveDate, Utc};
//! use rust_decimal::Decimal;
//!
//! #[derive(BqField)]
//! struct UserId(i64);                     // INT64
//!
//! #[derive(BqField)]
//! #[bq(rename_all = "snake_case")]
//! enum Status {                           // STRING: "active", "on_hold", "closed"
//!     Active,
//!     OnHold,
//!     #[bq(rename = "closed")]
//!     Done,
//! }
//!
//! #[derive(BqRow)]
//! struct Payment {
//!     user: UserId,                       // user    INT64     REQUIRED
//!     status: Status,                     // status  STRING    REQUIRED
//!     at: DateTime<Utc>,                  // at      TIMESTAMP REQUIRED
//!     due: Option<NaiveDate>,             // due     DATE      NULLABLE
//!     amount: Decimal,                    // amount  NUMERIC   REQUIRED
//!     #[bq(truncate)]
//!     seen: DateTime<Utc>,                // nanoseconds truncated, not rejected
//! }
//!
//! let at = DateTime::from_timestamp(1_704_164_645, 6_000).unwrap();
//! let mut row = Payment {
//!     user: UserId(7),
//!     status: Status::OnHold,
//!     at,
//!     due: NaiveDate::from_ymd_opt(2024, 2, 29),
//!     amount: "-19.99".parse().unwrap(),
//!     seen: DateTime::from_timestamp(0, 1).unwrap(),
//! };
//! assert!(row.validate().is_ok());
//! row.amount = "0.0123456789".parse().unwrap();
//! let err = row.validate().unwrap_err();
//! assert_eq!(err.column, "amount");
//! # }
//! ```
//!
//! For another crate's type, `#[bq(with = "module")]` on the field names a
//! module with one function, `pub fn to_bq(value: &Foreign) -> T`, where `T`
//! is any owned column type (`i64`, `String`, a [`types`]
//! value, ...); the column is `T`'s, and `to_bq` is called while the row is
//! encoded (twice per value: for the length, then for the bytes) and by
//! `validate`. `Option<Foreign>` and `Vec<Foreign>` work as usual.
//!
//! # Checking against the table's schema file
//!
//! `#[bq(schema = "schemas/customer_records.json")]` on the struct reads a
//! BigQuery JSON schema (what `bq show --schema --format=prettyjson` prints;
//! the path is relative to the crate's `Cargo.toml`) when the struct
//! compiles, and every mismatch is a compile error on the field: a field
//! with no column, an `Option` for a REQUIRED column, a `Vec` for a column
//! that is not REPEATED (or the reverse), a REQUIRED column the struct does
//! not write, and a type that cannot write the column. The rules are those
//! the writer checks at run time (both use the `bqwrite-schema` crate).
//! Editing the file rebuilds the crate.
//!
//! ```ignore
//! #[derive(BqRow)]
//! #[bq(schema = "schemas/customer_records.json")]
//! struct CustomerRecord {
//!     row_num: i64,
//!     customer_name: Option<String>,
//! }
//! ```
//!
//! What the compile-time check sees: names, modes and `type = "..."`
//! overrides come from the source; every other field type is compared in a
//! generated `const` (`<T as BqField>`'s column type against the column's),
//! so newtypes, enums, foreign types and `with` fields are checked too, and
//! a nested struct's columns are compared with the sub-columns of its
//! STRUCT column the same way (only the first mismatch inside a STRUCT is
//! reported). It does not compare a RANGE's element type: the writer's
//! run-time check covers that before its first row. `bqwrite struct --schema FILE
//! --name NAME` (the `bqwrite-cli` crate) prints a struct for a schema file
//! that passes this check.
//!
//! # Borrowed rows
//!
//! A row may borrow its values (`&'a str`, `&'a [String]`, `&'a [&'a str]`,
//! a nested `&'a Address`, ...), and the data it borrows need not outlive
//! the writer: a writer of `Order<'_>` takes `Order`s with any lifetimes
//! (through [`RowOf`]), so each batch can borrow what one turn of a loop
//! built.
//!
//! ```no_run
//! # use bqwrite::{BqRow, Table, Writer};
//! #[derive(BqRow)]
//! struct Order<'a> {
//!     name: &'a str,
//!     tags: &'a [&'a str],
//! }
//!
//! # struct Input { name: String }
//! # async fn run(table: Table, input: Vec<Input>) -> bqwrite::Result<()> {
//! let mut writer = Writer::<Order<'_>>::pending(&table).await?;
//! for chunk in input.chunks(100) {
//!     let names: Vec<String> = chunk.iter().map(|r| r.name.to_uppercase()).collect();
//!     let batch: Vec<Order<'_>> = names.iter().map(|n| Order { name: n, tags: &["new"] }).collect();
//!     writer.append(&batch).await?; // `names` and `batch` are dropped after this turn
//! }
//! writer.finalize().await?.commit().await?;
//! # Ok(()) }
//! ```
//!
//! `append`, `send` and `append_stream` take any collection or iterator of
//! such rows: `&batch`, `batch`, `batch.iter()`, `[row]`, a `Vec<&Order>`,
//! or `Box`, `Rc`, `Arc` or `Cow` of a row.
//!
//! # Encoding
//!
//! [`BqRow::encode`] writes the row straight into the buffer in one pass, with
//! no intermediate message and no heap allocation: nested lengths are computed
//! before they are written, as prost does. For a struct whose columns can
//! hold values BigQuery cannot (see above), `encode` and `encoded_len` expect
//! a row that [`BqRow::validate`] accepts, as the writer ensures: given
//! another they panic rather than write a rounded value.

mod foreign;

use bytes::BufMut;
use prost_types::DescriptorProto;

use crate::__private::{self, DescriptorCx, Encoder, FieldDescriptorProto, enc};
use crate::proto::descriptor::DescriptorProto as WireDescriptorProto;
use crate::schema::{FieldSchema, FieldType, Mode, TableSchema};
use crate::types;

/// A Rust type written as one BigQuery row: derive it with `#[derive(BqRow)]`.
///
/// The methods with hidden docs are implemented by the derive and are not
/// part of the public API. [`RowOf<Self>`](RowOf) is a supertrait, so code
/// generic over `T: BqRow` can write `T`s, `&T`s, ... through a writer of `T`.
pub trait BqRow: RowOf<Self> {
    /// The proto2 message of the row: self-contained (nested STRUCT messages
    /// are nested types, no imports), built on first use and then shared.
    ///
    /// `prost_types` cannot carry the `column_name` field option, so a column
    /// whose name is not a proto identifier appears here only under its
    /// generated proto field name (see [Column names](crate::row#column-names)).
    /// What the writer sends is [`wire_descriptor`](BqRow::wire_descriptor).
    fn descriptor() -> &'static DescriptorProto;

    /// The same message with the `column_name` option on each field whose
    /// column name is not a proto identifier: the `writer_schema` the
    /// Storage Write API needs. Built on first use and then shared.
    fn wire_descriptor() -> &'static WireDescriptorProto;

    /// The BigQuery table schema whose rows this type writes.
    fn table_schema() -> TableSchema {
        TableSchema {
            fields: Self::__bq_schema_fields(),
        }
    }

    /// The number of bytes [`encode`](BqRow::encode) writes.
    fn encoded_len(&self) -> usize;

    /// Writes the row as a serialized proto message (without a length
    /// prefix), in one pass.
    ///
    /// # Panics
    /// On a value [`validate`](BqRow::validate) rejects (only possible for
    /// the columns listed in [the types applications already
    /// have](crate::row#the-types-applications-already-have)): nothing is
    /// ever rounded. The writer validates every such row first.
    fn encode(&self, buf: &mut impl BufMut);

    /// Checks that every value of the row can be written exactly, before
    /// [`encode`](BqRow::encode) is called: the writer calls it on every row
    /// of a type whose columns can fail (see `__BQ_FALLIBLE`), and reports an
    /// error with the row's index. Types whose every value is writable keep
    /// the default, which does nothing.
    ///
    /// # Errors
    /// The first column whose value BigQuery cannot hold exactly.
    fn validate(&self) -> Result<(), ColumnValueError> {
        Ok(())
    }

    /// The serialized row in a new buffer of exactly the right size.
    fn encode_to_vec(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.encode(&mut buf);
        buf
    }

    /// The columns whose absent value (`None`) asks for the column's default
    /// value: the `#[bq(default)]` fields. The writer sends them as
    /// `DEFAULT_VALUE` in every request's `missing_value_interpretations`.
    /// See [Column defaults](crate::row#column-defaults).
    const DEFAULT_COLUMNS: &'static [&'static str] = &[];

    /// `#[bq(missing = "default")]`: every column a row leaves out takes its
    /// default value. The writer sends `default_missing_value_interpretation
    /// = DEFAULT_VALUE` on the first request of each connection.
    const MISSING_AS_DEFAULT: bool = false;

    /// Whether some column can hold a value that cannot be written exactly,
    /// so that [`validate`](BqRow::validate) must run before encoding.
    #[doc(hidden)]
    const __BQ_FALLIBLE: bool = false;
    #[doc(hidden)]
    const __BQ_NAME: &'static str;
    /// The proto field names of the columns.
    #[doc(hidden)]
    const __BQ_FIELD_NAMES: &'static [&'static str];
    #[doc(hidden)]
    fn __bq_fields(cx: &mut DescriptorCx) -> Vec<FieldDescriptorProto>;
    #[doc(hidden)]
    fn __bq_schema_fields() -> Vec<FieldSchema>;
}

/// A value of a row that its column cannot hold exactly: the column (a path
/// such as `address.zip` for nested fields) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnValueError {
    /// The column path.
    pub column: String,
    /// What is wrong with the value; it names the value.
    pub error: types::ValueError,
}

impl std::fmt::Display for ColumnValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column `{}`: {}", self.column, self.error)
    }
}

impl std::error::Error for ColumnValueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A Rust type that can be the value of a column: see the [module
/// docs](self) for the list. `#[derive(BqRow)]` implements it for the struct
/// too, so rows nest as STRUCT columns. Its items are hidden: implement it
/// through the derive, not by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a BigQuery column",
    label = "unsupported column type",
    note = "columns are: integers except `u64`/`usize`/`u128` (INT64), `f64`/`f32` (FLOAT64), `bool`, `String`/`&str`/`Cow<str>` (STRING), `bytes::Bytes`/`&[u8]` or `Vec<u8>` with `#[bq(bytes)]` (BYTES), the types in `bqwrite::types` (DATE, TIMESTAMP, NUMERIC, JSON, RANGE, ...), chrono, time and rust_decimal values (with the feature of the same name), `IpAddr`, `Duration`, `SystemTime`, and structs that derive `BqRow` (STRUCT)",
    note = "`Option<T>` makes a NULLABLE column and `Vec<T>` a REPEATED one; `#[bq(type = \"...\")]` writes a value as another type, e.g. `u64` as NUMERIC or `String` as JSON",
    note = "for your own types, `#[derive(BqField)]` on a newtype or a fieldless enum; for another crate's type, `#[bq(with = \"module\")]` on the field"
)]
pub trait BqField {
    #[doc(hidden)]
    type __Encoder: Encoder<Self>;
    /// STRUCT nesting depth: 0 for scalars.
    #[doc(hidden)]
    const __BQ_DEPTH: usize = 0;
    /// The column type (for the compile-time check against a schema file).
    #[doc(hidden)]
    const __BQ_TYPE: FieldType;
    /// The columns of a STRUCT, as static data (for the same check).
    #[doc(hidden)]
    const __BQ_COLUMNS: &'static [__private::schema_file::StaticColumn] = &[];
    #[doc(hidden)]
    fn __bq_schema(name: String, mode: Mode) -> FieldSchema;
}

macro_rules! scalar_fields {
    ($($ty:ty => $encoder:ty, $field_type:ident, $kind:ident;)*) => {$(
        impl BqField for $ty {
            type __Encoder = $encoder;
            const __BQ_TYPE: FieldType = FieldType::$field_type;
            fn __bq_schema(name: String, mode: Mode) -> FieldSchema {
                FieldSchema::new(name, FieldType::$field_type, mode)
            }
        }
        impl __private::BqFieldAs<__private::kind::$kind> for $ty {
            type Encoder = $encoder;
        }
    )*};
}

scalar_fields! {
    i64 => enc::Int64, Int64, INT64;
    i32 => enc::Int64, Int64, INT64;
    i16 => enc::Int64, Int64, INT64;
    i8 => enc::Int64, Int64, INT64;
    isize => enc::Int64, Int64, INT64;
    u32 => enc::Int64, Int64, INT64;
    u16 => enc::Int64, Int64, INT64;
    u8 => enc::Int64, Int64, INT64;
    f64 => enc::Double, Float64, FLOAT64;
    f32 => enc::Float, Float64, FLOAT64;
    bool => enc::Bool, Bool, BOOL;
    str => enc::Str, String, STRING;
    String => enc::Str, String, STRING;
    [u8] => enc::Bytes, Bytes, BYTES;
    Vec<u8> => enc::Bytes, Bytes, BYTES;
    bytes::Bytes => enc::Bytes, Bytes, BYTES;
    types::Date => enc::Date, Date, DATE;
    types::Timestamp => enc::CivilInt64, Timestamp, TIMESTAMP;
    types::DateTime => enc::CivilInt64, DateTime, DATETIME;
    types::Time => enc::CivilInt64, Time, TIME;
    types::Numeric => enc::ScaledLeBytes, Numeric, NUMERIC;
    types::BigNumeric => enc::ScaledLeBytes, BigNumeric, BIGNUMERIC;
    types::Json => enc::Text, Json, JSON;
    types::Geography => enc::Text, Geography, GEOGRAPHY;
    types::Interval => enc::IntervalText, Interval, INTERVAL;
    serde_json::Value => enc::JsonValue, Json, JSON;
}

#[cfg(feature = "uuid")]
#[cfg_attr(docsrs, doc(cfg(feature = "uuid")))]
mod uuid_fields {
    use super::*;
    scalar_fields! {
        uuid::Uuid => enc::UuidText, String, STRING;
    }
}

impl<T: types::RangeElement + BqField> BqField for types::Range<T> {
    type __Encoder = enc::RangeMessage;
    const __BQ_TYPE: FieldType = FieldType::Range;
    fn __bq_schema(name: String, mode: Mode) -> FieldSchema {
        FieldSchema::range(name, mode, T::ELEMENT_TYPE)
    }
}

/// Integers as NUMERIC: every integer up to 64 bits fits NUMERIC's 29 digits.
macro_rules! int_as_numeric {
    ($($ty:ty),*) => {$(
        impl __private::BqFieldAs<__private::kind::NUMERIC> for $ty {
            type Encoder = enc::IntAsNumeric;
        }
    )*};
}
int_as_numeric!(i64, i32, i16, i8, isize, u64, u32, u16, u8, usize);

/// Text that BigQuery parses into the column type.
macro_rules! text_as {
    ($($kind:ident),*) => {$(
        impl __private::BqFieldAs<__private::kind::$kind> for str {
            type Encoder = enc::Str;
        }
        impl __private::BqFieldAs<__private::kind::$kind> for String {
            type Encoder = enc::Str;
        }
    )*};
}
text_as!(
    JSON, GEOGRAPHY, NUMERIC, BIGNUMERIC, DATE, DATETIME, TIME, TIMESTAMP, INTERVAL
);

/// Text as BYTES: the UTF-8 bytes, declared as proto `bytes`.
impl __private::BqFieldAs<__private::kind::BYTES> for str {
    type Encoder = enc::Bytes;
}
impl __private::BqFieldAs<__private::kind::BYTES> for String {
    type Encoder = enc::Bytes;
}

/// Pointer types are written as what they point to.
macro_rules! deref_fields {
    ($($(#[$meta:meta])* [$($generics:tt)*] $ty:ty;)*) => {$(
        $(#[$meta])*
        impl<$($generics)*> BqField for $ty
        where
            T: BqField,
        {
            type __Encoder = enc::Deref<T::__Encoder>;
            const __BQ_DEPTH: usize = T::__BQ_DEPTH;
            const __BQ_TYPE: FieldType = T::__BQ_TYPE;
            const __BQ_COLUMNS: &'static [__private::schema_file::StaticColumn] = T::__BQ_COLUMNS;
            fn __bq_schema(name: String, mode: Mode) -> FieldSchema {
                T::__bq_schema(name, mode)
            }
        }
        impl<$($generics)*, K> __private::BqFieldAs<K> for $ty
        where
            T: __private::BqFieldAs<K>,
        {
            type Encoder = enc::Deref<<T as __private::BqFieldAs<K>>::Encoder>;
        }
        impl<$($generics)*> __private::BqFieldTruncate for $ty
        where
            T: __private::BqFieldTruncate,
        {
            type Encoder = enc::Deref<<T as __private::BqFieldTruncate>::Encoder>;
        }
    )*};
}

deref_fields! {
    ['a, T: ?Sized + 'a] &'a T;
    [T: ?Sized] Box<T>;
    [T: ?Sized] std::rc::Rc<T>;
    [T: ?Sized] std::sync::Arc<T>;
    ['a, T: ?Sized + ToOwned + 'a] std::borrow::Cow<'a, T>;
}

/// What the writers take as a row of `T`: `T` itself with any lifetimes,
/// and references, `Box`, `Rc`, `Arc` and `Cow` of one.
///
/// `#[derive(BqRow)]` implements it: a writer of `Order<'a>` takes
/// `Order<'b>` for every `'b`, so batches that borrow data built inside a
/// loop need not outlive the writer (see [the module docs](self#borrowed-rows)).
/// Its items are hidden: implement it through the derive, not by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a row of `{T}`",
    label = "expected a row of `{T}`",
    note = "a writer of `{T}` takes `{T}` (with any lifetimes), or a reference, `Box`, `Rc`, `Arc` or `Cow` of one, from each item of the rows it is given"
)]
pub trait RowOf<T: ?Sized> {
    /// The row that is encoded: `T` with other lifetimes, which has `T`'s
    /// descriptor and encoder.
    #[doc(hidden)]
    type __Row: BqRow + ?Sized;
    #[doc(hidden)]
    fn __row(&self) -> &Self::__Row;
}

/// Pointer types are rows of what they point to.
macro_rules! deref_rows {
    ($([$($generics:tt)*] $ty:ty;)*) => {$(
        impl<$($generics)*, T: ?Sized> RowOf<T> for $ty
        where
            R: RowOf<T>,
        {
            type __Row = R::__Row;
            #[inline]
            fn __row(&self) -> &Self::__Row {
                (**self).__row()
            }
        }
    )*};
}

deref_rows! {
    ['a, R: ?Sized] &'a R;
    ['a, R: ?Sized] &'a mut R;
    [R: ?Sized] Box<R>;
    [R: ?Sized] std::rc::Rc<R>;
    [R: ?Sized] std::sync::Arc<R>;
    ['a, R: ?Sized + ToOwned] std::borrow::Cow<'a, R>;
}
