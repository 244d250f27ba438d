//! The event stream of a battle: live from the hub when this instance is
//! generating the turn, otherwise replayed and followed from the database
//! (another instance generating it, or the turn already over).

use std::collections::VecDeque;
use std::time::Duration;

use arena_core::Side;
use arena_dispatch::FailureKind;
use arena_storage::{BattleState, SideStatus, Storage};
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use uuid::Uuid;

use crate::battles::hub::BattleEvent;
use crate::state::AppState;

/// How often a follower re-reads the database.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// The events a client should receive, ending after the turn's `end`.
pub fn battle_events(state: AppState, battle: Uuid) -> BoxStream<'static, BattleEvent> {
    match state.hub().subscribe(battle) {
        Some(subscription) => {
            let replay = stream::iter(subscription.replay);
            // A lagging client (buffer overrun) gets its stream closed; it
            // reconnects and receives a fresh replay, which is consistent.
            let live = BroadcastStream::new(subscription.live)
                .take_while(|item| std::future::ready(item.is_ok()))
                .filter_map(|item| std::future::ready(item.ok()));
            until_end(replay.chain(live).boxed())
        }
        None => follow_database(state, battle),
    }
}

/// Stops the stream right after the first `end` event.
fn until_end(events: BoxStream<'static, BattleEvent>) -> BoxStream<'static, BattleEvent> {
    events
        .scan(false, |ended, event| {
            if *ended {
                return std::future::ready(None);
            }
            *ended = matches!(event, BattleEvent::End { .. });
            std::future::ready(Some(event))
        })
        .boxed()
}

/// A voter-facing message for a stored failure kind.
pub fn failure_message(kind: Option<&str>) -> String {
    FailureKind::ALL
        .iter()
        .find(|k| Some(k.as_str()) == kind)
        .map(|k| k.voter_message())
        .unwrap_or("The answer failed. Please start a new battle.")
        .to_owned()
}

struct Follower {
    state: AppState,
    battle: Uuid,
    turn: u32,
    sent: [usize; 2],
    final_sent: [bool; 2],
    queue: VecDeque<BattleEvent>,
    ended: bool,
    first: bool,
}

fn follow_database(state: AppState, battle: Uuid) -> BoxStream<'static, BattleEvent> {
    let follower = Follower {
        state,
        battle,
        turn: 0,
        sent: [0, 0],
        final_sent: [false, false],
        queue: VecDeque::new(),
        ended: false,
        first: true,
    };
    stream::unfold(follower, |mut f| async move {
        loop {
            if let Some(event) = f.queue.pop_front() {
                return Some((event, f));
            }
            if f.ended {
                return None;
            }
            if !f.first {
                tokio::time::sleep(POLL_EVERY).await;
            }
            f.first = false;
            if !f.poll().await {
                return None;
            }
        }
    })
    .boxed()
}

impl Follower {
    /// Reads the battle and queues what changed; false when the stream
    /// should close (battle gone or the database unreachable).
    async fn poll(&mut self) -> bool {
        let storage: &dyn Storage = self.state.storage();
        let Ok(battle) = storage.get_battle(self.battle).await else {
            return false;
        };
        let Some(turn) = battle.turns.last() else {
            return false;
        };
        if turn.turn != self.turn {
            self.turn = turn.turn;
            self.sent = [0, 0];
            self.final_sent = [false, false];
        }
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let answer = turn.side(side);
            if self.final_sent[i] {
                continue;
            }
            if answer.text.len() > self.sent[i] && answer.text.is_char_boundary(self.sent[i]) {
                let text = answer.text[self.sent[i]..].to_owned();
                self.sent[i] = answer.text.len();
                self.queue.push_back(BattleEvent::Delta {
                    turn: turn.turn,
                    side,
                    text,
                });
            }
            match answer.status {
                SideStatus::Streaming => {}
                SideStatus::Done => {
                    self.final_sent[i] = true;
                    self.queue.push_back(BattleEvent::Done {
                        turn: turn.turn,
                        side,
                    });
                }
                SideStatus::Failed => {
                    self.final_sent[i] = true;
                    let message = failure_message(answer.error.as_deref());
                    self.queue.push_back(BattleEvent::Error {
                        turn: turn.turn,
                        side,
                        message,
                    });
                }
            }
        }
        let closed = matches!(battle.state, BattleState::Expired);
        if self.final_sent == [true, true] || closed {
            self.queue.push_back(BattleEvent::End { turn: turn.turn });
            self.ended = true;
        }
        true
    }
}
