//! Logging for every serving subcommand: a tracing subscriber with the
//! configured filter (`RUST_LOG` wins), colours only on a terminal.

use std::io::IsTerminal as _;

pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}
