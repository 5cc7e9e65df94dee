//! The writer schema of AppendRows: an invalid one is refused in-band, a
//! field without a column ends the call, fields find their columns by name
//! or by the `column_name` option, JSON-name collisions, and a change of
//! writer schema within a connection.

mod common;

use bqwrite::proto::storage::{
    TableSchema, WriteStream,
    big_query_write_client::BigQueryWriteClient,
    storage_error::StorageErrorCode,
    table_field_schema::{Mode, Type},
    write_stream,
};
use bqwrite_emulator::{Emulator, Value};
use common::*;
use prost_types::DescriptorProto;
use prost_types::field_descriptor_proto::{Label, Type as PType};
use tonic::Code;
use tonic::transport::Channel;

#[tokio::test]
async fn an_invalid_writer_schema_is_rejected_in_band() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let unresolvable = message(
        "Row",
        vec![
            field("id", 1, PType::Int64, Label::Optional),
            message_field("name", 2, ".Nowhere", Label::Optional),
        ],
    );
    let response = conn
        .append(append_request(
            &stream.name,
            None,
            Some(unresolvable),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(in_band_error(&response).message.contains("writer_schema"));

    let wrong_type = message("Row", vec![field("id", 1, PType::String, Label::Optional)]);
    let response = conn
        .append(append_request(
            "",
            None,
            Some(wrong_type),
            vec![Enc::new().string(1, "1").done()],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let text = &in_band_error(&response).message;
    assert!(
        text.contains("column `id` is INT64") && text.contains("string"),
        "{text}"
    );

    let repeated = message("Row", vec![field("id", 1, PType::Int64, Label::Repeated)]);
    let response = conn
        .append(append_request(
            "",
            None,
            Some(repeated),
            vec![Enc::new().int64(1, 1).done()],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(in_band_error(&response).message.contains("repeated"));

    // the connection still works with a good schema
    let response = conn
        .append(append_request(
            "",
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_writer_schema_field_without_a_column_ends_the_call_with_schema_mismatch_extra_fields() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let good = conn
        .append(append_request(
            &stream.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    ok_offset(&good);
    let mut extra = seed_descriptor();
    extra
        .field
        .push(field("nickname", 3, PType::String, Label::Optional));
    extra
        .field
        .push(field("email", 4, PType::String, Label::Optional));
    conn.send(append_request(
        "",
        None,
        Some(extra),
        vec![seed_row(2, "b")],
    ))
    .await;
    let status = call_end(&mut conn).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        status.message(),
        format!(
            "Input schema has more fields than BigQuery schema, extra fields: 'nickname,email' Entity: {}",
            stream.name
        )
    );
    assert_storage_error(
        &status,
        StorageErrorCode::SchemaMismatchExtraFields,
        &stream.name,
        "Schema mismatch due to extra fields in user schema",
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 1);
    // the stream is free for a new connection
    let mut again = Conn::open(&mut client).await;
    let response = again
        .append(append_request(
            &stream.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(3, "c")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(1));
    emu.shutdown().await;
}

/// A writer schema whose fields name their columns with the `column_name`
/// option, for the table `first-name STRING, Total % INT64,
/// 1st address STRUCT<zip-code STRING>`.
fn column_name_descriptor() -> bqwrite::proto::descriptor::DescriptorProto {
    let mut row: bqwrite::proto::descriptor::DescriptorProto = DescriptorProto {
        nested_type: vec![message(
            "Address",
            vec![field("z", 1, PType::String, Label::Optional)],
        )],
        ..message(
            "Row",
            vec![
                field("_c1", 1, PType::String, Label::Optional),
                field("_c2", 2, PType::Int64, Label::Optional),
                message_field("address", 3, "Address", Label::Optional),
            ],
        )
    }
    .into();
    let name = |field: &mut bqwrite::proto::descriptor::FieldDescriptorProto, column: &str| {
        field.options.get_or_insert_default().column_name = Some(column.into());
    };
    name(&mut row.field[0], "first-name");
    name(&mut row.field[1], "total %");
    name(&mut row.field[2], "1st address");
    name(&mut row.nested_type[0].field[0], "zip-code");
    row
}

async fn column_name_setup() -> (Emulator, BigQueryWriteClient<Channel>, WriteStream) {
    let emu = start().await;
    emu.create_table(
        TABLE,
        TableSchema {
            fields: vec![
                column("first-name", Type::String, Mode::Nullable),
                column("Total %", Type::Int64, Mode::Nullable),
                struct_column(
                    "1st address",
                    Mode::Nullable,
                    vec![column("zip-code", Type::String, Mode::Nullable)],
                ),
            ],
        },
    )
    .unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    (emu, client, stream)
}

#[tokio::test]
async fn fields_are_matched_to_columns_by_their_column_name_option() {
    let (emu, mut client, stream) = column_name_setup().await;
    let mut conn = Conn::open(&mut client).await;
    let row = Enc::new()
        .string(1, "Ada")
        .int64(2, 42)
        .message(3, Enc::new().string(1, "12345"))
        .done();
    let response = conn
        .append(append_request_wire(
            &stream.name,
            None,
            Some(column_name_descriptor()),
            vec![row],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0), "{response:?}");
    let rows = emu.rows(TABLE).unwrap();
    assert_eq!(rows[0]["first-name"], Value::String("Ada".into()));
    assert_eq!(rows[0]["Total %"], Value::Int64(42));
    let Value::Struct(address) = &rows[0]["1st address"] else {
        panic!("a STRUCT: {:?}", rows[0]);
    };
    assert_eq!(address["zip-code"], Value::String("12345".into()));
    emu.shutdown().await;
}

#[tokio::test]
async fn without_the_column_name_option_the_field_name_must_match() {
    let (emu, mut client, stream) = column_name_setup().await;
    let mut conn = Conn::open(&mut client).await;
    // The same descriptor through prost_types, which drops the options.
    let plain: DescriptorProto = (&column_name_descriptor()).into();
    conn.send(append_request(&stream.name, None, Some(plain), vec![]))
        .await;
    let status = call_end(&mut conn).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("_c1"), "{status:?}");
    assert_storage_error(
        &status,
        StorageErrorCode::SchemaMismatchExtraFields,
        &stream.name,
        "Schema mismatch due to extra fields in user schema",
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_type_mismatch_names_the_column_of_the_option() {
    let (emu, mut client, stream) = column_name_setup().await;
    let mut conn = Conn::open(&mut client).await;
    let mut descriptor = column_name_descriptor();
    descriptor.field[0].r#type = Some(PType::Bool as i32);
    let response = conn
        .append(append_request_wire(
            &stream.name,
            None,
            Some(descriptor),
            vec![Enc::new().boolean(1, true).done()],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let message = &in_band_error(&response).message;
    assert!(
        message.contains("column `first-name` is STRING"),
        "{message}"
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 0);
    emu.shutdown().await;
}

/// Columns whose proto field names derive the same JSON name (`order_id`
/// and `orderId`, `a_b` and `a__b`, `value_1` and `value1`), in the row and in
/// a nested STRUCT: protobuf accepts such proto2 messages, and so does
/// BigQuery.
#[tokio::test]
async fn fields_sharing_a_derived_json_name_are_accepted() {
    let pairs = [
        ("order_id", "orderId"),
        ("a_b", "a__b"),
        ("value_1", "value1"),
    ];
    let mut columns = Vec::new();
    let mut fields = Vec::new();
    for (n, (first, second)) in pairs.iter().enumerate() {
        let number = 2 * n as i32 + 1;
        columns.push(column(first, Type::Int64, Mode::Nullable));
        columns.push(column(second, Type::Int64, Mode::Nullable));
        fields.push(field(first, number, PType::Int64, Label::Optional));
        fields.push(field(second, number + 1, PType::Int64, Label::Optional));
    }
    columns.push(struct_column(
        "inner",
        Mode::Nullable,
        vec![
            column("order_id", Type::String, Mode::Nullable),
            column("orderId", Type::String, Mode::Nullable),
        ],
    ));
    fields.push(message_field("inner", 7, "Inner", Label::Optional));
    let mut inner = message(
        "Inner",
        vec![
            field("order_id", 1, PType::String, Label::Optional),
            field("orderId", 2, PType::String, Label::Optional),
        ],
    );
    // a JSON name set explicitly is kept, even one another field derives
    inner.field[0].json_name = Some("orderId".into());
    let descriptor = DescriptorProto {
        nested_type: vec![inner],
        ..message("Row", fields)
    };

    let emu = start().await;
    emu.create_table(TABLE, TableSchema { fields: columns })
        .unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let row = Enc::new()
        .int64(1, 10)
        .int64(2, 20)
        .int64(3, 30)
        .int64(4, 40)
        .int64(5, 50)
        .int64(6, 60)
        .message(7, Enc::new().string(1, "snake").string(2, "camel"))
        .done();
    let response = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(descriptor),
            vec![row],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0), "{response:?}");
    let rows = emu.rows(TABLE).unwrap();
    let row = &rows[0];
    for (column, value) in [
        ("order_id", 10),
        ("orderId", 20),
        ("a_b", 30),
        ("a__b", 40),
        ("value_1", 50),
        ("value1", 60),
    ] {
        assert_eq!(row[column], Value::Int64(value), "column {column}");
    }
    let Value::Struct(inner) = &row["inner"] else {
        panic!("a STRUCT: {row:?}");
    };
    assert_eq!(inner["order_id"], Value::String("snake".into()));
    assert_eq!(inner["orderId"], Value::String("camel".into()));
    conn.close().await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn two_equal_explicit_json_names_are_still_invalid() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut descriptor = seed_descriptor();
    for field in &mut descriptor.field {
        field.json_name = Some("same".into());
    }
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            &stream.name,
            None,
            Some(descriptor),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(
        in_band_error(&response)
            .message
            .contains("invalid writer_schema"),
        "{response:?}"
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_writer_schema_may_change_within_a_connection() {
    let (emu, mut client) = seeded().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    ok_offset(
        &conn
            .append(append_request(
                &stream.name,
                None,
                Some(seed_descriptor()),
                vec![seed_row(1, "a")],
            ))
            .await,
    );
    let renumbered = message(
        "Other",
        vec![
            field("NAME", 7, PType::String, Label::Optional),
            field("Id", 9, PType::Int64, Label::Optional),
        ],
    );
    let row = Enc::new().string(7, "b").int64(9, 2).done();
    ok_offset(
        &conn
            .append(append_request("", None, Some(renumbered), vec![row]))
            .await,
    );
    ok_offset(
        &conn
            .append(append_request(
                "",
                None,
                None,
                vec![Enc::new().int64(9, 3).done()],
            ))
            .await,
    );
    let rows = emu.rows(TABLE).unwrap();
    assert_eq!(rows[1]["name"], Value::String("b".into()));
    assert_eq!(rows[1]["id"], Value::Int64(2));
    assert_eq!(rows[2]["name"], Value::Null);
    emu.shutdown().await;
}
