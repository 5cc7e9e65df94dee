//! The row oracle: every BigQuery type decoded from its proto encodings and
//! read back through `rows()` and tabledata.list, and every kind of bad row
//! rejected with INVALID_ARGUMENT and `row_errors`.

mod common;

use bqwrite::proto::storage::{
    AppendRowsResponse, TableSchema,
    big_query_write_client::BigQueryWriteClient,
    row_error::RowErrorCode,
    table_field_schema::{Mode, Type},
};
use bqwrite_emulator::{Emulator, Value};
use common::*;
use prost_types::field_descriptor_proto::{Label, Type as PType};
use prost_types::{DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto};
use serde_json::json;
use tonic::Code;
use tonic::transport::Channel;

const WIDE: &str = "projects/test-project/datasets/d/tables/wide";

fn wide_schema() -> TableSchema {
    TableSchema {
        fields: vec![
            column("b", Type::Bool, Mode::Nullable),
            column("i", Type::Int64, Mode::Nullable),
            column("f", Type::Double, Mode::Nullable),
            column("s", Type::String, Mode::Nullable),
            column("y", Type::Bytes, Mode::Nullable),
            column("n", Type::Numeric, Mode::Nullable),
            column("bn", Type::Bignumeric, Mode::Nullable),
            column("d", Type::Date, Mode::Nullable),
            column("dt", Type::Datetime, Mode::Nullable),
            column("t", Type::Time, Mode::Nullable),
            column("ts", Type::Timestamp, Mode::Nullable),
            column("g", Type::Geography, Mode::Nullable),
            column("j", Type::Json, Mode::Nullable),
            column("iv", Type::Interval, Mode::Nullable),
            range_column("r", Type::Date),
            struct_column(
                "st",
                Mode::Nullable,
                vec![
                    column("a", Type::Int64, Mode::Required),
                    struct_column(
                        "inner",
                        Mode::Nullable,
                        vec![column("z", Type::String, Mode::Nullable)],
                    ),
                ],
            ),
            column("arr", Type::Int64, Mode::Repeated),
            struct_column(
                "sarr",
                Mode::Repeated,
                vec![column("k", Type::String, Mode::Nullable)],
            ),
        ],
    }
}

fn wide_descriptor() -> DescriptorProto {
    use Label::{Optional as O, Repeated as R};
    let mut root = message(
        "Wide",
        vec![
            field("b", 1, PType::Bool, O),
            field("i", 2, PType::Int64, O),
            field("f", 3, PType::Double, O),
            field("s", 4, PType::String, O),
            field("y", 5, PType::Bytes, O),
            field("n", 6, PType::Bytes, O),
            field("bn", 7, PType::Bytes, O),
            field("d", 8, PType::Int32, O),
            field("dt", 9, PType::Int64, O),
            field("t", 10, PType::Int64, O),
            field("ts", 11, PType::Int64, O),
            field("g", 12, PType::String, O),
            field("j", 13, PType::String, O),
            field("iv", 14, PType::String, O),
            message_field("r", 15, ".Wide.R", O),
            message_field("st", 16, ".Wide.St", O),
            field("arr", 17, PType::Int64, R),
            message_field("sarr", 18, "Wide.K", R),
        ],
    );
    let mut st = message(
        "St",
        vec![
            field("a", 1, PType::Int64, O),
            message_field("inner", 2, "Inner", O),
        ],
    );
    st.nested_type
        .push(message("Inner", vec![field("z", 1, PType::String, O)]));
    root.nested_type = vec![
        message(
            "R",
            vec![
                field("start", 1, PType::Int32, O),
                field("end", 2, PType::Int32, O),
            ],
        ),
        st,
        message("K", vec![field("k", 1, PType::String, O)]),
    ];
    root
}

/// Minimal two's-complement little-endian bytes, as BigQuery's encoders send.
fn minimal_le(v: i128) -> Vec<u8> {
    let mut bytes = v.to_le_bytes().to_vec();
    while bytes.len() > 1 {
        let last = bytes[bytes.len() - 1];
        let below = bytes[bytes.len() - 2] & 0x80 != 0;
        if (last == 0 && !below) || (last == 0xFF && below) {
            bytes.pop();
        } else {
            break;
        }
    }
    bytes
}

fn packed_datetime(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, micros: i64) -> i64 {
    (((y << 26) | (mo << 22) | (d << 17) | (h << 12) | (mi << 6) | s) << 20) | micros
}

fn packed_time(h: i64, mi: i64, s: i64, micros: i64) -> i64 {
    (((h << 12) | (mi << 6) | s) << 20) | micros
}

fn full_row() -> Enc {
    Enc::new()
        .boolean(1, true)
        .int64(2, -42)
        .double(3, 1.5)
        .string(4, "héllo")
        .bytes(5, &[0, 1, 2, 255])
        .bytes(6, &minimal_le(-1_500_000_000))
        .bytes(7, &minimal_le(5 * 10i128.pow(37)))
        .int32(8, 19_723)
        .int64(9, packed_datetime(2024, 2, 29, 13, 14, 15, 16))
        .int64(10, packed_time(23, 59, 59, 500_000))
        .int64(11, 1_704_067_245_123_456)
        .string(12, "POINT(1 2)")
        .string(13, r#"{"a":[1,2]}"#)
        .string(14, "1-2 3 4:5:6.789")
        .message(15, Enc::new().int32(1, 19_723))
        .message(
            16,
            Enc::new()
                .int64(1, 7)
                .message(2, Enc::new().string(1, "deep")),
        )
        .packed_int64(17, &[1, 2, 3])
        .message(18, Enc::new().string(1, "x"))
        .message(18, Enc::new().string(1, "y"))
}

async fn wide_setup() -> (Emulator, BigQueryWriteClient<Channel>, Conn) {
    let emu = start().await;
    emu.create_table(WIDE, wide_schema()).unwrap();
    let mut client = client(&emu).await;
    let conn = Conn::open(&mut client).await;
    (emu, client, conn)
}

async fn append_wide(conn: &mut Conn, rows: Vec<Vec<u8>>) -> AppendRowsResponse {
    conn.append(append_request(
        &format!("{WIDE}/streams/_default"),
        None,
        Some(wide_descriptor()),
        rows,
    ))
    .await
}

#[tokio::test]
async fn every_type_decodes_to_rows_and_tabledata_list() {
    let (emu, _client, mut conn) = wide_setup().await;
    let response = append_wide(&mut conn, vec![full_row().done(), Vec::new()]).await;
    ok_offset(&response);

    let rows = emu.rows(WIDE).unwrap();
    assert_eq!(rows.len(), 2);
    let row = &rows[0];
    assert_eq!(row["b"], Value::Bool(true));
    assert_eq!(row["i"], Value::Int64(-42));
    assert_eq!(row["f"], Value::Float64(1.5));
    assert_eq!(row["s"], Value::String("héllo".into()));
    assert_eq!(row["y"], Value::Bytes(vec![0, 1, 2, 255]));
    assert_eq!(row["n"], Value::Numeric("-1.5".into()));
    assert_eq!(row["bn"], Value::BigNumeric("0.5".into()));
    assert_eq!(row["d"], Value::Date("2024-01-01".into()));
    assert_eq!(
        row["dt"],
        Value::DateTime("2024-02-29T13:14:15.000016".into())
    );
    assert_eq!(row["t"], Value::Time("23:59:59.500000".into()));
    assert_eq!(row["ts"], Value::Timestamp(1_704_067_245_123_456));
    assert_eq!(row["g"], Value::Geography("POINT(1 2)".into()));
    assert_eq!(row["j"], Value::Json(r#"{"a":[1,2]}"#.into()));
    assert_eq!(row["iv"], Value::Interval("1-2 3 4:5:6.789".into()));
    assert_eq!(
        row["r"],
        Value::Range {
            start: Some(Box::new(Value::Date("2024-01-01".into()))),
            end: None
        }
    );
    let Value::Struct(st) = &row["st"] else {
        panic!("st is a struct: {:?}", row["st"])
    };
    assert_eq!(st["a"], Value::Int64(7));
    let Value::Struct(inner) = &st["inner"] else {
        panic!("inner is a struct")
    };
    assert_eq!(inner["z"], Value::String("deep".into()));
    assert_eq!(
        row["arr"],
        Value::Array(vec![Value::Int64(1), Value::Int64(2), Value::Int64(3)])
    );
    let Value::Array(sarr) = &row["sarr"] else {
        panic!("sarr is an array")
    };
    assert_eq!(sarr.len(), 2);

    let empty = &rows[1];
    for (name, value) in empty.columns() {
        match name.as_str() {
            "arr" | "sarr" => assert_eq!(value, &Value::Array(Vec::new()), "{name}"),
            _ => assert_eq!(value, &Value::Null, "{name} is NULL when absent"),
        }
    }

    let (status, body) = http(
        &emu,
        "GET",
        "/bigquery/v2/projects/test-project/datasets/d/tables/wide/data",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["totalRows"], json!("2"));
    assert_eq!(
        body["rows"][0],
        json!({"f": [
            {"v": "true"}, {"v": "-42"}, {"v": "1.5"}, {"v": "héllo"}, {"v": "AAEC/w=="},
            {"v": "-1.5"}, {"v": "0.5"}, {"v": "2024-01-01"}, {"v": "2024-02-29T13:14:15.000016"},
            {"v": "23:59:59.500000"}, {"v": "1.704067245123456E9"}, {"v": "POINT(1 2)"},
            {"v": "{\"a\":[1,2]}"}, {"v": "1-2 3 4:5:6.789"}, {"v": "[2024-01-01, UNBOUNDED)"},
            {"v": {"f": [{"v": "7"}, {"v": {"f": [{"v": "deep"}]}}]}},
            {"v": [{"v": "1"}, {"v": "2"}, {"v": "3"}]},
            {"v": [{"v": {"f": [{"v": "x"}]}}, {"v": {"f": [{"v": "y"}]}}]},
        ]})
    );
    let nulls: Vec<serde_json::Value> = (0..18)
        .map(|i| {
            if i >= 16 {
                json!({"v": []})
            } else {
                json!({"v": null})
            }
        })
        .collect();
    assert_eq!(body["rows"][1], json!({ "f": nulls }));
    emu.shutdown().await;
}

#[tokio::test]
async fn the_alternative_proto_encodings_are_accepted() {
    let emu = start().await;
    let table = "projects/test-project/datasets/d/tables/alt";
    emu.create_table(
        table,
        TableSchema {
            fields: vec![
                column("d", Type::Date, Mode::Nullable),
                column("d2", Type::Date, Mode::Nullable),
                column("dt", Type::Datetime, Mode::Nullable),
                column("ts", Type::Timestamp, Mode::Nullable),
                column("t", Type::Time, Mode::Nullable),
                column("n", Type::Numeric, Mode::Nullable),
                column("bn", Type::Bignumeric, Mode::Nullable),
                column("i", Type::Int64, Mode::Nullable),
                column("i2", Type::Int64, Mode::Nullable),
                column("e", Type::Int64, Mode::Nullable),
                column("es", Type::String, Mode::Nullable),
                column("y", Type::Bytes, Mode::Nullable),
                column("f", Type::Double, Mode::Nullable),
                column("arr", Type::Int64, Mode::Repeated),
            ],
        },
    )
    .unwrap();
    use Label::{Optional as O, Repeated as R};
    let color = |name: &str, number| FieldEnum {
        name: name.into(),
        number,
    };
    let mut descriptor = message(
        "Alt",
        vec![
            field("d", 1, PType::String, O),
            field("d2", 2, PType::Int64, O),
            field("dt", 3, PType::String, O),
            field("ts", 4, PType::String, O),
            field("t", 5, PType::String, O),
            field("n", 6, PType::String, O),
            field("bn", 7, PType::String, O),
            field("i", 8, PType::Int32, O),
            field("i2", 9, PType::Sint64, O),
            enum_field("e", 10, ".Alt.Color"),
            enum_field("es", 11, ".Alt.Color"),
            field("y", 12, PType::String, O),
            field("f", 13, PType::Float, O),
            field("arr", 14, PType::Int64, R),
        ],
    );
    descriptor
        .enum_type
        .push(enum_type("Color", &[color("RED", 0), color("GREEN", 5)]));
    let row = Enc::new()
        .string(1, "2024-03-01")
        .int64(2, -719_162)
        .string(3, "2024-03-01 04:05:06.7")
        .string(4, "2024-03-01T00:00:00+01:00")
        .string(5, "04:05:06")
        .string(6, "-0.000000001")
        .string(7, "1e-38")
        .int32(8, -5)
        .sint64(9, -6)
        .int32(10, 5)
        .int32(11, 5)
        .string(12, "raw")
        .float(13, 0.25)
        .int64(14, 8)
        .int64(14, 9)
        .done();
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    ok_offset(
        &conn
            .append(append_request(
                &format!("{table}/streams/_default"),
                None,
                Some(descriptor),
                vec![row],
            ))
            .await,
    );
    let rows = emu.rows(table).unwrap();
    let row = &rows[0];
    assert_eq!(row["d"], Value::Date("2024-03-01".into()));
    assert_eq!(row["d2"], Value::Date("0001-01-01".into()));
    assert_eq!(
        row["dt"],
        Value::DateTime("2024-03-01T04:05:06.700000".into())
    );
    assert_eq!(row["ts"], Value::Timestamp(1_709_247_600_000_000));
    assert_eq!(row["t"], Value::Time("04:05:06".into()));
    assert_eq!(row["n"], Value::Numeric("-0.000000001".into()));
    assert_eq!(
        row["bn"],
        Value::BigNumeric("0.00000000000000000000000000000000000001".into())
    );
    assert_eq!(row["i"], Value::Int64(-5));
    assert_eq!(row["i2"], Value::Int64(-6));
    assert_eq!(row["e"], Value::Int64(5));
    assert_eq!(row["es"], Value::String("GREEN".into()));
    assert_eq!(row["y"], Value::Bytes(b"raw".to_vec()));
    assert_eq!(row["f"], Value::Float64(0.25));
    assert_eq!(
        row["arr"],
        Value::Array(vec![Value::Int64(8), Value::Int64(9)])
    );
    emu.shutdown().await;
}

struct FieldEnum {
    name: String,
    number: i32,
}

fn enum_type(name: &str, values: &[FieldEnum]) -> EnumDescriptorProto {
    EnumDescriptorProto {
        name: Some(name.into()),
        value: values
            .iter()
            .map(|v| EnumValueDescriptorProto {
                name: Some(v.name.clone()),
                number: Some(v.number),
                options: None,
            })
            .collect(),
        ..Default::default()
    }
}

fn enum_field(name: &str, number: i32, type_name: &str) -> prost_types::FieldDescriptorProto {
    prost_types::FieldDescriptorProto {
        type_name: Some(type_name.into()),
        ..field(name, number, PType::Enum, Label::Optional)
    }
}

/// Asserts a request failed with INVALID_ARGUMENT and exactly one row error.
fn assert_one_row_error(response: &AppendRowsResponse, index: i64, needle: &str) {
    assert_in_band(response, Code::InvalidArgument, None);
    assert_eq!(
        response.row_errors.len(),
        1,
        "row errors: {:?}",
        response.row_errors
    );
    let error = &response.row_errors[0];
    assert_eq!(error.index, index);
    assert_eq!(error.code, RowErrorCode::FieldsError as i32);
    assert!(
        error.message.contains(needle),
        "row error {:?} should mention {needle:?}",
        error.message
    );
}

#[tokio::test]
async fn a_missing_required_value_rejects_the_whole_request() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let mut conn = Conn::open(&mut client).await;
    let optional_id = message(
        "Row",
        vec![
            field("id", 1, PType::Int64, Label::Optional),
            field("name", 2, PType::String, Label::Optional),
        ],
    );
    let rows = vec![
        seed_row(1, "a"),
        Enc::new().string(2, "no id").done(),
        seed_row(3, "c"),
    ];
    let response = conn
        .append(append_request(
            &format!("{TABLE}/streams/_default"),
            None,
            Some(optional_id),
            rows,
        ))
        .await;
    assert_one_row_error(&response, 1, "column `id`: REQUIRED");
    assert_eq!(
        emu.row_count(TABLE).unwrap(),
        0,
        "no row of the request is written"
    );
    // a writer schema without the REQUIRED column fails every row
    let no_id = message(
        "Row",
        vec![field("name", 2, PType::String, Label::Optional)],
    );
    let response = conn
        .append(append_request(
            "",
            None,
            Some(no_id),
            vec![Enc::new().string(2, "x").done()],
        ))
        .await;
    assert_one_row_error(&response, 0, "`id`");
    emu.shutdown().await;
}

#[tokio::test]
async fn out_of_range_and_malformed_values_are_row_errors() {
    let (emu, _client, mut conn) = wide_setup().await;
    let cases: Vec<(&str, Enc, &str)> = vec![
        (
            "DATE beyond 9999-12-31",
            Enc::new().int32(8, 2_932_897),
            "column `d`",
        ),
        (
            "DATE before 0001-01-01",
            Enc::new().int32(8, -719_163),
            "column `d`",
        ),
        (
            "TIMESTAMP beyond 9999",
            Enc::new().int64(11, 253_402_300_800_000_000),
            "column `ts`",
        ),
        (
            "DATETIME month 13",
            Enc::new().int64(9, packed_datetime(2024, 13, 1, 0, 0, 0, 0)),
            "column `dt`",
        ),
        (
            "DATETIME Feb 30",
            Enc::new().int64(9, packed_datetime(2023, 2, 29, 0, 0, 0, 0)),
            "column `dt`",
        ),
        (
            "DATETIME stray high bits",
            Enc::new().int64(9, packed_datetime(2024, 1, 1, 0, 0, 0, 0) | (1 << 61)),
            "column `dt`",
        ),
        (
            "TIME hour 24",
            Enc::new().int64(10, packed_time(24, 0, 0, 0)),
            "column `t`",
        ),
        (
            "TIME micros 10^6",
            Enc::new().int64(10, packed_time(1, 0, 0, 1_000_000)),
            "column `t`",
        ),
        (
            "NUMERIC 10^29",
            Enc::new().bytes(6, &minimal_le(10i128.pow(38))),
            "NUMERIC",
        ),
        ("NUMERIC empty bytes", Enc::new().bytes(6, &[]), "NUMERIC"),
        (
            "BIGNUMERIC 33 bytes",
            Enc::new().bytes(7, &{
                let mut b = vec![0u8; 33];
                b[32] = 1;
                b
            }),
            "BIGNUMERIC",
        ),
        (
            "JSON invalid",
            Enc::new().string(13, "{not json"),
            "column `j`",
        ),
        (
            "GEOGRAPHY garbage",
            Enc::new().string(12, "somewhere"),
            "column `g`",
        ),
        (
            "INTERVAL garbage",
            Enc::new().string(14, "soon"),
            "column `iv`",
        ),
        (
            "RANGE start after end",
            Enc::new().message(15, Enc::new().int32(1, 10).int32(2, 5)),
            "column `r`",
        ),
        (
            "STRING not UTF-8",
            Enc::new().bytes(4, &[0xff, 0xfe]),
            "column `s`",
        ),
        ("wrong wire type", Enc::new().string(2, "42"), "column `i`"),
    ];
    for (what, bad, needle) in cases {
        let response = append_wide(&mut conn, vec![full_row().done(), bad.done()]).await;
        assert_in_band(&response, Code::InvalidArgument, None);
        assert_eq!(
            response.row_errors.len(),
            1,
            "{what}: {:?}",
            response.row_errors
        );
        assert_eq!(response.row_errors[0].index, 1, "{what}");
        assert!(
            response.row_errors[0].message.contains(needle),
            "{what}: {:?} should mention {needle:?}",
            response.row_errors[0].message
        );
    }
    assert_eq!(emu.row_count(WIDE).unwrap(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn errors_inside_structs_name_the_column_path() {
    let (emu, _client, mut conn) = wide_setup().await;
    let missing_a = Enc::new().message(16, Enc::new().message(2, Enc::new().string(1, "z")));
    let response = append_wide(&mut conn, vec![missing_a.done()]).await;
    assert_one_row_error(&response, 0, "column `st.a`: REQUIRED");
    let bad_z = Enc::new().message(
        16,
        Enc::new()
            .int64(1, 1)
            .message(2, Enc::new().bytes(1, &[0xc3])),
    );
    let response = append_wide(&mut conn, vec![bad_z.done()]).await;
    assert_one_row_error(&response, 0, "column `st.inner.z`");
    let bad_element = Enc::new()
        .message(18, Enc::new().string(1, "ok"))
        .message(18, Enc::new().int64(1, 3));
    let response = append_wide(&mut conn, vec![bad_element.done()]).await;
    assert_one_row_error(&response, 0, "column `sarr.k`");
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_fields_and_undecodable_bytes_are_row_errors() {
    let (emu, _client, mut conn) = wide_setup().await;
    let unknown = full_row().int64(99, 1);
    let response = append_wide(&mut conn, vec![unknown.done()]).await;
    assert_one_row_error(&response, 0, "field number 99");
    let response = append_wide(&mut conn, vec![Enc::new().done(), vec![0x0a, 0x05, b'a']]).await;
    assert_one_row_error(&response, 1, "not a valid protobuf message");
    let response = append_wide(&mut conn, vec![vec![0xff, 0xff, 0xff]]).await;
    assert_one_row_error(&response, 0, "not a valid protobuf message");
    // several bad rows are all reported
    let response = append_wide(&mut conn, vec![vec![0x0a], full_row().done(), vec![0x0a]]).await;
    let indexes: Vec<i64> = response.row_errors.iter().map(|e| e.index).collect();
    assert_eq!(indexes, vec![0, 2]);
    // the connection is still usable
    ok_offset(&append_wide(&mut conn, vec![full_row().done()]).await);
    assert_eq!(emu.row_count(WIDE).unwrap(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_non_repeated_field_set_twice_takes_its_last_value_and_messages_merge() {
    let (emu, _client, mut conn) = wide_setup().await;
    let row = Enc::new()
        .int64(2, 1)
        .int64(2, 7)
        .string(4, "first")
        .string(4, "second")
        // a DATE out of range, replaced before it counts
        .int32(8, 99_999_999)
        .int32(8, 0)
        // two halves of one STRUCT: protobuf merges them
        .message(16, Enc::new().message(2, Enc::new().string(1, "z1")))
        .message(16, Enc::new().int64(1, 5))
        // a RANGE's bounds in two messages, then `start` replaced
        .message(15, Enc::new().int32(1, 10).int32(2, 20))
        .message(15, Enc::new().int32(1, 11));
    ok_offset(&append_wide(&mut conn, vec![row.done()]).await);
    let rows = emu.rows(WIDE).unwrap();
    let row = &rows[0];
    assert_eq!(row["i"], Value::Int64(7));
    assert_eq!(row["s"], Value::String("second".into()));
    assert_eq!(row["d"], Value::Date("1970-01-01".into()));
    assert_eq!(
        row["r"],
        Value::Range {
            start: Some(Box::new(Value::Date("1970-01-12".into()))),
            end: Some(Box::new(Value::Date("1970-01-21".into()))),
        }
    );
    let Value::Struct(st) = &row["st"] else {
        panic!("st is a struct: {:?}", row["st"])
    };
    assert_eq!(st["a"], Value::Int64(5));
    let Value::Struct(inner) = &st["inner"] else {
        panic!("st.inner is a struct: {:?}", st["inner"])
    };
    assert_eq!(inner["z"], Value::String("z1".into()));
    // a value that fails before any field is seen twice, replaced later
    let bad_first = Enc::new().int32(8, 99_999_999).string(4, "x").int32(8, 1);
    ok_offset(&append_wide(&mut conn, vec![bad_first.done()]).await);
    let rows = emu.rows(WIDE).unwrap();
    assert_eq!(rows[1]["d"], Value::Date("1970-01-02".into()));
    // the last value is still checked
    let bad_last = Enc::new().int32(8, 0).int32(8, 99_999_999);
    let response = append_wide(&mut conn, vec![bad_last.done()]).await;
    assert_one_row_error(&response, 0, "column `d`");
    emu.shutdown().await;
}
