//! A committed stream on its way to the client: the frames produced before the commit point,
//! then the relay's frames for each further upstream event, ending with the client family's
//! terminal frame or in-band error. The credential lease is settled when the stream ends; a
//! stream the client abandons is still charged to the credential (the request, and the usage the
//! upstream reported or else an estimate of the output so far), as the upstream was paid.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use tokio::sync::watch;

use super::redact::Redactor;
use super::upstream_events::UpstreamEvents;
use crate::formats::failure::{ErrorClass, UpstreamFailure};
use crate::formats::ir::Usage;
use crate::formats::relay::{Relay, Replayed};
use crate::pool::CredentialLease;

/// The client's stream bytes (SSE frames in its own family).
pub struct ClientStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
}

impl ClientStream {
    /// Any stream of client bytes (a route's tee over a committed stream).
    pub fn from_stream(stream: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static) -> Self {
        Self { inner: Box::pin(stream) }
    }
}

impl Stream for ClientStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// A committed stream that does not yet carry its credential lease.
pub struct PendingStream {
    state: State,
}

struct State {
    held: VecDeque<Bytes>,
    events: UpstreamEvents,
    relay: Box<dyn Relay>,
    /// The terminal event arrived before commit ended.
    finished: bool,
    done: bool,
    served_id: String,
    redactor: Arc<Redactor>,
    /// Held until the stream ends or the client goes away; settles the credential's outcome.
    lease: Option<CredentialLease>,
    /// Counts the stream in `llmkp_in_flight_streams` while it is relayed.
    in_flight: Option<crate::telemetry::InFlight>,
    /// Ready when the server stops waiting for streams (end of the shutdown grace time); made
    /// once per stream, not per event.
    cut: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl PendingStream {
    /// `held` are the client frames produced up to the commit point; `finished` says the
    /// upstream's terminal event was among them.
    pub fn new(
        held: Vec<u8>,
        finished: bool,
        events: UpstreamEvents,
        relay: Box<dyn Relay>,
        served_id: String,
        redactor: Arc<Redactor>,
    ) -> Self {
        let held = if held.is_empty() { VecDeque::new() } else { VecDeque::from([Bytes::from(held)]) };
        let state = State {
            held,
            events,
            relay,
            finished,
            done: false,
            served_id,
            redactor,
            lease: None,
            in_flight: None,
            cut: None,
        };
        Self { state }
    }

    /// A stream whose frames are all known (made from one complete upstream answer).
    pub fn replayed(frames: Vec<u8>, usage: Option<Usage>, served_id: String, redactor: Arc<Redactor>) -> Self {
        let events = UpstreamEvents::from_events(Vec::new());
        Self::new(frames, true, events, Box::new(Replayed { usage }), served_id, redactor)
    }

    /// The stream ends with the client's in-band error once `cut` turns true.
    pub fn cut_by(mut self, mut cut: watch::Receiver<bool>) -> Self {
        self.state.cut = Some(Box::pin(async move {
            if cut.wait_for(|cut| *cut).await.is_err() {
                // The server went away without a cut: never.
                std::future::pending::<()>().await;
            }
        }));
        self
    }

    /// The stream for the client, holding `lease` until it ends: success or failure is recorded
    /// on the credential at the end; a client that goes away just releases it (no cooldown).
    pub fn with_lease(mut self, lease: CredentialLease) -> ClientStream {
        self.state.lease = Some(lease);
        self.state.in_flight = Some(crate::telemetry::stream_in_flight());
        let inner = futures::stream::unfold(self.state, |mut state| async move {
            let frame = state.next_frame().await?;
            Some((Ok(frame), state))
        });
        ClientStream { inner: Box::pin(inner) }
    }
}

impl State {
    /// The next bytes to send, `None` once the terminal frame went out.
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.held.pop_front() {
                return Some(frame);
            }
            if self.done {
                return None;
            }
            if self.finished {
                self.succeed();
                continue;
            }
            let next = match &mut self.cut {
                Some(cut) => tokio::select! {
                    next = self.events.next() => Some(next),
                    () = cut.as_mut() => None,
                },
                None => Some(self.events.next().await),
            };
            let Some(next) = next else {
                let frames = self.shut_down();
                self.held.push_back(Bytes::from(frames));
                continue;
            };
            let frames = match next {
                None => match self.relay.end() {
                    Ok(frames) => {
                        self.succeed();
                        frames
                    }
                    Err(failure) => self.fail(&failure),
                },
                Some(Err(err)) => self.fail(&err.failure()),
                Some(Ok(event)) => match self.relay.event(&event) {
                    Ok(step) => {
                        self.finished = step.done;
                        step.frames
                    }
                    Err(failure) => self.fail(&failure),
                },
            };
            if !frames.is_empty() {
                self.held.push_back(Bytes::from(frames));
            }
        }
    }

    fn succeed(&mut self) {
        self.done = true;
        let usage = self.relay.usage();
        tracing::debug!(model = %self.served_id, ?usage, "stream finished");
        if let Some(lease) = self.lease.take() {
            lease.record_success(usage);
        }
    }

    /// The server stops: the client's in-band error, and (when the state is dropped) the usage so
    /// far; the credential did nothing wrong.
    fn shut_down(&mut self) -> Vec<u8> {
        self.done = true;
        let failure = UpstreamFailure::new(ErrorClass::Overloaded, "the server is shutting down; retry the request");
        tracing::info!(model = %self.served_id, "stream ended by the shutdown");
        self.relay.error(&failure, &failure.message)
    }

    /// The client's in-band error; the credential's failure is recorded.
    fn fail(&mut self, failure: &UpstreamFailure) -> Vec<u8> {
        self.done = true;
        if let Some(lease) = self.lease.take() {
            lease.record_failure(failure.class, failure.retry_after, true);
        }
        let message = self.redactor.scrub(&failure.message);
        tracing::warn!(model = %self.served_id, class = failure.class.as_str(), "upstream failed after the stream was committed: {message}");
        self.relay.error(failure, &message)
    }
}

impl Drop for State {
    /// The stream did not reach its end (the client went away, or the server cut it): the
    /// request counts, with the usage reported so far or the estimate of the output seen.
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else { return };
        let usage = usage_so_far(self.relay.usage(), estimated_tokens(self.relay.output_chars()));
        tracing::debug!(model = %self.served_id, ?usage, "stream abandoned before its end");
        lease.record_cancelled(usage);
    }
}

/// About four characters per token in the tokenizers of the common models.
const CHARS_PER_TOKEN: u64 = 4;

/// The tokens of `chars` characters of output (rounded up; 0 only for none).
fn estimated_tokens(chars: u64) -> u64 {
    chars.div_ceil(CHARS_PER_TOKEN)
}

/// The usage to charge for a stream cut short: what the upstream reported, with the output
/// raised to the local estimate when the report (if any) says less.
fn usage_so_far(reported: Option<Usage>, estimated_output: u64) -> Usage {
    let mut usage = reported.unwrap_or_default();
    usage.output_total = usage.output_total.max(estimated_output);
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_stream_is_charged_what_was_reported_or_else_the_estimate() {
        let reported = Usage { input_total: 10, output_total: 3, reasoning: 1, ..Usage::default() };
        assert_eq!(usage_so_far(Some(reported), 1), reported, "the report wins when it says more");
        let raised = usage_so_far(Some(reported), 9);
        assert_eq!((raised.input_total, raised.output_total, raised.reasoning), (10, 9, 1));
        assert_eq!(usage_so_far(None, 5).output_total, 5);
        assert_eq!([estimated_tokens(0), estimated_tokens(1), estimated_tokens(8), estimated_tokens(9)], [0, 1, 2, 3]);
    }
}
