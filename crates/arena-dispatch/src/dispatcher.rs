//! The entry point: runs the two sides of a turn.

use std::{fmt, sync::Arc, time::Duration};

use arena_core::Side;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{DispatchConfig, DispatchError, TurnEvent, TurnRequest, pacing, side};

/// Events buffered between a turn and its consumer. A slow consumer slows
/// generation down rather than growing memory.
const EVENT_BUFFER: usize = 64;

/// What every turn shares: settings and one HTTP client, whose connection
/// pool serves all OpenAI-compatible backends.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: DispatchConfig,
    pub(crate) http: reqwest::Client,
}

/// Runs battle turns against model backends. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Builds the shared HTTP client.
    ///
    /// Installs rustls' `ring` crypto provider as the process default when
    /// none is installed yet (reqwest is built without one).
    pub fn new(config: DispatchConfig) -> Result<Self, DispatchError> {
        // Err only means a provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_nodelay(true)
            .user_agent(concat!("arena-dispatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DispatchError::HttpClient(e.to_string()))?;
        Ok(Self {
            shared: Arc::new(Shared { config, http }),
        })
    }

    /// The settings this dispatcher runs with.
    pub fn config(&self) -> &DispatchConfig {
        &self.shared.config
    }

    /// Runs one turn of a battle: both sides at once, each with its own
    /// conversation (`history` ends with the new user prompt; the system
    /// prompt of each backend is prepended here).
    ///
    /// Events arrive in the order the voter should see them, according to
    /// [`DispatchConfig::streaming_mode`]. Each side ends with exactly one
    /// `Done` or `Failed`, then the channel closes. When `cancel` fires
    /// (server shutdown), unfinished sides end with
    /// [`FailureKind::Cancelled`](crate::FailureKind::Cancelled) and their
    /// upstream requests are dropped. Dropping the receiver also stops both
    /// sides.
    ///
    /// Must be called within a Tokio runtime; the work runs on spawned tasks.
    pub fn run_turn(
        &self,
        a: TurnRequest,
        b: TurnRequest,
        cancel: CancellationToken,
    ) -> mpsc::Receiver<TurnEvent> {
        let (side_tx, side_rx) = mpsc::channel(EVENT_BUFFER);
        let (out_tx, out_rx) = mpsc::channel(EVENT_BUFFER);
        for (side, request) in [(Side::A, a), (Side::B, b)] {
            tokio::spawn(side::run(
                side,
                request,
                Arc::clone(&self.shared),
                side_tx.clone(),
                cancel.clone(),
            ));
        }
        drop(side_tx);
        tokio::spawn(pacing::reveal(
            self.shared.config.streaming_mode,
            side_rx,
            out_tx,
            cancel,
        ));
        out_rx
    }
}
