//! Votes folded into per-cell counts while a CSV file is read: the state one
//! reader (or one thread's share of the file) builds, and how shares merge.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use arena_core::{ParseWinnerError, Winner};
use arena_rating::ModelId;

use super::super::Gathered;
use super::RecordFormat;

/// A multiplicative hash over 8-byte words (FxHash's construction): model
/// names are short and few, and the file is the user's own, so a fast
/// non-keyed hash is the right trade.
#[derive(Default)]
pub(super) struct Fx(u64);

impl Fx {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        // hashbrown picks buckets from the low bits: fold the well-mixed
        // high bits of the multiplications down.
        self.0 ^ (self.0 >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        }
        let mut tail = [0u8; 8];
        let rest = words.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(tail));
    }

    fn write_u64(&mut self, value: u64) {
        self.mix(value);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// Where the needed columns sit in each record: from a CSV header, or
/// fixed for JSONL ([`Layout::JSONL`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    /// How lines hold their fields.
    pub(super) format: RecordFormat,
    /// Positions of model_a, model_b and winner.
    pub(super) columns: [usize; 3],
    /// Position of the `--category` column, when one is asked for.
    pub(super) category: Option<usize>,
    /// Number of fields every record must have.
    pub(super) width: usize,
    /// The highest position among the needed columns.
    pub(super) last_needed: usize,
}

impl Layout {
    /// A JSONL line's fields, as [`super::jsonl::vote`] hands them over.
    pub(super) const JSONL: Layout = Layout {
        format: RecordFormat::Jsonl,
        columns: [0, 1, 2],
        category: None,
        width: 3,
        last_needed: 2,
    };
}

fn slot(winner: Winner) -> usize {
    match winner {
        Winner::ModelA => 0,
        Winner::ModelB => 1,
        Winner::Tie => 2,
        Winner::BothBad => 3,
    }
}

/// The general reader's booleans (`parse_bool` in arena-datasets).
fn is_true(field: &[u8]) -> bool {
    matches!(field.trim_ascii(), b"true" | b"True" | b"TRUE" | b"1")
}

/// The winner column: the spellings of `Winner::from_str` and the general
/// reader's messages.
fn winner(field: &[u8]) -> Result<Winner, String> {
    // The exact spellings first: parsing through a lossy string and a trim
    // was a tenth of the time of a million-row file.
    if let Some(winner) = Winner::from_exact_bytes(field) {
        return Ok(winner);
    }
    let text = String::from_utf8_lossy(field);
    if text.trim().is_empty() {
        return Err("missing winner".into());
    }
    text.parse()
        .map_err(|error: ParseWinnerError| format!("unknown winner {:?}", error.0))
}

/// Model names interned to small integers, in order of first appearance.
struct Names {
    index: FastMap<Vec<u8>, u32>,
    names: Vec<String>,
    /// Per name, where this tally first saw it: twice the file offset of the
    /// line, plus one in column model_b.
    first_seen: Vec<u64>,
    /// A direct-mapped cache in front of `index`, keyed by length and first
    /// and last eight bytes: for names up to 16 bytes that key is the name
    /// itself, so a hit costs three integer compares instead of a hash of
    /// the bytes, a probe and a `memcmp` (a quarter of the time of a
    /// million-row read before it). Longer names are confirmed byte for byte.
    cache: Vec<CachedName>,
}

#[derive(Debug, Clone, Copy, Default)]
struct CachedName {
    /// 0 for an empty slot (names are never empty).
    len: usize,
    head: u64,
    tail: u64,
    id: u32,
}

const NAME_CACHE_SLOTS: usize = 4096;

/// The first eight bytes (all of them when fewer) as a little-endian word,
/// zero-padded.
///
/// Built from fixed-size loads: copying a short slice of variable length
/// into a padded array called `memcpy` twice per line and name, a tenth
/// of the time of a million-row file.
pub(super) fn word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let byte = |i: usize| u64::from(bytes[i]);
    let u32_at = |i: usize| {
        let mut four = [0u8; 4];
        four.copy_from_slice(&bytes[i..i + 4]);
        u64::from(u32::from_le_bytes(four))
    };
    match len {
        0 => 0,
        // Three bytes read at 0, len/2 and len-1 cover every position.
        1..=3 => byte(0) | byte(len / 2) << (8 * (len / 2)) | byte(len - 1) << (8 * (len - 1)),
        // Two overlapping four-byte loads; the overlap holds equal bytes.
        4..=7 => u32_at(0) | u32_at(len - 4) << (8 * (len - 4)),
        _ => {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(&bytes[..8]);
            u64::from_le_bytes(eight)
        }
    }
}

impl Default for Names {
    fn default() -> Self {
        Names {
            index: FastMap::default(),
            names: Vec::new(),
            first_seen: Vec::new(),
            cache: vec![CachedName::default(); NAME_CACHE_SLOTS],
        }
    }
}

impl Names {
    /// The number of the name in `field`, read at position `at` (see
    /// `first_seen`).
    fn intern(&mut self, field: &[u8], column: &str, at: u64) -> Result<u32, String> {
        let len = field.len();
        let head = word(&field[..len.min(8)]);
        let tail = word(&field[len.saturating_sub(8)..]);
        let slot = ((head ^ tail.rotate_left(29) ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> (64 - NAME_CACHE_SLOTS.trailing_zeros())) as usize;
        let cached = self.cache[slot];
        if cached.len == len
            && cached.head == head
            && cached.tail == tail
            && (len <= 16 || self.names[cached.id as usize].as_bytes() == field)
        {
            return Ok(cached.id);
        }
        let id = match self.index.get(field) {
            Some(&i) => i,
            None => {
                if field.is_empty() {
                    return Err("missing model_a or model_b".into());
                }
                let name = std::str::from_utf8(field)
                    .map_err(|_| format!("column {column:?} is not valid UTF-8"))?;
                self.insert(name, at)
            }
        };
        self.cache[slot] = CachedName {
            len,
            head,
            tail,
            id,
        };
        Ok(id)
    }

    fn insert(&mut self, name: &str, at: u64) -> u32 {
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.first_seen.push(at);
        self.index.insert(name.as_bytes().to_vec(), i);
        i
    }
}

/// Up to this many models, counts live in a dense matrix indexed by the
/// two model numbers (16 bytes per cell: 4 MiB at this size). A million
/// votes are a million random increments; a hash table costs two cache
/// misses for each (measured: half the time of a whole `arena leaderboard`
/// run at 200 models), the matrix one. Beyond it, a hash map of the pairs
/// that occur keeps memory proportional to the data.
const DENSE_MAX_MODELS: usize = 512;

/// Per-(ordered pair, outcome) vote counts.
enum Cells {
    /// `counts[a * side + b]`, u32 per outcome to keep the matrix in cache;
    /// the rare cell past u32::MAX carries its high part in `overflow`.
    Dense {
        side: usize,
        counts: Vec<[u32; 4]>,
        overflow: FastMap<u64, [u64; 4]>,
    },
    /// Pairs that occur, for many models.
    Sparse(FastMap<u64, [u64; 4]>),
}

/// `len` zeroed cells, written rather than allocated zeroed.
///
/// `vec![[0; 4]; len]` asks the allocator for zeroed memory, which the
/// kernel backs with its shared zero page on a first read; the read of an
/// increment then maps that page, and its write replaces it, flushing the
/// other core's TLB by interrupt. Hundreds of those per tally were 7 % of a
/// whole `arena leaderboard` run (`perf record`: `do_wp_page` →
/// `flush_tlb_mm_range` under the scan). Writing the zeros first faults
/// each page in once, writable.
fn written_zeros(len: usize) -> Vec<[u32; 4]> {
    let mut counts = Vec::with_capacity(len);
    counts.resize(len, [0; 4]);
    counts
}

fn pair_key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

impl Cells {
    fn new() -> Self {
        Cells::Dense {
            side: 0,
            counts: Vec::new(),
            overflow: FastMap::default(),
        }
    }

    /// Makes room for models numbered below `models`.
    fn reserve(&mut self, models: usize) {
        let Cells::Dense { side, .. } = self else {
            return;
        };
        if models <= *side {
            return;
        }
        let old = std::mem::replace(self, Cells::Sparse(FastMap::default()));
        let totals = old.totals();
        *self = if models <= DENSE_MAX_MODELS {
            let side = models.next_power_of_two().clamp(16, DENSE_MAX_MODELS);
            Cells::Dense {
                side,
                counts: written_zeros(side * side),
                overflow: FastMap::default(),
            }
        } else {
            Cells::Sparse(FastMap::default())
        };
        for (a, b, counts) in totals {
            for (slot, n) in counts.into_iter().enumerate() {
                self.add(a, b, slot, n);
            }
        }
    }

    /// Adds `n` votes to one cell; both models must be reserved.
    fn add(&mut self, a: u32, b: u32, slot: usize, n: u64) {
        match self {
            Cells::Dense {
                side,
                counts,
                overflow,
            } => {
                let cell = &mut counts[a as usize * *side + b as usize][slot];
                let total = u64::from(*cell) + n;
                // The low 32 bits stay in the matrix, the rest (almost
                // never any) in the overflow map.
                *cell = total as u32;
                let high = total & !u64::from(u32::MAX);
                if high > 0 {
                    overflow.entry(pair_key(a, b)).or_default()[slot] += high;
                }
            }
            Cells::Sparse(map) => map.entry(pair_key(a, b)).or_default()[slot] += n,
        }
    }

    /// Every non-empty cell as (a, b, counts), ordered by (a, b): the same
    /// order whatever the representation, so a split read replays exactly
    /// like a single one.
    fn totals(&self) -> Vec<(u32, u32, [u64; 4])> {
        let mut cells: Vec<(u32, u32, [u64; 4])> = match self {
            Cells::Dense {
                side,
                counts,
                overflow,
            } => {
                let mut cells = Vec::new();
                for (i, cell) in counts.iter().enumerate() {
                    if cell.iter().any(|&n| n > 0) {
                        cells.push(((i / side) as u32, (i % side) as u32, cell.map(u64::from)));
                    }
                }
                for (&key, high) in overflow {
                    let (a, b) = ((key >> 32) as u32, key as u32);
                    match cells.iter_mut().find(|c| c.0 == a && c.1 == b) {
                        Some(cell) => (0..4).for_each(|k| cell.2[k] += high[k]),
                        None => cells.push((a, b, *high)),
                    }
                }
                cells
            }
            Cells::Sparse(map) => map
                .iter()
                .map(|(&key, &counts)| ((key >> 32) as u32, key as u32, counts))
                .collect(),
        };
        cells.sort_unstable_by_key(|&(a, b, _)| (a, b));
        cells
    }
}

/// Increments queued before they are applied; see [`Tally::vote`].
const PENDING: usize = 256;

/// Votes folded into per-(ordered pair, outcome) counts.
pub(super) struct Tally {
    layout: Layout,
    names: Names,
    cells: Cells,
    /// Models `cells` has room for.
    models_reserved: usize,
    /// (a, b, outcome slot) of votes read but not yet counted.
    pending: Vec<(u32, u32, u8)>,
    /// Votes in file order, for Elo only.
    ordered: Option<Vec<(u32, u32, Winner)>>,
}

impl Tally {
    /// An empty tally; `keep_order` also records every vote in order (Elo).
    pub(super) fn new(layout: Layout, keep_order: bool) -> Self {
        Tally {
            layout,
            names: Names::default(),
            cells: Cells::new(),
            models_reserved: 0,
            pending: Vec::with_capacity(PENDING),
            ordered: keep_order.then(Vec::new),
        }
    }

    /// The record layout this tally reads.
    pub(super) fn layout(&self) -> Layout {
        self.layout
    }

    /// Counts one record, given as an indexable list of fields; the error
    /// says what is wrong with it (the caller knows where it is).
    /// `at` is the record's file offset: it orders the names by first
    /// appearance when the file is read in parts.
    pub(super) fn vote<'r>(
        &mut self,
        at: u64,
        field: impl Fn(usize) -> &'r [u8],
    ) -> Result<(), String> {
        if let Some(c) = self.layout.category
            && !is_true(field(c))
        {
            return Ok(());
        }
        let [col_a, col_b, col_winner] = self.layout.columns;
        // Positions of first appearance: model_a comes before model_b of
        // the same line.
        let a = self.names.intern(field(col_a), "model_a", 2 * at)?;
        let b = self.names.intern(field(col_b), "model_b", 2 * at + 1)?;
        let winner = winner(field(col_winner))?;
        // New names are rare: the cells grow only then.
        if a.max(b) as usize >= self.models_reserved {
            self.models_reserved = self.names.names.len();
            self.cells.reserve(self.models_reserved);
        }
        // Increments go to random cells of a matrix larger than the L2
        // cache. Applied one per line, each waits for its cache miss;
        // queued and applied in a tight loop, the processor overlaps the
        // misses of many.
        self.pending.push((a, b, slot(winner) as u8));
        if self.pending.len() == PENDING {
            self.flush();
        }
        if let Some(ordered) = &mut self.ordered {
            ordered.push((a, b, winner));
        }
        Ok(())
    }

    /// Applies the queued increments.
    fn flush(&mut self) {
        for (a, b, slot) in self.pending.drain(..) {
            self.cells.add(a, b, usize::from(slot), 1);
        }
    }

    /// Adds the tally of other parts of the file. Names new to this tally
    /// are numbered after the existing ones, and each name keeps the
    /// earliest offset either saw it at, so that [`Tally::finish`] can
    /// number them in order of first appearance in the file.
    /// Order-keeping (Elo) tallies are never split, so `other` has no
    /// ordered votes.
    pub(super) fn merge(&mut self, mut other: Tally) {
        self.flush();
        other.flush();
        let renumber: Vec<u32> = other
            .names
            .names
            .iter()
            .zip(&other.names.first_seen)
            .map(|(name, &at)| match self.names.index.get(name.as_bytes()) {
                Some(&i) => {
                    let seen = &mut self.names.first_seen[i as usize];
                    *seen = (*seen).min(at);
                    i
                }
                None => self.names.insert(name, at),
            })
            .collect();
        self.models_reserved = self.names.names.len();
        self.cells.reserve(self.models_reserved);
        for (a, b, counts) in other.cells.totals() {
            let (a, b) = (renumber[a as usize], renumber[b as usize]);
            for (slot, n) in counts.into_iter().enumerate() {
                if n > 0 {
                    self.cells.add(a, b, slot, n);
                }
            }
        }
    }

    /// Hands the counts (and, for Elo, the ordered votes) to the fit.
    pub(super) fn finish(mut self, gathered: &mut Gathered) {
        self.flush();
        let Tally {
            names,
            cells,
            ordered,
            ..
        } = self;
        let cells = cells.totals();
        if let Some(ordered) = ordered {
            gathered.ordered = ordered;
            gathered.index = names
                .names
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), i as u32))
                .collect();
            gathered.names.clone_from(&names.names);
        }
        // Models numbered in order of first appearance in the file, and the
        // cells handed over in that numbering's order: whatever parts the
        // file was read in, the fit sees what a single reader would give.
        let mut by_first_seen: Vec<usize> = (0..names.names.len()).collect();
        by_first_seen.sort_by_key(|&i| names.first_seen[i]);
        let mut rank = vec![0usize; names.names.len()];
        for (r, &i) in by_first_seen.iter().enumerate() {
            rank[i] = r;
        }
        let comparisons = &mut gathered.comparisons;
        let ids: Vec<ModelId> = by_first_seen
            .iter()
            .map(|&i| comparisons.model(&names.names[i]))
            .collect();
        let mut cells = cells;
        cells.sort_unstable_by_key(|&(a, b, _)| (rank[a as usize], rank[b as usize]));
        for (a, b, [model_a, model_b, tie, both_bad]) in cells {
            comparisons.add_counts(
                ids[rank[a as usize]],
                ids[rank[b as usize]],
                &[
                    (Winner::ModelA, model_a),
                    (Winner::ModelB, model_b),
                    (Winner::Tie, tie),
                    (Winner::BothBad, both_bad),
                ],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_tallies_number_models_by_first_appearance_in_the_file() {
        let layout = Layout {
            format: RecordFormat::Csv,
            columns: [0, 1, 2],
            category: None,
            width: 3,
            last_needed: 2,
        };
        let line = |tally: &mut Tally, at: u64, fields: [&'static str; 3]| {
            tally.vote(at, |i| fields[i].as_bytes()).unwrap();
        };
        // The later part of the file was read first, by another thread.
        let mut later = Tally::new(layout, false);
        line(&mut later, 900, ["y", "z", "tie"]);
        let mut earlier = Tally::new(layout, false);
        line(&mut earlier, 10, ["x", "y", "model_a"]);
        line(&mut earlier, 20, ["w", "x", "model_b"]);
        later.merge(earlier);
        let mut gathered = Gathered::default();
        later.finish(&mut gathered);
        assert_eq!(gathered.comparisons.model_names(), ["x", "y", "w", "z"]);
        assert_eq!(gathered.comparisons.total_votes(), 3);
    }

    #[test]
    fn words_are_the_zero_padded_first_eight_bytes() {
        let text = b"abcdefghij";
        for len in 0..=text.len() {
            let bytes = &text[..len];
            let mut padded = [0u8; 8];
            let n = len.min(8);
            padded[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(word(bytes), u64::from_le_bytes(padded), "{len}");
        }
    }

    #[test]
    fn winners_take_every_spelling_and_name_the_bad_ones() {
        assert_eq!(winner(b"model_a"), Ok(Winner::ModelA));
        assert_eq!(winner(b" tie (bothbad) "), Ok(Winner::BothBad));
        assert_eq!(winner(b"both_bad"), Ok(Winner::BothBad));
        assert_eq!(winner(b"  "), Err("missing winner".into()));
        assert_eq!(winner(b"draw"), Err("unknown winner \"draw\"".into()));
    }

    #[test]
    fn dense_cells_carry_counts_past_u32() {
        let mut cells = Cells::new();
        cells.reserve(3);
        cells.add(2, 1, 3, u64::from(u32::MAX));
        cells.add(2, 1, 3, 7);
        cells.add(0, 2, 0, 1);
        assert_eq!(
            cells.totals(),
            [
                (0, 2, [1, 0, 0, 0]),
                (2, 1, [0, 0, 0, u64::from(u32::MAX) + 7])
            ]
        );
    }

    #[test]
    fn many_models_move_to_sparse_cells_without_losing_counts() {
        let mut cells = Cells::new();
        let mut expected = Vec::new();
        for model in 0..DENSE_MAX_MODELS as u32 + 40 {
            cells.reserve(model as usize + 1);
            let other = model / 2;
            cells.add(model, other, 1, 2);
            expected.push((model, other, [0, 2, 0, 0]));
        }
        assert!(matches!(cells, Cells::Sparse(_)));
        expected.sort_unstable_by_key(|&(a, b, _)| (a, b));
        assert_eq!(cells.totals(), expected);
    }
}
