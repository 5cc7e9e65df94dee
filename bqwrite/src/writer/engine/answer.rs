//! What one AppendRows answer means for the request it answers.

use std::collections::HashSet;

use super::{Engine, Failure, InFlight};
use crate::error::{Error, ErrorKind, RowError};
use crate::proto::rpc;
use crate::proto::storage::append_rows_response::Response;
use crate::proto::storage::storage_error::StorageErrorCode;
use crate::proto::storage::{AppendRowsResponse, RowError as WireRowError};
use crate::retry::{self, Retry};
use crate::status;
use crate::writer::Cause;

/// A handler's failure: the request goes back to the head of the queue, to
/// be resent after a reconnect or to carry the error that closes the writer.
type Outcome = Result<(), Box<(InFlight, Failure)>>;

impl Engine {
    /// Settles the oldest request in flight with `answer`.
    pub(super) async fn on_answer(&mut self, answer: Result<AppendRowsResponse, Failure>) {
        let response = match answer {
            Ok(response) => response,
            Err(failure) => {
                let failure = self.schema_failure(failure).await;
                return self.drop_connection(failure);
            }
        };
        // Acted on before the request it answers is settled: when a column
        // the writer writes is gone, that request's values for it were
        // discarded, so it fails too (its rows landed without them) rather
        // than report success.
        if let Some(updated) = &response.updated_schema
            && let Err(error) = self.on_updated_schema(updated)
        {
            return self.close(error);
        }
        let Some(front) = self.inflight.pop_front() else {
            let error = Error::new(
                ErrorKind::Server,
                "the service answered an AppendRows request that was never sent",
            );
            return self.close(error);
        };
        let outcome = match response.response {
            Some(Response::AppendResult(result)) => self.on_written(front, result.offset),
            Some(Response::Error(status)) => {
                self.on_error(front, &status, &response.row_errors).await
            }
            None => {
                let error = Error::new(
                    ErrorKind::Server,
                    "the service sent an empty AppendRows answer",
                );
                Err(Box::new((front, Failure::Fatal(error))))
            }
        };
        if let Err(setback) = outcome {
            let (front, failure) = *setback;
            self.inflight.push_front(front);
            self.drop_connection(failure);
        }
        self.after_answer();
    }

    fn is_doomed(&self, request: &InFlight) -> bool {
        self.doomed_until.is_some_and(|last| request.seq <= last)
    }

    fn on_written(&mut self, front: InFlight, written_at: Option<i64>) -> Outcome {
        if self.is_doomed(&front) {
            let error = self.mismatch(format!(
                "the service wrote {} rows at offset {} that were sent behind a rejected request",
                front.count(),
                front.offset
            ));
            return Err(Box::new((front, Failure::Fatal(error))));
        }
        if let Some(at) = written_at
            && self.cfg.offsets
            && at != front.offset
        {
            let error = self.mismatch(format!(
                "the service wrote {} rows at offset {at}, the writer sent them for offset {}",
                front.count(),
                front.offset
            ));
            return Err(Box::new((front, Failure::Fatal(error))));
        }
        self.unsure_end = false;
        self.acknowledge(front, "acknowledged");
        Ok(())
    }

    /// Counts `request` as written: its ticket learns its offsets.
    pub(super) fn acknowledge(&mut self, request: InFlight, how: &'static str) {
        self.header_refused = false;
        let count = request.count();
        if self.cfg.offsets {
            self.shared.set_acknowledged(request.end());
        } else {
            self.shared.add_acknowledged(count);
        }
        let latency = request
            .first_sent_at
            .map_or(std::time::Duration::ZERO, |at| at.elapsed());
        self.counters().acknowledged(count, request.bytes, latency);
        self.retry.progress();
        self.ends_by_others = 0;
        self.schema.progress();
        request.span.in_scope(|| tracing::debug!("{how}"));
        let offsets = if self.cfg.offsets {
            request.offset..request.end()
        } else {
            0..0
        };
        let unobserved = request.ticket.written(offsets, count as u64);
        self.report(unobserved);
    }

    async fn on_error(
        &mut self,
        front: InFlight,
        status: &rpc::Status,
        row_errors: &[WireRowError],
    ) -> Outcome {
        let code = status::code_of(status);
        let storage = status::storage_error_in(status).map(|e| e.code());
        let context = format!(
            "append of {} rows{} to `{}`",
            front.count(),
            if self.cfg.offsets {
                format!(" at offset {}", front.offset)
            } else {
                String::new()
            },
            self.cfg.stream
        );
        let error =
            Error::from_rpc_status(&context, status).with_stream(self.cfg.stream.to_string());
        let unheaded = self.header_refused && !front.headed;
        self.header_refused |= front.headed;
        if self.is_doomed(&front) {
            return self.on_doomed(front, code, error);
        }
        if code == tonic::Code::AlreadyExists && self.cfg.offsets {
            return self.on_already_exists(front, storage, error).await;
        }
        if !row_errors.is_empty() {
            return self.on_row_errors(front, row_errors);
        }
        if unheaded && code == tonic::Code::InvalidArgument {
            return self.on_unheaded(front, error);
        }
        if code == tonic::Code::OutOfRange || storage == Some(StorageErrorCode::OffsetOutOfRange) {
            let why = if self.unsure_end {
                "the stream holds fewer rows than the offset the writer was resumed at"
            } else {
                "the stream ends before the offset the writer counted"
            };
            let error = error.context(why);
            return Err(Box::new((front, Failure::Fatal(error))));
        }
        if code == tonic::Code::NotFound
            || storage == Some(StorageErrorCode::SchemaMismatchExtraFields)
        {
            // The table is recreated, or a column not yet writable.
            let failure = self.classify(error).await;
            return Err(Box::new((front, failure)));
        }
        match retry::classify(code) {
            Retry::Permanent => Err(Box::new((front, Failure::Fatal(error)))),
            retry if self.cfg.offsets => {
                let failure = Failure::Retryable(error, retry, Cause::InBand);
                Err(Box::new((front, failure)))
            }
            retry => self.resend_alone(front, error, retry).await,
        }
    }

    /// A request sent without the stream and schema behind one that
    /// carried them and was refused: the service may not have learned them
    /// from it (the emulator does not: it answers "the first request of an
    /// AppendRows connection must carry ..."), so it goes again with them,
    /// once. On `_default` on the same connection, at once: the refusal
    /// that caused it spent a retry already, and a window of requests
    /// behind it must not spend one each (or a writer with more requests
    /// in flight than its budget has attempts gives up on a connection that
    /// works). On an explicit stream after a reconnect, with the requests
    /// behind it, at the same offsets.
    fn on_unheaded(&mut self, front: InFlight, error: Error) -> Outcome {
        let error = error.context(
            "refused behind a refused request that named the stream and carried the schema",
        );
        if self.cfg.offsets {
            let failure = Failure::Retryable(error, Retry::Transient, Cause::InBand);
            return Err(Box::new((front, failure)));
        }
        self.resend_last(front);
        Ok(())
    }

    /// A request sent behind a rejected one: not written, whatever the
    /// error, and the writer goes on at the right offset.
    fn on_doomed(&mut self, front: InFlight, code: tonic::Code, error: Error) -> Outcome {
        if code == tonic::Code::AlreadyExists {
            let error = self.mismatch(format!(
                "the stream already holds rows at offset {}, past a request the service rejected",
                front.offset
            ));
            return Err(Box::new((front, Failure::Fatal(error))));
        }
        let why = format!(
            "{} rows were not written: the request before them on `{}` was rejected while \
             they were on their way (they were answered: {error}); send them again",
            front.count(),
            self.cfg.stream
        );
        self.unwritten(&front.ticket, front.count(), why);
        Ok(())
    }

    async fn on_already_exists(
        &mut self,
        front: InFlight,
        storage: Option<StorageErrorCode>,
        error: Error,
    ) -> Outcome {
        if storage != Some(StorageErrorCode::OffsetAlreadyExists) {
            let error = error.context(
                "ALREADY_EXISTS without the OFFSET_ALREADY_EXISTS detail: \
                 the writer cannot tell what the stream holds",
            );
            return Err(Box::new((front, Failure::Fatal(error))));
        }
        if self.unsure_end {
            return self.find_end(front).await;
        }
        if front.sends > 1 {
            // Sent before on a connection that broke, and it landed then.
            // This writer alone appends to the stream and resends requests
            // with the same bounds, so the stream ends at the end of one of
            // them: an end past this request's start is at or past its end.
            self.counters().already_written(front.count());
            self.acknowledge(front, "acknowledged as already written");
            return Ok(());
        }
        let error = self.mismatch(format!(
            "the stream already holds rows at offset {}, which this writer never sent: \
             another writer appends to it",
            front.offset
        ));
        Err(Box::new((front, Failure::Fatal(error))))
    }

    fn on_row_errors(&mut self, front: InFlight, wire: &[WireRowError]) -> Outcome {
        let count = front.count();
        let mut bad = HashSet::new();
        let mut rows = Vec::with_capacity(wire.len());
        for e in wire {
            let Some(i) = usize::try_from(e.index).ok().filter(|&i| i < count) else {
                let error = Error::new(
                    ErrorKind::Server,
                    format!(
                        "the service rejected row {} of a request of {count} rows: no such row",
                        e.index
                    ),
                );
                return Err(Box::new((front, Failure::Fatal(error))));
            };
            bad.insert(i);
            rows.push(RowError {
                index: front.index_of(i),
                column: self.column_in(&e.message),
                message: e.message.clone(),
            });
        }
        self.counters().rejected(bad.len());
        let what = if self.cfg.offsets {
            format!(
                "no row of that request was written (rows at offset {} and on are written next)",
                front.offset
            )
        } else {
            "the writer sends the request's other rows again by themselves".to_owned()
        };
        let error = Error::new(
            ErrorKind::RowErrors,
            format!(
                "the service rejected {} row(s) of a request of {count} rows to `{}`; {what}:",
                bad.len(),
                self.cfg.stream
            ),
        )
        .with_row_errors(rows)
        .with_stream(self.cfg.stream.to_string());
        if self.cfg.offsets {
            // Requests behind it went out for offsets past the stream's end.
            self.next_offset = front.offset;
            if let Some(last) = self.inflight.back() {
                self.doomed_until = Some(last.seq);
            }
            let unobserved = front.ticket.failed(error);
            self.report(unobserved);
        } else {
            self.resend_good_rows(front, &bad, error);
        }
        Ok(())
    }

    /// `_default`: a request with row errors wrote none of its rows; the
    /// others go again as a request of their own, under the same ticket.
    fn resend_good_rows(&mut self, front: InFlight, bad: &HashSet<usize>, error: Error) {
        let good: Vec<usize> = (0..front.count()).filter(|i| !bad.contains(i)).collect();
        if good.is_empty() {
            let unobserved = front.ticket.failed(error);
            return self.report(unobserved);
        }
        front.ticket.split();
        let unobserved = front.ticket.failed(error);
        self.report(unobserved);
        let rows = front.rows.pick(good.iter().copied());
        let bytes = rows.iter().map(|r| r.len() + 3).sum();
        let indices = good.iter().map(|&i| front.index_of(i)).collect();
        self.counters().resent(good.len(), Cause::RowErrors);
        self.resend_header = true;
        self.inflight.push_back(InFlight {
            rows,
            indices: Some(indices),
            bytes,
            sends: 0,
            ..front
        });
        let last = self.inflight.len() - 1;
        self.transmit(last);
    }

    /// `_default`: a transient in-band error for one request; the requests
    /// behind it are answered on their own, so it alone goes again.
    async fn resend_alone(&mut self, front: InFlight, error: Error, retry: Retry) -> Outcome {
        if !self.retry.wait(retry).await {
            let attempts = self.retry.attempts();
            let error = error.context(format!("gave up after {attempts} retries"));
            return Err(Box::new((front, Failure::Fatal(error))));
        }
        self.resend_last(front);
        Ok(())
    }

    /// `_default`: sends `front` again, behind the requests in flight,
    /// naming the stream and carrying the schema.
    fn resend_last(&mut self, front: InFlight) {
        self.counters().resent(front.count(), Cause::InBand);
        self.resend_header = true;
        self.inflight.push_back(front);
        let last = self.inflight.len() - 1;
        self.transmit(last);
    }

    pub(super) fn mismatch(&self, what: String) -> Error {
        Error::new(
            ErrorKind::OffsetMismatch,
            format!(
                "{what}; the writer stopped rather than skip or duplicate rows \
                 (it counts {} rows acknowledged on `{}`)",
                self.shared.acknowledged(),
                self.cfg.stream
            ),
        )
        .with_stream(self.cfg.stream.to_string())
    }

    /// The column of the table a server message names, if any.
    fn column_in(&self, message: &str) -> Option<String> {
        let lower = message.to_ascii_lowercase();
        let boundary = |ch: Option<char>| ch.is_none_or(|ch| !(ch.is_alphanumeric() || ch == '_'));
        self.cfg
            .columns
            .iter()
            .filter(|c| {
                let c = c.to_ascii_lowercase();
                lower.match_indices(&c).any(|(at, _)| {
                    boundary(lower[..at].chars().next_back())
                        && boundary(lower[at + c.len()..].chars().next())
                })
            })
            .max_by_key(|c| c.len())
            .cloned()
    }
}
