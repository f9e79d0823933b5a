//! `tessera keys …`: list, rotate and retire signing keys (the access-token
//! key and the ID-token keys), with the same [`KeyManager`] the server uses.

use std::sync::Arc;

use clap::Subcommand;
use tessera_authorization_server::keys::{KeyManager, KeyPurpose};
use tessera_core::jwt::SigningAlgorithm;
use tessera_core::utc::format_utc;
use tessera_runtime::SystemRandomness;
use tessera_runtime::{Clock as _, SystemClock};
use tessera_store::Migrations;

use super::AlgorithmArg;
use crate::config::FileConfig;
use crate::serve::open_store;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys, those of access tokens and of ID tokens: kid,
    /// algorithm, state and dates (UTC).
    List,
    /// Create a new signing key (of access tokens, or with --id-token of ID
    /// tokens): published in the JWKS at once, signing once the
    /// pre-publication window (key_prepublication_secs) has passed.
    Rotate {
        /// The new key's algorithm; default: the configured signing_algorithm.
        #[arg(long, value_enum, ignore_case = true)]
        algorithm: Option<AlgorithmArg>,
        /// Sign with the new key at once, skipping pre-publication (resources
        /// that cached the JWKS only know it once they fetch it again).
        #[arg(long)]
        now: bool,
        /// Rotate the ID-token key of the algorithm (default RS256) instead
        /// of the access-token key.
        #[arg(long)]
        id_token: bool,
    },
    /// Stop publishing a key. Refused while a token it signed may still be
    /// valid, and for the active key.
    Retire {
        /// Key ids are random base64url and may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub async fn keys_command(config: &FileConfig, command: KeysCommand) -> anyhow::Result<()> {
    let server_config = config.server_config()?;
    let keys = KeyManager::new(
        open_store(config, Migrations::Apply).await?,
        Arc::new(SystemRandomness),
        server_config.keys.clone(),
        server_config.mode(),
        server_config.lifetimes.access_token,
    );
    let now = SystemClock.now();
    match command {
        KeysCommand::List => {
            for k in keys.list(now).await? {
                let mut line = format!(
                    "{}\t{}\t{}\tcreated {}\tactivates {}",
                    k.kid,
                    k.algorithm,
                    k.state.as_str(),
                    format_utc(k.created_at),
                    format_utc(k.activates_at)
                );
                if let Some(t) = k.superseded_at {
                    line.push_str(&format!("\tsuperseded {}", format_utc(t)));
                }
                if let Some(t) = k.retirable_at {
                    line.push_str(&format!("\tretirable from {}", format_utc(t)));
                }
                if let Some(t) = k.retired_at {
                    line.push_str(&format!("\tretired {}", format_utc(t)));
                }
                if k.purpose == KeyPurpose::IdToken {
                    line.push_str("\tsigns ID tokens");
                }
                println!("{line}");
            }
        }
        KeysCommand::Rotate {
            algorithm,
            now: at_once,
            id_token,
        } => {
            let k = if id_token {
                let algorithm = algorithm.map_or(SigningAlgorithm::Rs256, Into::into);
                keys.rotate_id_token_key(algorithm, at_once, now).await?
            } else {
                keys.rotate(algorithm.map(Into::into), at_once, now).await?
            };
            if k.activates_at <= now {
                println!(
                    "signing key `{}` ({}) created: published and signing now",
                    k.kid, k.algorithm
                );
            } else {
                println!(
                    "signing key `{}` ({}) created: published now, signing from {}",
                    k.kid,
                    k.algorithm,
                    format_utc(k.activates_at)
                );
            }
            println!(
                "running servers pick it up within {} s",
                keys.policy().reload_interval_secs
            );
        }
        KeysCommand::Retire { kid } => {
            keys.retire(&kid, now).await?;
            println!("signing key `{kid}` retired: no longer published");
        }
    }
    Ok(())
}
