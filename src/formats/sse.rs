//! Incremental Server-Sent Events decoder (WHATWG rules) for upstream streams.
//!
//! Bytes arrive in arbitrary pieces: a line, a CRLF pair or a UTF-8 sequence may be split across
//! reads, so the decoder buffers up to the next line end before decoding anything.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the upstream named the event.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    event: Option<String>,
    /// The previous piece ended in CR: a LF at the start of the next piece belongs to it.
    skip_lf: bool,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one piece of the body; complete events are appended to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) {
        if self.skip_lf {
            self.skip_lf = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
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
        }
        self.line.extend_from_slice(bytes);
    }

    /// End of body: a last line without terminator and a last event without blank line count.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
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
    fn events_without_data_are_not_dispatched() {
        assert!(decode_in_pieces(b"event: ping\n\n", 100).is_empty());
    }
}
