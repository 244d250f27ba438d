//! An incremental server-sent-events parser.
//!
//! Bytes arrive in arbitrary pieces (an event may straddle two reads, a read
//! may hold many events), so the parser keeps the unfinished line and the
//! fields of the event being built, and hands out each event as soon as its
//! blank line arrives. It follows the WHATWG rules the clients of Arena rely
//! on: `event:` and `data:` fields (several `data:` lines joined by `\n`),
//! `:` comments ignored, `\n` or `\r\n` line ends.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, `message` when absent.
    pub name: String,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

/// Parser state between reads.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    name: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds one read; appends every event it completes to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = bytes;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            // Only copy when a line straddles reads; the common case parses
            // straight from the network buffer.
            if self.line.is_empty() {
                self.line_done(&rest[..newline], out);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..newline]);
                self.line_done(&line, out);
            }
            rest = &rest[newline + 1..];
        }
        self.line.extend_from_slice(rest);
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            // A blank line dispatches; an event with no data is dropped, as
            // browsers do.
            let name = self.name.take();
            if let Some(data) = self.data.take() {
                out.push(SseEvent {
                    name: name.unwrap_or_else(|| "message".to_owned()),
                    data,
                });
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.name = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &str, piece: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(piece) {
            parser.feed(chunk, &mut out);
        }
        out
    }

    #[test]
    fn events_split_anywhere_parse_the_same() {
        let input = ": keep-alive\n\nevent: delta\ndata: {\"a\":1}\n\nevent: end\r\ndata: x\r\ndata: y\r\n\r\ndata: plain\n\n";
        let whole = parse_in_pieces(input, input.len());
        assert_eq!(
            whole,
            vec![
                SseEvent {
                    name: "delta".into(),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    name: "end".into(),
                    data: "x\ny".into()
                },
                SseEvent {
                    name: "message".into(),
                    data: "plain".into()
                },
            ]
        );
        for piece in 1..8 {
            assert_eq!(parse_in_pieces(input, piece), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        assert!(parse_in_pieces("event: delta\ndata: x\n", 3).is_empty());
    }
}
