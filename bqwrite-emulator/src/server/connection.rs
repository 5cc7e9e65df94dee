//! One AppendRows connection: the task that reads its requests in order,
//! resolves each one's stream and writer schema, appends its rows, and
//! answers in-band or ends the call.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bqwrite::proto::descriptor::DescriptorProto;
use bqwrite::proto::storage::{
    AppendRowsRequest, AppendRowsResponse, RowError,
    append_rows_request::{MissingValueInterpretation, ProtoData, Rows},
    append_rows_response::{AppendResult, Response as Outcome},
    row_error::RowErrorCode,
    storage_error::StorageErrorCode,
};
use prost::Message;
use tokio::sync::mpsc;
use tonic::{Code, Status, Streaming};
use tracing::{debug, info, warn};

use crate::cdc;
use crate::conns::OpenConnection;
use crate::defaults;
use crate::evolve::Notices;
use crate::faults::RequestFault;
use crate::mux::{self, Route};
use crate::status::{ApiError, SCHEMA_MISMATCH_EXTRA_FIELDS_MESSAGE};
use crate::store::{Batch, Binding, Stream, StreamKind};
use crate::values::decode::RowProblem;
use crate::values::plan::{RowPlan, SchemaProblem};

use super::{WriteService, shutdown_signal};

/// How long a connection's first request waits for another connection bound
/// to the same application stream to go away before it is refused: a client
/// that reconnects at once can be faster than the server noticing that its
/// old connection was dropped.
const BIND_GRACE: Duration = Duration::from_secs(2);

/// Numbers AppendRows connections, to tell who holds a stream.
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// One AppendRows call and what it has learned from its requests so far.
pub(super) struct Connection {
    service: WriteService,
    /// This connection's number.
    id: u64,
    /// What the routing header names.
    route: Route,
    /// The destination of the last request.
    stream: Option<Arc<Stream>>,
    /// The hold on `stream` when it is an application stream; released when
    /// the connection ends (the connection is dropped) or earlier.
    binding: Option<Binding>,
    /// The last writer schema, and its plan compiled for the table named.
    schema: Option<(DescriptorProto, Arc<RowPlan>, String)>,
    /// Counts the connection as open while it lives, and until it tells
    /// the client it ended.
    counted: OpenConnection,
    /// What the connection was told of schema changes.
    notices: Notices,
    /// The last `default_missing_value_interpretation` a request set: it
    /// holds for the rest of the connection.
    missing: MissingValueInterpretation,
}

/// Why a request failed.
enum Failure {
    /// Answered in-band, with any row errors; the connection stays open.
    InBand(ApiError, Vec<RowError>),
    /// Ends the call with this error as its status.
    EndsCall(ApiError),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::InBand(error, Vec::new())
    }
}

/// What a connection does with one request.
enum Reply {
    /// Sends this response and reads the next request.
    Answer(AppendRowsResponse),
    /// Ends the call with this status.
    End(Status),
}

impl Connection {
    /// A connection of `service`, counted open through `counted`.
    pub(super) fn new(service: WriteService, route: Route, counted: OpenConnection) -> Self {
        Self {
            id: NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed),
            counted,
            service,
            route,
            stream: None,
            binding: None,
            schema: None,
            notices: Notices::default(),
            missing: MissingValueInterpretation::Unspecified,
        }
    }

    pub(super) async fn run(
        mut self,
        mut inbound: Streaming<AppendRowsRequest>,
        tx: mpsc::Sender<Result<AppendRowsResponse, Status>>,
    ) {
        let faults = self.service.faults.clone();
        loop {
            let Some(next) = self.unless_gone(&tx, inbound.message()).await else {
                return;
            };
            let request = match next {
                Ok(Some(request)) => request,
                Ok(None) => return,
                Err(status) => {
                    debug!(%status, "AppendRows connection ended by the client");
                    return;
                }
            };
            if self.stream.is_none()
                && let Ok(stream) = self.service.store.stream(&request.write_stream)
            {
                // give a connection the client just dropped time to be noticed
                if self
                    .unless_gone(&tx, stream.wait_unbound(BIND_GRACE))
                    .await
                    .is_none()
                {
                    return;
                }
            }
            let reply = match faults.on_request(true) {
                RequestFault::None => self.handle(request),
                RequestFault::Fail(code, message) => Reply::Answer(
                    self.error_response(&ApiError::new(code, None, "", message), Vec::new()),
                ),
                RequestFault::Close => {
                    info!("fault injection: closing an AppendRows connection");
                    // free the stream and the call's place in the count
                    // before the client can hear of the close
                    self.release();
                    let _ = tx
                        .send(Err(Status::unavailable(
                            "connection closed by the emulator's fault injection",
                        )))
                        .await;
                    return;
                }
                RequestFault::LoseAck => {
                    if let Reply::Answer(applied) = self.handle(request) {
                        info!(?applied.response, "fault injection: applied a request and lost its response");
                    }
                    self.release();
                    let _ = tx
                        .send(Err(Status::unavailable(
                            "connection closed by the emulator's fault injection (the last request was applied)",
                        )))
                        .await;
                    return;
                }
            };
            let response = match reply {
                Reply::Answer(response) => response,
                Reply::End(status) => {
                    // free the stream and the call's place in the count
                    // before the client can hear of the end
                    self.release();
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            };
            let delay = faults.delay();
            if !delay.is_zero()
                && self
                    .unless_gone(&tx, tokio::time::sleep(delay))
                    .await
                    .is_none()
            {
                return;
            }
            faults.on_response();
            match self.unless_gone(&tx, tx.send(Ok(response))).await {
                Some(Ok(())) => {}
                Some(Err(_)) | None => return,
            }
        }
    }

    /// Runs `work` unless the emulator shuts down (the client is told
    /// UNAVAILABLE) or the client drops the call first; `None` then, and the
    /// connection's stream is free again.
    async fn unless_gone<T>(
        &mut self,
        tx: &mpsc::Sender<Result<AppendRowsResponse, Status>>,
        work: impl Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            biased;
            () = shutdown_signal(self.service.shutdown.clone()) => {
                self.release();
                let _ = tx.send(Err(Status::unavailable("the emulator is shutting down"))).await;
                None
            }
            () = tx.closed() => {
                debug!("AppendRows connection dropped by the client");
                self.release();
                None
            }
            done = work => Some(done),
        }
    }

    /// Frees the connection's stream and its place in the connection
    /// count, before the client can hear of its end (and reconnect).
    fn release(&mut self) {
        self.binding = None;
        self.counted.close();
    }

    fn stream_name(&self) -> String {
        self.stream
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    fn error_response(&self, error: &ApiError, row_errors: Vec<RowError>) -> AppendRowsResponse {
        AppendRowsResponse {
            updated_schema: None,
            row_errors,
            write_stream: self.stream_name(),
            response: Some(Outcome::Error(error.to_rpc_status())),
        }
    }

    fn handle(&mut self, request: AppendRowsRequest) -> Reply {
        if self.stream.is_none() && !request.trace_id.is_empty() {
            // as in BigQuery, only the first request's trace_id counts
            info!(trace_id = %request.trace_id, stream = %request.write_stream, "AppendRows connection");
        }
        let reply = match self.try_handle(request) {
            Ok(offset) => Reply::Answer(AppendRowsResponse {
                updated_schema: None,
                row_errors: Vec::new(),
                write_stream: self.stream_name(),
                response: Some(Outcome::AppendResult(AppendResult { offset })),
            }),
            Err(Failure::InBand(error, row_errors)) => {
                debug!(code = ?error.code, message = %error.message, rows = row_errors.len(), "append rejected");
                Reply::Answer(self.error_response(&error, row_errors))
            }
            Err(Failure::EndsCall(error)) => {
                debug!(code = ?error.code, message = %error.message, "append rejected; ending the call");
                Reply::End(error.to_tonic())
            }
        };
        match (reply, &self.stream) {
            (Reply::Answer(mut response), Some(stream)) => {
                response.updated_schema = self.notices.updated_schema(&stream.table);
                Reply::Answer(response)
            }
            (reply, _) => reply,
        }
    }

    fn try_handle(&mut self, request: AppendRowsRequest) -> Result<Option<i64>, Failure> {
        let stream = self.resolve_stream(&request.write_stream)?;
        self.missing = defaults::connection_setting(
            self.missing,
            request.default_missing_value_interpretation,
        )
        .map_err(ApiError::invalid_argument)?;
        let defaulted = defaults::defaulted_columns(
            &stream.table.write_path().columns,
            &stream.table.defaults,
            &request.missing_value_interpretations,
            self.missing,
        )
        .map_err(ApiError::invalid_argument)?;
        let max = self.service.config.max_request_bytes;
        let size = request.encoded_len();
        if size > max {
            // Refused in-band; BigQuery still takes the writer schema the
            // request carries, so a client that sends it only on a
            // connection's first request (Go's managedwriter) goes on.
            if let Some(Rows::ProtoRows(ProtoData {
                writer_schema: Some(schema),
                ..
            })) = request.rows
            {
                let _ = self.resolve_schema(&stream, Some(schema));
            }
            return Err(ApiError::invalid_argument(format!(
                "AppendRows request too large: {size} limit {max} Entity: {}",
                stream.name
            ))
            .into());
        }
        let data: ProtoData = match request.rows {
            Some(Rows::ProtoRows(data)) => data,
            Some(Rows::ArrowRows(_)) => {
                return Err(ApiError::invalid_argument(
                    "arrow_rows are not supported by the emulator; send proto_rows",
                )
                .into());
            }
            None => return Err(no_rows(&stream).into()),
        };
        let plan = self.resolve_schema(&stream, data.writer_schema)?;
        let rows = data.rows.map(|r| r.serialized_rows).unwrap_or_default();
        if rows.is_empty() {
            return Err(no_rows(&stream).into());
        }
        let checked = defaults::check_rows(
            &plan,
            &rows,
            &defaulted,
            &stream.table.defaults,
            SystemTime::now(),
        );
        let filled = checked.map_err(|problems| rejected_rows(&stream, problems))?;
        Ok(stream.append(request.offset, Batch { plan, rows, filled })?)
    }

    fn resolve_stream(&mut self, named: &str) -> Result<Arc<Stream>, ApiError> {
        if let Some(stream) = &self.stream
            && stream.name.ends_with("/_default")
            && stream.table.is_deleted()
        {
            // `_default` is the table's, by name: a table recreated under
            // the same name is written to on the same connection
            let name = if named.is_empty() {
                stream.name.clone()
            } else {
                named.to_owned()
            };
            self.stream = None;
            self.schema = None;
            self.notices = Notices::default();
            return self.resolve_stream(&name);
        }
        match &self.stream {
            Some(stream) if named.is_empty() || named == stream.name => Ok(stream.clone()),
            Some(current) if current.kind != StreamKind::Default => {
                Err(mux::refused(&current.name, named))
            }
            Some(current) => {
                // a multiplexed connection switches to another destination
                self.route.check(named, false)?;
                let next = self.service.store.stream(named)?;
                mux::check_switch(current, &next)?;
                self.stream = Some(next.clone());
                Ok(next)
            }
            None if named.is_empty() => Err(ApiError::invalid_argument(
                "the first request of an AppendRows connection must set write_stream",
            )),
            None => {
                self.route.check(named, true)?;
                let stream = self.service.store.stream(named)?;
                self.binding = stream.bind(self.id)?;
                debug!(stream = %stream.name, connection = self.id, "AppendRows connection bound to stream");
                self.stream = Some(stream.clone());
                Ok(stream)
            }
        }
    }

    fn resolve_schema(
        &mut self,
        stream: &Stream,
        writer_schema: Option<bqwrite::proto::storage::ProtoSchema>,
    ) -> Result<Arc<RowPlan>, Failure> {
        let Some(schema) = writer_schema else {
            return match &self.schema {
                Some((_, plan, table)) if *table == stream.table.path => Ok(plan.clone()),
                // a destination switch without a schema: the last schema, for this table
                Some((descriptor, ..)) => {
                    let descriptor = descriptor.clone();
                    self.compile(stream, descriptor)
                }
                None => Err(ApiError::invalid_argument(
                    "the first request of an AppendRows connection must carry proto_rows.writer_schema",
                )
                .into()),
            };
        };
        let Some(descriptor) = schema.proto_descriptor else {
            return Err(ApiError::invalid_argument(
                "proto_rows.writer_schema has no proto_descriptor",
            )
            .into());
        };
        if let Some((cached, plan, table)) = &self.schema
            && *cached == descriptor
            && *table == stream.table.path
        {
            return Ok(plan.clone());
        }
        self.compile(stream, descriptor)
    }

    /// Compiles `descriptor` for `stream`'s table (with the change
    /// pseudo-columns where the table and stream allow them) and keeps it
    /// as the connection's schema.
    fn compile(
        &mut self,
        stream: &Stream,
        descriptor: DescriptorProto,
    ) -> Result<Arc<RowPlan>, Failure> {
        let table = &stream.table;
        let default_stream = stream.kind == StreamKind::Default;
        match cdc::compile(
            &descriptor,
            &table.write_path().columns,
            table.primary_key.as_ref(),
            default_stream,
        ) {
            Ok(plan) => {
                let plan = Arc::new(plan);
                self.schema = Some((descriptor, plan.clone(), stream.table.path.clone()));
                Ok(plan)
            }
            Err(problem) => {
                warn!(stream = %stream.name, %problem, "writer schema rejected");
                Err(schema_failure(stream, problem))
            }
        }
    }
}

/// The answer to a request with bad rows, in BigQuery's words: clients and
/// users match on its first sentence; the details are in `row_errors`.
fn rejected_rows(stream: &Stream, problems: Vec<(usize, RowProblem)>) -> Failure {
    let row_errors = problems
        .into_iter()
        .map(|(index, problem)| RowError {
            index: index as i64,
            code: RowErrorCode::FieldsError as i32,
            message: problem.to_string(),
        })
        .collect();
    Failure::InBand(
        ApiError::new(
            Code::InvalidArgument,
            None,
            &stream.name,
            format!(
                "Errors found while processing rows. Please refer to the row_errors field for details. The list may not be complete because of the size limitations. Entity: {}",
                stream.name
            ),
        ),
        row_errors,
    )
}

/// The answer to a request without rows, in BigQuery's words.
fn no_rows(stream: &Stream) -> ApiError {
    ApiError::new(
        Code::InvalidArgument,
        None,
        &stream.name,
        format!("Rows must be specified. Entity: {}", stream.name),
    )
}

/// How a rejected writer schema is reported.
///
/// Fields the table lacks end the call, as BigQuery does: INVALID_ARGUMENT
/// with the service's message, and a `StorageError`
/// (SCHEMA_MISMATCH_EXTRA_FIELDS, "Schema mismatch due to extra fields in
/// user schema") in the status details and in the `storageerror-bin`
/// trailer. Other schema problems are answered in-band.
fn schema_failure(stream: &Stream, problem: SchemaProblem) -> Failure {
    match problem {
        SchemaProblem::ExtraFields(paths) => Failure::EndsCall(ApiError {
            code: Code::InvalidArgument,
            storage: Some(StorageErrorCode::SchemaMismatchExtraFields),
            entity: stream.name.clone(),
            message: format!(
                "Input schema has more fields than BigQuery schema, extra fields: '{}' Entity: {}",
                paths.join(","),
                stream.name
            ),
            storage_message: Some(SCHEMA_MISMATCH_EXTRA_FIELDS_MESSAGE.into()),
        }),
        SchemaProblem::Invalid(_) => Failure::InBand(
            ApiError::new(
                Code::InvalidArgument,
                None,
                &stream.name,
                format!(
                    "invalid writer_schema for table {}: {problem}",
                    stream.table.path
                ),
            ),
            Vec::new(),
        ),
    }
}
