//! Pipelined sends: thousands of tickets in flight, through faults, row
//! rejections, dropped tickets and cancelled sends. Every row must land
//! exactly once, and every ticket must say where its rows went (or why they
//! did not).

mod support;

use std::ops::Range;
use std::time::Duration;

use bqwrite::{AppendTicket, BqRow, Committed, ErrorKind, RetryPolicy, Writer, WriterOptions};
use support::{Env, bounded};

/// A numbered row whose JSON column the emulator checks: a body that is not
/// JSON is a row error.
#[derive(Debug, Clone, BqRow)]
struct Doc {
    n: i64,
    #[bq(type = "JSON")]
    body: String,
}

fn doc(n: i64) -> Doc {
    Doc {
        n,
        body: format!("{{\"n\":{n}}}"),
    }
}

fn bad(n: i64) -> Doc {
    Doc {
        n,
        body: "{not json".to_owned(),
    }
}

fn docs(range: Range<i64>) -> Vec<Doc> {
    range.map(doc).collect()
}

/// Fast retries: the tests inject many faults.
fn options() -> WriterOptions {
    WriterOptions::default()
        .response_timeout(Duration::from_secs(5))
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(50)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(20)),
        )
}

/// The `n` column of every visible row, in order.
fn visible(env: &Env, table: &str) -> Vec<i64> {
    env.cells(table)
        .iter()
        .map(|row| row[0].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_tickets_in_flight_through_faults_land_exactly_once() {
    bounded(240, async {
        let mut env = Env::start().await;
        let table = env.table_for::<Doc>("many");
        const SENDS: i64 = 2_000;
        const ROWS: i64 = 50;
        let options = options()
            .max_rows_per_request(ROWS as usize)
            .max_inflight_requests(8)
            .response_timeout(Duration::from_millis(500));
        let mut writer = Writer::<Doc>::committed_with(&table, options)
            .await
            .unwrap();
        let mut tickets: Vec<AppendTicket<Committed>> = Vec::new();
        for i in 0..SENDS {
            let faults = env.emulator.faults();
            match i {
                // A drain: the connection closes with requests in flight.
                300 => {
                    faults.close_after_responses(3);
                }
                // A request applied whose answer is lost.
                700 => {
                    faults.lose_ack_after_responses(2);
                }
                // Answers late past the response timeout: resent, applied twice
                // on the wire, written once.
                1_100 => {
                    faults.delay_next_responses(1, Duration::from_millis(1_500));
                }
                // The server goes away and comes back mid-window.
                1_500 => env.emulator.restart().await.unwrap(),
                _ => {}
            }
            tickets.push(writer.send(docs(i * ROWS..(i + 1) * ROWS)).await.unwrap());
        }
        for (i, ticket) in tickets.into_iter().enumerate() {
            let i = i as i64;
            assert_eq!(
                ticket.await.unwrap(),
                i * ROWS..(i + 1) * ROWS,
                "ticket {i}"
            );
        }
        writer.flush().await.unwrap();
        let stats = writer.stats();
        assert_eq!(writer.acknowledged_rows(), SENDS * ROWS);
        assert_eq!(stats.rows_acknowledged, (SENDS * ROWS) as u64, "{stats:?}");
        assert!(stats.reconnects >= 4, "{stats:?}");
        assert!(stats.rows_already_written >= ROWS as u64, "{stats:?}");
        assert_eq!(stats.rows_unwritten, 0, "{stats:?}");
        let got = visible(&env, "many");
        assert_eq!(got.len() as i64, SENDS * ROWS, "row count");
        assert!(got.iter().copied().eq(0..SENDS * ROWS), "rows out of order");
    })
    .await;
}

#[tokio::test]
async fn a_rejected_ticket_fails_the_tickets_in_flight_behind_it_and_later_ones_land() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("rejected");
        const WINDOW: usize = 8;
        let options = options()
            .max_rows_per_request(10)
            .max_inflight_requests(WINDOW);
        let mut writer = Writer::<Doc>::committed_with(&table, options)
            .await
            .unwrap();
        // Tickets of 10 rows; ticket 50 holds a bad row at index 3.
        let batch = |i: i64| -> Vec<Doc> {
            (i * 10..(i + 1) * 10)
                .map(|n| {
                    if i == 50 && n % 10 == 3 {
                        bad(n)
                    } else {
                        doc(n)
                    }
                })
                .collect()
        };
        let mut tickets = Vec::new();
        for i in 0..100 {
            // Slow answers around the bad ticket keep the window full, so
            // the tickets right behind it are on their way when it is read.
            if i == 40 {
                env.emulator
                    .faults()
                    .delay_responses(Duration::from_millis(40));
            }
            if i == 70 {
                env.emulator.faults().clear();
            }
            tickets.push(writer.send(batch(i)).await.unwrap());
        }
        let mut expected = Vec::new();
        let mut unwritten = Vec::new();
        let mut end = 0;
        for (i, ticket) in tickets.into_iter().enumerate() {
            let i = i as i64;
            match ticket.await {
                Ok(offsets) => {
                    assert_ne!(i, 50, "the ticket with a bad row was written");
                    // Each accepted ticket lands right after the last written row.
                    assert_eq!(offsets, end..end + 10, "ticket {i}");
                    end = offsets.end;
                    expected.extend(i * 10..(i + 1) * 10);
                }
                Err(e) if i == 50 => {
                    assert_eq!(e.kind(), ErrorKind::RowErrors, "{e}");
                    let indices: Vec<usize> = e.row_errors().iter().map(|r| r.index).collect();
                    assert_eq!(indices, [3], "{e}");
                    assert_eq!(e.row_errors()[0].column.as_deref(), Some("body"));
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Unwritten, "ticket {i}: {e}");
                    assert!(i > 50, "ticket {i} failed before the rejected one: {e}");
                    unwritten.push(i);
                }
            }
        }
        // The slow answers kept the window full: the tickets right behind
        // the bad one were on their way (all 7 unless the machine is so
        // loaded that the sender fell behind a 40 ms answer), and only they
        // failed.
        assert!(
            !unwritten.is_empty(),
            "no ticket was in flight behind the rejected one"
        );
        assert!(unwritten.len() < WINDOW, "{unwritten:?}");
        assert_eq!(
            unwritten,
            (51..51 + unwritten.len() as i64).collect::<Vec<_>>(),
            "the tickets in flight behind the rejected one"
        );
        let stats = writer.stats();
        assert_eq!(stats.rows_rejected, 1, "{stats:?}");
        assert_eq!(
            stats.rows_unwritten,
            unwritten.len() as u64 * 10,
            "{stats:?}"
        );
        writer.flush().await.unwrap();
        assert_eq!(writer.acknowledged_rows(), end);
        assert_eq!(visible(&env, "rejected"), expected);

        // Sent again, the failed rows land after everything else.
        let mut again = docs(500..510);
        for i in &unwritten {
            again.extend(docs(i * 10..(i + 1) * 10));
        }
        let offsets = writer.append(&again).await.unwrap();
        assert_eq!(offsets, end..end + again.len() as i64);
        expected.extend(again.iter().map(|d| d.n));
        assert_eq!(visible(&env, "rejected"), expected);
        let mut sorted = expected.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1_000).collect::<Vec<_>>(), "every row once");
    })
    .await;
}

#[tokio::test]
async fn rows_after_a_rejected_request_of_the_same_call_are_not_written() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("same_call");
        // One request in flight at a time: the call's later requests are
        // queued only after the rejection was read.
        let options = options().max_rows_per_request(4).max_inflight_requests(1);
        let mut writer = Writer::<Doc>::pending_with(&table, options).await.unwrap();
        let mut rows = docs(0..12);
        rows[6] = bad(6);
        let err = writer.append(&rows).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
        assert_eq!(err.row_errors()[0].index, 6, "{err}");
        // As documented: the requests before the rejected one are written,
        // nothing after it.
        assert_eq!(err.acknowledged_rows(), Some(4), "{err}");
        assert_eq!(writer.acknowledged_rows(), 4);

        // The caller does what the error says: resend from row 4.
        rows[6] = doc(6);
        assert_eq!(writer.append(&rows[4..]).await.unwrap(), 4..12);
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(visible(&env, "same_call"), (0..12).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn dropped_tickets_are_tracked_and_flush_reports_a_failed_one() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("dropped");
        let options = options().max_rows_per_request(10).max_inflight_requests(4);
        let mut writer = Writer::<Doc>::committed_with(&table, options)
            .await
            .unwrap();
        for i in 0..100 {
            drop(writer.send(docs(i * 10..(i + 1) * 10)).await.unwrap());
        }
        writer.flush().await.unwrap();
        assert_eq!(writer.acknowledged_rows(), 1_000);
        assert_eq!(visible(&env, "dropped"), (0..1_000).collect::<Vec<_>>());

        // A dropped ticket fails: the next flush says so, the one after not.
        let mut rows = docs(1_000..1_010);
        rows[7] = bad(1_007);
        drop(writer.send(&rows).await.unwrap());
        let err = writer.flush().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
        assert!(err.to_string().contains("dropped unawaited"), "{err}");
        assert_eq!(err.row_errors()[0].index, 7, "{err}");
        assert_eq!(err.acknowledged_rows(), Some(1_000), "{err}");
        writer.flush().await.unwrap();

        // The writer goes on at the right offset.
        rows[7] = doc(1_007);
        for chunk in rows.chunks(5) {
            drop(writer.send(chunk).await.unwrap());
        }
        writer.flush().await.unwrap();
        assert_eq!(writer.acknowledged_rows(), 1_010);
        assert_eq!(visible(&env, "dropped"), (0..1_010).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn flush_after_a_cut_waits_for_the_resent_rows() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("cut");
        let options = options().max_rows_per_request(10).max_inflight_requests(6);
        let mut writer = Writer::<Doc>::committed_with(&table, options)
            .await
            .unwrap();
        writer.append(docs(0..10)).await.unwrap();
        // The connection closes with requests in flight and the writer's
        // tickets dropped: flush alone must see them through.
        env.emulator.faults().close_after_responses(2);
        for i in 1..30 {
            drop(writer.send(docs(i * 10..(i + 1) * 10)).await.unwrap());
        }
        writer.flush().await.unwrap();
        assert!(writer.reconnects() >= 1, "{:?}", writer.stats());
        assert_eq!(writer.acknowledged_rows(), 300);
        assert_eq!(visible(&env, "cut"), (0..300).collect::<Vec<_>>());
        // The same with an answer lost: applied once, counted once.
        env.emulator.faults().lose_ack_after_responses(1);
        for i in 30..40 {
            drop(writer.send(docs(i * 10..(i + 1) * 10)).await.unwrap());
        }
        writer.flush().await.unwrap();
        assert!(
            writer.stats().rows_already_written >= 10,
            "{:?}",
            writer.stats()
        );
        assert_eq!(writer.finalize().await.unwrap(), 400);
        assert_eq!(visible(&env, "cut"), (0..400).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_send_leaves_the_offsets_exact() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("cancelled");
        let options = options().max_rows_per_request(10).max_inflight_requests(2);
        let mut writer = Writer::<Doc>::committed_with(&table, options)
            .await
            .unwrap();
        // A slow answer: the send waits for room in the window, and is
        // cancelled (its future dropped) with requests queued.
        env.emulator
            .faults()
            .delay_next_responses(1, Duration::from_millis(300));
        let rows = docs(0..1_000);
        let cancelled = tokio::time::timeout(Duration::from_millis(50), writer.send(&rows)).await;
        assert!(cancelled.is_err(), "the send was meant to be cancelled");
        writer.flush().await.unwrap();
        let landed = writer.acknowledged_rows();
        assert!(landed > 0 && landed < 1_000, "{landed}");
        assert_eq!(landed % 10, 0, "whole requests: {landed}");
        assert_eq!(visible(&env, "cancelled"), (0..landed).collect::<Vec<_>>());

        // A send cancelled by select! while waiting too.
        env.emulator
            .faults()
            .delay_next_responses(1, Duration::from_millis(300));
        tokio::select! {
            biased;
            _ = writer.send(&rows[landed as usize..]) => panic!("the send was meant to wait"),
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        writer.flush().await.unwrap();
        let landed = writer.acknowledged_rows();
        assert!(landed < 1_000, "{landed}");

        // What was not queued is sent again and lands right after.
        let offsets = writer.append(&rows[landed as usize..]).await.unwrap();
        assert_eq!(offsets, landed..1_000);
        assert_eq!(visible(&env, "cancelled"), (0..1_000).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_send_whose_rows_are_rejected_is_reported_by_flush() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Doc>("cancelled_rejected");
        let options = options().max_rows_per_request(10).max_inflight_requests(2);
        let mut writer = Writer::<Doc>::committed_with(&table, options)
            .await
            .unwrap();
        // The send queues requests 0..10 and 10..20 (with a bad row), then
        // waits for room and is cancelled: nobody holds its ticket.
        env.emulator
            .faults()
            .delay_next_responses(1, Duration::from_millis(300));
        let mut rows = docs(0..100);
        rows[15] = bad(15);
        let cancelled = tokio::time::timeout(Duration::from_millis(50), writer.send(&rows)).await;
        assert!(cancelled.is_err(), "the send was meant to be cancelled");
        // Like a dropped ticket's, its failure is the next flush's.
        let err = writer.flush().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
        assert_eq!(err.row_errors()[0].index, 15, "{err}");
        assert_eq!(writer.acknowledged_rows(), 10);
        writer.flush().await.unwrap();
        assert_eq!(
            visible(&env, "cancelled_rejected"),
            (0..10).collect::<Vec<_>>()
        );
    })
    .await;
}
