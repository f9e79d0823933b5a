//! The management subcommands (`client`, `resources`, `user`, `keys`,
//! `audit`): one
//! module each, holding its clap arguments and what it does. They work on
//! the authorization server's database directly, not through a running
//! server.

pub mod audit;
pub mod clients;
pub mod keys;
pub mod resources;
pub mod users;

use std::sync::Arc;

use tessera_authorization_server::admin::Admin;
use tessera_core::jwt::SigningAlgorithm;
use tessera_runtime::SystemRandomness;
use tessera_store::Migrations;

use crate::config::FileConfig;
use crate::serve::open_store;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AlgorithmArg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "RS256")]
    Rs256,
}

impl From<AlgorithmArg> for SigningAlgorithm {
    fn from(a: AlgorithmArg) -> Self {
        match a {
            AlgorithmArg::Es256 => Self::Es256,
            AlgorithmArg::EdDsa => Self::EdDsa,
            AlgorithmArg::Rs256 => Self::Rs256,
        }
    }
}

pub async fn admin(config: &FileConfig) -> anyhow::Result<Admin> {
    let mode = config.server_config()?.mode();
    Ok(Admin::new(
        open_store(config, Migrations::Apply).await?,
        Arc::new(SystemRandomness),
        mode,
    )
    .await?)
}
