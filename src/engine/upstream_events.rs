//! An upstream SSE body as a sequence of events, read on demand.

use std::collections::VecDeque;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::formats::sse::{SseDecoder, SseEvent};

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

pub struct UpstreamEvents {
    body: ByteStream,
    decoder: SseDecoder,
    ready: VecDeque<SseEvent>,
    scratch: Vec<SseEvent>,
    ended: bool,
}

impl UpstreamEvents {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            body: Box::pin(response.bytes_stream()),
            decoder: SseDecoder::new(),
            ready: VecDeque::new(),
            scratch: Vec::new(),
            ended: false,
        }
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
        }
    }

    /// The next event; `None` at the end of the body; `Some(Err)` when the connection broke
    /// (reset, idle read timeout).
    pub async fn next(&mut self) -> Option<Result<SseEvent, reqwest::Error>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(Ok(event));
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
