//! The OpenTelemetry instruments (feature `opentelemetry`) after a write
//! with faults: an in-memory exporter reads what the writer recorded, and
//! the figures must agree with what happened and with `Writer::stats`.

mod support;

use std::time::Duration;

use bqwrite::{BqRow, Client, ErrorKind, RetryPolicy, Writer, WriterOptions};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use support::{Env, bounded};
use tonic::Code;

#[derive(Debug, Clone, BqRow)]
struct Numbered {
    n: i64,
}

/// A numbered row whose JSON column the emulator checks: a body that is not
/// JSON is a row error.
#[derive(Debug, Clone, BqRow)]
struct Doc {
    n: i64,
    #[bq(type = "JSON")]
    body: String,
}

fn numbered(range: std::ops::Range<i64>) -> Vec<Numbered> {
    range.map(|n| Numbered { n }).collect()
}

/// What the exporter last received: `(instrument, attributes, value)`,
/// a histogram's value being its count.
struct Exported(Vec<(String, Vec<KeyValue>, f64)>);

impl Exported {
    fn read(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> Self {
        provider.force_flush().expect("metrics flushed");
        let batches: Vec<ResourceMetrics> = exporter.get_finished_metrics().expect("metrics");
        let last = batches.last().expect("one export at least");
        let mut points = Vec::new();
        for scope in last.scope_metrics() {
            for metric in scope.metrics() {
                let name = metric.name().to_owned();
                let mut push = |attributes: Vec<KeyValue>, value: f64| {
                    points.push((name.clone(), attributes, value));
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => sum
                        .data_points()
                        .for_each(|p| push(p.attributes().cloned().collect(), p.value() as f64)),
                    AggregatedMetrics::I64(MetricData::Sum(sum)) => sum
                        .data_points()
                        .for_each(|p| push(p.attributes().cloned().collect(), p.value() as f64)),
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => histogram
                        .data_points()
                        .for_each(|p| push(p.attributes().cloned().collect(), p.count() as f64)),
                    other => panic!("unexpected data for {name}: {other:?}"),
                }
            }
        }
        Self(points)
    }

    /// The sum of `instrument` over the points whose attributes include `with`.
    fn sum(&self, instrument: &str, with: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(name, attributes, _)| {
                name == instrument
                    && with.iter().all(|(key, value)| {
                        attributes
                            .iter()
                            .any(|kv| kv.key.as_str() == *key && kv.value.as_str() == *value)
                    })
            })
            .map(|(_, _, value)| value)
            .sum()
    }
}

/// An in-memory exporter, and the provider that feeds it.
fn exporter() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (provider, exporter)
}

/// A client of `env`'s emulator recording to `provider`, and `table` of it.
async fn metered_table(env: &Env, provider: &SdkMeterProvider, table: &str) -> bqwrite::Table {
    let client = Client::builder()
        .emulator(env.emulator.grpc_addr().to_string())
        .meter(provider.meter("bqwrite"))
        .build()
        .await
        .unwrap();
    client.table_from_path(&Env::path(table)).unwrap()
}

fn fast_retries() -> WriterOptions {
    WriterOptions::default()
        .max_rows_per_request(10)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(5)
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(5)),
        )
}

#[tokio::test]
async fn a_write_with_faults_is_counted_by_the_instruments() {
    bounded(60, async {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let env = Env::start().await;
        env.table_for::<Numbered>("metrics");
        let client = Client::builder()
            .emulator(env.emulator.grpc_addr().to_string())
            .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
            .meter(provider.meter("bqwrite"))
            .build()
            .await
            .unwrap();
        let path = Env::path("metrics");
        let table = client.table_from_path(&path).unwrap();
        let options = WriterOptions::default()
            .max_rows_per_request(10)
            .max_inflight_requests(4)
            .response_timeout(Duration::from_millis(150))
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(20)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(20)),
            );
        let mut writer = Writer::<Numbered>::pending_with(&table, options)
            .await
            .unwrap();

        writer.append(numbered(0..50)).await.unwrap();
        // A connection closed mid-window, then a lost answer, then an
        // answer later than the response timeout.
        env.emulator.faults().close_after_responses(2);
        writer.append(numbered(50..100)).await.unwrap();
        env.emulator.faults().lose_ack_after_responses(1);
        writer.append(numbered(100..150)).await.unwrap();
        env.emulator
            .faults()
            .delay_next_responses(1, Duration::from_millis(600));
        writer.append(numbered(150..200)).await.unwrap();

        let stats = writer.stats();
        let got = Exported::read(&provider, &exporter);
        let pending = [("table", path.as_str()), ("stream_type", "PENDING")];

        assert_eq!(got.sum("bqwrite.writer.sent.rows", &pending), 200.0);
        assert_eq!(got.sum("bqwrite.writer.acknowledged.rows", &pending), 200.0);
        assert_eq!(stats.rows_acknowledged, 200);
        assert_eq!(
            got.sum("bqwrite.writer.sent.bytes", &pending),
            stats.bytes_sent as f64
        );
        assert_eq!(
            got.sum("bqwrite.writer.acknowledged.bytes", &pending),
            stats.bytes_acknowledged as f64
        );
        assert_eq!(stats.bytes_acknowledged, stats.bytes_sent);
        // One latency per acknowledged request.
        assert_eq!(stats.requests_acknowledged, 20);
        assert_eq!(
            got.sum("bqwrite.writer.append.duration", &pending),
            stats.requests_acknowledged as f64
        );
        assert_eq!(got.sum("bqwrite.writer.requests.in_flight", &pending), 0.0);
        assert_eq!(stats.in_flight_requests, 0);
        assert_eq!(
            got.sum("bqwrite.writer.connections.open", &pending),
            stats.open_connections as f64
        );

        let reconnects = got.sum("bqwrite.writer.reconnects", &pending);
        assert!(reconnects >= 2.0, "{reconnects}");
        assert_eq!(reconnects, stats.reconnects as f64);
        let timeouts = got.sum("bqwrite.writer.reconnects", &[("cause", "timeout")]);
        assert!(timeouts >= 1.0, "{timeouts}");
        assert_eq!(timeouts, stats.reconnects_by_cause.timeout as f64);
        assert!(stats.reconnects_by_cause.transport >= 1, "{stats:?}");
        let resent = got.sum("bqwrite.writer.resent.requests", &pending);
        assert!(resent >= 1.0, "{resent}");
        assert_eq!(resent, stats.resent_requests as f64);
        assert_eq!(
            got.sum("bqwrite.writer.resent.rows", &pending),
            stats.resent_rows as f64
        );
        assert_eq!(got.sum("bqwrite.writer.rejected.rows", &pending), 0.0);

        // A unary call retried once after UNAVAILABLE.
        env.emulator
            .faults()
            .fail_next_requests(1, Code::Unavailable, "injected");
        writer.finalize().await.unwrap().commit().await.unwrap();
        let got = Exported::read(&provider, &exporter);
        assert_eq!(
            got.sum("bqwrite.client.retries", &[("code", "UNAVAILABLE")]),
            1.0
        );

        // Attribute sets stay small: never a stream id or a row value.
        for (name, attributes, _) in &got.0 {
            for kv in attributes {
                assert!(
                    ["table", "stream_type", "cause", "code"].contains(&kv.key.as_str()),
                    "{name} has attribute {}",
                    kv.key
                );
            }
        }
        provider.shutdown().unwrap();
    })
    .await;
}

#[tokio::test]
async fn transient_in_band_errors_are_counted_as_in_band() {
    bounded(60, async {
        let (provider, exporter) = exporter();
        let env = Env::start().await;
        env.table_for::<Numbered>("in_band_committed");
        env.table_for::<Numbered>("in_band_default");
        let committed = metered_table(&env, &provider, "in_band_committed").await;
        let default = metered_table(&env, &provider, "in_band_default").await;
        let mut explicit = Writer::<Numbered>::committed_with(&committed, fast_retries())
            .await
            .unwrap();
        let mut shared = Writer::<Numbered>::default_stream_with(&default, fast_retries())
            .await
            .unwrap();

        // One request each, answered in-band with UNAVAILABLE (the
        // connection stays open) and not applied. It is each connection's
        // first request: sent again on the same connection, it must name
        // the stream and carry the schema again.
        env.emulator
            .faults()
            .fail_next_requests(1, Code::Unavailable, "injected");
        assert_eq!(explicit.append(numbered(0..10)).await.unwrap(), 0..10);
        env.emulator
            .faults()
            .fail_next_requests(1, Code::Unavailable, "injected");
        assert_eq!(shared.append(numbered(0..10)).await.unwrap(), 10);
        assert_eq!(
            env.emulator
                .row_count(&Env::path("in_band_committed"))
                .unwrap(),
            10
        );
        assert_eq!(
            env.emulator
                .row_count(&Env::path("in_band_default"))
                .unwrap(),
            10
        );

        // An explicit stream reconnects and resends from the failed request
        // at the same offset; `_default` resends that request alone.
        let explicit = explicit.stats();
        assert_eq!(explicit.reconnects_by_cause.in_band, 1, "{explicit:?}");
        assert_eq!(explicit.reconnects, 1, "{explicit:?}");
        assert_eq!(explicit.resent_requests_by_cause.in_band, 1, "{explicit:?}");
        assert_eq!(explicit.resent_rows, 10, "{explicit:?}");
        let shared = shared.stats();
        assert_eq!(shared.reconnects, 0, "{shared:?}");
        assert_eq!(shared.resent_requests_by_cause.in_band, 1, "{shared:?}");
        assert_eq!(shared.resent_requests, 1, "{shared:?}");
        assert_eq!(shared.resent_rows, 10, "{shared:?}");

        let got = Exported::read(&provider, &exporter);
        let committed = [("stream_type", "COMMITTED"), ("cause", "in_band")];
        let default = [("stream_type", "_default"), ("cause", "in_band")];
        assert_eq!(got.sum("bqwrite.writer.reconnects", &committed), 1.0);
        assert_eq!(got.sum("bqwrite.writer.resent.requests", &committed), 1.0);
        assert_eq!(got.sum("bqwrite.writer.resent.rows", &committed), 10.0);
        assert_eq!(got.sum("bqwrite.writer.reconnects", &default), 0.0);
        assert_eq!(got.sum("bqwrite.writer.resent.requests", &default), 1.0);
        assert_eq!(got.sum("bqwrite.writer.resent.rows", &default), 10.0);
        // No other cause was counted.
        for cause in ["transport", "timeout", "row_errors"] {
            assert_eq!(
                got.sum("bqwrite.writer.reconnects", &[("cause", cause)]),
                0.0
            );
            assert_eq!(
                got.sum("bqwrite.writer.resent.requests", &[("cause", cause)]),
                0.0
            );
        }
        provider.shutdown().unwrap();
    })
    .await;
}

#[tokio::test]
async fn rows_rejected_on_default_are_counted_with_their_resent_batch_mates() {
    bounded(60, async {
        let (provider, exporter) = exporter();
        let env = Env::start().await;
        env.table_for::<Doc>("row_errors");
        let table = metered_table(&env, &provider, "row_errors").await;
        let options = fast_retries().max_rows_per_request(4);
        let mut writer = Writer::<Doc>::default_stream_with(&table, options)
            .await
            .unwrap();
        // Requests [0..4) with two bad rows, [4..8) clean, [8..12) with one.
        let mut docs: Vec<Doc> = (0..12)
            .map(|n| Doc {
                n,
                body: format!("{{\"n\":{n}}}"),
            })
            .collect();
        for i in [1, 2, 9] {
            docs[i].body = "{not json".to_owned();
        }
        let err = writer.append(&docs).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowErrors, "{err}");
        assert_eq!(env.emulator.row_count(&Env::path("row_errors")).unwrap(), 9);

        let stats = writer.stats();
        assert_eq!(stats.rows_rejected, 3, "{stats:?}");
        assert_eq!(stats.resent_requests_by_cause.row_errors, 2, "{stats:?}");
        assert_eq!(stats.resent_requests, 2, "{stats:?}");
        assert_eq!(stats.resent_rows, 2 + 3, "{stats:?}");
        assert_eq!(stats.reconnects, 0, "{stats:?}");
        assert_eq!(stats.rows_acknowledged, 9, "{stats:?}");

        let got = Exported::read(&provider, &exporter);
        let default = [("stream_type", "_default")];
        let row_errors = [("stream_type", "_default"), ("cause", "row_errors")];
        assert_eq!(got.sum("bqwrite.writer.rejected.rows", &default), 3.0);
        assert_eq!(got.sum("bqwrite.writer.resent.requests", &row_errors), 2.0);
        assert_eq!(got.sum("bqwrite.writer.resent.rows", &row_errors), 5.0);
        assert_eq!(got.sum("bqwrite.writer.reconnects", &default), 0.0);
        assert_eq!(got.sum("bqwrite.writer.acknowledged.rows", &default), 9.0);
        // Rows are sent once however often they go on the wire.
        assert_eq!(got.sum("bqwrite.writer.sent.rows", &default), 12.0);
        provider.shutdown().unwrap();
    })
    .await;
}
