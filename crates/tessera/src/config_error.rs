//! A configuration error as an operator reads it: where (the file, or the
//! environment variable), which key (as written in the file, without
//! figment's `default.` profile prefix) and what is wrong, on one line; an
//! unknown key comes with the closest known one ("did you mean
//! `database`?").

use figment::Source;
use figment::error::Kind;

/// `error` (one or more figment errors) as one line. `env_prefix` and
/// `env_keys` say which keys the environment may set, and how.
pub fn describe(error: figment::Error, env_prefix: &str, env_keys: &[&str]) -> anyhow::Error {
    let lines: Vec<String> = error
        .into_iter()
        .map(|e| one(&e, env_prefix, env_keys))
        .collect();
    anyhow::anyhow!(lines.join("; "))
}

fn one(e: &figment::Error, env_prefix: &str, env_keys: &[&str]) -> String {
    let from_file = e.metadata.as_ref().and_then(|m| match &m.source {
        Some(Source::File(path)) => Some(path.display().to_string()),
        _ => None,
    });
    let from_env = from_file.is_none()
        && e.metadata
            .as_ref()
            .is_some_and(|m| m.name.contains("environment"));
    let what = match &e.kind {
        Kind::UnknownField(name, known) => {
            let place = place(parent(&e.path));
            let hint = match closest(name, known) {
                Some(k) => format!("; did you mean `{k}`?"),
                None => format!("; the keys are {}", quoted(known)),
            };
            format!("unknown key `{name}`{place}{hint}")
        }
        Kind::MissingField(name) => {
            let hint = if e.path.is_empty() && env_keys.contains(&name.as_ref()) {
                format!(
                    " (set it in the configuration file or as {})",
                    env_name(env_prefix, name)
                )
            } else {
                String::new()
            };
            format!("missing key `{name}`{}{hint}", place(&e.path))
        }
        other if e.path.is_empty() => flatten(&other.to_string()),
        other if from_env => {
            let key = e.path.join("_");
            return format!(
                "{}: {}",
                env_name(env_prefix, &key),
                flatten(&other.to_string())
            );
        }
        other => format!("`{}`: {}", key_path(&e.path), flatten(&other.to_string())),
    };
    match from_file {
        Some(file) => format!("{file}: {what}"),
        None => what,
    }
}

/// The path of the table holding the last key.
fn parent(path: &[String]) -> &[String] {
    path.split_last().map_or(&[], |(_, rest)| rest)
}

/// ` in `users[0]`` for a key inside a table; nothing at the top level.
fn place(table: &[String]) -> String {
    if table.is_empty() {
        String::new()
    } else {
        format!(" in `{}`", key_path(table))
    }
}

/// `users[0].password`: the key path as TOML readers know it (array
/// entries by index from 0).
fn key_path(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if part.bytes().all(|b| b.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

fn env_name(prefix: &str, key: &str) -> String {
    format!("{prefix}{}", key.to_ascii_uppercase())
}

fn quoted(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known key closest to `name` by edit distance (dashes read as
/// underscores, case ignored), if close enough to be a slip: at most a
/// third of its length, and at least two edits allowed.
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let name = name.to_ascii_lowercase().replace('-', "_");
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&name, k), *k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A message over several lines (a TOML parse error draws the line and a
/// caret) as one: the source excerpt dropped, the rest joined with `; `.
fn flatten(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_excerpt(l))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `|`, `1 | issuer =`, `|   ^`: a line of the excerpt of the file.
fn is_excerpt(line: &str) -> bool {
    line.trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start()
        .starts_with('|')
}

#[cfg(test)]
mod tests {
    use super::{closest, flatten, key_path};

    #[test]
    fn a_slip_finds_its_key_and_a_stranger_does_not() {
        let known = ["issuer", "listen", "database", "database_schema", "log"];
        assert_eq!(closest("databse", &known), Some("database"));
        assert_eq!(closest("Database-Schema", &known), Some("database_schema"));
        assert_eq!(closest("lsiten", &known), Some("listen"));
        assert_eq!(closest("colour", &known), None);
    }

    #[test]
    fn key_paths_read_as_toml() {
        let path = ["users", "0", "pasword"].map(String::from);
        assert_eq!(key_path(&path), "users[0].pasword");
    }

    #[test]
    fn a_toml_excerpt_is_left_out() {
        let text = "TOML parse error at line 1, column 10\n  |\n1 | issuer = \n  |          ^\ninvalid string\nexpected `\"`, `'`\n";
        assert_eq!(
            flatten(text),
            "TOML parse error at line 1, column 10; invalid string; expected `\"`, `'`"
        );
    }
}
