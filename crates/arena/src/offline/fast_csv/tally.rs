//! Votes folded into per-cell counts while a CSV file is read: the state one
//! reader (or one thread's share of the file) builds, and how shares merge.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use arena_core::{ParseWinnerError, Winner};
use arena_rating::ModelId;

use super::super::Gathered;

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

/// Where the needed columns sit in each record, from the header.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    /// Positions of model_a, model_b and winner.
    pub(super) columns: [usize; 3],
    /// Position of the `--category` column, when one is asked for.
    pub(super) category: Option<usize>,
    /// Number of fields every record must have.
    pub(super) width: usize,
    /// The highest position among the needed columns.
    pub(super) last_needed: usize,
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

/// Up to eight bytes as a little-endian word, zero-padded.
pub(super) fn word(bytes: &[u8]) -> u64 {
    let mut padded = [0u8; 8];
    padded[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(padded)
}

impl Default for Names {
    fn default() -> Self {
        Names {
            index: FastMap::default(),
            names: Vec::new(),
            cache: vec![CachedName::default(); NAME_CACHE_SLOTS],
        }
    }
}

impl Names {
    fn intern(&mut self, field: &[u8], column: &str) -> Result<u32, String> {
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
                self.insert(name)
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

    fn insert(&mut self, name: &str) -> u32 {
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
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
                counts: vec![[0; 4]; side * side],
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
    pub(super) fn vote<'r>(&mut self, field: impl Fn(usize) -> &'r [u8]) -> Result<(), String> {
        if let Some(c) = self.layout.category
            && !is_true(field(c))
        {
            return Ok(());
        }
        let [col_a, col_b, col_winner] = self.layout.columns;
        let a = self.names.intern(field(col_a), "model_a")?;
        let b = self.names.intern(field(col_b), "model_b")?;
        let winner = winner(field(col_winner))?;
        self.cells.reserve(self.names.names.len());
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

    /// Adds the tally of the part of the file that follows this one's, as
    /// if this reader had gone on reading it: names new to this tally are
    /// numbered after the existing ones, in the other's order. Order-keeping
    /// (Elo) tallies are never split, so `later` has no ordered votes.
    pub(super) fn merge(&mut self, mut later: Tally) {
        self.flush();
        later.flush();
        let renumber: Vec<u32> = later
            .names
            .names
            .iter()
            .map(|name| match self.names.index.get(name.as_bytes()) {
                Some(&i) => i,
                None => self.names.insert(name),
            })
            .collect();
        self.cells.reserve(self.names.names.len());
        for (a, b, counts) in later.cells.totals() {
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
        let comparisons = &mut gathered.comparisons;
        let ids: Vec<ModelId> = names.names.iter().map(|n| comparisons.model(n)).collect();
        for (a, b, [model_a, model_b, tie, both_bad]) in cells {
            comparisons.add_counts(
                ids[a as usize],
                ids[b as usize],
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
