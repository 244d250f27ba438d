//! A small, lenient server-sent-events parser.
//!
//! Written here rather than taken from async-openai because upstreams bend
//! the format: keep-alive comments, `data:` without a space, `\r\n` line
//! ends, a last event without its blank line. Lines end with `\n` or
//! `\r\n` (a lone `\r` is not a line end; no known upstream sends one).

/// One dispatched event: its `event:` name (empty when absent) and its
/// `data:` lines joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Turns a byte stream, fed in arbitrary pieces, into events.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// Bytes of an unfinished line. Lines are decoded whole, so a UTF-8
    /// character split across two network reads is never broken.
    partial: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Feeds the next bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(end);
            rest = &tail[1..];
            if self.partial.is_empty() {
                self.line(line, &mut events);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole, &mut events);
            }
        }
        self.partial.extend_from_slice(rest);
        events
    }

    /// The stream ended: dispatches a last event that lacked its blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut events = Vec::new();
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, &mut events);
        }
        self.dispatch(&mut events);
        events.pop()
    }

    fn line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line[0] == b':' {
            return; // a comment, typically a keep-alive
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
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
            "event" => value.clone_into(&mut self.event),
            _ => {} // id, retry and unknown fields mean nothing to us
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if self.has_data {
            self.has_data = false;
            events.push(SseEvent {
                event,
                data: std::mem::take(&mut self.data),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at every `|`, then finishes.
    fn check(input: &str, expected: &[(&str, &str)]) {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for piece in input.split('|') {
            events.extend(parser.feed(piece.as_bytes()));
        }
        events.extend(parser.finish());
        let got: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.event.as_str(), e.data.as_str()))
            .collect();
        assert_eq!(got, expected, "input {input:?}");
    }

    #[test]
    fn parses_events_however_they_are_split() {
        check("data: a\n\ndata: b\n\n", &[("", "a"), ("", "b")]);
        check("da|ta: a\n|\ndata: b|\n\n", &[("", "a"), ("", "b")]);
        check("data:no-space\n\n", &[("", "no-space")]);
        check("data: a\r\n\r\ndata: b\r\n\r\n", &[("", "a"), ("", "b")]);
        check("data: one\ndata: two\n\n", &[("", "one\ntwo")]);
        check("event: error\ndata: {}\n\n", &[("error", "{}")]);
    }

    #[test]
    fn skips_comments_and_empty_events() {
        check(": keep-alive\n\n: ping\n\ndata: x\n\n", &[("", "x")]);
        check("\n\n\n", &[]);
        check("id: 7\nretry: 10\n\n", &[]);
    }

    #[test]
    fn tolerates_a_missing_final_blank_line() {
        check("data: a\n\ndata: [DONE]", &[("", "a"), ("", "[DONE]")]);
        check("data: [DONE]\n", &[("", "[DONE]")]);
    }

    #[test]
    fn keeps_multibyte_characters_split_across_reads() {
        let text = "data: héllo\n\n".as_bytes();
        let mut parser = SseParser::default();
        let mut events = parser.feed(&text[..8]);
        events.extend(parser.feed(&text[8..]));
        assert_eq!(events[0].data, "héllo");
    }
}
