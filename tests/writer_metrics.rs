//! The OpenTelemetry instruments (feature `opentelemetry`) after a write
//! with faults: an in-memory exporter reads what the writer recorded, and
//! the figures must agree with what happened and with `Writer::stats`.

mod support;

use std::time::Duration;

use bqwrite::{BqRow, Client, RetryPolicy, Writer, WriterOptions};
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
