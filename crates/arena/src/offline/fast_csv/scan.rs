//! The unquoted-line scanner: reads a byte range of a CSV file in blocks and
//! splits each line on commas by hand, as long as no line needs real CSV
//! parsing (a quote character).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use super::tally::{Tally, word};

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

/// Bytes equal to `byte` in the word, as the high bit of each matching byte
/// (exact: no false positives from borrows across bytes).
fn matches(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// Splits one line (without its newline, and known to hold no quote) on
/// commas: the spans of the fields up to `last_needed` go to `spans`, and
/// the field count is returned.
///
/// Eight bytes at a time (SWAR): per word a mask of its commas; the masks'
/// high bits are summed lane-wise and added up once per line, and only
/// the commas that end a needed field are visited one by one. Several
/// times faster than a loop with a branch per byte, in safe, portable code.
fn split(line: &[u8], last_needed: usize, spans: &mut Vec<Range<usize>>) -> usize {
    spans.clear();
    // Per byte lane, how many commas. The lanes are added up by one
    // multiplication into the top byte, which holds at most 255: every 31
    // words (8 lanes × 31 ≤ 255) the sum is taken and the lanes restart.
    let mut lanes = 0u64;
    let mut commas = 0usize;
    let mut from = 0usize;
    let words = line.chunks_exact(8);
    let tail = word(words.remainder());
    let words = words
        .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
        .chain(std::iter::once(tail));
    for (index, word) in words.enumerate() {
        let mut found = matches(word, b',');
        lanes += found >> 7;
        while found != 0 && spans.len() <= last_needed {
            let at = index * 8 + (found.trailing_zeros() / 8) as usize;
            found &= found - 1;
            spans.push(from..at);
            from = at + 1;
        }
        if (index + 1).is_multiple_of(31) {
            commas += (lanes.wrapping_mul(0x0101_0101_0101_0101) >> 56) as usize;
            lanes = 0;
        }
    }
    commas += (lanes.wrapping_mul(0x0101_0101_0101_0101) >> 56) as usize;
    if spans.len() <= last_needed {
        spans.push(from..line.len());
    }
    commas + 1
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
        // One search for a quote over the whole text, not one per line:
        // lines before the first quote need no check.
        let quotes_from = memchr::memchr(b'"', text).map_or(u64::MAX, |at| {
            let line = memchr::memrchr(b'\n', &text[..at]).map_or(0, |nl| nl + 1);
            offset + line as u64
        });
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
            if quotes_from <= line_offset && memchr::memchr(b'"', record).is_some() {
                return stop(Problem::Quoted);
            }
            if record.is_empty() {
                continue; // the csv crate skips blank lines too
            }
            let fields = split(record, layout.last_needed, &mut self.spans);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious byte-by-byte split, as the reference.
    fn naive(line: &[u8], last_needed: usize) -> (Vec<Range<usize>>, usize) {
        let mut spans = Vec::new();
        let mut from = 0;
        for (at, &byte) in line.iter().enumerate() {
            if byte == b',' {
                spans.push(from..at);
                from = at + 1;
            }
        }
        spans.push(from..line.len());
        let fields = spans.len();
        spans.truncate(last_needed + 1);
        (spans, fields)
    }

    #[test]
    fn word_at_a_time_split_matches_the_byte_loop() {
        let mut spans = Vec::new();
        let mut lines: Vec<Vec<u8>> = [
            "",
            ",",
            "a",
            "a,b,c,d",
            "0123456,89abcdef,x,,,",
            "0000000000000000,model-021,model-170,both_bad,judge_00000000,1,True,1700000000.0",
            ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,",
            "é,ü,\u{0}\u{7f}\u{80},ÿ",
        ]
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .collect();
        // Longer than 31 words: the per-lane counters are added up in rounds.
        lines.push(",".repeat(3_000).into_bytes());
        lines.push(format!("a,{}b", "x,".repeat(1_500)).into_bytes());
        for line in &lines {
            for last_needed in [0, 1, 3, 7] {
                let fields = split(line, last_needed, &mut spans);
                let (expected, expected_fields) = naive(line, last_needed);
                assert_eq!(
                    fields,
                    expected_fields,
                    "{:?}",
                    String::from_utf8_lossy(line)
                );
                assert_eq!(spans, expected, "{:?}", String::from_utf8_lossy(line));
            }
        }
    }
}
