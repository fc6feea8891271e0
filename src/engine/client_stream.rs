//! A committed stream on its way to the client: the frames produced before the commit point,
//! then the relay's frames for each further upstream event, ending with the client family's
//! terminal frame or in-band error. The credential lease is settled when the stream ends.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use super::classify::UpstreamFailure;
use super::redact::Redactor;
use super::relay::Relay;
use super::upstream_events::UpstreamEvents;
use crate::pool::CredentialLease;

/// The client's stream bytes (SSE frames in its own family).
pub struct ClientStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
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
        let state = State { held, events, relay, finished, done: false, served_id, redactor, lease: None };
        Self { state }
    }

    /// The stream for the client, holding `lease` until it ends: success or failure is recorded
    /// on the credential at the end; a client that goes away just releases it (no cooldown).
    pub fn with_lease(mut self, lease: CredentialLease) -> ClientStream {
        self.state.lease = Some(lease);
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
            let frames = match self.events.next().await {
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
