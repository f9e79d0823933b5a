//! RFC 6749 §4.4: the client acts on its own behalf. No refresh token and no
//! grant; the subject is the client; the scope is the core's choice
//! ([`tessera_core::client::client_credentials_scope`]).

use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::resource;
use tessera_core::scope::Scope;

use super::{Issued, mint};
use crate::app::error::{AppError, OrUnavailable};
use crate::state::AppState;
use crate::tokens::AccessTokenRequest;

pub async fn issue(
    state: &AppState,
    client: &Client,
    requested: Option<Scope>,
    resource: Option<&str>,
    now: UnixTime,
) -> Result<Issued, AppError> {
    let registered = match resource {
        Some(id) => state.store.resource(id).await.or_unavailable()?,
        None => None,
    };
    let scope = tessera_core::client::client_credentials_scope(
        &client.scopes,
        requested,
        registered.as_ref().map(|r| &r.scopes),
    )?;
    let audience = resource::audience_for(
        resource,
        registered.as_ref(),
        &scope,
        &state.config.default_audience,
    )?;
    let (access_token, access) = mint::access_token(
        state,
        &AccessTokenRequest {
            client,
            subject: &client.client_id,
            grant_id: None,
            scope: &scope,
            audience: &audience,
            auth_time: None,
        },
        now,
    )?;
    state
        .store
        .issue_tokens(&access, None)
        .await
        .or_unavailable()?;
    Ok(mint::issued(state, access_token, None, &scope, None))
}
