//! Rows that borrow data built inside a loop, written through one writer
//! that outlives every batch (issue #15): a writer of `Order<'_>` takes
//! `Order`s with any lifetimes.

mod support;

use bqwrite::{BqRow, Writer};
use serde_json::json;
use support::{Env, bounded};

#[derive(BqRow)]
struct Order<'a> {
    id: i64,
    name: &'a str,
    tags: &'a [String],
    labels: &'a [&'a str],
}

struct Input {
    id: i64,
    name: String,
}

fn input() -> Vec<Input> {
    (0..5)
        .map(|id| Input {
            id,
            name: format!("order {id}"),
        })
        .collect()
}

/// A REPEATED STRING cell as the table's REST rows show it.
fn repeated(values: &[&str]) -> serde_json::Value {
    values.iter().map(|v| json!({ "v": v })).collect()
}

#[tokio::test]
async fn batches_built_in_a_loop_are_written_by_one_writer() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Order<'_>>("orders");
        let input = input();
        let mut writer = Writer::<Order<'_>>::pending(&table).await.unwrap();
        for chunk in input.chunks(2) {
            // Everything the rows borrow lives for one turn of the loop only.
            let names: Vec<String> = chunk.iter().map(|r| r.name.to_uppercase()).collect();
            let tags: Vec<String> = vec!["t".into(), format!("n{}", chunk.len())];
            let labels: Vec<&str> = tags.iter().map(String::as_str).rev().collect();
            let batch: Vec<Order<'_>> = chunk
                .iter()
                .zip(&names)
                .map(|(r, n)| Order {
                    id: r.id,
                    name: n,
                    tags: &tags,
                    labels: &labels,
                })
                .collect();
            writer.append(&batch).await.unwrap();
            // The other call shapes of one batch type.
            writer.send(batch.iter()).await.unwrap().await.unwrap();
            let refs: Vec<&Order<'_>> = batch.iter().collect();
            writer.append(refs).await.unwrap();
            writer.append(batch).await.unwrap();
        }
        let finalized = writer.finalize().await.unwrap();
        assert_eq!(finalized.row_count(), 20);
        finalized.commit().await.unwrap();

        let cells = env.cells("orders");
        assert_eq!(cells.len(), 20);
        assert_eq!(
            cells[0],
            [
                json!("0"),
                json!("ORDER 0"),
                repeated(&["t", "n2"]),
                repeated(&["n2", "t"]),
            ]
        );
        assert_eq!(
            cells[19],
            [
                json!("4"),
                json!("ORDER 4"),
                repeated(&["t", "n1"]),
                repeated(&["n1", "t"]),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_pending_group_a_sink_and_append_stream_take_borrowed_rows_too() {
    bounded(60, async {
        let env = Env::start().await;
        let input = input();

        let table = env.table_for::<Order<'_>>("grouped");
        let group = table.pending_group::<Order<'_>>(2).await.unwrap();
        let mut writer = Writer::<Order<'_>>::committed(&table).await.unwrap();
        let sink = env.client.sink::<Order<'_>>(&table).await.unwrap();
        for chunk in input.chunks(2) {
            let names: Vec<String> = chunk.iter().map(|r| r.name.to_uppercase()).collect();
            let batch: Vec<Order<'_>> = chunk
                .iter()
                .zip(&names)
                .map(|(r, n)| Order {
                    id: r.id,
                    name: n,
                    tags: &[],
                    labels: &["x"],
                })
                .collect();
            group.append(&batch).await.unwrap();
            writer
                .append_stream(tokio_stream::iter(&batch))
                .await
                .unwrap();
            sink.send(&batch[0]).await.unwrap();
        }
        sink.close().await.unwrap();
        // 5 rows by the writer, 3 by the sink, visible now; 5 at the commit.
        assert_eq!(env.cells("grouped").len(), 8);
        assert_eq!(group.commit().await.unwrap().rows(), 5);
        let cells = env.cells("grouped");
        assert_eq!(cells.len(), 13);
        assert!(cells.iter().all(|row| row[3] == repeated(&["x"])));
    })
    .await;
}
