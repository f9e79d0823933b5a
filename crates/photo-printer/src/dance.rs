//! The dance log: every step of one browser session's OAuth exchange, kept
//! for the `/dance` sequence diagram.
//!
//! Back-channel steps come from the client library's observer
//! ([`tessera_client::observe`]), so they show the requests that were really
//! made; front-channel steps are recorded by the handlers that send or
//! receive the browser. Values are redacted before they get here (the
//! observer redacts; handlers use [`tessera_client::observe::redact_field`],
//! the same rule), so the log never holds a usable credential.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tessera_client::observe::{Exchange, Observer};
use tokio::sync::watch;

use crate::flows::FlowRecord;
pub use crate::flows::{Flow, FlowView, RefreshCause};

/// At most this many steps are kept per session; older ones are dropped.
const MAX_STEPS: usize = 400;

/// The four lifelines of the diagram, in their left-to-right order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    Browser,
    Client,
    AuthorizationServer,
    Resource,
}

impl Lane {
    /// 1-based column in the diagram.
    fn column(self) -> usize {
        match self {
            Lane::Browser => 1,
            Lane::Client => 2,
            Lane::AuthorizationServer => 3,
            Lane::Resource => 4,
        }
    }
}

impl Lane {
    /// The lane's name, as the diagram's header says it.
    pub fn name(self) -> &'static str {
        match self {
            Lane::Browser => "Browser",
            Lane::Client => "Client (photo printer)",
            Lane::AuthorizationServer => "Authorization server",
            Lane::Resource => "Photo API",
        }
    }
}

/// Which channel a step travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Through the browser: redirects and what the user clicks.
    Front,
    /// Server to server, never through the browser.
    Back,
    /// Between the browser and the AS only: the client never sees it.
    BrowserAndAsOnly,
    /// Something the client decides on its own (a check, a choice).
    Local,
}

impl Channel {
    pub fn label(self) -> &'static str {
        match self {
            Channel::Front => "front channel",
            Channel::Back => "back channel",
            Channel::BrowserAndAsOnly => "browser ⇄ AS only",
            Channel::Local => "inside the client",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub seq: u64,
    /// The flow (group) the step belongs to.
    #[serde(skip)]
    pub flow: u64,
    /// `Browser → Photo API`, for the stacked (narrow) layout and screen
    /// readers, where there are no lanes to draw an arrow between.
    pub route: String,
    /// UTC, `HH:MM:SS`.
    pub time: String,
    pub from: Lane,
    pub to: Lane,
    pub channel: Channel,
    pub channel_label: &'static str,
    /// What travels: `POST /token`, `303 See Other → /photos`, …
    pub label: String,
    /// The parameters that matter, credentials already redacted.
    pub params: Vec<(String, String)>,
    pub note: Option<String>,
    /// A failure or refusal, drawn in red.
    pub failed: bool,
    /// Diagram layout: first column and number of columns spanned.
    pub start: usize,
    pub span: usize,
    /// The arrow points right-to-left.
    pub leftward: bool,
}

/// A step being described; [`DanceLog::record`] numbers and times it.
#[derive(Debug, Clone)]
pub struct NewStep {
    pub from: Lane,
    pub to: Lane,
    pub channel: Channel,
    pub label: String,
    pub params: Vec<(String, String)>,
    pub note: Option<String>,
    pub failed: bool,
}

impl NewStep {
    pub fn new(from: Lane, to: Lane, channel: Channel, label: impl Into<String>) -> Self {
        Self {
            from,
            to,
            channel,
            label: label.into(),
            params: Vec::new(),
            note: None,
            failed: false,
        }
    }
    pub fn param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.params.push((name.to_owned(), value.into()));
        self
    }
    pub fn params(mut self, params: Vec<(String, String)>) -> Self {
        self.params.extend(params);
        self
    }
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
    pub fn failed(mut self, failed: bool) -> Self {
        self.failed = failed;
        self
    }
}

/// One session's steps, grouped into flows, with a version number that the
/// `/dance/events` stream watches.
#[derive(Debug)]
pub struct DanceLog {
    inner: Mutex<Log>,
    version: watch::Sender<u64>,
    now: fn() -> SystemTime,
}

#[derive(Debug, Default)]
struct Log {
    steps: Vec<Step>,
    /// Every flow begun, oldest first (those whose steps were all dropped
    /// are not shown).
    flows: Vec<FlowRecord>,
}

impl Default for DanceLog {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Log::default()),
            version: watch::Sender::new(0),
            now: tessera_runtime::system_time,
        }
    }
}

impl DanceLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a new flow: the steps recorded from now on belong to it.
    pub fn begin(&self, flow: Flow) {
        let mut log = self.lock();
        let id = log.flows.last().map_or(1, |f| f.id + 1);
        log.flows.push(FlowRecord {
            id,
            flow,
            continues_with_photos: false,
        });
    }

    /// `GET /photos`: part of the flow that redirected there (a sign-in, a
    /// refresh) or of the same kind of flow just before (reloading the
    /// photos), otherwise a flow of its own.
    pub fn begin_or_continue(&self, flow: Flow) {
        let mut log = self.lock();
        if let Some(current) = log.flows.last_mut()
            && (current.continues_with_photos || current.flow == flow)
        {
            current.continues_with_photos = false;
            return;
        }
        drop(log);
        self.begin(flow);
    }

    /// The current flow ends in a redirect to `/photos`: the photo list that
    /// follows belongs to it.
    pub fn continues_with_photos(&self) {
        if let Some(current) = self.lock().flows.last_mut() {
            current.continues_with_photos = true;
        }
    }

    /// The current flow turned out to be something else: reading photos
    /// needed a refresh, or the authorization ended.
    pub fn became(&self, flow: Flow) {
        if let Some(current) = self.lock().flows.last_mut() {
            current.flow = flow;
        }
    }

    /// A refresh was made (seen by the observer): a flow that was only
    /// reading photos becomes a refresh caused by a refused access token.
    fn refreshed(&self) {
        if let Some(current) = self.lock().flows.last_mut()
            && matches!(current.flow, Flow::Photos | Flow::Print)
        {
            current.flow = Flow::Refresh(RefreshCause::Refused);
        }
    }

    pub fn record(&self, step: NewStep) {
        let (start, span, leftward) = layout(step.from, step.to);
        let route = if step.from == step.to {
            format!("inside the {}", step.from.name().to_lowercase())
        } else {
            format!("{} → {}", step.from.name(), step.to.name())
        };
        let mut log = self.lock();
        if log.flows.is_empty() {
            log.flows.push(FlowRecord {
                id: 1,
                flow: Flow::Other,
                continues_with_photos: false,
            });
        }
        let flow = log.flows.last().map_or(1, |f| f.id);
        let steps = &mut log.steps;
        let seq = steps.last().map_or(1, |s| s.seq + 1);
        steps.push(Step {
            seq,
            flow,
            route,
            time: clock_time((self.now)()),
            from: step.from,
            to: step.to,
            channel: step.channel,
            channel_label: step.channel.label(),
            label: step.label,
            params: step.params,
            note: step.note,
            failed: step.failed,
            start,
            span,
            leftward,
        });
        if steps.len() > MAX_STEPS {
            let excess = steps.len() - MAX_STEPS;
            steps.drain(..excess);
        }
        drop(log);
        self.version.send_modify(|v| *v += 1);
    }

    pub fn steps(&self) -> Vec<Step> {
        self.lock().steps.clone()
    }

    /// The steps grouped by flow, oldest first; the newest is open.
    pub fn flows(&self) -> Vec<FlowView> {
        let log = self.lock();
        let mut views: Vec<FlowView> = Vec::new();
        for step in &log.steps {
            match views.last_mut() {
                Some(v) if v.id == step.flow => v.steps.push(step.clone()),
                _ => {
                    let flow = log
                        .flows
                        .iter()
                        .find(|f| f.id == step.flow)
                        .map_or(Flow::Other, |f| f.flow);
                    views.push(FlowView {
                        id: step.flow,
                        title: flow.title(),
                        kind: flow.kind(),
                        time: step.time.clone(),
                        failed: false,
                        open: false,
                        steps: vec![step.clone()],
                    });
                }
            }
        }
        for v in &mut views {
            v.failed = v.steps.iter().any(|s| s.failed);
        }
        if let Some(last) = views.last_mut() {
            last.open = true;
        }
        views
    }

    pub fn clear(&self) {
        let mut log = self.lock();
        log.steps.clear();
        log.flows.clear();
        drop(log);
        self.version.send_modify(|v| *v += 1);
    }

    pub fn watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

fn layout(from: Lane, to: Lane) -> (usize, usize, bool) {
    let (a, b) = (from.column(), to.column());
    (a.min(b), a.abs_diff(b) + 1, b < a)
}

fn clock_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Turns the client library's exchanges into a request arrow and a response
/// arrow between the client and the server the URL belongs to.
pub struct SessionObserver {
    log: Arc<DanceLog>,
    /// The photo API's origin: exchanges with it go to the resource lane.
    resource_origin: Option<url::Origin>,
    /// Leave calls to the resource out (the image proxy: one arrow pair per
    /// image would drown the diagram); token requests are still drawn.
    skip_resource_calls: bool,
}

impl SessionObserver {
    pub fn new(log: Arc<DanceLog>, photo_api: &str) -> Self {
        Self {
            log,
            resource_origin: url::Url::parse(photo_api).ok().map(|u| u.origin()),
            skip_resource_calls: false,
        }
    }

    pub fn without_resource_calls(mut self) -> Self {
        self.skip_resource_calls = true;
        self
    }
}

/// What a back-channel request is for, from what it sends.
fn purpose(e: &Exchange, server: Lane) -> Option<&'static str> {
    let field = |name: &str| {
        e.request
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match (server, field("grant_type")) {
        (Lane::AuthorizationServer, Some("authorization_code")) => Some(
            "trade the one-time code, proving with the PKCE verifier that this client started the request",
        ),
        (Lane::AuthorizationServer, Some("refresh_token")) => {
            Some("refresh: a new access token for the refresh token (which is replaced too)")
        }
        (Lane::AuthorizationServer, _) if field("token").is_some() => {
            Some("revocation (RFC 7009): the authorization server ends the grant")
        }
        (Lane::Resource, _) => {
            Some("the access token goes in the Authorization header, nowhere else")
        }
        _ => None,
    }
}

impl Observer for SessionObserver {
    fn exchange(&self, e: Exchange) {
        let origin = url::Url::parse(&e.url).ok().map(|u| u.origin());
        let server = if origin.is_some() && origin == self.resource_origin {
            Lane::Resource
        } else {
            Lane::AuthorizationServer
        };
        if server == Lane::Resource && self.skip_resource_calls {
            return;
        }
        if server == Lane::AuthorizationServer
            && e.request
                .iter()
                .any(|(k, v)| k == "grant_type" && v == "refresh_token")
        {
            self.log.refreshed();
        }
        let path = url::Url::parse(&e.url).map_or_else(|_| e.url.clone(), |u| u.path().to_owned());
        let mut request = NewStep::new(
            Lane::Client,
            server,
            Channel::Back,
            format!("{} {path}", e.method),
        )
        .params(e.request.clone());
        if let Some(auth) = e.authorization.clone() {
            request.params.push(("Authorization".into(), auth));
        }
        if let Some(purpose) = purpose(&e, server) {
            request = request.note(purpose);
        }
        self.log.record(request);
        let response = match e.status {
            Some(status) => NewStep::new(server, Lane::Client, Channel::Back, status_line(status))
                .params(e.response)
                .failed(status >= 400),
            None => NewStep::new(server, Lane::Client, Channel::Back, "no answer")
                .note("the request failed before a response arrived")
                .failed(true),
        };
        let response = match e.challenge {
            Some(c) => response.param("WWW-Authenticate", c),
            None => response,
        };
        self.log.record(response);
    }
}

pub fn status_line(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn arrows_span_from_lane_to_lane_in_either_direction() {
        assert_eq!(
            layout(Lane::Browser, Lane::AuthorizationServer),
            (1, 3, false)
        );
        assert_eq!(layout(Lane::Resource, Lane::Client), (2, 3, true));
        assert_eq!(layout(Lane::Client, Lane::Client), (2, 1, false));
    }

    #[test]
    fn exchanges_become_a_request_and_a_response_step() {
        let log = Arc::new(DanceLog::default());
        let observer = SessionObserver::new(log.clone(), "http://localhost:9002");
        observer.exchange(Exchange {
            method: "GET".into(),
            url: "http://localhost:9002/photos".into(),
            authorization: Some("Bearer eyJhbG…".into()),
            request: vec![],
            status: Some(401),
            response: vec![],
            challenge: Some("Bearer error=\"invalid_token\"".into()),
        });
        let steps = log.steps();
        assert_eq!(steps.len(), 2);
        assert_eq!((steps[0].from, steps[0].to), (Lane::Client, Lane::Resource));
        assert_eq!(steps[0].label, "GET /photos");
        assert_eq!(steps[1].label, "401 Unauthorized");
        assert!(steps[1].failed);
        assert_eq!(steps[1].seq, 2);
    }

    #[test]
    fn the_resource_lane_is_chosen_by_origin_not_prefix() {
        let log = Arc::new(DanceLog::default());
        let observer = SessionObserver::new(log.clone(), "http://localhost:9002");
        let exchange = |url: &str| Exchange {
            method: "GET".into(),
            url: url.into(),
            authorization: None,
            request: vec![],
            status: Some(200),
            response: vec![],
            challenge: None,
        };
        observer.exchange(exchange("http://localhost:90021/photos"));
        observer.exchange(exchange("http://localhost:9002/photos"));
        let steps = log.steps();
        assert_eq!(steps[0].to, Lane::AuthorizationServer);
        assert_eq!(steps[2].to, Lane::Resource);
        let quiet =
            SessionObserver::new(log.clone(), "http://localhost:9002").without_resource_calls();
        quiet.exchange(exchange("http://localhost:9002/photos/1"));
        assert_eq!(log.steps().len(), 4, "resource calls left out");
    }

    #[test]
    fn the_log_is_bounded() {
        let log = DanceLog::default();
        for _ in 0..MAX_STEPS + 5 {
            log.record(NewStep::new(
                Lane::Browser,
                Lane::Client,
                Channel::Front,
                "GET /",
            ));
        }
        let steps = log.steps();
        assert_eq!(steps.len(), MAX_STEPS);
        assert_eq!(steps[0].seq, 6);
    }
}
