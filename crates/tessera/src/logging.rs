//! Logging for every serving subcommand: a tracing subscriber with the
//! configured filter (`RUST_LOG` wins), colours only on a terminal, and for
//! the authorization server with `log_format = "json"` one JSON object a
//! line (the audit events included: target `tessera::audit`).

use std::io::IsTerminal as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// `text` or `json` (the `log_format` configuration key).
    pub fn parse(value: Option<&str>) -> anyhow::Result<Self> {
        match value {
            None | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => anyhow::bail!("log_format must be \"text\" or \"json\", not {other:?}"),
        }
    }
}

pub fn init_logging(filter: &str) {
    init_logging_as(filter, LogFormat::Text);
}

pub fn init_logging_as(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
