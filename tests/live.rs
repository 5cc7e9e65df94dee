//! Against real BigQuery: the flows of the other tests, on tables this file
//! creates (BigQuery REST v2 `tables.insert`), reads back
//! (`tabledata.list`) and deletes (`tables.delete`).
//!
//! The live tests run only when `BQWRITE_LIVE_PROJECT` and
//! `BQWRITE_LIVE_DATASET` are set (the dataset must exist) and Application
//! Default Credentials are available; otherwise `cargo test` reports each as
//! ignored with the reason (see `build.rs`). With the variables set and no
//! credentials they fail, saying so: asked for and not run is not a pass.
//! README.md ("Live tests") says how to run them and what they cost.
//!
//! Each flow is an `async fn(&Live)`, run once against BigQuery (ignored
//! unless configured) and once against the emulator's REST subset, which
//! keeps this file's own code tested offline. A new stream type adds its
//! flow and the two one-line tests.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bqwrite::{
    BqRow, Change, ChangeSequence, Client, FieldSchema, FieldType, Mode, Table, TableSchema, Writer,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use support::bounded;

const PROJECT_ENV: &str = "BQWRITE_LIVE_PROJECT";
const DATASET_ENV: &str = "BQWRITE_LIVE_DATASET";
const BIGQUERY_REST: &str = "https://bigquery.googleapis.com/bigquery/v2";
/// The REST calls need more than the Storage Write API's `insertdata` scope.
const REST_SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

// ---- the flows ------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, BqRow)]
struct CustomerRecord {
    row_num: i64,
    customer_name: Option<String>,
}

/// The seed flow: a PENDING stream, two appends, finalize, commit, read back.
async fn seed_flow(live: &Live) {
    live.with_table::<CustomerRecord, _, _>("seed", |table, rest| async move {
        let mut writer = Writer::<CustomerRecord>::pending(&table).await.unwrap();
        let record = |n: i64, name: &str| CustomerRecord {
            row_num: n,
            customer_name: Some(name.to_owned()),
        };
        writer
            .append([record(1, "Alice"), record(2, "Bob")])
            .await
            .unwrap();
        writer.append([record(3, "Charles")]).await.unwrap();
        let commit = writer.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(commit.rows(), 3);
        let mut rows = rest.rows(table.path().to_string().as_str()).await;
        rows.sort_by_key(|row| row[0].as_str().unwrap().parse::<i64>().unwrap());
        let expected = [("1", "Alice"), ("2", "Bob"), ("3", "Charles")];
        let expected: Vec<Vec<Value>> = expected
            .iter()
            .map(|(n, name)| vec![json!(n), json!(name)])
            .collect();
        assert_eq!(rows, expected);
    })
    .await;
}

#[derive(Debug, Clone, BqRow)]
struct Numbered {
    id: i64,
    payload: String,
}

/// `n` rows through one PENDING stream, every one read back once.
async fn many_rows(live: &Live, n: i64) {
    live.with_table::<Numbered, _, _>("many", move |table, rest| async move {
        let mut writer = Writer::<Numbered>::pending(&table).await.unwrap();
        let chunk = 100_000;
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk as i64).min(n);
            writer.append(numbered(start..end)).await.unwrap();
        }
        let commit = writer.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(commit.rows(), n);
        let ids = ids(&rest.rows(table.path().to_string().as_str()).await);
        assert_eq!(ids.len() as i64, n, "rows read back");
        assert!(ids.iter().copied().eq(0..n), "every id once");
    })
    .await;
}

/// The ids in `rows` (cell 0), sorted.
fn ids(rows: &[Vec<Value>]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows
        .iter()
        .map(|row| row[0].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn numbered(ids: std::ops::Range<i64>) -> Vec<Numbered> {
    ids.map(|id| Numbered {
        id,
        payload: format!("row {id:07}"),
    })
    .collect()
}

/// A COMMITTED stream: rows are visible once acknowledged, before the
/// stream is finalized; finalize reports the stream's row count.
async fn committed_flow(live: &Live) {
    live.with_table::<Numbered, _, _>("committed", |table, rest| async move {
        let path = table.path().to_string();
        let mut writer = Writer::<Numbered>::committed(&table).await.unwrap();
        assert_eq!(writer.append(numbered(0..3)).await.unwrap(), 0..3);
        assert_eq!(ids(&rest.rows_at_least(&path, 3).await), vec![0, 1, 2]);
        assert_eq!(writer.append(numbered(3..5)).await.unwrap(), 3..5);
        assert_eq!(writer.finalize().await.unwrap(), 5);
        assert_eq!(
            ids(&rest.rows_at_least(&path, 5).await),
            vec![0, 1, 2, 3, 4]
        );
    })
    .await;
}

/// A BUFFERED stream: nothing is visible until flushed, then exactly the
/// rows up to the offset flushed (inclusive).
async fn buffered_flow(live: &Live) {
    live.with_table::<Numbered, _, _>("buffered", |table, rest| async move {
        let path = table.path().to_string();
        let mut writer = Writer::<Numbered>::buffered(&table).await.unwrap();
        assert_eq!(writer.append(numbered(0..4)).await.unwrap(), 0..4);
        assert_eq!(rest.rows(&path).await.len(), 0, "visible before a flush");
        writer.flush_to(1).await.unwrap();
        assert_eq!(ids(&rest.rows_at_least(&path, 2).await), vec![0, 1]);
        writer.flush().await.unwrap();
        assert_eq!(ids(&rest.rows_at_least(&path, 4).await), vec![0, 1, 2, 3]);
        assert_eq!(writer.finalize().await.unwrap(), 4);
    })
    .await;
}

/// The `_default` stream: no stream to create or end; rows are visible once
/// acknowledged.
async fn default_flow(live: &Live) {
    live.with_table::<Numbered, _, _>("default", |table, rest| async move {
        let path = table.path().to_string();
        let mut writer = Writer::<Numbered>::default_stream(&table).await.unwrap();
        assert_eq!(writer.append(numbered(0..3)).await.unwrap(), 3);
        writer.append(numbered(3..6)).await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!(
            ids(&rest.rows_at_least(&path, 6).await),
            (0..6).collect::<Vec<_>>()
        );
    })
    .await;
}

#[derive(Debug, Clone, BqRow)]
struct Ticket {
    id: i64,
    #[bq(default)]
    status: Option<String>,
}

/// Column defaults: `status` takes `'new'` when `None`; `created`, REQUIRED
/// and left out by the struct, takes the append time.
async fn defaults_flow(live: &Live) {
    let schema = TableSchema::new(vec![
        FieldSchema::new("id", FieldType::Int64, Mode::Required),
        FieldSchema::new("status", FieldType::String, Mode::Nullable).with_default_value("'new'"),
        FieldSchema::new("created", FieldType::Timestamp, Mode::Required)
            .with_default_value("CURRENT_TIMESTAMP()"),
    ]);
    live.with_schema("defaults", schema, |table, rest| async move {
        let before = SystemTime::now();
        let mut writer = Writer::<Ticket>::pending(&table).await.unwrap();
        let ticket = |id: i64| Ticket {
            id,
            status: (id == 2).then(|| "given".to_owned()),
        };
        writer.append([ticket(1), ticket(2)]).await.unwrap();
        writer.finalize().await.unwrap().commit().await.unwrap();
        let after = SystemTime::now();
        let mut rows = rest.rows(table.path().to_string().as_str()).await;
        rows.sort_by_key(|row| row[0].as_str().unwrap().parse::<i64>().unwrap());
        let statuses: Vec<&Value> = rows.iter().map(|row| &row[1]).collect();
        assert_eq!(statuses, [&json!("new"), &json!("given")]);
        // TIMESTAMP cells are seconds since the epoch; allow for clock skew
        let seconds = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        for row in &rows {
            let created: f64 = row[2].as_str().expect("created is set").parse().unwrap();
            assert!(
                created > seconds(before) - 300.0 && created < seconds(after) + 300.0,
                "created {created} is the append time"
            );
        }
    })
    .await;
}

#[derive(Debug, Clone, BqRow)]
struct Customer {
    id: i64,
    name: Option<String>,
}

/// CDC on a table with a primary key: upserts, a delete, and two changes of
/// one key out of order whose higher sequence number wins.
async fn cdc_flow(live: &Live) {
    let schema = Customer::table_schema();
    live.with_keyed_schema("cdc", schema, &["id"], |table, rest| async move {
        let customer = |id: i64, name: &str| Customer {
            id,
            name: Some(name.to_owned()),
        };
        let mut writer = Writer::<Customer>::default_stream(&table).await.unwrap();
        writer
            .append_changes([
                Change::upsert(customer(1, "Alice")),
                Change::upsert(customer(2, "Bob")),
            ])
            .await
            .unwrap();
        writer
            .append_changes([
                Change::delete(customer(2, "Bob")),
                Change::upsert(customer(3, "Carol")).sequence(ChangeSequence::new([2]).unwrap()),
                Change::upsert(customer(3, "Caroline")).sequence(ChangeSequence::new([1]).unwrap()),
            ])
            .await
            .unwrap();
        writer.flush().await.unwrap();
        let mut rows = rest.query_rows(&table.path().to_string()).await;
        rows.sort_by_key(|row| row[0].as_str().unwrap().parse::<i64>().unwrap());
        let expected = vec![
            vec![json!("1"), json!("Alice")],
            vec![json!("3"), json!("Carol")],
        ];
        assert_eq!(rows, expected);
    })
    .await;
}

// ---- against BigQuery -----------------------------------------------------

#[tokio::test]
#[cfg_attr(
    not(bqwrite_live),
    ignore = "live: set BQWRITE_LIVE_PROJECT and BQWRITE_LIVE_DATASET (and Application Default Credentials) to run against BigQuery"
)]
async fn live_seed_flow() {
    bounded(300, async { seed_flow(&Live::bigquery().await).await }).await;
}

#[tokio::test]
#[cfg_attr(
    not(bqwrite_live),
    ignore = "live: set BQWRITE_LIVE_PROJECT and BQWRITE_LIVE_DATASET (and Application Default Credentials) to run against BigQuery"
)]
async fn live_million_rows() {
    bounded(1_800, async {
        many_rows(&Live::bigquery().await, 1_000_000).await
    })
    .await;
}

#[tokio::test]
#[cfg_attr(
    not(bqwrite_live),
    ignore = "live: set BQWRITE_LIVE_PROJECT and BQWRITE_LIVE_DATASET (and Application Default Credentials) to run against BigQuery"
)]
async fn live_committed() {
    bounded(300, async { committed_flow(&Live::bigquery().await).await }).await;
}

#[tokio::test]
#[cfg_attr(
    not(bqwrite_live),
    ignore = "live: set BQWRITE_LIVE_PROJECT and BQWRITE_LIVE_DATASET (and Application Default Credentials) to run against BigQuery"
)]
async fn live_buffered() {
    bounded(300, async { buffered_flow(&Live::bigquery().await).await }).await;
}

#[tokio::test]
#[cfg_attr(
    not(bqwrite_live),
    ignore = "live: set BQWRITE_LIVE_PROJECT and BQWRITE_LIVE_DATASET (and Application Default Credentials) to run against BigQuery"
)]
async fn live_default_stream() {
    bounded(300, async { default_flow(&Live::bigquery().await).await }).await;
}

#[tokio::test]
#[cfg_attr(
    not(bqwrite_live),
    ignore = "live: set BQWRITE_LIVE_PROJECT and BQWRITE_LIVE_DATASET (and Application Default Credentials) to run against BigQuery"
)]
async fn live_defaults_flow() {
    bounded(300, async { defaults_flow(&Live::bigquery().await).await }).await;
}

#[tokio::test]
#[cfg_attr(
    not(bqwrite_live),
    ignore = "live: set BQWRITE_LIVE_PROJECT and BQWRITE_LIVE_DATASET (and Application Default Credentials) to run against BigQuery"
)]
async fn live_cdc() {
    bounded(300, async { cdc_flow(&Live::bigquery().await).await }).await;
}

// ---- the same flows against the emulator, so this file is tested offline --

#[tokio::test]
async fn emulator_seed_flow() {
    bounded(60, async {
        let (live, _emulator) = Live::emulator().await;
        seed_flow(&live).await;
    })
    .await;
}

#[tokio::test]
async fn emulator_defaults_flow() {
    bounded(60, async {
        let (live, _emulator) = Live::emulator().await;
        defaults_flow(&live).await;
    })
    .await;
}

#[tokio::test]
async fn emulator_many_rows() {
    bounded(120, async {
        let (live, _emulator) = Live::emulator().await;
        many_rows(&live, 250_000).await;
    })
    .await;
}

#[tokio::test]
async fn emulator_cdc() {
    bounded(60, async {
        let (live, _emulator) = Live::emulator().await;
        cdc_flow(&live).await;
    })
    .await;
}

#[tokio::test]
async fn emulator_committed() {
    bounded(60, async {
        let (live, _emulator) = Live::emulator().await;
        committed_flow(&live).await;
    })
    .await;
}

#[tokio::test]
async fn emulator_buffered() {
    bounded(60, async {
        let (live, _emulator) = Live::emulator().await;
        buffered_flow(&live).await;
    })
    .await;
}

#[tokio::test]
async fn emulator_default_stream() {
    bounded(60, async {
        let (live, _emulator) = Live::emulator().await;
        default_flow(&live).await;
    })
    .await;
}

// ---- the set-up -------------------------------------------------------------

/// A client of the Storage Write API and of the REST API of the same service.
struct Live {
    client: Client,
    rest: Arc<Rest>,
    project: String,
    dataset: String,
}

impl Live {
    /// BigQuery, from the environment; fails (not skips) when the variables
    /// are set but unusable.
    async fn bigquery() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| panic!("{name} is not set (it was when this test was built)"))
        };
        let (project, dataset) = (var(PROJECT_ENV), var(DATASET_ENV));
        let client = Client::new().await.unwrap_or_else(|e| {
            panic!("{PROJECT_ENV} is set but there are no usable credentials: {e}")
        });
        let provider = gcp_auth::provider()
            .await
            .unwrap_or_else(|e| panic!("no Application Default Credentials: {e}"));
        let rest = Rest::new(BIGQUERY_REST.to_owned(), Some(provider));
        Self {
            client,
            rest: Arc::new(rest),
            project,
            dataset,
        }
    }

    /// The emulator, with its REST subset in place of BigQuery's.
    async fn emulator() -> (Self, bqwrite_emulator::Emulator) {
        let emulator = bqwrite_emulator::Emulator::builder()
            .project(support::PROJECT)
            .start()
            .await
            .unwrap();
        emulator
            .create_dataset(support::PROJECT, support::DATASET)
            .unwrap();
        let client = Client::emulator(emulator.grpc_addr().to_string()).unwrap();
        let rest = Rest::new(emulator.http_endpoint(), None);
        let live = Self {
            client,
            rest: Arc::new(rest),
            project: support::PROJECT.to_owned(),
            dataset: support::DATASET.to_owned(),
        };
        (live, emulator)
    }

    /// Creates a table for `T` named after `name`, runs `body` on it, and
    /// deletes the table whether `body` passed or panicked.
    async fn with_table<T, F, Fut>(&self, name: &str, body: F)
    where
        T: BqRow,
        F: FnOnce(Table, Arc<Rest>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.with_schema(name, T::table_schema(), body).await;
    }

    /// [`Live::with_table`] with a table of `schema`.
    async fn with_schema<F, Fut>(&self, name: &str, schema: TableSchema, body: F)
    where
        F: FnOnce(Table, Arc<Rest>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.with_keyed_schema(name, schema, &[], body).await;
    }

    /// [`Live::with_schema`] with a primary key (NOT ENFORCED) on `key`.
    async fn with_keyed_schema<F, Fut>(
        &self,
        name: &str,
        schema: TableSchema,
        key: &[&str],
        body: F,
    ) where
        F: FnOnce(Table, Arc<Rest>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let table_id = format!("bqwrite_live_{name}_{nanos}");
        let path = format!(
            "projects/{}/datasets/{}/tables/{table_id}",
            self.project, self.dataset
        );
        self.rest.create_table(&path, &schema, key).await;
        let table = self.client.table_from_path(&path).unwrap();
        let outcome = tokio::spawn(body(table, self.rest.clone())).await;
        self.rest.delete_table(&path).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// The few BigQuery REST v2 calls the tests need.
struct Rest {
    base: String,
    http: HttpClient<Https, Full<Bytes>>,
    tokens: Option<Arc<dyn gcp_auth::TokenProvider>>,
}

impl Rest {
    fn new(base: String, tokens: Option<Arc<dyn gcp_auth::TokenProvider>>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .expect("the system's TLS roots")
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            base,
            http: HttpClient::builder(TokioExecutor::new()).build(https),
            tokens,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}/{path}", self.base));
        if let Some(tokens) = &self.tokens {
            let token = tokens.token(&[REST_SCOPE]).await.expect("a token");
            request = request.header("authorization", format!("Bearer {}", token.as_str()));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Full::new(Bytes::from(json.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self
            .http
            .request(request.body(body).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert!(
            status.is_success(),
            "{method} {path}: HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        if bytes.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&bytes).unwrap()
    }

    /// tables.insert
    async fn create_table(&self, path: &str, schema: &TableSchema, key: &[&str]) {
        let (parent, table_id) = path.rsplit_once("/tables/").unwrap();
        let parts: Vec<&str> = parent.split('/').collect();
        let mut body = json!({
            "tableReference": {"projectId": parts[1], "datasetId": parts[3], "tableId": table_id},
            "schema": {"fields": schema.to_json_value()},
        });
        if !key.is_empty() {
            body["tableConstraints"] = json!({"primaryKey": {"columns": key}});
        }
        self.call("POST", &format!("{parent}/tables"), Some(body))
            .await;
    }

    /// The rows a query sees, changes applied: on BigQuery through
    /// `jobs.query` (CDC changes are applied when the table is read by a
    /// query), on the emulator through tabledata.list, which shows them
    /// merged.
    async fn query_rows(&self, path: &str) -> Vec<Vec<Value>> {
        if self.tokens.is_none() {
            return self.rows(path).await;
        }
        let parts: Vec<&str> = path.split('/').collect();
        let (project, dataset, table) = (parts[1], parts[3], parts[5]);
        let body = json!({
            "query": format!("SELECT * FROM `{project}.{dataset}.{table}`"),
            "useLegacySql": false,
            "timeoutMs": 60_000,
        });
        let answer = self
            .call("POST", &format!("projects/{project}/queries"), Some(body))
            .await;
        assert_eq!(
            answer["jobComplete"],
            json!(true),
            "the query did not finish: {answer}"
        );
        answer["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                let cells = row["f"].as_array().unwrap();
                cells.iter().map(|cell| cell["v"].clone()).collect()
            })
            .collect()
    }

    /// tables.delete
    async fn delete_table(&self, path: &str) {
        self.call("DELETE", path, None).await;
    }

    /// The table's rows once there are at least `n` (polled for up to a
    /// minute: BigQuery may take a moment to show rows to tabledata.list);
    /// fails with what it saw when they never arrive.
    async fn rows_at_least(&self, path: &str, n: usize) -> Vec<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let rows = self.rows(path).await;
            if rows.len() >= n || tokio::time::Instant::now() >= deadline {
                assert!(
                    rows.len() >= n,
                    "{path}: {} rows visible, expected {n}",
                    rows.len()
                );
                return rows;
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }

    /// Every row of the table, through tabledata.list's pages, each as its
    /// list of cell values.
    async fn rows(&self, path: &str) -> Vec<Vec<Value>> {
        let mut rows = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = format!("{path}/data?maxResults=100000");
            if let Some(token) = &page_token {
                query.push_str(&format!("&pageToken={token}"));
            }
            let page = self.call("GET", &query, None).await;
            for row in page["rows"].as_array().into_iter().flatten() {
                let cells = row["f"].as_array().unwrap();
                rows.push(cells.iter().map(|cell| cell["v"].clone()).collect());
            }
            match page["pageToken"].as_str() {
                Some(token) if !token.is_empty() => page_token = Some(token.to_owned()),
                _ => return rows,
            }
        }
    }
}
