//! `tessera user …`: add, update, list and remove users, and set their
//! passwords.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::bail;
use clap::Subcommand;
use tessera_core::secrets::SecretString;
use tessera_core::user_claims::{Address, UserClaims};
use tessera_runtime::{Clock as _, SystemClock};

use super::admin;
use crate::config::FileConfig;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user: prompts for the password twice (at least 8 characters),
    /// or reads it from standard input with --password-stdin.
    Add {
        /// The name the user logs in with (1 to 64 characters, no spaces).
        username: String,
        /// Read the password from standard input (one line) instead of
        /// prompting.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        claims: ClaimArgs,
    },
    /// Set a user's standard claims (released at UserInfo by scope); the
    /// claims not named keep their values.
    Set {
        /// The user whose claims change.
        username: String,
        #[command(flatten)]
        claims: ClaimArgs,
    },
    /// List users: username and user id (the `sub` of their tokens).
    List,
    /// Remove a user and revoke their grants.
    Remove {
        /// The user to remove.
        username: String,
    },
    /// Set a user's password; ends their sessions and grants.
    Passwd {
        /// The user whose password changes.
        username: String,
        /// Read the new password from standard input (one line) instead of
        /// prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// A user's OpenID Connect standard claims (OIDC Core §5.1), as options;
/// each is released at UserInfo to a client granted its scope.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClaimArgs {
    /// Full name (`name`, scope profile).
    #[arg(long)]
    name: Option<String>,
    /// Given or first name (`given_name`, scope profile).
    #[arg(long)]
    given_name: Option<String>,
    /// Surname or last name (`family_name`, scope profile).
    #[arg(long)]
    family_name: Option<String>,
    /// Casual name (`nickname`, scope profile).
    #[arg(long)]
    nickname: Option<String>,
    /// The name the user goes by at clients, such as a handle
    /// (`preferred_username`, scope profile).
    #[arg(long)]
    preferred_username: Option<String>,
    /// Language and region as a BCP 47 tag, such as `en-GB` (`locale`,
    /// scope profile).
    #[arg(long)]
    locale: Option<String>,
    /// Email address (`email`, scope email).
    #[arg(long)]
    email: Option<String>,
    /// Whether the email address was verified (`email_verified`, scope
    /// email).
    #[arg(long)]
    email_verified: Option<bool>,
    /// Phone number, preferably in E.164 form such as `+15550100`
    /// (`phone_number`, scope phone).
    #[arg(long)]
    phone_number: Option<String>,
    /// Whether the phone number was verified (`phone_number_verified`,
    /// scope phone).
    #[arg(long)]
    phone_number_verified: Option<bool>,
    /// Postal address, as one formatted string (`address`, scope address).
    #[arg(long)]
    address: Option<String>,
}

impl From<ClaimArgs> for UserClaims {
    fn from(a: ClaimArgs) -> Self {
        UserClaims {
            name: a.name,
            given_name: a.given_name,
            family_name: a.family_name,
            nickname: a.nickname,
            preferred_username: a.preferred_username,
            locale: a.locale,
            email: a.email,
            email_verified: a.email_verified,
            phone_number: a.phone_number,
            phone_number_verified: a.phone_number_verified,
            address: a.address.map(|formatted| Address {
                formatted: Some(formatted),
                ..Address::default()
            }),
            ..UserClaims::default()
        }
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    if !from_stdin && stdin.is_terminal() {
        let p = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Repeat password: ")?;
        anyhow::ensure!(p == again, "the passwords differ");
        return Ok(SecretString::new(p));
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(SecretString::new(line.trim_end_matches(['\r', '\n'])))
}

pub async fn user_command(config: &FileConfig, command: UserCommand) -> anyhow::Result<()> {
    let admin = admin(config).await?;
    let now = SystemClock.now();
    match command {
        UserCommand::Add {
            username,
            password_stdin,
            claims,
        } => {
            let password = read_password(password_stdin)?;
            admin
                .add_user_with_claims(&username, &password, claims.into(), now)
                .await?;
            println!("user `{username}` added");
        }
        UserCommand::Set { username, claims } => {
            let claims = admin
                .update_user_claims(&username, claims.into(), now)
                .await?;
            println!(
                "claims of `{username}`: {}",
                serde_json::to_string(&claims).unwrap_or_default()
            );
        }
        UserCommand::List => {
            for u in admin.users().await? {
                println!("{}\t{}", u.username, u.user_id);
            }
        }
        UserCommand::Remove { username } => {
            if !admin.remove_user(&username, now).await? {
                bail!("no user `{username}`");
            }
            println!("user `{username}` removed");
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            if !admin.set_password(&username, &password, now).await? {
                bail!("no user `{username}`");
            }
            println!("password of `{username}` changed; their sessions and grants have ended");
        }
    }
    Ok(())
}
