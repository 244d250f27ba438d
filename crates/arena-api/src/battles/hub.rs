//! In-process fan-out of battle events, with replay of the current turn.
//!
//! The instance that generates a turn keeps every event of that turn in a
//! log; a subscriber receives the log, then live events, with no gap and no
//! duplicate because both are taken under one lock. Once the turn ends (its
//! final state is already committed to the database) the channel is dropped
//! and later subscribers are served from the database instead — which is also
//! how another instance, sharing the database, serves the battle.

use std::collections::HashMap;
use std::sync::Mutex;

use arena_core::Side;
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

/// One server-sent event of a battle, as in the contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BattleEvent {
    /// More text on one side.
    Delta {
        /// Turn number.
        turn: u32,
        /// Side.
        side: Side,
        /// The new text.
        text: String,
    },
    /// One side finished.
    Done {
        /// Turn number.
        turn: u32,
        /// Side.
        side: Side,
    },
    /// One side failed.
    Error {
        /// Turn number.
        turn: u32,
        /// Side.
        side: Side,
        /// A message for a person, naming no model.
        message: String,
    },
    /// Both sides of the turn are final.
    End {
        /// Turn number.
        turn: u32,
    },
}

impl BattleEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            BattleEvent::Delta { .. } => "delta",
            BattleEvent::Done { .. } => "done",
            BattleEvent::Error { .. } => "error",
            BattleEvent::End { .. } => "end",
        }
    }
}

struct Channel {
    log: Vec<BattleEvent>,
    sender: broadcast::Sender<BattleEvent>,
}

/// Live events of the battles generating on this instance.
#[derive(Default)]
pub struct BattleHub {
    channels: Mutex<HashMap<Uuid, Channel>>,
}

/// What a subscriber gets: the events so far, then the live ones.
pub struct Subscription {
    /// Events of the current turn already published.
    pub replay: Vec<BattleEvent>,
    /// Events published from now on.
    pub live: broadcast::Receiver<BattleEvent>,
}

impl BattleHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Channel>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every critical section is a single insert, push or remove).
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens the channel of a turn about to be generated.
    pub fn open(&self, battle: Uuid) {
        let (sender, _) = broadcast::channel(1024);
        self.lock().insert(
            battle,
            Channel {
                log: Vec::new(),
                sender,
            },
        );
    }

    /// Publishes an event; `End` closes the channel.
    pub fn publish(&self, battle: Uuid, event: BattleEvent) {
        let mut channels = self.lock();
        let Some(channel) = channels.get_mut(&battle) else {
            return;
        };
        let _ = channel.sender.send(event.clone());
        if matches!(event, BattleEvent::End { .. }) {
            channels.remove(&battle);
        } else {
            channel.log.push(event);
        }
    }

    /// Subscribes to a battle generating here; `None` when it is not.
    pub fn subscribe(&self, battle: Uuid) -> Option<Subscription> {
        let channels = self.lock();
        let channel = channels.get(&battle)?;
        Some(Subscription {
            replay: channel.log.clone(),
            live: channel.sender.subscribe(),
        })
    }

    /// The text streamed so far on each side of the generating turn.
    pub fn partial_text(&self, battle: Uuid) -> Option<(String, String)> {
        let channels = self.lock();
        let channel = channels.get(&battle)?;
        let mut text = (String::new(), String::new());
        for event in &channel.log {
            if let BattleEvent::Delta {
                side, text: delta, ..
            } = event
            {
                match side {
                    Side::A => text.0.push_str(delta),
                    Side::B => text.1.push_str(delta),
                }
            }
        }
        Some(text)
    }

    /// Battles generating on this instance.
    pub fn live_count(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_subscribers_get_the_log_then_live_events() {
        let hub = BattleHub::default();
        let id = Uuid::new_v4();
        assert!(hub.subscribe(id).is_none());
        hub.open(id);
        let delta = |text: &str| BattleEvent::Delta {
            turn: 1,
            side: Side::A,
            text: text.into(),
        };
        hub.publish(id, delta("Hel"));
        let mut sub = hub.subscribe(id).expect("live");
        assert_eq!(sub.replay, vec![delta("Hel")]);
        hub.publish(id, delta("lo"));
        hub.publish(id, BattleEvent::End { turn: 1 });
        assert_eq!(sub.live.try_recv().expect("delta"), delta("lo"));
        assert_eq!(
            sub.live.try_recv().expect("end"),
            BattleEvent::End { turn: 1 }
        );
        assert!(
            hub.subscribe(id).is_none(),
            "the channel closes with the turn"
        );
    }
}
