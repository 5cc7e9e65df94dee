//! Randomized fault tests of the write shapes built on the engine: the
//! sink (exactly once and at least once), `_default` writers of many tables
//! multiplexed over a bounded pool, and a pending group. A loopback proxy
//! cuts connections at random byte offsets of requests and of answers,
//! while the emulator injects faults of its own (lost acknowledgements,
//! closed connections, transient in-band errors, delays).
//!
//! Each test prints its seed; `BQWRITE_CHAOS_SEED` replays it (as far as
//! the scheduler allows: the seed fixes where cuts fall and which faults
//! come, not how tasks interleave).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bqwrite::{
    BqRow, Client, Error, ErrorKind, RetryPolicy, Sink, SinkOptions, Writer, WriterOptions,
};
use bqwrite_emulator::{Faults, UnaryMethod};
use support::proxy::{Chaos, Proxy, Rng, chaos_seed, start_chaos_proxy};
use support::{Env, bounded};
use tonic::Code;

#[derive(Debug, Clone, BqRow)]
struct Tagged {
    /// Which table the row was written for (multiplexing: rows must never
    /// cross tables).
    table: i64,
    id: i64,
    note: String,
    /// The service refuses a row whose payload is not JSON.
    #[bq(type = "JSON")]
    payload: String,
}

impl Tagged {
    fn new(table: i64, id: i64) -> Self {
        Self {
            table,
            id,
            note: format!("row {id} of table {table}: {PADDING}"),
            payload: format!("{{\"id\":{id}}}"),
        }
    }

    /// A row the service rejects: every 97th of a sink's rows.
    fn sunk(id: i64) -> Self {
        let mut row = Self::new(0, id);
        if is_bad(id) {
            row.payload = "{not json".into();
        }
        row
    }
}

/// Makes rows about 100 bytes: a cut every few requests, not every one.
const PADDING: &str = "written through a proxy that cuts connections";

fn is_bad(id: i64) -> bool {
    id % 97 == 13
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(50)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(20))
}

/// Small requests (many of them, so cuts fall everywhere) and quick retries.
fn writer_options() -> WriterOptions {
    WriterOptions::default()
        .max_request_bytes(4 * 1024)
        .max_inflight_requests(4)
        .response_timeout(Duration::from_secs(10))
        .retry_policy(fast_retries())
}

/// A client of the emulator behind `proxy`; `_default` writers share at
/// most `max_connections` AppendRows calls.
async fn client_via(proxy: &Proxy, max_connections: usize) -> Client {
    Client::builder()
        .emulator(proxy.addr.to_string())
        .max_connections(max_connections)
        .retry_policy(fast_retries())
        .build()
        .await
        .expect("client")
}

/// Injects one of the emulator's faults, chosen by `rng`, every few
/// milliseconds until stopped; counts them.
struct Injector {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl Injector {
    fn start(faults: Faults, mut rng: Rng, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut injected = 0;
            let mut tick = tokio::time::interval(every);
            // After a stall (a loaded machine), one fault per `every` of
            // running time still, not a burst of the ticks missed.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if stopped.load(Ordering::Acquire) {
                    break;
                }
                inject(&faults, &mut rng);
                injected += 1;
            }
            faults.clear();
            injected
        });
        Self { stop, task }
    }

    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.task.await.expect("fault injector")
    }
}

/// One fault: a connection closed before a request is applied, a request
/// applied and its answer lost, transient in-band errors (unary calls too),
/// or slow answers.
fn inject(faults: &Faults, rng: &mut Rng) {
    let after = rng.below(20) as usize;
    match rng.below(4) {
        0 => faults.close_after_responses(after),
        1 => faults.lose_ack_after_responses(after),
        2 => {
            let code =
                [Code::Unavailable, Code::Internal, Code::ResourceExhausted][rng.below(3) as usize];
            faults.fail_next_requests(1 + rng.below(2) as usize, code, "injected by chaos_scale")
        }
        _ => faults.delay_next_responses(
            1 + rng.below(3) as usize,
            Duration::from_millis(rng.below(30)),
        ),
    };
}

/// How many times each id is in `table`, checking every row is `table_id`'s.
fn id_counts(env: &Env, table: &str, table_id: i64) -> HashMap<i64, u64> {
    let mut counts = HashMap::new();
    for row in env.cells(table) {
        let tag: i64 = row[0].as_str().unwrap().parse().unwrap();
        let id: i64 = row[1].as_str().unwrap().parse().unwrap();
        assert_eq!(tag, table_id, "row {id} of table {tag} landed in `{table}`");
        let note = Tagged::new(tag, id).note;
        assert_eq!(
            row[2].as_str(),
            Some(note.as_str()),
            "row {id} of `{table}`"
        );
        *counts.entry(id).or_default() += 1;
    }
    counts
}

/// Whether a failed row's error says it may have been written after all.
fn says_maybe_written(error: &Error) -> bool {
    let text = error.to_string();
    text.contains("may or may not") || text.contains("may have")
}

/// Cuts per test, and the mean bytes of requests and of answers between two.
const CUTS: u64 = 200;
const CUT_BYTES: u64 = 16 * 1024;
const CUT_ANSWER_BYTES: u64 = 512;

const SINK_TASKS: i64 = 1_000;
const SINK_ROWS_EACH: i64 = 30;

/// What a sink under chaos came to.
struct SinkRun {
    env: Env,
    outcomes: Vec<(i64, bqwrite::Result<()>)>,
    closed: bqwrite::Result<()>,
    stats: bqwrite::WriterStats,
    cuts: u64,
    faults: u64,
}

/// 1,000 tasks each send 30 rows one at a time through a sink whose
/// connections the proxy cuts (`CUTS` times) while the emulator injects faults.
/// `cut_bytes`: the mean client bytes between two cuts.
async fn sink_under_chaos(
    test: &str,
    options: SinkOptions,
    retry: RetryPolicy,
    cut_bytes: u64,
) -> SinkRun {
    let seed = chaos_seed(test);
    let env = Env::start().await;
    env.table_for::<Tagged>("sunk");
    let chaos = Chaos::new(seed, cut_bytes, CUTS).answers_too(CUT_ANSWER_BYTES);
    let proxy = start_chaos_proxy(env.emulator.grpc_addr(), chaos).await;
    let client = client_via(&proxy, 4).await;
    let table = client.table_from_path(&Env::path("sunk")).unwrap();
    let options = options
        .max_buffered_rows(5_000)
        .writer_options(writer_options().retry_policy(retry));
    let sink = client.sink_with::<Tagged>(&table, options).await.unwrap();
    let injector = Injector::start(
        env.emulator.faults().clone(),
        Rng::new(seed ^ 0x5eed),
        Duration::from_millis(40),
    );
    let tasks: Vec<_> = (0..SINK_TASKS)
        .map(|task| {
            let sink: Sink<Tagged> = sink.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::with_capacity(SINK_ROWS_EACH as usize);
                for i in 0..SINK_ROWS_EACH {
                    let id = i * SINK_TASKS + task;
                    outcomes.push((id, sink.send(Tagged::sunk(id)).await));
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.extend(task.await.expect("sender task"));
    }
    let closed = sink.close().await;
    let faults = injector.stop().await;
    SinkRun {
        env,
        outcomes,
        closed,
        stats: sink.stats(),
        cuts: proxy.cuts(),
        faults,
    }
}

impl SinkRun {
    /// Checks what every sink promises, prints what happened, and returns
    /// how many times each id is in the table and the rows that failed
    /// other than by being rejected:
    /// - every row whose `send` returned `Ok` is in the table;
    /// - every bad row failed alone ([`ErrorKind::RowErrors`]) and is not;
    /// - a row that failed otherwise is not in the table, unless its error
    ///   says it may have been written;
    /// - no row is there that nobody sent.
    fn check(&self, test: &str) -> (HashMap<i64, u64>, Vec<(i64, &Error)>) {
        let counts = id_counts(&self.env, "sunk", 0);
        let (mut ok, mut rejected, mut failed) = (0, 0, Vec::new());
        for (id, outcome) in &self.outcomes {
            match outcome {
                Ok(()) => {
                    assert!(!is_bad(*id), "bad row {id} was acknowledged");
                    assert!(counts.contains_key(id), "acknowledged row {id} is missing");
                    ok += 1;
                }
                Err(e) if is_bad(*id) && e.kind() == ErrorKind::RowErrors => {
                    assert!(!counts.contains_key(id), "rejected row {id} was written");
                    assert_eq!(e.row_errors().len(), 1, "{e}");
                    assert_eq!(e.row_errors()[0].column.as_deref(), Some("payload"), "{e}");
                    rejected += 1;
                }
                Err(e) => {
                    assert!(
                        !counts.contains_key(id) || says_maybe_written(e),
                        "row {id} failed without saying it may have been written, and it was: {e}"
                    );
                    failed.push((*id, e));
                }
            }
        }
        let sent = 0..SINK_TASKS * SINK_ROWS_EACH;
        assert!(
            counts.keys().all(|id| sent.contains(id)),
            "rows nobody sent"
        );
        println!(
            "{test}: {ok} rows acknowledged, {rejected} rejected, {} failed; {} cuts, \
             {} emulator faults; close: {:?}; {:?}",
            failed.len(),
            self.cuts,
            self.faults,
            self.closed.as_ref().map_err(Error::to_string),
            self.stats
        );
        if let Some((id, e)) = failed.first() {
            println!("{test}: first failure (row {id}): {e}");
        }
        assert!(self.cuts > 0, "the proxy cut no connection");
        (counts, failed)
    }
}

/// Rows written more than once.
fn written_twice(counts: &HashMap<i64, u64>) -> Vec<(i64, u64)> {
    let mut twice: Vec<_> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| (*id, *n))
        .collect();
    twice.sort_unstable();
    twice
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exactly_once_sink_under_cuts_writes_each_acknowledged_row_once() {
    bounded(240, async {
        let test = "exactly_once_sink";
        let run =
            sink_under_chaos(test, SinkOptions::exactly_once(), fast_retries(), CUT_BYTES).await;
        let (counts, failed) = run.check(test);
        assert_eq!(written_twice(&counts), [], "rows written twice");
        assert!(failed.is_empty(), "a send failed: {:?}", failed[0]);
        run.closed.as_ref().unwrap();
    })
    .await;
}

/// With a retry budget the faults exhaust, the writer under the sink
/// closes: the rows in flight then fail, and those after; still no row is
/// written twice, and a failed row that was written says it may have been.
///
/// A cut falls every 1 KiB of requests on average (at most 2 KiB), and a
/// full request is 4 KiB: hardly a connection carries one whole, so three
/// failures in a row, which the budget of 2 retries cannot cover, come
/// within the first cuts, whatever the seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exactly_once_sink_that_gives_up_under_cuts_still_writes_no_row_twice() {
    bounded(240, async {
        let test = "exactly_once_sink_giving_up";
        let retry = fast_retries().max_attempts(2);
        let run = sink_under_chaos(test, SinkOptions::exactly_once(), retry, 1024).await;
        let (counts, failed) = run.check(test);
        assert_eq!(written_twice(&counts), [], "rows written twice");
        let gave_up = failed
            .iter()
            .filter(|(_, e)| {
                e.kind() == ErrorKind::WriterClosed
                    && e.to_string().contains("gave up after 2 retries")
            })
            .count();
        assert!(
            gave_up > 0,
            "no send failed because the writer gave up; {} failed, first: {:?}",
            failed.len(),
            failed.first().map(|(_, e)| e.to_string())
        );
        let closed = run.closed.as_ref().expect_err("the sink closed cleanly");
        assert_eq!(closed.kind(), ErrorKind::WriterClosed, "{closed}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_at_least_once_sink_under_cuts_writes_every_acknowledged_row() {
    bounded(240, async {
        let test = "at_least_once_sink";
        let run = sink_under_chaos(
            test,
            SinkOptions::at_least_once(),
            fast_retries(),
            CUT_BYTES,
        )
        .await;
        let (counts, failed) = run.check(test);
        let rows: u64 = counts.values().sum();
        let duplicates = rows - counts.len() as u64;
        println!(
            "{test}: {duplicates} duplicate rows, {} rows resent",
            run.stats.resent_rows
        );
        assert!(
            duplicates <= run.stats.resent_rows,
            "{duplicates} duplicates but only {} rows resent",
            run.stats.resent_rows
        );
        assert!(failed.is_empty(), "a send failed: {:?}", failed[0]);
        run.closed.as_ref().unwrap();
    })
    .await;
}

const TABLES: i64 = 30;
const ROUNDS: i64 = 20;
const PER_ROUND: i64 = 50;

/// What one table's writer came to.
#[derive(Debug)]
struct TableRun {
    acknowledged: Vec<i64>,
    error: Option<Error>,
    stats: bqwrite::WriterStats,
}

/// `Tagged` with its fields in another order, so another writer schema
/// (field numbers) for the same columns: half the tables are written with
/// it, and a request decoded with the other table's schema would swap
/// `table` and `id`.
#[derive(Debug, Clone, BqRow)]
struct Swapped {
    id: i64,
    table: i64,
    note: String,
    #[bq(type = "JSON")]
    payload: String,
}

impl From<Tagged> for Swapped {
    fn from(row: Tagged) -> Self {
        Self {
            id: row.id,
            table: row.table,
            note: row.note,
            payload: row.payload,
        }
    }
}

/// One table's writer: `ROUNDS` appends of `PER_ROUND` rows, each row
/// tagged with the table; stops at the first error. Odd tables' writers
/// write `Swapped`, even ones `Tagged`.
async fn write_table(client: Client, t: i64) -> TableRun {
    if t % 2 == 1 {
        write_table_as::<Swapped>(client, t).await
    } else {
        write_table_as::<Tagged>(client, t).await
    }
}

async fn write_table_as<R: BqRow + From<Tagged>>(client: Client, t: i64) -> TableRun {
    let table = client
        .table_from_path(&Env::path(&format!("t{t}")))
        .unwrap();
    // Backoffs of 1-20 ms spend 50 attempts in well under a second, while
    // one cut fails all 30 writers: a writer whose requests queue behind
    // the others' for that long can be starved: its budget counts only
    // the calls it was on, not the writes of the others' calls since.
    // 5-100 ms still makes thousands of reconnects.
    // Which writer's requests wait behind the others' is up to the
    // scheduler: under load one writer's calls failed 50 times in a row
    // (chaos seed 1796148625469825597, which passes when replayed alone).
    // The budget outlasts every cut the proxy makes
    // (`CUTS`) and 50 more failures: a writer that cannot recover from a
    // cut still gives up (in 25 s at most) and fails the test.
    let retry = fast_retries()
        .max_attempts(CUTS as u32 + 50)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(100));
    let options = writer_options().retry_policy(retry);
    let mut writer = match Writer::<R>::default_stream_with(&table, options).await {
        Ok(writer) => writer,
        Err(error) => {
            return TableRun {
                acknowledged: Vec::new(),
                error: Some(error),
                stats: bqwrite::WriterStats::default(),
            };
        }
    };
    let mut acknowledged = Vec::new();
    let mut error = None;
    for round in 0..ROUNDS {
        let ids = round * PER_ROUND..(round + 1) * PER_ROUND;
        match writer
            .append(ids.clone().map(|id| R::from(Tagged::new(t, id))))
            .await
        {
            Ok(_) => acknowledged.extend(ids),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if error.is_none() {
        error = writer.flush().await.err();
    }
    TableRun {
        acknowledged,
        error,
        stats: writer.stats(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_writers_of_thirty_tables_under_cuts_keep_their_rows_apart() {
    bounded(240, async {
        let test = "pooled_multiplexing";
        let seed = chaos_seed(test);
        let env = Env::start().await;
        let max_connections = 2 + (seed % 3) as usize;
        // One TCP connection carries every table's calls, so a cut fails
        // all 30 writers at once: cuts half as often as for one writer.
        let chaos = Chaos::new(seed, 2 * CUT_BYTES, CUTS).answers_too(CUT_ANSWER_BYTES);
        let proxy = start_chaos_proxy(env.emulator.grpc_addr(), chaos).await;
        let client = client_via(&proxy, max_connections).await;
        for t in 0..TABLES {
            env.table_for::<Tagged>(&format!("t{t}"));
        }
        let injector = Injector::start(
            env.emulator.faults().clone(),
            Rng::new(seed ^ 0x5eed),
            Duration::from_millis(40),
        );
        let tasks: Vec<_> = (0..TABLES)
            .map(|t| tokio::spawn(write_table(client.clone(), t)))
            .collect();
        let mut runs = Vec::new();
        for task in tasks {
            runs.push(task.await.expect("writer task"));
        }
        let faults = injector.stop().await;
        let (mut acknowledged, mut duplicates, mut reconnects) = (0, 0, 0);
        for (t, run) in runs.iter().enumerate() {
            let counts = id_counts(&env, &format!("t{t}"), t as i64);
            for id in &run.acknowledged {
                assert!(
                    counts.contains_key(id),
                    "t{t}: acknowledged row {id} is missing"
                );
            }
            let rows: u64 = counts.values().sum();
            let extra = rows - counts.len() as u64;
            assert!(
                extra <= run.stats.resent_rows,
                "t{t}: {extra} duplicates but only {} rows resent",
                run.stats.resent_rows
            );
            acknowledged += run.acknowledged.len();
            duplicates += extra;
            reconnects += run.stats.reconnects;
        }
        let connections = env.emulator.append_rows_connections();
        println!(
            "{test}: {acknowledged} rows acknowledged in {TABLES} tables over at most \
             {max_connections} calls; {duplicates} duplicates, {reconnects} reconnects, \
             {} cuts, {faults} emulator faults; {connections:?}",
            proxy.cuts()
        );
        assert!(proxy.cuts() > 0, "the proxy cut no connection");
        for (t, run) in runs.iter().enumerate() {
            if let Some(error) = &run.error {
                panic!("t{t} failed after {} rows: {error}", run.acknowledged.len());
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_group_under_cuts_commits_every_row_once() {
    bounded(240, async {
        let test = "pending_group";
        let seed = chaos_seed(test);
        const TASKS: i64 = 8;
        const CALLS: i64 = 10;
        const ROWS: i64 = 500;
        let env = Env::start().await;
        env.table_for::<Tagged>("grouped");
        let chaos = Chaos::new(seed, CUT_BYTES, CUTS).answers_too(CUT_ANSWER_BYTES);
        let proxy = start_chaos_proxy(env.emulator.grpc_addr(), chaos).await;
        let client = client_via(&proxy, 4).await;
        let table = client.table_from_path(&Env::path("grouped")).unwrap();
        let injector = Injector::start(
            env.emulator.faults().clone(),
            Rng::new(seed ^ 0x5eed),
            Duration::from_millis(40),
        );
        let group = Arc::new(
            table
                .pending_group_with::<Tagged>(4, writer_options())
                .await
                .unwrap(),
        );
        let appended = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let group = group.clone();
                let appended = appended.clone();
                tokio::spawn(async move {
                    for call in 0..CALLS {
                        let first = (task * CALLS + call) * ROWS;
                        let rows = (first..first + ROWS).map(|id| Tagged::new(0, id));
                        let offsets = group.append(rows).await?;
                        assert_eq!(offsets.end - offsets.start, ROWS);
                        appended.fetch_add(ROWS as u64, Ordering::Relaxed);
                    }
                    Ok::<(), Error>(())
                })
            })
            .collect();
        let mut failures = Vec::new();
        for task in tasks {
            if let Err(e) = task.await.expect("append task") {
                failures.push(e);
            }
        }
        let group = Arc::into_inner(group).expect("every task is done");
        // Finalizes and the commit applied with their answers lost: the
        // group must find out what happened, not fail or commit twice.
        let mut rng = Rng::new(seed ^ 0xc0ff);
        let faults = env.emulator.faults();
        faults.drop_next_unary_answers(UnaryMethod::FinalizeWriteStream, rng.below(3) as usize);
        if rng.below(2) == 1 {
            faults.drop_next_unary_answer(UnaryMethod::BatchCommitWriteStreams);
        }
        let committed = group.commit().await;
        let faults = injector.stop().await;
        println!(
            "{test}: {} rows appended, {} calls failed; {} cuts, {faults} emulator faults; \
             commit: {:?}",
            appended.load(Ordering::Relaxed),
            failures.len(),
            proxy.cuts(),
            committed
                .as_ref()
                .map(|c| c.rows())
                .map_err(Error::to_string),
        );
        if let Some(error) = failures.first() {
            panic!("an append failed: {error}");
        }
        let commit = committed.unwrap();
        let n = TASKS * CALLS * ROWS;
        assert_eq!(commit.rows(), n);
        let counts = id_counts(&env, "grouped", 0);
        assert_eq!(counts.len() as i64, n, "rows missing");
        assert!(counts.values().all(|c| *c == 1), "a row written twice");
    })
    .await;
}

/// The writer under an exactly-once sink gives up (no retries) on a
/// connection that closed after applying a request: that request's rows
/// are in the table, and their `send`s fail with an error that says they
/// may have been written, not one a caller would take as "not written" and
/// send again. Found by reading the contract the chaos tests check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_in_flight_when_the_sink_gives_up_says_it_may_have_been_written() {
    bounded(60, async {
        let env = Env::start().await;
        let table = env.table_for::<Tagged>("gave_up");
        let writer = WriterOptions::default().retry_policy(RetryPolicy::none());
        let options = SinkOptions::exactly_once().writer_options(writer);
        let sink = env
            .client
            .sink_with::<Tagged>(&table, options)
            .await
            .unwrap();
        env.emulator.faults().lose_ack_after_responses(0);
        let err = sink.send(Tagged::new(0, 1)).await.unwrap_err();
        assert_eq!(env.cells("gave_up").len(), 1, "the request was applied");
        assert!(says_maybe_written(&err), "{err}");
        let later = sink.send(Tagged::new(0, 2)).await.unwrap_err();
        assert_eq!(later.kind(), ErrorKind::WriterClosed, "{later}");
        let closed = sink.close().await.unwrap_err();
        // each says once how many rows are acknowledged
        for error in [&err, &later, &closed] {
            let text = error.to_string();
            assert_eq!(
                text.matches("rows of the stream are acknowledged").count(),
                1,
                "{text}"
            );
        }
    })
    .await;
}
