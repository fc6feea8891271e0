//! Incremental Server-Sent Events decoder (WHATWG rules) for upstream streams.
//!
//! Bytes arrive in arbitrary pieces: a line, a CRLF pair or a UTF-8 sequence may be split across
//! reads, so the decoder buffers up to the next line end before decoding anything. What it
//! buffers for one event can be bounded ([`SseDecoder::with_limit`]): a line or event over the
//! limit stops the decoder instead of growing its memory. The writers below frame what the
//! proxy sends to OpenAI, Anthropic and Responses clients (Gemini clients get `\r\n` framing,
//! `formats::gemini`).

/// Appends one event to `out`: `event: <name>\n` when named, then `data: <value as one line of
/// JSON>\n\n`, serialising straight into `out`.
pub fn write_event(out: &mut Vec<u8>, name: Option<&str>, value: &impl serde::Serialize) {
    write_event_head(out, name);
    serde_json::to_writer(&mut *out, value).expect("a JSON value always serialises");
    out.extend_from_slice(b"\n\n");
}

/// [`write_event`] for data that already is one line of JSON (an upstream event passed on as it
/// came).
pub fn write_event_text(out: &mut Vec<u8>, name: Option<&str>, data: &str) {
    write_event_head(out, name);
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
}

fn write_event_head(out: &mut Vec<u8>, name: Option<&str>) {
    if let Some(name) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the upstream named the event.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    event: Option<String>,
    /// The previous piece ended in CR: a LF at the start of the next piece belongs to it.
    skip_lf: bool,
    /// Most bytes one event may hold buffered (its pending line and its data together).
    limit: usize,
    overflowed: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_limit(usize::MAX)
    }
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that gives up (see [`Self::overflowed`]) when one event or line needs more than
    /// `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            event: None,
            skip_lf: false,
            limit,
            overflowed: false,
        }
    }

    /// A line or an event was larger than the limit: what was buffered is dropped and every
    /// further byte is ignored.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    fn over_limit(&mut self, incoming: usize) -> bool {
        if self.line.len().saturating_add(self.data.len()).saturating_add(incoming) > self.limit {
            self.overflowed = true;
            self.line = Vec::new();
            self.data = String::new();
            self.has_data = false;
        }
        self.overflowed
    }

    /// Feeds one piece of the body; complete events are appended to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) {
        // An empty piece says nothing, least of all whether a CR at the end of the last one was
        // the first half of a CRLF.
        if self.overflowed || bytes.is_empty() {
            return;
        }
        if self.skip_lf {
            self.skip_lf = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.over_limit(pos) {
                return;
            }
            self.line.extend_from_slice(&bytes[..pos]);
            let ended_by_cr = bytes[pos] == b'\r';
            bytes = &bytes[pos + 1..];
            if ended_by_cr {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    None => self.skip_lf = true,
                    Some(_) => {}
                }
            }
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
            if self.overflowed {
                return;
            }
        }
        if !self.over_limit(bytes.len()) {
            self.line.extend_from_slice(bytes);
        }
    }

    /// End of body: a last line without terminator and a last event without blank line count.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if self.overflowed {
            return;
        }
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
        }
        self.dispatch(out);
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.find(':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => {
                // Invalid UTF-8 grows when replaced: the limit is on what is kept.
                if self.data.len() + usize::from(self.has_data) + value.len() > self.limit {
                    self.over_limit(usize::MAX);
                    return;
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent { event: self.event.take(), data: std::mem::take(&mut self.data) });
        }
        self.has_data = false;
        self.event = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in body.chunks(piece) {
            decoder.push(chunk, &mut out);
        }
        decoder.finish(&mut out);
        out
    }

    #[test]
    fn every_split_of_the_body_gives_the_same_events() {
        let body = "event: message_start\r\ndata: {\"a\":\"é😀\"}\r\n\r\n: comment\n\ndata:x\rdata: y\r\rdata: last"
            .as_bytes();
        let whole = decode_in_pieces(body, body.len());
        assert_eq!(
            whole,
            vec![
                SseEvent { event: Some("message_start".into()), data: "{\"a\":\"é😀\"}".into() },
                SseEvent { event: None, data: "x\ny".into() },
                SseEvent { event: None, data: "last".into() },
            ]
        );
        for piece in 1..body.len() {
            assert_eq!(decode_in_pieces(body, piece), whole, "split every {piece} bytes");
        }
    }

    #[test]
    fn a_line_or_event_over_the_limit_stops_the_decoder_without_buffering_it() {
        let mut decoder = SseDecoder::with_limit(16);
        let mut out = Vec::new();
        decoder.push(b"data: short\n\ndata: ", &mut out);
        assert_eq!(out.len(), 1);
        decoder.push(&[b'x'; 64], &mut out);
        assert!(decoder.overflowed());
        assert!(decoder.line.capacity() < 64, "the long line was not kept");
        decoder.push(b"\n\ndata: more\n\n", &mut out);
        decoder.finish(&mut out);
        assert_eq!(out.len(), 1, "nothing after the overflow");

        // Invalid UTF-8 is counted as what it becomes (U+FFFD, three bytes each).
        let mut decoder = SseDecoder::with_limit(16);
        let mut lossy = b"data: ".to_vec();
        lossy.extend([0x80; 8]);
        lossy.extend(b"\n\n");
        let mut kept = Vec::new();
        decoder.push(&lossy, &mut kept);
        assert!(decoder.overflowed() && kept.is_empty());

        // Many short data lines of one event add up.
        let mut decoder = SseDecoder::with_limit(16);
        decoder.push(b"data: 12345\ndata: 12345\ndata: 12345\n", &mut out);
        assert!(decoder.overflowed());
    }

    #[test]
    fn an_empty_piece_between_cr_and_lf_does_not_split_the_crlf() {
        // Found by the split property: the empty read made the LF a second line end, which
        // dispatched the event early and lost its name.
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for piece in [&b"data: x\r"[..], b"", b"\nevent: named\n\n"] {
            decoder.push(piece, &mut out);
        }
        decoder.finish(&mut out);
        assert_eq!(out, vec![SseEvent { event: Some("named".into()), data: "x".into() }]);
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        assert!(decode_in_pieces(b"event: ping\n\n", 100).is_empty());
    }
}
