//! Recovery: reconnecting and resending what was not acknowledged, and
//! finding where a resumed stream really ends.
//!
//! # Finding the end of a resumed stream
//! A process that resumes a stream from its own checkpoint `(stream, next)`
//! may find more rows there than it counted: the last requests before a
//! crash may have landed. A request at an offset before the end answers
//! `ALREADY_EXISTS` and writes nothing, even when it runs past the end, so
//! that answer alone cannot say which of its rows are in. A one-row append
//! of row `k` at offset `k` can: it writes the row (the end was `k`),
//! answers `ALREADY_EXISTS` (the end is past `k`) or `OUT_OF_RANGE` (the end
//! is before `k`). The engine probes the last row first (a lagging
//! checkpoint usually finds whole requests in place), then bisects, and
//! sends the rows past the end: a few round trips, once per resume, and
//! every row lands exactly once.

use tokio::time::Instant;

use super::{Engine, Failure, InFlight, conn};
use crate::client::SharedRows;
use crate::error::{Error, ErrorKind};
use crate::proto::storage::AppendRowsResponse;
use crate::proto::storage::append_rows_response::Response;
use crate::proto::storage::storage_error::StorageErrorCode;
use crate::retry::Retry;
use crate::status;
use crate::writer::Cause;

/// What a one-row probe at offset `k` found.
enum Probe {
    /// The row was written: the stream ended at `k`.
    Written,
    /// The stream ends after `k`.
    Present,
    /// The stream ends before `k`.
    Beyond,
}

impl Engine {
    /// Waits out the backoff and resends every request in flight, at the
    /// same offsets, on a new connection.
    ///
    /// # Errors
    /// The failure that broke the connection, when the retry budget is spent.
    pub(super) async fn reconnect(&mut self) -> Result<(), Error> {
        self.fail_doomed();
        let (error, retry, cause) = self.failure.take().unwrap_or_else(|| {
            let error = Error::new(ErrorKind::Transport, "the AppendRows connection was lost");
            (error, Retry::Transient, Cause::Transport)
        });
        if cause == Cause::Schema {
            self.wait_for_table(&error).await?;
        } else if !self.retry.wait(retry).await {
            let attempts = self.retry.attempts();
            return Err(error.context(format!("gave up after {attempts} retries")));
        }
        if self.inflight.is_empty() {
            return Ok(());
        }
        self.counters().reconnected(cause);
        tracing::info!(
            stream = %self.cfg.stream,
            attempt = self.retry.attempts(),
            resend = self.inflight.len(),
            reason = %error,
            "reconnecting AppendRows"
        );
        for i in 0..self.inflight.len() {
            if i > 0 {
                let rows = self.inflight[i].count();
                self.counters().resent(rows, cause);
            } else if self.inflight[0].sends > 0 {
                self.counters().resent(self.inflight[0].count(), cause);
            }
            if !self.resend(i) {
                break;
            }
        }
        Ok(())
    }

    /// Sends request `i` again, on the connection the requests before it
    /// went on; false when that connection ended instead. The requests
    /// after it must not then go out on a new connection without those
    /// before them: answers are matched to requests by order, and a new
    /// connection's first answer would settle the oldest request, which
    /// it never carried (on `_default`, an acknowledgement for rows that
    /// were not written). The next reconnect resends them all.
    pub(super) fn resend(&mut self, i: usize) -> bool {
        self.send_now(i);
        self.conn.is_some()
    }

    /// Requests sent behind a rejected one are never sent again: on a new
    /// connection their offsets could line up with rows written since.
    fn fail_doomed(&mut self) {
        let Some(last) = self.doomed_until.take() else {
            return;
        };
        let mut kept = std::collections::VecDeque::with_capacity(self.inflight.len());
        while let Some(request) = self.inflight.pop_front() {
            if request.seq > last {
                kept.push_back(request);
                continue;
            }
            let why = format!(
                "{} rows were not written: the request before them on `{}` was rejected \
                 while they were on their way; send them again",
                request.count(),
                self.cfg.stream
            );
            self.unwritten(&request.ticket, request.count(), why);
        }
        self.inflight = kept;
    }

    /// `front` (at offset `o`, `n` rows) answered `ALREADY_EXISTS` on a
    /// resumed stream: the end is in `o + 1 ..= o + n`. Finds it, writes
    /// the rows past it, and counts the request as written.
    pub(super) async fn find_end(
        &mut self,
        front: InFlight,
    ) -> Result<(), Box<(InFlight, Failure)>> {
        let o = front.offset;
        let n = front.count() as i64;
        // The end is in lo..=hi; hi == o + n means "at or past the request's end".
        let (mut lo, mut hi) = (o + 1, o + n);
        let mut k = o + n - 1;
        loop {
            if lo > hi {
                let error = self.mismatch(format!(
                    "the stream answered inconsistently while its end was searched between offsets {o} and {}",
                    o + n
                ));
                return Err(Box::new((front, Failure::Fatal(error))));
            }
            if lo == hi {
                return self.write_from(front, lo, lo).await;
            }
            k = k.clamp(lo, hi - 1);
            match self.probe(&front, k).await {
                // The probe itself wrote row `k`: the stream held rows up to `k`.
                Ok(Probe::Written) => return self.write_from(front, k + 1, k).await,
                Ok(Probe::Present) => lo = k + 1,
                Ok(Probe::Beyond) => hi = k - 1,
                Err(failure) => return Err(Box::new((front, failure))),
            }
            k = lo + (hi - lo) / 2;
        }
    }

    /// Writes the rows of `front` from offset `from` on (the end of the
    /// stream), then counts the whole request as written; the stream held
    /// its rows before `found_end` before the search.
    async fn write_from(
        &mut self,
        front: InFlight,
        from: i64,
        found_end: i64,
    ) -> Result<(), Box<(InFlight, Failure)>> {
        let end = front.end();
        if from < end {
            let skip = (from - front.offset) as usize;
            let rows = front.rows.pick(skip..front.count());
            match self.roundtrip(from, rows).await {
                Ok(answer) if matches!(answer.response, Some(Response::AppendResult(_))) => {}
                Ok(answer) => {
                    let error = self.mismatch(format!(
                        "the rows past the stream's end (offset {from}) were refused: {:?}",
                        answer.response
                    ));
                    return Err(Box::new((front, Failure::Fatal(error))));
                }
                Err(failure) => return Err(Box::new((front, failure))),
            }
            self.unsure_end = false;
        }
        tracing::info!(
            stream = %self.cfg.stream,
            offset = front.offset,
            already_there = found_end - front.offset,
            "found the end of a resumed stream"
        );
        self.counters()
            .already_written((found_end - front.offset) as usize);
        self.acknowledge(front, "acknowledged after finding the stream's end");
        Ok(())
    }

    /// Appends row `k` of `front` alone at offset `k`.
    async fn probe(&mut self, front: &InFlight, k: i64) -> Result<Probe, Failure> {
        let row = front.rows.pick([(k - front.offset) as usize]);
        let answer = self.roundtrip(k, row).await?;
        let status = match answer.response {
            Some(Response::AppendResult(_)) => return Ok(Probe::Written),
            Some(Response::Error(status)) => status,
            None => {
                let error = Error::new(
                    ErrorKind::Server,
                    "the service sent an empty AppendRows answer",
                );
                return Err(Failure::Fatal(error));
            }
        };
        let code = status::code_of(&status);
        let storage = status::storage_error_in(&status).map(|e| e.code());
        match (code, storage) {
            (tonic::Code::AlreadyExists, Some(StorageErrorCode::OffsetAlreadyExists)) => {
                Ok(Probe::Present)
            }
            (tonic::Code::OutOfRange, _) | (_, Some(StorageErrorCode::OffsetOutOfRange)) => {
                Ok(Probe::Beyond)
            }
            _ => Err(Failure::from_error(Error::from_rpc_status(
                &format!("probing offset {k} of `{}`", self.cfg.stream),
                &status,
            ))),
        }
    }

    /// Sends one request on the current connection (nothing else is in
    /// flight) and reads its answer.
    async fn roundtrip(
        &mut self,
        offset: i64,
        rows: SharedRows,
    ) -> Result<AppendRowsResponse, Failure> {
        let request = conn::request(&self.cfg, offset, &rows, false);
        let sent = self.conn.as_ref().is_some_and(|c| c.send(request));
        if !sent {
            return Err(Failure::transport(format!(
                "the AppendRows connection of `{}` closed",
                self.cfg.stream
            )));
        }
        let deadline = Instant::now() + self.cfg.response_timeout;
        conn::next_answer(self.conn.as_mut(), deadline).await
    }
}
