//! An error as the one line the command line prints: the message and its
//! causes, each cause only when it says something the line does not say yet.
//!
//! Library errors often show their source in their own message (thiserror's
//! `"database error: {0}"`) and return it from `source()` too, so printing
//! the whole chain repeats it, up to three times for a SQLite error.
//! PostgreSQL's errors also carry ` at line N`: the line of the PostgreSQL
//! server's own C source that raised them, which means nothing to an
//! operator.

use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;

/// `error` as one line: each cause of the chain joined with `: `, unless its
/// text is already part of the line.
pub fn one_line(error: &anyhow::Error) -> String {
    let positions = postgres_positions(error);
    let mut line = String::new();
    for cause in error.chain() {
        let mut text = flatten(&cause.to_string());
        for position in &positions {
            text = text.replace(position.as_str(), "");
        }
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

/// The ` at line N` suffixes of the PostgreSQL errors in the chain (what
/// sqlx's `Display` adds from the server's source position).
fn postgres_positions(error: &anyhow::Error) -> Vec<String> {
    let pg = |db: &dyn DatabaseError| {
        db.try_downcast_ref::<PgDatabaseError>()
            .and_then(PgDatabaseError::line)
    };
    error
        .chain()
        .filter_map(|cause| {
            if let Some(e) = cause.downcast_ref::<sqlx::Error>() {
                e.as_database_error().and_then(pg)
            } else if let Some(db) = cause.downcast_ref::<Box<dyn DatabaseError>>() {
                pg(db.as_ref())
            } else {
                None
            }
        })
        .map(|line| format!(" at line {line}"))
        .collect()
}

/// A message over several lines as one: its lines joined with `; `.
fn flatten(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::one_line;

    #[derive(Debug)]
    struct Short;

    impl fmt::Display for Short {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("client secrets must be at least 32 characters")
        }
    }

    impl std::error::Error for Short {}

    /// Shows its source in its message and returns it as its source, as
    /// thiserror's `#[error("client `a`: {0}")]` does.
    #[derive(Debug)]
    struct Wrapper(Short);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "client `a`: {}", self.0)
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let e = anyhow::Error::new(Wrapper(Short));
        assert_eq!(
            one_line(&e),
            "client `a`: client secrets must be at least 32 characters"
        );
    }

    #[test]
    fn a_cause_that_adds_something_is_kept() {
        let e = anyhow::Error::new(Short).context("cannot add the client");
        assert_eq!(
            one_line(&e),
            "cannot add the client: client secrets must be at least 32 characters"
        );
    }
}
