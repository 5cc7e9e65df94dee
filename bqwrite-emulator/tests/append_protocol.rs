//! The AppendRows protocol: offsets, the first request's duties, one response
//! per request in order, many connections, the request size limit, the
//! routing header, and writer schema checks.

mod common;

use bqwrite::proto::storage::{
    CreateWriteStreamRequest, FinalizeWriteStreamRequest, TableSchema, WriteStream,
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

async fn setup() -> (Emulator, BigQueryWriteClient<Channel>) {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let client = client(&emu).await;
    (emu, client)
}

#[tokio::test]
async fn offsets_already_written_or_beyond_the_end_are_in_band_and_the_connection_survives() {
    let (emu, mut client) = setup().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    let rows = || vec![seed_row(1, "a"), seed_row(2, "b")];
    let first = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            rows(),
        ))
        .await;
    assert_eq!(ok_offset(&first), Some(0));

    let again = conn.append(append_request("", Some(0), None, rows())).await;
    assert_in_band(
        &again,
        Code::AlreadyExists,
        Some(StorageErrorCode::OffsetAlreadyExists),
    );
    let inside = conn.append(append_request("", Some(1), None, rows())).await;
    assert_in_band(
        &inside,
        Code::AlreadyExists,
        Some(StorageErrorCode::OffsetAlreadyExists),
    );
    let beyond = conn.append(append_request("", Some(3), None, rows())).await;
    assert_in_band(
        &beyond,
        Code::OutOfRange,
        Some(StorageErrorCode::OffsetOutOfRange),
    );
    let storage = unpack_storage_error(in_band_error(&beyond)).unwrap();
    assert_eq!(storage.entity, stream.name);

    let next = conn.append(append_request("", Some(2), None, rows())).await;
    assert_eq!(ok_offset(&next), Some(2));
    conn.close().await.unwrap();
    let count = bounded(
        "finalize",
        client.finalize_write_stream(FinalizeWriteStreamRequest {
            name: stream.name.clone(),
        }),
    )
    .await
    .unwrap()
    .into_inner()
    .row_count;
    assert_eq!(count, 4, "rejected requests wrote nothing");
    emu.shutdown().await;
}

#[tokio::test]
async fn first_request_must_name_the_stream() {
    let (emu, mut client) = setup().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            "",
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(in_band_error(&response).message.contains("write_stream"));
    let response = conn
        .append(append_request(
            &stream.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn first_request_must_carry_the_writer_schema() {
    let (emu, mut client) = setup().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    let response = conn
        .append(append_request(
            &stream.name,
            None,
            None,
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(in_band_error(&response).message.contains("writer_schema"));
    let response = conn
        .append(append_request(
            "",
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    // later requests may omit both
    let response = conn
        .append(append_request("", None, None, vec![seed_row(2, "b")]))
        .await;
    assert_eq!(ok_offset(&response), Some(1));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_later_request_naming_another_stream_is_rejected() {
    let (emu, mut client) = setup().await;
    let a = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let b = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open(&mut client).await;
    ok_offset(
        &conn
            .append(append_request(
                &a.name,
                None,
                Some(seed_descriptor()),
                vec![seed_row(1, "a")],
            ))
            .await,
    );
    let response = conn
        .append(append_request(&b.name, None, None, vec![seed_row(2, "b")]))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let response = conn
        .append(append_request(&a.name, None, None, vec![seed_row(3, "c")]))
        .await;
    assert_eq!(
        ok_offset(&response),
        Some(1),
        "naming the same stream again is fine"
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn one_response_per_request_in_request_order() {
    let (emu, mut client) = setup().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    // pipeline 40 requests without waiting; request 20 repeats offset 19
    let mut expected = Vec::new();
    let mut next = 0i64;
    for i in 0..40i64 {
        let schema = (i == 0).then(seed_descriptor);
        let name = if i == 0 { stream.name.as_str() } else { "" };
        if i == 20 {
            conn.send(append_request(
                name,
                Some(next - 1),
                schema,
                vec![seed_row(i, "dup")],
            ))
            .await;
            expected.push(None);
        } else {
            conn.send(append_request(
                name,
                Some(next),
                schema,
                vec![seed_row(i, "x")],
            ))
            .await;
            expected.push(Some(next));
            next += 1;
        }
    }
    for (i, want) in expected.into_iter().enumerate() {
        let response = conn.recv().await.unwrap().expect("a response per request");
        match want {
            Some(offset) => assert_eq!(ok_offset(&response), Some(offset), "response {i}"),
            None => assert_in_band(
                &response,
                Code::AlreadyExists,
                Some(StorageErrorCode::OffsetAlreadyExists),
            ),
        }
    }
    conn.close().await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn sixty_four_concurrent_connections() {
    let (emu, _client) = setup().await;
    let mut conns = Vec::new();
    for _ in 0..64 {
        // a connection (and channel) each, all open before anything is sent
        let mut own = BigQueryWriteClient::connect(emu.grpc_endpoint())
            .await
            .unwrap();
        let stream = create_stream(&mut own, TABLE, write_stream::Type::Committed).await;
        let conn = Conn::open(&mut own).await;
        conns.push((own, stream.name, conn));
    }
    let mut tasks = Vec::new();
    for (n, (own, name, mut conn)) in conns.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..10i64 {
                let schema = (i == 0).then(seed_descriptor);
                let row = seed_row(n as i64 * 100 + i, "c");
                let response = conn
                    .append(append_request(&name, Some(i), schema, vec![row]))
                    .await;
                assert_eq!(ok_offset(&response), Some(i));
            }
            conn.close().await.unwrap();
            drop(own);
        }));
    }
    for task in tasks {
        bounded("connection task", task).await.unwrap();
    }
    assert_eq!(emu.row_count(TABLE).unwrap(), 640);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_oversize_first_request_is_refused_in_band_and_its_schema_is_bound() {
    let emu = Emulator::builder()
        .max_request_bytes(64 * 1024)
        .start()
        .await
        .unwrap();
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    let big = "x".repeat(70 * 1024);
    let response = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            vec![seed_row(1, &big)],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let message = &in_band_error(&response).message;
    assert!(
        message.starts_with("AppendRows request too large: ")
            && message.ends_with(&format!(" limit 65536 Entity: {}", stream.name)),
        "{message}"
    );
    // the next request goes without a schema, as a client that sends it on
    // a connection's first request only (Go's managedwriter) sends it
    let response = conn
        .append(append_request(
            "",
            Some(0),
            None,
            vec![seed_row(1, "small")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn the_default_limit_is_ten_mebibytes_and_answered_in_band() {
    let (emu, mut client) = setup().await;
    let stream = create_stream(&mut client, TABLE, write_stream::Type::Pending).await;
    let mut conn = Conn::open(&mut client).await;
    let chunk = "y".repeat(1024 * 1024);
    let rows: Vec<Vec<u8>> = (0..11).map(|i| seed_row(i, &chunk)).collect();
    let response = conn
        .append(append_request(
            &stream.name,
            Some(0),
            Some(seed_descriptor()),
            rows,
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    let rows: Vec<Vec<u8>> = (0..9).map(|i| seed_row(i, &chunk)).collect();
    let response = conn
        .append(append_request("", Some(0), Some(seed_descriptor()), rows))
        .await;
    assert_eq!(ok_offset(&response), Some(0), "9 MiB fits");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_routing_header_naming_another_stream_is_rejected() {
    let (emu, mut client) = setup().await;
    let a = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let b = create_stream(&mut client, TABLE, write_stream::Type::Committed).await;
    let mut conn = Conn::open_with_header(&mut client, Some(&b.name)).await;
    let response = conn
        .append(append_request(
            &a.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_in_band(&response, Code::InvalidArgument, None);
    assert!(
        in_band_error(&response)
            .message
            .contains("x-goog-request-params")
    );
    let response = conn
        .append(append_request(
            &b.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn strict_routing_mode_requires_the_header() {
    let emu = Emulator::builder()
        .require_routing_header(true)
        .start()
        .await
        .unwrap();
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let request = || CreateWriteStreamRequest {
        parent: TABLE.into(),
        write_stream: Some(WriteStream {
            r#type: write_stream::Type::Committed as i32,
            ..Default::default()
        }),
    };
    let err = bounded("create", client.create_write_stream(request()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("x-goog-request-params"));
    let mut with_header = tonic::Request::new(request());
    with_header.metadata_mut().insert(
        "x-goog-request-params",
        format!("parent={}", TABLE.replace('/', "%2F"))
            .parse()
            .unwrap(),
    );
    let stream = bounded("create", client.create_write_stream(with_header))
        .await
        .unwrap()
        .into_inner();

    let err = Conn::try_open(&mut client, None)
        .await
        .err()
        .expect("AppendRows without the header fails");
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut conn = Conn::open_with_header(&mut client, Some(&stream.name)).await;
    let response = conn
        .append(append_request(
            &stream.name,
            None,
            Some(seed_descriptor()),
            vec![seed_row(1, "a")],
        ))
        .await;
    assert_eq!(ok_offset(&response), Some(0));
    emu.shutdown().await;
}

#[tokio::test]
async fn an_invalid_writer_schema_is_rejected_in_band() {
    let (emu, mut client) = setup().await;
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
    let (emu, mut client) = setup().await;
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
    let (emu, mut client) = setup().await;
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
    let (emu, mut client) = setup().await;
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

#[tokio::test]
async fn shutdown_ends_open_connections_with_unavailable() {
    let (emu, mut client) = setup().await;
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
    let shutdown = tokio::spawn(emu.shutdown());
    let end = conn.recv().await.expect_err("the call ends with a status");
    assert_eq!(end.code(), Code::Unavailable);
    bounded("shutdown", shutdown).await.unwrap();
}
