//! A parked authorization request, loaded for the browser session it is
//! bound to (Dex CVE-2022-39222, Hydra consent fixation: a request started
//! in one browser cannot be answered from another).

use tessera_core::UnixTime;
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::client::Client;
use tessera_store::Session;

use crate::app::error::{AppError, FlowRefusal, OrUnavailable};
use crate::session;
use crate::state::AppState;

/// A parked request with its session and client.
#[derive(Debug)]
pub struct Pending {
    pub session: Session,
    pub request_id: String,
    pub request: AuthorizationRequest,
    pub client: Client,
}

/// The request `request_id` parked in the session named by `cookie`.
pub async fn pending(
    state: &AppState,
    cookie: Option<&str>,
    request_id: Option<&str>,
    now: UnixTime,
) -> Result<Pending, AppError> {
    let session = session::find(state, cookie, now)
        .await
        .or_unavailable()?
        .ok_or(FlowRefusal::RequestExpired)?;
    pending_in(state, session, request_id, now).await
}

/// [`pending`] for an already loaded session.
pub async fn pending_in(
    state: &AppState,
    session: Session,
    request_id: Option<&str>,
    now: UnixTime,
) -> Result<Pending, AppError> {
    let request_id = request_id.ok_or(FlowRefusal::RequestExpired)?.to_owned();
    let request = state
        .store
        .authorization_request(&request_id, &session.id_hash, now)
        .await
        .or_unavailable()?
        .ok_or(FlowRefusal::RequestExpired)?;
    let client = state
        .store
        .client(&request.client_id)
        .await
        .or_unavailable()?
        .ok_or(FlowRefusal::ClientGone)?;
    Ok(Pending {
        session,
        request_id,
        request,
        client,
    })
}
