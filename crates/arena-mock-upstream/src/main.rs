//! `arena-mock-upstream`: runs the mock OpenAI-compatible server.
//!
//! Prints exactly one line, `listening on HOST:PORT`, once it accepts
//! connections, so that a test can start it with `--addr 127.0.0.1:0` and
//! read the port.

use std::{io::Write as _, net::SocketAddr};

use anyhow::Context as _;
use clap::Parser;

/// A mock OpenAI-compatible server with fault modes chosen by model name.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = arena_mock_upstream::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr().context("no local address")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {addr}").context("cannot write to stdout")?;
    stdout.flush().context("cannot flush stdout")?;
    drop(stdout);
    tokio::select! {
        served = arena_mock_upstream::serve(listener) => served.context("server failed"),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
