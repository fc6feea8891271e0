//! Inline `<think>…</think>` reasoning in `content` (Qwen Code and some other OpenAI-compatible
//! upstreams) moved to `reasoning_content`, for streams and whole answers alike.
//!
//! The rules:
//! - A `<think>` anywhere in text opens reasoning and the next `</think>` closes it. Models emit
//!   the tag first, but a tag later in the text is treated as a tag all the same (an answer that
//!   quotes a literal `<think>` loses the rest of its text to reasoning until a `</think>`).
//! - Whitespace before the first `<think>` of the content is dropped; other text before it stays text.
//! - Newlines right after either tag and right before `</think>` are trimmed (models write
//!   `<think>\n…\n</think>\n\n`).
//! - Inside reasoning, a nested `<think>` is ordinary reasoning and the first `</think>` closes the
//!   block; a further `<think>` in the text opens another block. A `</think>` in text, with no
//!   block open, is ordinary text.
//! - A `</think>` that never comes leaves everything after `<think>` as reasoning.
//! - Tags are matched exactly (lower case, no attributes).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";
const NEWLINES: [char; 2] = ['\n', '\r'];

/// Splits streamed content into reasoning and text at `<think>` / `</think>` tags, which may be
/// cut anywhere across chunks.
#[derive(Debug, Default)]
pub struct ThinkSplitter {
    /// Text not yet shown: a possible partial tag, leading whitespace, or newlines before a close.
    held: String,
    in_reasoning: bool,
    /// Newlines at the front of what comes next are dropped (just after a tag).
    skip_newlines: bool,
    /// Some text was shown or a tag was seen: leading whitespace is no longer held.
    started: bool,
    /// A `<think>` was seen.
    saw_block: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Reasoning(String),
    Text(String),
}

impl ThinkSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The pieces of one content delta, in order (adjacent pieces of the same kind merged; empty
    /// pieces never emitted). Text that might be the start of a tag (e.g. a trailing "<thi") is
    /// held back until the next push or finish, as are leading whitespace of the content and
    /// newlines that might come right before a `</think>`.
    pub fn push(&mut self, delta: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut buf = std::mem::take(&mut self.held);
        buf.push_str(delta);
        let mut s = buf.as_str();
        loop {
            if self.skip_newlines {
                s = s.trim_start_matches(NEWLINES);
                if s.is_empty() {
                    break;
                }
                self.skip_newlines = false;
            }
            let tag = if self.in_reasoning { CLOSE } else { OPEN };
            if let Some(i) = s.find(tag) {
                let before = &s[..i];
                if self.in_reasoning {
                    emit(&mut out, Piece::Reasoning(before.trim_end_matches(NEWLINES).to_owned()));
                } else if self.started || !before.trim_start().is_empty() {
                    emit(&mut out, Piece::Text(before.to_owned()));
                }
                self.in_reasoning = !self.in_reasoning;
                self.started = true;
                self.saw_block = true;
                self.skip_newlines = true;
                s = &s[i + tag.len()..];
                continue;
            }
            let ready = &s[..s.len() - partial_tag_len(s, tag)];
            if self.in_reasoning {
                let ready = ready.trim_end_matches(NEWLINES);
                emit(&mut out, Piece::Reasoning(ready.to_owned()));
                self.held = s[ready.len()..].to_owned();
            } else if !self.started && ready.trim_start().is_empty() {
                self.held = s.to_owned();
            } else {
                emit(&mut out, Piece::Text(ready.to_owned()));
                self.started = true;
                self.held = s[ready.len()..].to_owned();
            }
            break;
        }
        out
    }

    /// The end of the stream: whatever was held back, as what it turned out to be. The splitter
    /// is then as new.
    pub fn finish(&mut self) -> Vec<Piece> {
        let held = std::mem::take(&mut self.held);
        let piece = if self.in_reasoning { Piece::Reasoning(held) } else { Piece::Text(held) };
        *self = Self::default();
        let mut out = Vec::new();
        emit(&mut out, piece);
        out
    }
}

/// Appends a piece, merging it into the last one of the same kind; empty pieces are dropped.
fn emit(out: &mut Vec<Piece>, piece: Piece) {
    match (out.last_mut(), piece) {
        (_, Piece::Reasoning(s) | Piece::Text(s)) if s.is_empty() => {}
        (Some(Piece::Reasoning(last)), Piece::Reasoning(s)) | (Some(Piece::Text(last)), Piece::Text(s)) => {
            last.push_str(&s)
        }
        (_, piece) => out.push(piece),
    }
}

/// The length of the longest end of `s` that is a proper start of `tag`. Tags are ASCII, so the
/// cut lands on a character boundary.
fn partial_tag_len(s: &str, tag: &str) -> usize {
    (1..tag.len()).rev().find(|&k| s.ends_with(&tag[..k])).unwrap_or(0)
}

/// Pieces joined by kind: (reasoning, text).
fn join(pieces: Vec<Piece>) -> (String, String) {
    let (mut reasoning, mut text) = (String::new(), String::new());
    for piece in pieces {
        match piece {
            Piece::Reasoning(s) => reasoning.push_str(&s),
            Piece::Text(s) => text.push_str(&s),
        }
    }
    (reasoning, text)
}

/// A whole message's content split the same way (non-stream answers): (reasoning, text),
/// reasoning None when there was no think block (`Some("")` for an empty one).
pub fn split_whole(content: &str) -> (Option<String>, String) {
    let mut splitter = ThinkSplitter::new();
    let mut pieces = splitter.push(content);
    let saw_block = splitter.saw_block;
    pieces.extend(splitter.finish());
    let (reasoning, text) = join(pieces);
    (saw_block.then_some(reasoning), text)
}

/// Appends to `reasoning_content`, or sets it when absent or not a string.
fn append_reasoning(object: &mut Map<String, Value>, reasoning: &str) {
    match object.get_mut("reasoning_content") {
        Some(Value::String(existing)) => existing.push_str(reasoning),
        _ => {
            object.insert("reasoning_content".into(), Value::String(reasoning.to_owned()));
        }
    }
}

/// One chat.completion.chunk rewritten in place: `choices[i].delta.content` with think tags →
/// `reasoning_content` (appended to an existing reasoning_content) and `content`; keeps one
/// splitter per choice index (`index`, else the position) in `splitters`. Leaves chunks without
/// content untouched. A delta whose content becomes empty has `content` removed only if reasoning
/// was produced from it (so role chunks with "" stay as they are). A choice with a finish reason
/// ends its splitter: whatever it held goes into that chunk's delta.
pub fn rewrite_chunk(chunk: &mut Map<String, Value>, splitters: &mut BTreeMap<u64, ThinkSplitter>) {
    let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
        return;
    };
    for (position, choice) in choices.iter_mut().enumerate() {
        let Some(choice) = choice.as_object_mut() else {
            continue;
        };
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
        let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
        let content = choice.get("delta").and_then(|d| d.get("content")).and_then(Value::as_str).map(str::to_owned);
        let mut pieces = match &content {
            Some(content) => splitters.entry(index).or_default().push(content),
            None => Vec::new(),
        };
        if finished && let Some(mut splitter) = splitters.remove(&index) {
            pieces.extend(splitter.finish());
        }
        if content.is_none() && pieces.is_empty() {
            continue;
        }
        let Some(delta) = choice.entry("delta").or_insert_with(|| Value::Object(Map::new())).as_object_mut() else {
            continue;
        };
        let (reasoning, text) = join(pieces);
        if !reasoning.is_empty() {
            append_reasoning(delta, &reasoning);
        }
        if !text.is_empty() {
            delta.insert("content".into(), Value::String(text));
        } else if content.is_some() {
            if reasoning.is_empty() {
                delta.insert("content".into(), Value::String(String::new()));
            } else {
                delta.remove("content");
            }
        }
    }
}

/// A chat.completion body rewritten the same way (`choices[i].message.content`). Messages without
/// a think block are untouched; an empty block is removed without adding `reasoning_content`.
pub fn rewrite_completion(body: &mut Map<String, Value>) {
    let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) else {
        return;
    };
    for choice in choices {
        let Some(message) = choice.get_mut("message").and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(content) = message.get("content").and_then(Value::as_str) else {
            continue;
        };
        let (Some(reasoning), text) = split_whole(content) else {
            continue;
        };
        message.insert("content".into(), Value::String(text));
        if !reasoning.is_empty() {
            append_reasoning(message, &reasoning);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAMPLE: &str = "<think>Let me see… 思考</think>\n\nThe answer is 42.";

    fn reasoning(s: &str) -> Piece {
        Piece::Reasoning(s.into())
    }

    fn text(s: &str) -> Piece {
        Piece::Text(s.into())
    }

    /// Feeds the parts through one splitter, checking each push's output is well formed.
    fn run(parts: &[&str]) -> (String, String) {
        let mut splitter = ThinkSplitter::new();
        let mut all = Vec::new();
        for part in parts {
            let pieces = splitter.push(part);
            assert_well_formed(&pieces);
            all.extend(pieces);
        }
        let pieces = splitter.finish();
        assert_well_formed(&pieces);
        all.extend(pieces);
        join(all)
    }

    fn assert_well_formed(pieces: &[Piece]) {
        for piece in pieces {
            let (Piece::Reasoning(s) | Piece::Text(s)) = piece;
            assert!(!s.is_empty(), "empty piece in {pieces:?}");
        }
        for pair in pieces.windows(2) {
            assert_ne!(std::mem::discriminant(&pair[0]), std::mem::discriminant(&pair[1]), "unmerged {pieces:?}");
        }
    }

    fn boundaries(s: &str) -> Vec<usize> {
        (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect()
    }

    #[test]
    fn whole_sample_in_one_push() {
        let mut splitter = ThinkSplitter::new();
        assert_eq!(splitter.push(SAMPLE), vec![reasoning("Let me see… 思考"), text("The answer is 42.")]);
        assert_eq!(splitter.finish(), vec![]);
    }

    #[test]
    fn every_split_position_gives_the_same_result() {
        let expected = ("Let me see… 思考".to_owned(), "The answer is 42.".to_owned());
        for i in boundaries(SAMPLE) {
            assert_eq!(run(&[&SAMPLE[..i], &SAMPLE[i..]]), expected, "split at {i}");
        }
    }

    #[test]
    fn every_three_way_split_gives_the_same_result() {
        let expected = ("Let me see… 思考".to_owned(), "The answer is 42.".to_owned());
        let cuts = boundaries(SAMPLE);
        for &i in &cuts {
            for &j in cuts.iter().filter(|&&j| j >= i) {
                assert_eq!(run(&[&SAMPLE[..i], &SAMPLE[i..j], &SAMPLE[j..]]), expected, "split at {i}, {j}");
            }
        }
        let chars: Vec<String> = SAMPLE.chars().map(String::from).collect();
        let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run(&chars), expected);
    }

    #[test]
    fn tags_cut_across_three_chunks() {
        let mut splitter = ThinkSplitter::new();
        assert_eq!(splitter.push("<th"), vec![]);
        assert_eq!(splitter.push("in"), vec![]);
        assert_eq!(splitter.push("k>\nPlan: add.\n</"), vec![reasoning("Plan: add.")]);
        assert_eq!(splitter.push("thi"), vec![]);
        assert_eq!(splitter.push("nk>\n\nDone"), vec![text("Done")]);
        assert_eq!(splitter.push(" <"), vec![text(" ")]);
        assert_eq!(splitter.push("b>"), vec![text("<b>")]);
        assert_eq!(splitter.finish(), vec![]);
    }

    #[test]
    fn content_without_tags_passes_through() {
        let mut splitter = ThinkSplitter::new();
        assert_eq!(splitter.push("Hello"), vec![text("Hello")]);
        assert_eq!(splitter.push(", a < b and "), vec![text(", a < b and ")]);
        assert_eq!(splitter.push("x <"), vec![text("x ")]);
        assert_eq!(splitter.push("= y</think>"), vec![text("<= y</think>")]);
        assert_eq!(splitter.push("\n"), vec![text("\n")]);
        assert_eq!(splitter.push("<t"), vec![]);
        assert_eq!(splitter.finish(), vec![text("<t")]);
        // Whitespace alone is held only while it could precede a `<think>`.
        assert_eq!(splitter.push("\n "), vec![]);
        assert_eq!(splitter.push("Hi"), vec![text("\n Hi")]);
        assert_eq!(splitter.finish(), vec![]);
        assert_eq!(splitter.push("  "), vec![]);
        assert_eq!(splitter.finish(), vec![text("  ")]);
    }

    #[test]
    fn newlines_inside_reasoning_survive_cuts() {
        assert_eq!(
            run(&["<think>\n\nOne.\n", "\nTwo.\n", "\n</think>", "\n", "\nAnswer.\n"]),
            ("One.\n\nTwo.".into(), "Answer.\n".into())
        );
    }

    #[test]
    fn text_before_and_repeated_blocks() {
        assert_eq!(run(&["  \n<think>a</think>b"]), ("a".into(), "b".into()));
        assert_eq!(run(&["Sure. <think>a</think>b"]), ("a".into(), "Sure. b".into()));
        let mut splitter = ThinkSplitter::new();
        assert_eq!(
            splitter.push("<think>a</think>b<think>c</think>d"),
            vec![reasoning("a"), text("b"), reasoning("c"), text("d")]
        );
        // A nested open tag is reasoning; the first close ends the block.
        assert_eq!(run(&["<think>x <think>y</think>z</think>"]), ("x <think>y".into(), "z</think>".into()));
    }

    #[test]
    fn missing_close_leaves_the_rest_as_reasoning() {
        let mut splitter = ThinkSplitter::new();
        assert_eq!(splitter.push("<think>\nStill going\n\n</thi"), vec![reasoning("Still going")]);
        assert_eq!(splitter.finish(), vec![reasoning("\n\n</thi")]);
    }

    #[test]
    fn split_whole_content() {
        assert_eq!(split_whole(SAMPLE), (Some("Let me see… 思考".into()), "The answer is 42.".into()));
        assert_eq!(split_whole("Plain <b>text</b> <"), (None, "Plain <b>text</b> <".into()));
        assert_eq!(split_whole("<think>\n\n</think>\n\nHi"), (Some(String::new()), "Hi".into()));
        assert_eq!(split_whole("<think>unfinished"), (Some("unfinished".into()), String::new()));
        assert_eq!(split_whole(""), (None, String::new()));
    }

    fn chunk(choices: Value) -> Map<String, Value> {
        let value = json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "qwen3-coder-plus",
            "choices": choices,
        });
        value.as_object().unwrap().clone()
    }

    fn rewritten(splitters: &mut BTreeMap<u64, ThinkSplitter>, choices: Value) -> Value {
        let mut c = chunk(choices);
        rewrite_chunk(&mut c, splitters);
        c["choices"].clone()
    }

    #[test]
    fn rewrite_chunk_stream() {
        let mut s = BTreeMap::new();
        let role = json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]);
        assert_eq!(rewritten(&mut s, role.clone()), role);
        assert_eq!(
            rewritten(&mut s, json!([{"index": 0, "delta": {"content": "<think>\nLet me"}, "finish_reason": null}])),
            json!([{"index": 0, "delta": {"reasoning_content": "Let me"}, "finish_reason": null}])
        );
        assert_eq!(
            rewritten(&mut s, json!([{"index": 0, "delta": {"content": " check.\n</th"}, "finish_reason": null}])),
            json!([{"index": 0, "delta": {"reasoning_content": " check."}, "finish_reason": null}])
        );
        // Only the held-back tag end: nothing to show yet, content stays as an empty string.
        assert_eq!(
            rewritten(&mut s, json!([{"index": 0, "delta": {"content": "ink"}, "finish_reason": null}])),
            json!([{"index": 0, "delta": {"content": ""}, "finish_reason": null}])
        );
        assert_eq!(
            rewritten(&mut s, json!([{"index": 0, "delta": {"content": ">\n\nThe answer"}, "finish_reason": null}])),
            json!([{"index": 0, "delta": {"content": "The answer"}, "finish_reason": null}])
        );
        assert_eq!(
            rewritten(&mut s, json!([{"index": 0, "delta": {"content": " is 42 <"}, "finish_reason": null}])),
            json!([{"index": 0, "delta": {"content": " is 42 "}, "finish_reason": null}])
        );
        // The finish chunk releases what was held.
        assert_eq!(
            rewritten(&mut s, json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])),
            json!([{"index": 0, "delta": {"content": "<"}, "finish_reason": "stop"}])
        );
        assert!(s.is_empty());
        let usage = json!([]);
        assert_eq!(rewritten(&mut s, usage.clone()), usage);
    }

    #[test]
    fn rewrite_chunk_edge_cases() {
        let mut s = BTreeMap::new();
        // Appends to reasoning the upstream already separated; choices keep their own splitters.
        assert_eq!(
            rewritten(
                &mut s,
                json!([
                    {"index": 0, "delta": {"reasoning_content": "a", "content": "<think>b"}},
                    {"index": 1, "delta": {"content": "plain <thi"}},
                ])
            ),
            json!([
                {"index": 0, "delta": {"reasoning_content": "ab"}},
                {"index": 1, "delta": {"content": "plain "}},
            ])
        );
        assert_eq!(
            rewritten(
                &mut s,
                json!([{"index": 1, "delta": {"content": "ng"}}, {"index": 0, "delta": {"content": "</think>c"}}])
            ),
            json!([{"index": 1, "delta": {"content": "<thing"}}, {"index": 0, "delta": {"content": "c"}}])
        );
        // Reasoning cut off by the finish: the held part comes out as reasoning, with no content.
        assert_eq!(
            rewritten(&mut s, json!([{"index": 0, "delta": {"content": "<think>x\n"}, "finish_reason": "length"}])),
            json!([{"index": 0, "delta": {"reasoning_content": "x\n"}, "finish_reason": "length"}])
        );
        // A finish without a delta gets one only when something was held.
        s.entry(2).or_default().push("<");
        assert_eq!(
            rewritten(&mut s, json!([{"index": 2, "finish_reason": "stop"}, {"index": 3, "finish_reason": "stop"}])),
            json!([
                {"index": 2, "finish_reason": "stop", "delta": {"content": "<"}},
                {"index": 3, "finish_reason": "stop"},
            ])
        );
        // Tool-call deltas and null content are left alone.
        let tools = json!([{"index": 1, "delta": {"content": null, "tool_calls": [{"index": 0, "id": "t"}]}}]);
        assert_eq!(rewritten(&mut s, tools.clone()), tools);
    }

    #[test]
    fn rewrite_completion_body() {
        let choice = |index: u64, message: Value| json!({"index": index, "message": message, "finish_reason": "stop"});
        let assistant = |content: &str| json!({"role": "assistant", "content": content});
        let tool_call = json!({"role": "assistant", "content": null, "tool_calls": []});
        let mut body = json!({
            "id": "chatcmpl-2", "object": "chat.completion", "model": "qwen3-coder-plus",
            "choices": [
                choice(0, assistant("<think>\nHmm.\n</think>\n\nHello")),
                choice(1, assistant("No tags <here>")),
                choice(2, assistant("<think>\n\n</think>\n\nHi")),
                choice(3, tool_call.clone()),
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        });
        rewrite_completion(body.as_object_mut().unwrap());
        assert_eq!(
            body["choices"],
            json!([
                choice(0, json!({"role": "assistant", "content": "Hello", "reasoning_content": "Hmm."})),
                choice(1, assistant("No tags <here>")),
                choice(2, assistant("Hi")),
                choice(3, tool_call),
            ])
        );
    }
}
