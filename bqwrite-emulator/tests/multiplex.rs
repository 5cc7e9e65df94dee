//! Multiplexing: the `_default` streams of many tables share one AppendRows
//! connection, each request naming its stream and, when the destination or
//! the schema changes, carrying its writer schema; the emulator counts the
//! connections a client holds.

mod common;

use bqwrite::proto::storage::TableSchema;
use bqwrite::proto::storage::table_field_schema::{Mode, Type};
use bqwrite_emulator::{ConnectionStats, Value};
use common::*;
use prost_types::field_descriptor_proto::{Label, Type as PType};

const OTHER: &str = "projects/test-project/datasets/d/tables/other";

fn default_of(table: &str) -> String {
    format!("{table}/streams/_default")
}

/// `other`: `score FLOAT64 REQUIRED, tag STRING`, unlike the seed table.
fn other_schema() -> TableSchema {
    TableSchema {
        fields: vec![
            column("score", Type::Double, Mode::Required),
            column("tag", Type::String, Mode::Nullable),
        ],
    }
}

fn other_descriptor() -> prost_types::DescriptorProto {
    message(
        "OtherRow",
        vec![
            field("score", 1, PType::Double, Label::Required),
            field("tag", 2, PType::String, Label::Optional),
        ],
    )
}

fn other_row(score: f64, tag: &str) -> Vec<u8> {
    Enc::new().double(1, score).string(2, tag).done()
}

#[tokio::test]
async fn default_streams_of_two_tables_with_different_schemas_share_a_connection() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    emu.create_table(OTHER, other_schema()).unwrap();
    let mut client = client(&emu).await;
    let mut conn = Conn::open_at_location(&mut client, PROJECT, "US").await;
    let seed = default_of(TABLE);
    let other = default_of(OTHER);
    // each switch carries the stream and its schema; a request without a
    // stream goes to the last destination; a switch back without a schema
    // reuses the last schema (here the seed table's, which fits).
    let requests = [
        append_request(&seed, None, Some(seed_descriptor()), vec![seed_row(1, "a")]),
        append_request("", None, None, vec![seed_row(2, "b")]),
        append_request(
            &other,
            None,
            Some(other_descriptor()),
            vec![other_row(0.5, "x")],
        ),
        append_request(&other, None, None, vec![other_row(1.5, "y")]),
        append_request(&seed, None, Some(seed_descriptor()), vec![seed_row(3, "c")]),
        append_request(&seed, None, None, vec![seed_row(4, "d")]),
    ];
    for request in requests {
        ok_offset(&conn.append(request).await);
    }
    let ids: Vec<Value> = emu
        .rows(TABLE)
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4].map(Value::Int64));
    let scores: Vec<Value> = emu
        .rows(OTHER)
        .unwrap()
        .iter()
        .map(|r| r["score"].clone())
        .collect();
    assert_eq!(scores, [0.5, 1.5].map(Value::Float64));
    let stats: ConnectionStats = emu.append_rows_connections();
    assert_eq!((stats.open, stats.peak, stats.total), (1, 1, 1));
    conn.close().await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn a_request_to_a_dropped_table_fails_alone_on_a_shared_connection() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    emu.create_table(OTHER, other_schema()).unwrap();
    let mut client = client(&emu).await;
    let mut conn = Conn::open_at_location(&mut client, PROJECT, "US").await;
    let seed = default_of(TABLE);
    let other = default_of(OTHER);
    ok_offset(
        &conn
            .append(append_request(
                &seed,
                None,
                Some(seed_descriptor()),
                vec![seed_row(1, "a")],
            ))
            .await,
    );
    ok_offset(
        &conn
            .append(append_request(
                &other,
                None,
                Some(other_descriptor()),
                vec![other_row(1.0, "x")],
            ))
            .await,
    );
    emu.delete_table(OTHER).unwrap();
    let refused = conn
        .append(append_request(
            &other,
            None,
            None,
            vec![other_row(2.0, "y")],
        ))
        .await;
    assert_eq!(in_band_error(&refused).code, tonic::Code::NotFound as i32);
    ok_offset(
        &conn
            .append(append_request(
                &seed,
                None,
                Some(seed_descriptor()),
                vec![seed_row(2, "b")],
            ))
            .await,
    );
    assert_eq!(emu.row_count(TABLE).unwrap(), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn connections_are_counted_open_peak_and_total() {
    let emu = start().await;
    emu.create_table(TABLE, seed_schema()).unwrap();
    let mut client = client(&emu).await;
    let seed = default_of(TABLE);
    let mut conns = Vec::new();
    for id in 0..3 {
        let mut conn = Conn::open(&mut client).await;
        ok_offset(
            &conn
                .append(append_request(
                    &seed,
                    None,
                    Some(seed_descriptor()),
                    vec![seed_row(id, "a")],
                ))
                .await,
        );
        conns.push(conn);
    }
    let stats = emu.append_rows_connections();
    assert_eq!((stats.open, stats.peak, stats.total), (3, 3, 3));
    for conn in conns {
        conn.close().await.unwrap();
    }
    // the server notices a closed call once its task ends: wait for it, bounded
    bounded("connections closed", async {
        while emu.append_rows_connections().open > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let mut conn = Conn::open(&mut client).await;
    ok_offset(
        &conn
            .append(append_request(
                &seed,
                None,
                Some(seed_descriptor()),
                vec![seed_row(9, "z")],
            ))
            .await,
    );
    let stats = emu.append_rows_connections();
    assert_eq!((stats.open, stats.peak, stats.total), (1, 3, 4));
    emu.shutdown().await;
}
