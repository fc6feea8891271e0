//! An upstream SSE body as a sequence of events, read on demand, within bounds: one event (or
//! line) may not exceed `MAX_UPSTREAM_EVENT_BYTES`; a non-stream client's fold may not wait longer
//! than `TIMEOUT_IDLE_NON_STREAMING` for the next bytes nor read for longer than
//! `TIMEOUT_READ_NON_STREAMING`. A JSON object answered where a stream was expected (an error
//! sent with status 200) becomes one event, so its message is kept.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::time::{Instant, timeout_at};

use super::transport::classify_transport;
use crate::config::EngineSettings;
use crate::formats::failure::{ErrorClass, UpstreamFailure};
use crate::formats::relay::EventFilter;
use crate::formats::sse::{SseDecoder, SseEvent};

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// A body that carried no event is kept this far, in case it is a JSON error object.
const MAX_UNFRAMED_BODY: usize = 1 << 20;

/// The bounds of one upstream read.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Largest single SSE line or event, or non-stream body.
    pub max_bytes: usize,
    /// Longest silence between two pieces of the body (`None`: the HTTP client's own idle limit).
    pub idle: Option<Duration>,
    /// When the whole body must have arrived.
    pub deadline: Option<Instant>,
}

impl ReadLimits {
    /// A stream relayed to a stream client: its keep-alives tell the client the proxy is alive,
    /// so only the event size is bounded here (`TIMEOUT_READ_STREAMING` is the idle limit).
    pub fn stream(settings: &EngineSettings) -> Self {
        Self { max_bytes: settings.max_upstream_event_bytes, idle: None, deadline: None }
    }

    /// A stream folded into one answer for a non-stream client, which sees no byte until the end:
    /// a stalled upstream must not hold it for the streaming idle limit.
    pub fn fold(settings: &EngineSettings) -> Self {
        Self {
            max_bytes: settings.max_upstream_event_bytes,
            idle: Some(settings.idle_timeout_non_streaming.min(settings.read_timeout_streaming)),
            deadline: Some(Instant::now() + settings.read_timeout_non_streaming),
        }
    }

    /// A non-stream body, read whole.
    pub fn body(settings: &EngineSettings) -> Self {
        Self {
            max_bytes: settings.max_upstream_body_bytes,
            idle: None,
            deadline: Some(Instant::now() + settings.read_timeout_non_streaming),
        }
    }
}

/// Why reading an upstream body stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The connection broke (reset, the HTTP client's idle timeout).
    Transport(reqwest::Error),
    /// One event (or the whole non-stream body) exceeded the limit.
    TooLarge { limit: usize },
    /// No byte within the idle limit.
    Idle(Duration),
    /// The body did not end by the deadline.
    TimedOut,
}

impl ReadError {
    /// The attempt's failure.
    pub fn failure(&self) -> UpstreamFailure {
        match self {
            Self::Transport(err) => classify_transport(err),
            Self::TooLarge { limit } => UpstreamFailure::new(
                ErrorClass::ServerError,
                format!(
                    "upstream sent more than {limit} bytes in one piece (MAX_UPSTREAM_EVENT_BYTES / MAX_UPSTREAM_BODY_BYTES)"
                ),
            ),
            Self::Idle(idle) => UpstreamFailure::new(
                ErrorClass::Connection,
                format!("upstream sent nothing for {} s (TIMEOUT_IDLE_NON_STREAMING)", idle.as_secs_f64()),
            ),
            Self::TimedOut => UpstreamFailure::new(
                ErrorClass::Connection,
                "upstream body did not end in time (TIMEOUT_READ_NON_STREAMING)",
            ),
        }
    }
}

pub struct UpstreamEvents {
    body: ByteStream,
    decoder: SseDecoder,
    limits: ReadLimits,
    ready: VecDeque<SseEvent>,
    scratch: Vec<SseEvent>,
    /// The body so far while it has produced no event (a JSON body where a stream was expected).
    unframed: Option<Vec<u8>>,
    ended: bool,
    /// The provider's rewriting of its events, when it has one.
    filter: Option<Box<dyn EventFilter>>,
}

impl UpstreamEvents {
    pub fn new(response: reqwest::Response, limits: ReadLimits) -> Self {
        Self::from_stream(Box::pin(response.bytes_stream()), limits)
    }

    fn from_stream(body: ByteStream, limits: ReadLimits) -> Self {
        Self {
            body,
            decoder: SseDecoder::with_limit(limits.max_bytes),
            limits,
            ready: VecDeque::new(),
            scratch: Vec::new(),
            unframed: Some(Vec::new()),
            ended: false,
            filter: None,
        }
    }

    /// Events that are all known already (an upstream that answered a stream request with one
    /// JSON array of its chunks).
    pub fn from_events(events: Vec<SseEvent>) -> Self {
        let limits = ReadLimits { max_bytes: usize::MAX, idle: None, deadline: None };
        let mut events_of = Self::from_stream(Box::pin(futures::stream::empty()), limits);
        events_of.ready = events.into();
        events_of.ended = true;
        events_of
    }

    /// The same events, each passed through `filter` first (dropped when it says so).
    pub fn filtered(mut self, filter: Option<Box<dyn EventFilter>>) -> Self {
        self.filter = filter;
        self
    }

    /// The next event; `None` at the end of the body; `Some(Err)` when the connection broke, the
    /// upstream went silent for too long, or an event was too large. Nothing follows an error.
    pub async fn next(&mut self) -> Option<Result<SseEvent, ReadError>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                match &mut self.filter {
                    None => return Some(Ok(event)),
                    Some(filter) => match filter.filter(event) {
                        Some(event) => return Some(Ok(event)),
                        None => continue,
                    },
                }
            }
            if self.ended {
                return None;
            }
            let piece = match read_piece(&mut self.body, &self.limits).await {
                Ok(piece) => piece,
                Err(err) => {
                    self.ended = true;
                    return Some(Err(err));
                }
            };
            match piece {
                Some(bytes) => {
                    self.decoder.push(&bytes, &mut self.scratch);
                    if self.decoder.overflowed() {
                        self.ended = true;
                        return Some(Err(ReadError::TooLarge { limit: self.limits.max_bytes }));
                    }
                    self.keep_unframed(&bytes);
                }
                None => {
                    self.ended = true;
                    self.decoder.finish(&mut self.scratch);
                    if self.scratch.is_empty()
                        && let Some(event) = self.unframed.take().and_then(json_object_event)
                    {
                        self.scratch.push(event);
                    }
                }
            }
            self.ready.extend(self.scratch.drain(..));
        }
    }

    fn keep_unframed(&mut self, bytes: &[u8]) {
        if !self.scratch.is_empty() {
            self.unframed = None;
        }
        if let Some(unframed) = &mut self.unframed {
            if unframed.len() + bytes.len() > MAX_UNFRAMED_BODY {
                self.unframed = None;
            } else {
                unframed.extend_from_slice(bytes);
            }
        }
    }
}

/// A whole body that is one JSON object, as the event a stream would have carried.
fn json_object_event(body: Vec<u8>) -> Option<SseEvent> {
    let text = String::from_utf8(body).ok()?;
    let trimmed = text.trim();
    let is_object =
        trimmed.starts_with('{') && serde_json::from_str::<serde_json::Value>(trimmed).is_ok_and(|v| v.is_object());
    is_object.then(|| SseEvent { event: None, data: trimmed.to_string() })
}

/// The next piece of the body within the limits; `Ok(None)` at its end.
async fn read_piece(body: &mut ByteStream, limits: &ReadLimits) -> Result<Option<Bytes>, ReadError> {
    let next = async {
        match limits.idle {
            Some(idle) => tokio::time::timeout(idle, body.next()).await.map_err(|_| ReadError::Idle(idle)),
            None => Ok(body.next().await),
        }
    };
    let next = match limits.deadline {
        Some(deadline) => timeout_at(deadline, next).await.map_err(|_| ReadError::TimedOut)?,
        None => next.await,
    };
    match next? {
        None => Ok(None),
        Some(Ok(bytes)) => Ok(Some(bytes)),
        Some(Err(err)) => Err(ReadError::Transport(err)),
    }
}

/// A non-stream body read whole: refused by its `Content-Length` or as soon as it grows past the
/// limit, into one buffer of the announced size.
pub async fn read_body(response: reqwest::Response, limits: ReadLimits) -> Result<Bytes, ReadError> {
    let announced = response.content_length();
    if announced.is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(ReadError::TooLarge { limit: limits.max_bytes });
    }
    let capacity = announced.map_or(0, |n| usize::try_from(n).unwrap_or(0));
    let mut body: ByteStream = Box::pin(response.bytes_stream());
    let mut buffer = BytesMut::with_capacity(capacity);
    while let Some(piece) = read_piece(&mut body, &limits).await? {
        if buffer.len() + piece.len() > limits.max_bytes {
            return Err(ReadError::TooLarge { limit: limits.max_bytes });
        }
        buffer.extend_from_slice(&piece);
    }
    Ok(buffer.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(pieces: Vec<&'static [u8]>, limits: ReadLimits) -> UpstreamEvents {
        let stream = futures::stream::iter(pieces.into_iter().map(|p| Ok(Bytes::from_static(p))));
        UpstreamEvents::from_stream(Box::pin(stream), limits)
    }

    fn limits(max_bytes: usize) -> ReadLimits {
        ReadLimits { max_bytes, idle: None, deadline: None }
    }

    #[tokio::test]
    async fn an_event_over_the_limit_is_an_error_and_ends_the_body() {
        let mut events = events_of(vec![b"data: {\"a\":1}\n\n", &[b'x'; 100], b"\n\n"], limits(32));
        assert_eq!(events.next().await.unwrap().unwrap().data, "{\"a\":1}");
        assert!(matches!(events.next().await, Some(Err(ReadError::TooLarge { limit: 32 }))));
        assert!(events.next().await.is_none());
    }

    #[tokio::test]
    async fn a_json_object_where_a_stream_was_expected_is_one_event() {
        let body: &'static [u8] = b"{\n  \"error\": {\"message\": \"quota exceeded\", \"code\": 429}\n}\n";
        let mut events = events_of(vec![&body[..10], &body[10..]], limits(1 << 20));
        let event = events.next().await.unwrap().unwrap();
        assert!(event.data.contains("quota exceeded"), "{}", event.data);
        assert!(events.next().await.is_none());
        let mut garbage = events_of(vec![b"<html>bad gateway</html>"], limits(1 << 20));
        assert!(garbage.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn silence_past_the_idle_limit_is_an_error() {
        let stream =
            futures::stream::once(async { Ok(Bytes::from_static(b"data: {}\n\n")) }).chain(futures::stream::pending());
        let limits = ReadLimits { max_bytes: 1024, idle: Some(Duration::from_secs(5)), deadline: None };
        let mut events = UpstreamEvents::from_stream(Box::pin(stream), limits);
        assert!(events.next().await.unwrap().is_ok());
        let started = Instant::now();
        assert!(matches!(events.next().await, Some(Err(ReadError::Idle(_)))));
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
