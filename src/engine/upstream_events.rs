//! An upstream SSE body as a sequence of events, read on demand.

use std::collections::VecDeque;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::formats::relay::EventFilter;
use crate::formats::sse::{SseDecoder, SseEvent};

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

pub struct UpstreamEvents {
    body: ByteStream,
    decoder: SseDecoder,
    ready: VecDeque<SseEvent>,
    scratch: Vec<SseEvent>,
    ended: bool,
    /// The provider's rewriting of its events, when it has one.
    filter: Option<Box<dyn EventFilter>>,
}

impl UpstreamEvents {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            body: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::new(),
            ready: VecDeque::new(),
            scratch: Vec::new(),
            ended: false,
            filter: None,
        }
    }

    /// The same events, each passed through `filter` first (dropped when it says so).
    pub fn filtered(mut self, filter: Option<Box<dyn EventFilter>>) -> Self {
        self.filter = filter;
        self
    }

    /// Events that are all known already (an upstream that answered a stream request with one
    /// JSON array of its chunks).
    pub fn from_events(events: Vec<SseEvent>) -> Self {
        Self {
            body: Box::pin(futures::stream::empty()),
            decoder: SseDecoder::new(),
            ready: events.into(),
            scratch: Vec::new(),
            ended: true,
            filter: None,
        }
    }

    /// The next event; `None` at the end of the body; `Some(Err)` when the connection broke
    /// (reset, idle read timeout).
    pub async fn next(&mut self) -> Option<Result<SseEvent, reqwest::Error>> {
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
            match self.body.next().await {
                Some(Ok(bytes)) => self.decoder.push(&bytes, &mut self.scratch),
                Some(Err(err)) => {
                    self.ended = true;
                    return Some(Err(err));
                }
                None => {
                    self.ended = true;
                    self.decoder.finish(&mut self.scratch);
                }
            }
            self.ready.extend(self.scratch.drain(..));
        }
    }
}
