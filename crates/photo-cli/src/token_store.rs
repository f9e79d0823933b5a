//! Where the CLI keeps its sign-in between runs: the OS keyring (Secret
//! Service, Keychain, Credential Manager) when one answers, otherwise a file
//! in the user's config directory, created 0600 in one step (written to a
//! private temporary file, then renamed), with a warning. The access token
//! is kept only when asked (`keep_access_token`); the refresh token is what
//! lasts.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use tessera_client::{Secret, Tokens};

use crate::Settings;
use crate::error::Error;

/// Where the user asked the refresh token to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    /// The keyring when one answers, else the file (with a warning).
    Auto,
    Keyring,
    File,
}

impl FromStr for StoreChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "keyring" => Ok(Self::Keyring),
            "file" => Ok(Self::File),
            other => Err(format!(
                "unknown token store `{other}` (auto, keyring or file)"
            )),
        }
    }
}

/// What is remembered: whose tokens these are and the tokens themselves
/// (the access token blanked unless it is to be kept).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Saved {
    pub issuer: String,
    pub client_id: String,
    pub tokens: Tokens,
}

impl Saved {
    pub fn new(settings: &Settings, tokens: &Tokens) -> Self {
        let mut tokens = tokens.clone();
        if !settings.keep_access_token {
            tokens.access_token = Secret::new("");
            tokens.expires_at = Some(SystemTime::UNIX_EPOCH);
        }
        Self {
            issuer: settings.issuer.clone(),
            client_id: settings.client_id.clone(),
            tokens,
        }
    }
}

pub(crate) enum TokenStore {
    Keyring(keyring::Entry),
    File(PathBuf),
}

const KEYRING_SERVICE: &str = "tessera-photos";

impl TokenStore {
    /// The store `settings` asks for; with `Auto`, the keyring if it
    /// answers, else the file, saying so on stderr.
    pub fn open(settings: &Settings) -> Result<Self, Error> {
        let account = format!("{}@{}", settings.client_id, settings.issuer);
        let keyring = || -> Result<keyring::Entry, String> {
            let entry =
                keyring::Entry::new(KEYRING_SERVICE, &account).map_err(|e| e.to_string())?;
            // A locked or absent Secret Service shows only when asked.
            match entry.get_password() {
                Ok(_) | Err(keyring::Error::NoEntry) => Ok(entry),
                Err(e) => Err(e.to_string()),
            }
        };
        let file = || -> Result<PathBuf, Error> {
            let dir = match &settings.config_dir {
                Some(dir) => dir.clone(),
                None => dirs::config_dir()
                    .ok_or_else(|| {
                        Error::Input("no config directory: set --config-dir or HOME".into())
                    })?
                    .join("tessera"),
            };
            Ok(dir.join(file_name(&account)))
        };
        match settings.token_store {
            StoreChoice::Keyring => keyring().map(Self::Keyring).map_err(Error::Keyring),
            StoreChoice::File => Ok(Self::File(file()?)),
            StoreChoice::Auto => match keyring() {
                Ok(entry) => Ok(Self::Keyring(entry)),
                Err(why) => {
                    let path = file()?;
                    eprintln!(
                        "warning: no OS keyring ({why}); keeping the refresh token in {} (readable by you only)",
                        path.display()
                    );
                    Ok(Self::File(path))
                }
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Keyring(_) => "the OS keyring".into(),
            Self::File(path) => path.display().to_string(),
        }
    }

    pub fn load(&self) -> Result<Option<Saved>, Error> {
        let text = match self {
            Self::Keyring(entry) => match entry.get_password() {
                Ok(text) => text,
                Err(keyring::Error::NoEntry) => return Ok(None),
                Err(e) => return Err(Error::Keyring(e.to_string())),
            },
            Self::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    tighten(path)?;
                    text
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(file_error("cannot read", path, source)),
            },
        };
        // Only the position: serde_json's message may quote a value, which
        // could be a token.
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::Corrupt(format!(
                "not a saved sign-in at line {} column {}",
                e.line(),
                e.column()
            ))
        })
    }

    pub fn save(&self, saved: &Saved) -> Result<(), Error> {
        let text = serde_json::to_string(saved).map_err(|e| Error::Corrupt(e.to_string()))?;
        match self {
            Self::Keyring(entry) => entry
                .set_password(&text)
                .map_err(|e| Error::Keyring(e.to_string())),
            Self::File(path) => write_private(path, &text),
        }
    }

    /// Forgets the sign-in; nothing stored is not an error.
    pub fn forget(&self) -> Result<(), Error> {
        match self {
            Self::Keyring(entry) => match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(Error::Keyring(e.to_string())),
            },
            Self::File(path) => match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(file_error("cannot remove", path, source)),
            },
        }
    }
}

/// One file per client and issuer, with a name any file system takes.
fn file_name(account: &str) -> String {
    let safe: String = account
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("photos-{safe}.json")
}

fn file_error(what: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::File {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// Writes `text` to `path` so that no one else can ever read it: a
/// temporary file that only the owner may read (tempfile creates it 0600)
/// in the same directory, synced, then renamed over `path` in one step.
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let mut file =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| file_error("cannot create", dir, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| file_error("cannot write", path, e))?;
    file.persist(path)
        .map_err(|e| file_error("cannot write", path, e.error))?;
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| file_error("cannot create", dir, e))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| file_error("cannot create", dir, e))
}

/// A token file someone made readable by others is put back to 0600.
#[cfg(unix)]
fn tighten(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| file_error("cannot read", path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        eprintln!(
            "warning: {} was readable by others; it is now readable by you only",
            path.display()
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| file_error("cannot protect", path, e))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_path: &Path) -> Result<(), Error> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    /// Issue 17 rule: the fallback file is created 0600 (in a 0700
    /// directory) in one step, replaced the same way, put back to 0600 if
    /// someone loosened it, and gone after `forget`.
    #[test]
    fn issue17_the_token_file_is_private_from_the_start_and_removed_on_forget() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { panic!("tempdir") };
        let path = dir.path().join("nested").join("photos-x.json");
        let store = TokenStore::File(path.clone());
        assert!(matches!(store.load(), Ok(None)));
        write_private(&path, "{\"a\":1}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap_or(dir.path())), 0o700);
        write_private(&path, "{\"a\":2}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&path), 0o600);
        // No temporary file is left beside it.
        let entries = std::fs::read_dir(path.parent().unwrap_or(dir.path()))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(entries, 1);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        // Not a valid sign-in, but reading it tightens it first.
        assert!(matches!(store.load(), Err(Error::Corrupt(_))));
        assert_eq!(mode(&path), 0o600);
        store.forget().unwrap_or_else(|e| panic!("{e}"));
        assert!(!path.exists());
        store.forget().unwrap_or_else(|e| panic!("{e}"));
    }
}
