//! The line scanner: reads a byte range of a file in blocks and counts its
//! lines. CSV lines are split on commas by hand, as long as no line needs
//! real CSV parsing (a quote character); JSONL lines go to [`super::jsonl`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use super::RecordFormat;
use super::jsonl;
use super::tally::{Tally, word};

/// Block size of each read: large enough that system calls are rare, small
/// enough that memory stays flat (one block per reading thread).
const BLOCK: usize = 1 << 20;

/// Bytes read at a time past the end of a range, to finish its last line.
const LAST_LINE_READ: usize = 4096;

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
/// Two passes over different parts of the line. Up to the comma that ends
/// the last needed field, eight bytes at a time (SWAR): a mask of each
/// word's commas, visited one by one. After it, only the number of commas
/// matters, counted by a byte loop the compiler vectorizes. Several times
/// faster than a branch per byte, in safe, portable code.
fn split(line: &[u8], last_needed: usize, spans: &mut Vec<Range<usize>>) -> usize {
    spans.clear();
    let mut from = 0usize;
    let mut commas = 0usize;
    // The commas of the word at byte `start`; `Some(field count)` once the
    // last needed field is found.
    let mut visit = |start: usize, word: u64| -> Option<usize> {
        let mut found = matches(word, b',');
        while found != 0 {
            let at = start + (found.trailing_zeros() / 8) as usize;
            found &= found - 1;
            commas += 1;
            spans.push(from..at);
            from = at + 1;
            if spans.len() > last_needed {
                // The rest of this word's commas, then the rest of the line.
                let rest = (found >> 7).wrapping_mul(0x0101_0101_0101_0101) >> 56;
                let counted_to = (start + 8).min(line.len());
                return Some(commas + rest as usize + count(&line[counted_to..], b',') + 1);
            }
        }
        None
    };
    let mut words = line.chunks_exact(8);
    let mut start = 0;
    for eight in &mut words {
        let word = u64::from_le_bytes(eight.try_into().unwrap_or_default());
        if let Some(fields) = visit(start, word) {
            return fields;
        }
        start += 8;
    }
    if let Some(fields) = visit(start, word(words.remainder())) {
        return fields;
    }
    spans.push(from..line.len());
    commas + 1
}

/// How many bytes of `bytes` equal `byte`: per run of 255 bytes, one byte
/// counter that cannot overflow, which keeps the loop vectorizable.
fn count(bytes: &[u8], byte: u8) -> usize {
    bytes
        .chunks(255)
        .map(|run| {
            run.iter()
                .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == byte)))
        })
        .map(usize::from)
        .sum()
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
        // CSV: one search for a quote over the whole text, not one per
        // line: lines before the first quote need no check. (JSON lines are
        // all quotes, and need none.)
        let quotes_from = match layout.format {
            RecordFormat::Csv => memchr::memchr(b'"', text).map_or(u64::MAX, |at| {
                let line = memchr::memrchr(b'\n', &text[..at]).map_or(0, |nl| nl + 1);
                offset + line as u64
            }),
            RecordFormat::Jsonl => u64::MAX,
        };
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
            let record = line.strip_suffix(b"\r").unwrap_or(line);
            let counted = match layout.format {
                RecordFormat::Csv
                    if quotes_from <= line_offset && memchr::memchr(b'"', record).is_some() =>
                {
                    Err(Problem::Quoted)
                }
                RecordFormat::Csv => self.csv_record(record, line_offset, tally),
                RecordFormat::Jsonl => json_record(record, line_offset, tally),
            };
            if let Err(problem) = counted {
                return Some(Scan::Stopped {
                    offset: line_offset,
                    line: self.line,
                    problem,
                });
            }
        }
        None
    }

    /// Counts one unquoted CSV line (blank lines are skipped, as the csv
    /// crate does).
    fn csv_record(&mut self, record: &[u8], at: u64, tally: &mut Tally) -> Result<(), Problem> {
        if record.is_empty() {
            return Ok(());
        }
        let layout = tally.layout();
        let fields = split(record, layout.last_needed, &mut self.spans);
        if fields != layout.width {
            return Err(Problem::Malformed(format!(
                "expected {} fields, found {fields}",
                layout.width
            )));
        }
        let spans = &self.spans;
        tally
            .vote(at, |i| &record[spans[i].clone()])
            .map_err(Problem::Malformed)
    }
}

/// Counts one JSONL line (blank lines are skipped, as the general reader
/// does); see [`super::jsonl`].
fn json_record(record: &[u8], at: u64, tally: &mut Tally) -> Result<(), Problem> {
    let record = record.trim_ascii();
    if record.is_empty() {
        return Ok(());
    }
    jsonl::vote(record, at, tally).map_err(Problem::Malformed)
}

/// Counts the lines of `range` into `tally`, reading `file` in blocks into
/// `buf` (kept by the caller across ranges).
pub(super) fn scan(
    file: &mut File,
    range: Range64,
    tally: &mut Tally,
    buf: &mut Vec<u8>,
) -> std::io::Result<Scan> {
    file.seek(SeekFrom::Start(range.from))?;
    let mut scanner = Scanner {
        range,
        skipping: range.skip_first_line,
        line: 0,
        spans: Vec::with_capacity(tally.layout().last_needed + 1),
    };
    if buf.len() < BLOCK {
        buf.resize(BLOCK, 0);
    }
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
        // Read no further than the range (and the end of its last line)
        // needs: ranges are small parts of large files.
        let needed = range.until.saturating_sub(base + filled as u64);
        let want = usize::try_from(needed)
            .unwrap_or(usize::MAX)
            .max(LAST_LINE_READ)
            .min(buf.len() - filled);
        let n = file.read(&mut buf[filled..filled + want])?;
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
