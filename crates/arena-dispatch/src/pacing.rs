//! Revealing the two answers of a turn according to the streaming mode.
//!
//! Sits between the two side tasks and the caller. In every mode a side's
//! deltas concatenate to its whole answer and are followed by exactly one
//! terminal event; only timing and interleaving change.

use std::time::Duration;

use arena_core::Side;
use tokio::{sync::mpsc, time::MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::{Failure, FailureKind, SideStats, StreamingMode, TurnEvent};

/// How often paired mode reveals text.
pub(crate) const PAIRED_TICK: Duration = Duration::from_millis(40);

/// Least characters paired mode may reveal per side and tick (about 1,200
/// a second); more when a backlog builds up, so that any backlog is shown
/// within [`BACKLOG_TICKS`] ticks.
pub(crate) const PAIRED_CHARS_PER_TICK: usize = 48;

/// See [`PAIRED_CHARS_PER_TICK`].
const BACKLOG_TICKS: usize = 25;

/// Forwards the sides' events (`input`) to `output` as `mode` says.
pub(crate) async fn reveal(
    mode: StreamingMode,
    input: mpsc::Receiver<TurnEvent>,
    output: mpsc::Sender<TurnEvent>,
    cancel: CancellationToken,
) {
    match mode {
        StreamingMode::Live => live(input, output).await,
        StreamingMode::Paired => paired(input, output, cancel).await,
        StreamingMode::Complete => complete(input, output).await,
    }
}

async fn live(mut input: mpsc::Receiver<TurnEvent>, output: mpsc::Sender<TurnEvent>) {
    let mut ended = [false; 2];
    while let Some(event) = input.recv().await {
        ended[index(event.side())] |= event.is_terminal();
        if output.send(event).await.is_err() {
            return;
        }
    }
    for side in Side::BOTH {
        if !ended[index(side)] {
            let _ = output.send(orphaned(side)).await;
        }
    }
}

async fn complete(mut input: mpsc::Receiver<TurnEvent>, output: mpsc::Sender<TurnEvent>) {
    let mut lanes = [Lane::default(), Lane::default()];
    while let Some(event) = input.recv().await {
        lanes[index(event.side())].absorb(event);
    }
    for side in Side::BOTH {
        let lane = &mut lanes[index(side)];
        if let Some(text) = lane.take(usize::MAX)
            && output.send(TurnEvent::Delta { side, text }).await.is_err()
        {
            return;
        }
        let terminal = lane.terminal.take().unwrap_or_else(|| orphaned(side));
        if output.send(terminal).await.is_err() {
            return;
        }
    }
}

async fn paired(
    mut input: mpsc::Receiver<TurnEvent>,
    output: mpsc::Sender<TurnEvent>,
    cancel: CancellationToken,
) {
    let mut lanes = [Lane::default(), Lane::default()];
    let mut tick = tokio::time::interval(PAIRED_TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut input_open = true;
    // On shutdown, pacing only delays the end: show everything at once.
    let mut flush = false;
    loop {
        tokio::select! {
            event = input.recv(), if input_open => match event {
                Some(event) => lanes[index(event.side())].absorb(event),
                None => {
                    input_open = false;
                    for side in Side::BOTH {
                        let lane = &mut lanes[index(side)];
                        if !lane.ended {
                            lane.terminal.get_or_insert_with(|| orphaned(side));
                        }
                    }
                }
            },
            () = cancel.cancelled(), if !flush => flush = true,
            // Nobody listens any more: dropping the input stops the sides.
            () = output.closed() => return,
            _ = tick.tick() => {
                for event in release(&mut lanes, flush) {
                    if output.send(event).await.is_err() {
                        return;
                    }
                }
                if lanes.iter().all(|lane| lane.ended) {
                    return;
                }
            }
        }
    }
}

/// One tick of paired mode: the same amount of text on both sides, then
/// the terminal events of sides whose text is all shown.
fn release(lanes: &mut [Lane; 2], flush: bool) -> Vec<TurnEvent> {
    let [a, b] = &*lanes;
    let (na, nb) = amounts(
        (a.pending, a.terminal.is_some() || a.ended),
        (b.pending, b.terminal.is_some() || b.ended),
        flush,
    );
    let mut events = Vec::new();
    for (side, n) in [(Side::A, na), (Side::B, nb)] {
        if let Some(text) = lanes[index(side)].take(n) {
            events.push(TurnEvent::Delta { side, text });
        }
    }
    for side in Side::BOTH {
        let lane = &mut lanes[index(side)];
        if lane.pending == 0
            && let Some(terminal) = lane.terminal.take()
        {
            lane.ended = true;
            events.push(terminal);
        }
    }
    events
}

/// Characters to reveal on each side, given each side's backlog and
/// whether it has finished generating. While both generate, both show the
/// same amount, at most what the slower one has; a finished side follows
/// the pace of the other.
fn amounts(
    (pa, a_done): (usize, bool),
    (pb, b_done): (usize, bool),
    flush: bool,
) -> (usize, usize) {
    if flush {
        return (pa, pb);
    }
    let cap = PAIRED_CHARS_PER_TICK.max(pa.max(pb) / BACKLOG_TICKS);
    match (a_done, b_done) {
        (false, false) => {
            let n = pa.min(pb).min(cap);
            (n, n)
        }
        (true, false) => {
            let nb = pb.min(cap);
            (pa.min(nb), nb)
        }
        (false, true) => {
            let na = pa.min(cap);
            (na, pb.min(na))
        }
        (true, true) => (pa.min(cap), pb.min(cap)),
    }
}

/// One side's text received but not yet revealed.
#[derive(Debug, Default)]
struct Lane {
    text: String,
    /// Bytes of `text` already revealed.
    shown: usize,
    /// Characters of `text` not yet revealed.
    pending: usize,
    /// The side's last event, held until its text is all revealed.
    terminal: Option<TurnEvent>,
    /// The terminal event was sent.
    ended: bool,
}

impl Lane {
    fn absorb(&mut self, event: TurnEvent) {
        match event {
            TurnEvent::Delta { text, .. } => {
                self.pending += text.chars().count();
                self.text.push_str(&text);
            }
            terminal => self.terminal = Some(terminal),
        }
    }

    /// Up to `n` more characters.
    fn take(&mut self, n: usize) -> Option<String> {
        if n == 0 || self.pending == 0 {
            return None;
        }
        let rest = &self.text[self.shown..];
        let end = rest.char_indices().nth(n).map_or(rest.len(), |(at, _)| at);
        self.shown += end;
        self.pending -= n.min(self.pending);
        Some(rest[..end].to_owned())
    }
}

fn index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

/// The event for a side whose task ended without reporting (a panic).
fn orphaned(side: Side) -> TurnEvent {
    TurnEvent::Failed {
        side,
        failure: Failure::new(FailureKind::UpstreamError, "side ended without an outcome"),
        stats: SideStats::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_both_sides_level() {
        let cap = PAIRED_CHARS_PER_TICK;
        let cases = [
            // Both generating: the slower side sets the amount.
            ((10, false), (3, false), (3, 3)),
            ((0, false), (30, false), (0, 0)),
            ((500, false), (400, false), (cap, cap)),
            // A finished: it follows B.
            ((100, true), (7, false), (7, 7)),
            ((2, true), (7, false), (2, 7)),
            // B finished: it follows A.
            ((5, false), (100, true), (5, 5)),
            // Both finished: drain at the cap.
            ((5, true), (100, true), (5, cap)),
            // A large backlog drains faster.
            ((2_500, true), (2_500, true), (100, 100)),
        ];
        for (a, b, expected) in cases {
            assert_eq!(amounts(a, b, false), expected, "{a:?} {b:?}");
        }
        assert_eq!(amounts((500, false), (3, false), true), (500, 3));
    }

    #[test]
    fn release_ends_a_side_only_when_its_text_is_shown() {
        let mut lanes = [Lane::default(), Lane::default()];
        lanes[0].absorb(TurnEvent::Delta {
            side: Side::A,
            text: "héllo".into(),
        });
        lanes[0].absorb(TurnEvent::Done {
            side: Side::A,
            stats: SideStats::default(),
        });
        lanes[1].absorb(TurnEvent::Delta {
            side: Side::B,
            text: "wo".into(),
        });
        let events = release(&mut lanes, false);
        assert_eq!(
            events,
            [
                TurnEvent::Delta {
                    side: Side::A,
                    text: "hé".into()
                },
                TurnEvent::Delta {
                    side: Side::B,
                    text: "wo".into()
                },
            ]
        );
        lanes[1].absorb(TurnEvent::Delta {
            side: Side::B,
            text: "rld!".into(),
        });
        let events = release(&mut lanes, false);
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[0],
            TurnEvent::Delta {
                side: Side::A,
                text: "llo".into()
            }
        );
        assert!(matches!(events[2], TurnEvent::Done { side: Side::A, .. }));
        assert!(lanes[0].ended && !lanes[1].ended);
    }
}
