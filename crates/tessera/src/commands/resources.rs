//! `tessera resources …`: register, list and remove protected resources
//! (RFC 8707 audiences).

use anyhow::bail;
use clap::Subcommand;
use tessera_runtime::{Clock as _, SystemClock};

use super::admin;
use crate::config::FileConfig;

#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// Register a resource (or update one).
    Add {
        /// The resource's URI: the `aud` of tokens issued for it.
        identifier: String,
        #[arg(long)]
        name: Option<String>,
        /// A scope that means something at this resource (repeat for several).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List resources.
    List,
    /// Remove a resource.
    Remove { identifier: String },
}

pub async fn resource_command(config: &FileConfig, command: ResourceCommand) -> anyhow::Result<()> {
    let admin = admin(config).await?;
    match command {
        ResourceCommand::Add {
            identifier,
            name,
            scopes,
        } => {
            let spec = tessera_authorization_server::admin::ResourceSpec {
                identifier: identifier.clone(),
                name,
                scopes,
            };
            admin.register_resource(&spec, SystemClock.now()).await?;
            println!("resource `{identifier}` registered");
        }
        ResourceCommand::List => {
            for r in admin.resources().await? {
                println!("{}\t{}\tscopes: {}", r.identifier, r.name, r.scopes);
            }
        }
        ResourceCommand::Remove { identifier } => {
            if !admin
                .remove_resource(&identifier, SystemClock.now())
                .await?
            {
                bail!("no resource `{identifier}`");
            }
            println!("resource `{identifier}` removed");
        }
    }
    Ok(())
}
