//! `tessera audit tail|search`: reads the audit trail (the
//! `security_events` table) of the authorization server's database, newest
//! last, one event a line (or one JSON object a line with --json).

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tessera_core::UnixTime;
use tessera_core::utc::{format_utc, parse_utc};
use tessera_runtime::{Clock as _, SystemClock};
use tessera_store::{EventQuery, Migrations, SecurityEvent, Store};

use crate::config::FileConfig;
use crate::serve::open_store;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The latest events; with --follow, then each new one as it is written.
    Tail {
        /// How many events to show first.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u32,
        /// Keep reading: print new events as they arrive (Ctrl-C stops).
        #[arg(short, long)]
        follow: bool,
        #[command(flatten)]
        output: Output,
    },
    /// The events that match every filter given.
    Search {
        /// A username (or a user id: the `sub` of the user's tokens).
        #[arg(long)]
        user: Option<String>,
        /// A client id.
        #[arg(long)]
        client: Option<String>,
        /// An event kind, such as login_failed or refresh_token_reuse.
        #[arg(long)]
        kind: Option<String>,
        /// Events since a time: an RFC 3339 timestamp
        /// (2026-12-01T00:00:00Z) or an age such as 30m, 24h or 7d.
        #[arg(long)]
        since: Option<String>,
        /// At most this many events (the newest).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct Output {
    /// One JSON object a line instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn audit_command(config: &FileConfig, command: AuditCommand) -> anyhow::Result<()> {
    let store = open_store(config, Migrations::Apply).await?;
    let now = SystemClock.now();
    match command {
        AuditCommand::Tail {
            lines,
            follow,
            output,
        } => {
            let mut last = print(
                store.as_ref(),
                EventQuery {
                    limit: lines,
                    ..EventQuery::default()
                },
                &output,
            )
            .await?;
            if !follow {
                return Ok(());
            }
            // With `-n 0` nothing was printed: follow from the newest event
            // there is, not from the beginning.
            if last.is_none() {
                last = store
                    .search_security_events(&EventQuery {
                        limit: 1,
                        ..EventQuery::default()
                    })
                    .await?
                    .first()
                    .and_then(|e| e.id);
            }
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Some(id) = print(
                    store.as_ref(),
                    EventQuery {
                        after_id: last.or(Some(0)),
                        limit: 1000,
                        ..EventQuery::default()
                    },
                    &output,
                )
                .await?
                {
                    last = Some(id);
                }
            }
        }
        AuditCommand::Search {
            user,
            client,
            kind,
            since,
            limit,
            output,
        } => {
            let user_id = match user {
                None => None,
                Some(name) => Some(
                    store
                        .user_by_username(&name)
                        .await?
                        .map_or(name, |u| u.user_id),
                ),
            };
            let since = since.map(|s| parse_since(&s, now)).transpose()?;
            print(
                store.as_ref(),
                EventQuery {
                    user_id,
                    client_id: client,
                    kind,
                    since,
                    after_id: None,
                    limit,
                },
                &output,
            )
            .await?;
            Ok(())
        }
    }
}

/// Prints the events `query` selects, oldest first; returns the newest id.
async fn print(
    store: &dyn Store,
    query: EventQuery,
    output: &Output,
) -> anyhow::Result<Option<i64>> {
    let mut events = store
        .search_security_events(&query)
        .await
        .context("cannot read the audit trail")?;
    events.reverse();
    for e in &events {
        println!(
            "{}",
            if output.json {
                json_line(e)
            } else {
                text_line(e)
            }
        );
    }
    Ok(events.last().and_then(|e| e.id))
}

fn text_line(e: &SecurityEvent) -> String {
    let field = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|v| format!("  {name}={}", v.escape_debug()))
            .unwrap_or_default()
    };
    format!(
        "{}  {:<7}  {}{}{}{}{}  {}",
        format_utc(e.at),
        e.outcome,
        e.kind,
        field("user", &e.user_id),
        field("client", &e.client_id),
        field("grant", &e.grant_id),
        field("source", &e.source),
        e.detail.escape_debug()
    )
}

fn json_line(e: &SecurityEvent) -> String {
    serde_json::json!({
        "id": e.id,
        "at": format_utc(e.at),
        "kind": e.kind,
        "outcome": e.outcome,
        "user_id": e.user_id,
        "client_id": e.client_id,
        "grant_id": e.grant_id,
        "source": e.source,
        "detail": e.detail,
    })
    .to_string()
}

/// `--since`: an RFC 3339 timestamp, or an age (`90s`, `30m`, `24h`, `7d`)
/// before `now`.
fn parse_since(text: &str, now: UnixTime) -> anyhow::Result<UnixTime> {
    if let Some(t) = parse_utc(text) {
        return Ok(t);
    }
    let unit = text.chars().last().and_then(|u| match u {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(24 * 3600),
        _ => None,
    });
    let amount = text
        .get(..text.len().saturating_sub(1))
        .and_then(|n| n.parse::<i64>().ok());
    match (amount, unit) {
        (Some(n), Some(unit)) if n >= 0 => Ok(now.saturating_sub(n.saturating_mul(unit))),
        _ => anyhow::bail!(
            "--since must be an RFC 3339 time (2026-12-01T00:00:00Z) or an age such as 30m, 24h or 7d, not {text:?}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_timestamps_and_ages() {
        let now = 1_800_000_000;
        assert_eq!(parse_since("2027-01-15T08:00:00Z", now).unwrap(), now);
        assert_eq!(parse_since("24h", now).unwrap(), now - 86_400);
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86_400);
        assert_eq!(parse_since("30m", now).unwrap(), now - 1800);
        for bad in ["", "h", "-1h", "3w", "yesterday"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
