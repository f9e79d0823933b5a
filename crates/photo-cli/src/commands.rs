//! The `tessera photos` commands: what each does with the session and the
//! photo API, and what it prints (results on `out`, notices on stderr).

use std::io::Write;
use std::path::Path;

use tessera_client::{Error as ClientError, TokenKind};

use crate::Settings;
use crate::error::Error;
use crate::session::{Session, sign_in};
use crate::token_store::TokenStore;

/// `login`: a new browser sign-in, whatever is stored.
pub async fn login(settings: &Settings, out: &mut dyn Write) -> Result<(), Error> {
    let store = TokenStore::open(settings)?;
    let session = sign_in(settings, store).await?;
    let who = session
        .tokens
        .identity
        .as_ref()
        .map(|i| i.display_name().to_owned())
        .unwrap_or_else(|| "you".into());
    let _ = writeln!(
        out,
        "Signed in as {who} (scopes: {}). The refresh token is kept in {}.",
        session.tokens.scopes.join(" "),
        session.store.describe()
    );
    Ok(())
}

/// `list`: the photos, one per line (`ID  NAME  TYPE  SIZE`).
pub async fn list(settings: &Settings, out: &mut dyn Write) -> Result<(), Error> {
    let mut session = Session::resume(settings).await?;
    let response = call(&mut session, |http, api| http.get(format!("{api}/photos"))).await?;
    let body: serde_json::Value = response.json().await?;
    let photos = body["photos"].as_array().cloned().unwrap_or_default();
    if photos.is_empty() {
        let _ = writeln!(out, "No photos.");
    }
    for photo in photos {
        let _ = writeln!(
            out,
            "{}  {}  {}  {} bytes",
            photo["id"].as_str().unwrap_or("?"),
            photo["name"].as_str().unwrap_or("?"),
            photo["content_type"].as_str().unwrap_or("?"),
            photo["size"].as_i64().unwrap_or(0)
        );
    }
    Ok(())
}

/// `get ID --out FILE`: the image, written to `file`.
pub async fn get(
    settings: &Settings,
    id: &str,
    file: &Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Input(format!(
            "`{id}` is not a photo id (see `tessera photos list`)"
        )));
    }
    let mut session = Session::resume(settings).await?;
    let response = call(&mut session, |http, api| {
        http.get(format!("{api}/photos/{id}"))
    })
    .await?;
    let bytes = response.bytes().await?;
    std::fs::write(file, &bytes).map_err(|source| Error::File {
        what: "cannot write",
        path: file.display().to_string(),
        source,
    })?;
    let _ = writeln!(out, "Saved {} ({} bytes).", file.display(), bytes.len());
    Ok(())
}

/// `upload FILE`: a PNG, JPEG, GIF or WebP, named after the file.
pub async fn upload(settings: &Settings, file: &Path, out: &mut dyn Write) -> Result<(), Error> {
    let content_type = match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => {
            return Err(Error::Input(format!(
                "{}: only .png, .jpg, .gif and .webp files can be uploaded",
                file.display()
            )));
        }
    };
    let bytes = std::fs::read(file).map_err(|source| Error::File {
        what: "cannot read",
        path: file.display().to_string(),
        source,
    })?;
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("Untitled")
        .to_owned();
    let mut session = Session::resume(settings).await?;
    if !session.allows("photos:write") {
        return Err(Error::ScopeMissing("uploads (photos:write)"));
    }
    let response = call(&mut session, |http, api| {
        http.post(format!("{api}/photos"))
            .query(&[("name", &name)])
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes.clone())
    })
    .await?;
    let body: serde_json::Value = response.json().await?;
    let _ = writeln!(
        out,
        "Uploaded {} as {}.",
        file.display(),
        body["id"].as_str().unwrap_or("?")
    );
    Ok(())
}

/// `logout`: revokes the refresh token (RFC 7009; revoking it ends the
/// grant's access tokens too) and forgets the sign-in.
pub async fn logout(settings: &Settings, out: &mut dyn Write) -> Result<(), Error> {
    let store = TokenStore::open(settings)?;
    let Some(saved) = store.load()? else {
        let _ = writeln!(out, "Not signed in.");
        return Ok(());
    };
    let client = tessera_client::OAuthClient::discover(
        &settings.issuer,
        &settings.client_id,
        None,
        "http://127.0.0.1/callback",
    )
    .await;
    let revoked = match (&client, &saved.tokens.refresh_token) {
        (Ok(client), Some(refresh)) => client.revoke(refresh, TokenKind::Refresh).await,
        (Err(_), _) | (_, None) => Ok(()),
    };
    // Forget locally whatever the server said: the user asked to log out.
    store.forget()?;
    match (client, revoked) {
        (Ok(_), Ok(())) => {
            let _ = writeln!(
                out,
                "Signed out: the refresh token is revoked and forgotten."
            );
            Ok(())
        }
        (Err(e), _) | (_, Err(e)) => {
            let _ = writeln!(out, "Forgotten locally.");
            Err(Error::Input(format!(
                "the authorization server could not revoke the refresh token ({e}); \
                 it stays valid there until it expires"
            )))
        }
    }
}

/// Calls the photo API with the session's access token; on a 401
/// `invalid_token` the client refreshes once and retries (and a refused
/// refresh means signing in again, then one more try). A refreshed token
/// pair is stored at once: the old refresh token no longer works.
async fn call(
    session: &mut Session,
    request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, Error> {
    let http = reqwest::Client::new();
    let api = session.api();
    let before = session.tokens.refresh_token.clone();
    let result = session
        .client
        .call_with_retry(&mut session.tokens, request(&http, &api))
        .await;
    if session.tokens.refresh_token != before {
        session.save()?;
    }
    let response = match result {
        Ok(response) => response,
        Err(ClientError::ReauthorizationRequired) => {
            session.sign_in_again().await?;
            session
                .client
                .call_with_retry(&mut session.tokens, request(&http, &api))
                .await?
        }
        Err(e) => return Err(e.into()),
    };
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let message = body["error_description"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or("no details")
        .to_owned();
    Err(Error::Api { status, message })
}
