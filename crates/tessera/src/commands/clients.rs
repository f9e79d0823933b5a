//! `tessera client …`: register, list and remove clients.

use anyhow::bail;
use clap::Subcommand;
use tessera_authorization_server::admin::ClientSpec;
use tessera_core::jwt::SigningAlgorithm;
use tessera_runtime::{Clock as _, SystemClock};

use super::{AlgorithmArg, admin};
use crate::config::FileConfig;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client (or update one). A confidential client gets a
    /// generated secret, printed once.
    Add {
        /// The client_id.
        client_id: String,
        /// Display name shown on the consent page.
        #[arg(long)]
        name: Option<String>,
        /// A redirect URI (repeat for several).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A scope the client may ask for (repeat for several).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A grant type (repeat for several); default authorization_code and refresh_token.
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// A public client (no secret; PKCE only), such as a native or browser app.
        #[arg(long)]
        public: bool,
        /// Legacy opt-out of PKCE for a confidential client.
        #[arg(long)]
        no_pkce: bool,
        /// Allow this client to call the introspection endpoint.
        #[arg(long)]
        introspect: bool,
        /// The registered resource this client serves (a resource server).
        #[arg(long)]
        resource: Option<String>,
        /// "jwt" or "opaque": this client's access-token format.
        #[arg(long)]
        access_token_format: Option<String>,
        /// How this client's ID tokens are signed (default RS256).
        #[arg(long, value_enum, ignore_case = true)]
        id_token_signed_response_alg: Option<AlgorithmArg>,
        /// Where RP-initiated logout may return (repeat for several; exact match).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
    },
    /// List clients, one a line under a header: client_id, name, type,
    /// scopes, grant_types, redirect_uris (tab-separated; `-` for none).
    List,
    /// Remove a client and revoke everything issued to it.
    Remove {
        /// The client_id.
        client_id: String,
    },
}

pub async fn client_command(config: &FileConfig, command: ClientCommand) -> anyhow::Result<()> {
    let admin = admin(config).await?;
    let now = SystemClock.now();
    match command {
        ClientCommand::Add {
            introspect,
            resource,
            access_token_format,
            id_token_signed_response_alg,
            post_logout_redirect_uris,
            client_id,
            name,
            redirect_uris,
            scopes,
            grant_types,
            public,
            no_pkce,
        } => {
            let spec = ClientSpec {
                client_id: client_id.clone(),
                client_secret: None,
                redirect_uris,
                scopes,
                grant_types: if grant_types.is_empty() {
                    vec!["authorization_code".into(), "refresh_token".into()]
                } else {
                    grant_types
                },
                name,
                require_pkce: !no_pkce,
                introspect,
                resource,
                access_token_format,
                id_token_signed_response_alg: id_token_signed_response_alg
                    .map(|a| SigningAlgorithm::from(a).as_str().to_owned()),
                post_logout_redirect_uris,
            };
            match admin.register_client(&spec, !public, now).await? {
                Some(secret) => {
                    println!("client `{client_id}` registered");
                    println!("client_secret: {}", secret.expose());
                    println!("(shown once; only a keyed hash is stored)");
                }
                None => println!("public client `{client_id}` registered"),
            }
        }
        ClientCommand::List => {
            // Tab-separated, one client a line, under a header naming the
            // columns as the configuration file names the keys.
            println!("client_id\tname\ttype\tscopes\tgrant_types\tredirect_uris");
            let or_dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
            for c in admin.clients().await? {
                let kind = if c.is_public() {
                    "public"
                } else {
                    "confidential"
                };
                let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    c.client_id,
                    or_dash(c.name),
                    kind,
                    or_dash(c.scopes.to_string()),
                    grants.join(","),
                    or_dash(c.redirect_uris.join(" "))
                );
            }
        }
        ClientCommand::Remove { client_id } => {
            if !admin.remove_client(&client_id, now).await? {
                bail!("no client `{client_id}`");
            }
            println!("client `{client_id}` removed");
        }
    }
    Ok(())
}
