//! A subset of the BigQuery REST API v2, so that ordinary tools can set the
//! emulator up and read it back: datasets.list/insert/get/delete,
//! tables.list/insert/get/delete and tabledata.list (the routes and their
//! parameters are listed in the crate docs). Served under `/bigquery/v2/`
//! and, for clients configured with that prefix in their base URL, at the
//! root as well. Unknown paths and methods a path does not take are answered
//! with BigQuery's JSON error body.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use tracing::info;

use crate::Error;
use crate::evolve::{self, Drops};
use crate::schema;
use crate::store::{Store, Table, TableName};

/// Rows per tabledata.list page when `maxResults` is not given.
const DEFAULT_PAGE_ROWS: usize = 100_000;

/// The API's base path; every route is served under it and at the root.
const BASE: &str = "/bigquery/v2";

pub(crate) fn router(store: Arc<Store>) -> Router {
    let mut router = Router::new();
    for base in [BASE, ""] {
        let p = |path: &str| format!("{base}/projects/{{project}}{path}");
        router = router
            .route(&p("/datasets"), get(list_datasets).post(insert_dataset))
            .route(
                &p("/datasets/{dataset}"),
                get(get_dataset).delete(delete_dataset),
            )
            .route(
                &p("/datasets/{dataset}/tables"),
                post(insert_table).get(list_tables),
            )
            .route(
                &p("/datasets/{dataset}/tables/{table}"),
                get(get_table)
                    .delete(delete_table)
                    .patch(patch_table)
                    .put(update_table),
            )
            .route(
                &p("/datasets/{dataset}/tables/{table}/data"),
                get(list_data),
            );
    }
    router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(store)
}

/// Any path the API does not have.
async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "notFound",
        format!(
            "Not found: {method} {}: the emulator serves no such path (see `bqwrite-emulator --help` for its routes)",
            uri.path()
        ),
    )
}

/// A path the API has, with a method it does not take (the `Allow` header
/// lists those it does).
async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "methodNotAllowed",
        format!(
            "method {method} is not allowed on {} (the Allow header lists the methods that are)",
            uri.path()
        ),
    )
}

fn error(status: StatusCode, reason: &str, message: String) -> Response {
    let status_name = match status {
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::CONFLICT => "ALREADY_EXISTS",
        StatusCode::METHOD_NOT_ALLOWED => "UNIMPLEMENTED",
        StatusCode::INTERNAL_SERVER_ERROR => "INTERNAL",
        _ => "INVALID_ARGUMENT",
    };
    (
        status,
        axum::Json(json!({
            "error": {
                "code": status.as_u16(),
                "message": message,
                "errors": [{ "message": message, "domain": "global", "reason": reason }],
                "status": status_name,
            }
        })),
    )
        .into_response()
}

fn bad_request(message: String) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid", message)
}

/// A 400 answer with its message, small enough to travel in a `Result`.
#[derive(Debug)]
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        bad_request(self.0)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Error::DatasetNotFound(_) | Error::TableNotFound(_) => error(
                StatusCode::NOT_FOUND,
                "notFound",
                format!("Not found: {self}"),
            ),
            Error::DatasetExists(_) | Error::TableExists(_) => error(
                StatusCode::CONFLICT,
                "duplicate",
                format!("Already Exists: {self}"),
            ),
            Error::DatasetNotEmpty(_) => {
                error(StatusCode::BAD_REQUEST, "resourceInUse", self.to_string())
            }
            _ => bad_request(self.to_string()),
        }
    }
}

fn millis(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        .to_string()
}

fn parse_body(body: &Bytes) -> Result<Json, BadRequest> {
    serde_json::from_slice(body)
        .map_err(|e| BadRequest(format!("the request body is not valid JSON: {e}")))
}

/// A string member of a JSON object, or the default when absent.
fn member<'a>(obj: &'a Json, key: &str, default: &'a str) -> Result<&'a str, BadRequest> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(default),
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(BadRequest(format!("`{key}` must be a string"))),
    }
}

fn dataset_resource(project: &str, dataset: &str) -> Json {
    json!({
        "kind": "bigquery#dataset",
        "id": format!("{project}:{dataset}"),
        "datasetReference": { "projectId": project, "datasetId": dataset },
        "location": "US",
    })
}

async fn insert_dataset(
    State(store): State<Arc<Store>>,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Response, BadRequest> {
    let body = parse_body(&body)?;
    let reference = body.get("datasetReference").cloned().unwrap_or(Json::Null);
    let ref_project = member(&reference, "projectId", &project)?;
    let dataset = member(&reference, "datasetId", "")?;
    if ref_project != project {
        return Err(BadRequest(format!(
            "datasetReference.projectId {ref_project:?} differs from the project in the path {project:?}"
        )));
    }
    if dataset.is_empty() {
        return Err(BadRequest("datasetReference.datasetId is required".into()));
    }
    Ok(match store.create_dataset(&project, dataset) {
        Ok(()) => {
            info!(%project, %dataset, "REST: created dataset");
            axum::Json(dataset_resource(&project, dataset)).into_response()
        }
        Err(e) => e.into_response(),
    })
}

/// One page of `items` from the `pageToken` (an index) for `maxResults`
/// items at most, and the token of the next page if there is one.
fn page<T>(
    items: Vec<T>,
    query: &HashMap<String, String>,
) -> Result<(Vec<T>, Option<String>), BadRequest> {
    let start = number_param(query, "pageToken")?.unwrap_or(0);
    let max = number_param(query, "maxResults")?.unwrap_or(usize::MAX);
    let total = items.len();
    let end = start.saturating_add(max.max(1)).min(total);
    let next = (end < total).then(|| end.to_string());
    let page = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start));
    Ok((page.collect(), next))
}

async fn list_datasets(
    State(store): State<Arc<Store>>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, BadRequest> {
    let (datasets, next) = page(store.datasets_of(&project), &query)?;
    let mut body = json!({
        "kind": "bigquery#datasetList",
        "etag": format!("\"{}\"", datasets.len()),
    });
    if !datasets.is_empty() {
        body["datasets"] = datasets
            .iter()
            .map(|d| dataset_resource(&project, d))
            .collect();
    }
    if let Some(next) = next {
        body["nextPageToken"] = json!(next);
    }
    Ok(axum::Json(body).into_response())
}

async fn get_dataset(
    State(store): State<Arc<Store>>,
    Path((project, dataset)): Path<(String, String)>,
) -> Response {
    if store.dataset_exists(&project, &dataset) {
        axum::Json(dataset_resource(&project, &dataset)).into_response()
    } else {
        Error::DatasetNotFound(format!("{project}:{dataset}")).into_response()
    }
}

async fn delete_dataset(
    State(store): State<Arc<Store>>,
    Path((project, dataset)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let delete_contents = query.get("deleteContents").is_some_and(|v| v == "true");
    match store.delete_dataset(&project, &dataset, delete_contents) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

fn table_resource(table: &Table) -> Json {
    let n = &table.name;
    let mut resource = json!({
        "kind": "bigquery#table",
        "id": format!("{}:{}.{}", n.project, n.dataset, n.table),
        "tableReference": { "projectId": n.project, "datasetId": n.dataset, "tableId": n.table },
        "schema": schema::to_json(&table.schema()),
        "numRows": table.row_count().to_string(),
        "type": "TABLE",
        "creationTime": millis(table.created),
        "location": "US",
    });
    if let Some(key) = &table.primary_key {
        resource["tableConstraints"] = json!({ "primaryKey": { "columns": key.names } });
    }
    resource
}

/// `tableConstraints.primaryKey.columns` of a table resource, if given.
fn primary_key(body: &Json) -> Result<Option<Vec<String>>, BadRequest> {
    let Some(key) = body
        .get("tableConstraints")
        .and_then(|c| c.get("primaryKey"))
    else {
        return Ok(None);
    };
    let columns = key.get("columns").and_then(Json::as_array).ok_or_else(|| {
        BadRequest("tableConstraints.primaryKey.columns must be an array of column names".into())
    })?;
    columns
        .iter()
        .map(|c| {
            c.as_str().map(str::to_owned).ok_or_else(|| {
                BadRequest(format!(
                    "tableConstraints.primaryKey.columns holds {c}, not a column name"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

async fn insert_table(
    State(store): State<Arc<Store>>,
    Path((project, dataset)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, BadRequest> {
    let body = parse_body(&body)?;
    let reference = body.get("tableReference").cloned().unwrap_or(Json::Null);
    let table_id = member(&reference, "tableId", "")?.to_string();
    if table_id.is_empty() {
        return Err(BadRequest("tableReference.tableId is required".into()));
    }
    for (key, expected) in [("projectId", &project), ("datasetId", &dataset)] {
        let v = member(&reference, key, expected)?;
        if v != expected {
            return Err(BadRequest(format!(
                "tableReference.{key} {v:?} differs from the path's {expected:?}"
            )));
        }
    }
    let schema_json = body
        .get("schema")
        .ok_or_else(|| BadRequest("the table has no `schema`".into()))?;
    let schema = schema::from_json(schema_json)
        .map_err(|e| BadRequest(format!("invalid table schema: {e}")))?;
    let path = TableName {
        project,
        dataset,
        table: table_id,
    }
    .path();
    let key = primary_key(&body)?;
    Ok(match store.create_table_keyed(&path, schema, key, false) {
        Ok(table) => {
            info!(table = %path, "REST: created table");
            axum::Json(table_resource(&table)).into_response()
        }
        Err(e) => e.into_response(),
    })
}

async fn list_tables(
    State(store): State<Arc<Store>>,
    Path((project, dataset)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, BadRequest> {
    if !store.dataset_exists(&project, &dataset) {
        return Ok(Error::DatasetNotFound(format!("{project}:{dataset}")).into_response());
    }
    let all = store.tables_of(&project, &dataset);
    let total = all.len();
    let (tables, next) = page(all, &query)?;
    let tables: Vec<Json> = tables
        .iter()
        .map(|t| {
            json!({
                "kind": "bigquery#table",
                "id": format!("{}:{}.{}", t.name.project, t.name.dataset, t.name.table),
                "tableReference": {
                    "projectId": t.name.project, "datasetId": t.name.dataset, "tableId": t.name.table
                },
                "type": "TABLE",
                "creationTime": millis(t.created),
            })
        })
        .collect();
    let mut body = json!({
        "kind": "bigquery#tableList",
        "etag": format!("\"{total}\""),
        "totalItems": total,
    });
    if !tables.is_empty() {
        body["tables"] = Json::Array(tables);
    }
    if let Some(next) = next {
        body["nextPageToken"] = json!(next);
    }
    Ok(axum::Json(body).into_response())
}

fn table_path(project: String, dataset: String, table: String) -> String {
    TableName {
        project,
        dataset,
        table,
    }
    .path()
}

async fn get_table(
    State(store): State<Arc<Store>>,
    Path((project, dataset, table)): Path<(String, String, String)>,
) -> Response {
    let path = table_path(project, dataset, table);
    match store.table(&path) {
        Some(table) => axum::Json(table_resource(&table)).into_response(),
        None => Error::TableNotFound(path).into_response(),
    }
}

async fn delete_table(
    State(store): State<Arc<Store>>,
    Path((project, dataset, table)): Path<(String, String, String)>,
) -> Response {
    let path = table_path(project, dataset, table);
    match store.delete_table(&path) {
        Ok(()) => {
            info!(table = %path, "REST: deleted table");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn number_param(query: &HashMap<String, String>, key: &str) -> Result<Option<usize>, BadRequest> {
    query
        .get(key)
        .map(|v| {
            v.parse::<usize>().map_err(|_| {
                BadRequest(format!("`{key}` must be a non-negative integer, got {v:?}"))
            })
        })
        .transpose()
}

async fn list_data(
    State(store): State<Arc<Store>>,
    Path((project, dataset, table)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, BadRequest> {
    let path = table_path(project, dataset, table);
    let Some(table) = store.table(&path) else {
        return Ok(Error::TableNotFound(path).into_response());
    };
    let start = number_param(&query, "pageToken")?
        .or(number_param(&query, "startIndex")?)
        .unwrap_or(0);
    let max = number_param(&query, "maxResults")?.unwrap_or(DEFAULT_PAGE_ROWS);
    let total = table.row_count();
    let rows = match table.read_rows(start, max) {
        Ok(rows) => rows,
        Err(e) => {
            return Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internalError",
                e.to_string(),
            ));
        }
    };
    let mut body = json!({
        "kind": "bigquery#tableDataList",
        "etag": format!("\"{total}\""),
        "totalRows": total.to_string(),
    });
    let next = start + rows.len();
    if !rows.is_empty() {
        body["rows"] = Json::Array(rows.iter().map(|r| r.to_json()).collect());
    }
    if next < total && !rows.is_empty() {
        body["pageToken"] = json!(next.to_string());
    }
    Ok(axum::Json(body).into_response())
}

/// tables.patch: a body with `schema` changes the table's schema (columns
/// added as NULLABLE or REPEATED, REQUIRED relaxed to NULLABLE); a schema
/// without one of the table's columns is refused, as BigQuery refuses it.
async fn patch_table(
    State(store): State<Arc<Store>>,
    Path((project, dataset, table)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, BadRequest> {
    change_table(
        store,
        table_path(project, dataset, table),
        &body,
        Drops::Refused,
    )
}

/// tables.update: as tables.patch, and a column the new schema lacks is
/// dropped (as `ALTER TABLE DROP COLUMN`).
async fn update_table(
    State(store): State<Arc<Store>>,
    Path((project, dataset, table)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, BadRequest> {
    change_table(
        store,
        table_path(project, dataset, table),
        &body,
        Drops::Allowed,
    )
}

fn change_table(
    store: Arc<Store>,
    path: String,
    body: &Bytes,
    drops: Drops,
) -> Result<Response, BadRequest> {
    let body = parse_body(body)?;
    let Some(table) = store.table(&path) else {
        return Ok(Error::TableNotFound(path).into_response());
    };
    if let Some(schema_json) = body.get("schema") {
        let schema = schema::from_json(schema_json)
            .map_err(|e| BadRequest(format!("invalid table schema: {e}")))?;
        if let Err(e) = evolve::alter(&table, schema, drops, &store.settings) {
            return Ok(e.into_response());
        }
        info!(table = %path, "REST: changed the table's schema");
    }
    Ok(axum::Json(table_resource(&table)).into_response())
}
