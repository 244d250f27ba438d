//! The unquoted-line scanner: reads a byte range of a CSV file in blocks and
//! splits each line on commas by hand, as long as no line needs real CSV
//! parsing (a quote character).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use super::tally::Tally;

/// Block size of each read: large enough that system calls are rare, small
/// enough that memory stays flat (one block per reading thread).
const BLOCK: usize = 1 << 20;

/// Why a scan ended before the end of its range.
#[derive(Debug)]
pub(super) enum Problem {
    /// The line holds a quote character: the rest needs the csv crate.
    Quoted,
    /// The line is malformed; the message says how.
    Malformed(String),
}

/// How a scan ended.
#[derive(Debug)]
pub(super) enum Scan {
    /// Every line of the range was counted.
    Finished,
    /// The scan stopped at a line it cannot count.
    Stopped {
        /// Byte offset of that line in the file.
        offset: u64,
        /// Its number among the lines the scan read (1 for the first).
        line: u64,
        problem: Problem,
    },
}

/// Which lines of the file a scan counts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Range64 {
    /// Where reading starts.
    pub(super) from: u64,
    /// Whether the text before the first newline belongs to the previous
    /// range (true for every range but the first, which starts on a line).
    pub(super) skip_first_line: bool,
    /// Lines starting at or after this offset belong to the next range.
    pub(super) until: u64,
}

/// Splits one line (without its newline) on commas: the spans of the
/// fields up to `last_needed` go to `spans`; returns the field count, or
/// `None` when the line holds a quote character.
///
/// Two vectorized passes over the line (a search for quotes, a count of
/// commas), then a byte loop over the needed fields only: cheaper than one
/// general-purpose loop over every byte with a branch per byte.
fn split(line: &[u8], last_needed: usize, spans: &mut Vec<Range<usize>>) -> Option<usize> {
    if memchr::memchr(b'"', line).is_some() {
        return None;
    }
    // Byte-wide counters per 128-byte chunk let the compiler count 16 or
    // 32 bytes per instruction.
    let commas: usize = line
        .chunks(128)
        .map(|chunk| {
            let mut n = 0u8;
            for &byte in chunk {
                n += u8::from(byte == b',');
            }
            usize::from(n)
        })
        .sum();
    spans.clear();
    let mut from = 0usize;
    for (at, &byte) in line.iter().enumerate() {
        if byte == b',' {
            spans.push(from..at);
            from = at + 1;
            if spans.len() > last_needed {
                break;
            }
        }
    }
    if spans.len() <= last_needed {
        spans.push(from..line.len());
    }
    Some(commas + 1)
}

/// The state of a scan between blocks of complete lines.
struct Scanner {
    range: Range64,
    skipping: bool,
    /// Lines read so far (blank ones included, as the csv crate counts).
    line: u64,
    /// Field spans of the current line, up to the last needed column.
    spans: Vec<Range<usize>>,
}

impl Scanner {
    /// Counts the complete lines of `text` (which ends with a newline and
    /// starts at file offset `offset`); `Some` when the scan ends here.
    fn lines(&mut self, text: &[u8], offset: u64, tally: &mut Tally) -> Option<Scan> {
        let layout = tally.layout();
        let mut line_start = 0usize;
        for at in memchr::memchr_iter(b'\n', text) {
            let line = &text[line_start..at];
            let line_offset = offset + line_start as u64;
            line_start = at + 1;
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if line_offset >= self.range.until {
                return Some(Scan::Finished);
            }
            self.line += 1;
            let stop = |problem| {
                Some(Scan::Stopped {
                    offset: line_offset,
                    line: self.line,
                    problem,
                })
            };
            let record = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(fields) = split(record, layout.last_needed, &mut self.spans) else {
                return stop(Problem::Quoted);
            };
            if record.is_empty() {
                continue; // the csv crate skips blank lines too
            }
            if fields != layout.width {
                return stop(Problem::Malformed(format!(
                    "expected {} fields, found {fields}",
                    layout.width
                )));
            }
            let spans = &self.spans;
            if let Err(message) = tally.vote(|i| &record[spans[i].clone()]) {
                return stop(Problem::Malformed(message));
            }
        }
        None
    }
}

/// Counts the lines of `range` into `tally`, reading `file` in blocks.
pub(super) fn scan(file: &mut File, range: Range64, tally: &mut Tally) -> std::io::Result<Scan> {
    file.seek(SeekFrom::Start(range.from))?;
    let mut scanner = Scanner {
        range,
        skipping: range.skip_first_line,
        line: 0,
        spans: Vec::with_capacity(tally.layout().last_needed + 1),
    };
    let mut buf = vec![0u8; BLOCK];
    // buf[start..filled] holds unread bytes; `base` is the file offset of buf[0].
    let (mut start, mut filled, mut base) = (0usize, 0usize, range.from);
    let mut eof = false;
    loop {
        // The complete lines in the buffer go to the scanner in one piece.
        if let Some(at) = memchr::memrchr(b'\n', &buf[start..filled]) {
            let complete = start + at + 1;
            if let Some(end) = scanner.lines(&buf[start..complete], base + start as u64, tally) {
                return Ok(end);
            }
            start = complete;
        }
        if eof {
            if start == filled {
                return Ok(Scan::Finished);
            }
            // A last line without a newline: give it one.
            if filled == buf.len() {
                buf.push(b'\n');
            } else {
                buf[filled] = b'\n';
            }
            filled += 1;
            continue;
        }
        // Move the partial line to the front, grow for very long lines,
        // and read more.
        buf.copy_within(start..filled, 0);
        base += start as u64;
        filled -= start;
        start = 0;
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = file.read(&mut buf[filled..])?;
        filled += n;
        eof = n == 0;
    }
}
