//! Parsing a token endpoint request (RFC 6749 §2.3, §3.2, §4.1.3, §6).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::client::GrantType;
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::scope::Scope;
use crate::secrets::SecretString;

/// The client authentication methods of the token and revocation endpoints,
/// as metadata names them (RFC 8414 §2): what the server checks
/// [`ClientAuthentication::method`] against, so the two cannot drift.
pub const AUTH_METHODS: &[&str] = &[BASIC, POST, NONE];
/// The methods of the introspection endpoint: only confidential clients
/// introspect, so never `none`.
pub const INTROSPECTION_AUTH_METHODS: &[&str] = &[BASIC, POST];

const BASIC: &str = "client_secret_basic";
const POST: &str = "client_secret_post";
const NONE: &str = "none";

/// How the client authenticated. The `client_id` is what it claims; the
/// secret is checked by the caller against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// `client_secret_basic`: credentials in the `Authorization` header.
    /// `secret` is the form-decoded value RFC 6749 §2.3.1 prescribes;
    /// `as_sent` is the value exactly as sent, kept only when it differs
    /// (the secret holds `+` or `%`). Many clients (Authlib,
    /// requests-oauthlib, `curl -u`) skip the form-encoding, so a secret with
    /// a `+` would otherwise never match: the server accepts either reading
    /// (see [`ClientAuthentication::secret_readings`]).
    Basic {
        client_id: String,
        secret: SecretString,
        as_sent: Option<SecretString>,
    },
    /// `client_secret_post`: credentials in the form body.
    Post {
        client_id: String,
        secret: SecretString,
    },
    /// `none`: a public client names itself with `client_id` only.
    None { client_id: String },
}

impl ClientAuthentication {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id } => client_id,
        }
    }

    /// The method's name as metadata advertises it (RFC 8414 §2).
    pub fn method(&self) -> &'static str {
        match self {
            Self::Basic { .. } => BASIC,
            Self::Post { .. } => POST,
            Self::None { .. } => NONE,
        }
    }

    /// Whether this method is one of `allowed` (an endpoint's advertised list).
    pub fn is_one_of(&self, allowed: &[&str]) -> bool {
        allowed.contains(&self.method())
    }

    pub fn used_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }

    /// The secrets this authentication may mean: none for `none`, one for
    /// `client_secret_post`, and for `client_secret_basic` the form-decoded
    /// value and, when it differs, the value as sent. Accepting both admits
    /// no one who does not know the secret: each is a reading of what the
    /// client sent, and each is checked against the stored keyed hash.
    pub fn secret_readings(&self) -> Vec<&SecretString> {
        match self {
            Self::Basic {
                secret, as_sent, ..
            } => std::iter::once(secret).chain(as_sent.as_ref()).collect(),
            Self::Post { secret, .. } => vec![secret],
            Self::None { .. } => Vec::new(),
        }
    }
}

/// A client authentication failure, remembering whether Basic was attempted
/// so the answer can carry `WWW-Authenticate` (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct AuthenticationError {
    pub error: OAuthError,
    pub basic_attempted: bool,
}

impl AuthenticationError {
    pub fn invalid_client(description: &'static str, basic_attempted: bool) -> Self {
        Self {
            error: OAuthError::invalid_client(description),
            basic_attempted,
        }
    }
}

/// Extracts the client's credentials from the `Authorization` header and the
/// body. Query-string credentials are never looked at (RFC 6749 §2.3.1): the
/// caller passes only the body.
pub fn client_authentication(
    authorization: Option<&str>,
    body: &Params,
) -> Result<ClientAuthentication, AuthenticationError> {
    let body_id = body.single("client_id").map_err(|r| AuthenticationError {
        error: r.into(),
        basic_attempted: authorization.is_some(),
    })?;
    let body_secret = body
        .single("client_secret")
        .map_err(|r| AuthenticationError {
            error: r.into(),
            basic_attempted: authorization.is_some(),
        })?;

    if let Some(header) = authorization {
        let (client_id, secret, as_sent) = parse_basic(header)?;
        // RFC 6749 §2.3: a client MUST NOT use more than one method.
        if body_secret.is_some() {
            return Err(AuthenticationError {
                error: OAuthError::invalid_request(
                    "the client authenticated with more than one method",
                ),
                basic_attempted: true,
            });
        }
        if body_id.is_some_and(|id| id != client_id) {
            return Err(AuthenticationError {
                error: OAuthError::invalid_request(
                    "client_id in the body differs from the authenticated client",
                ),
                basic_attempted: true,
            });
        }
        return Ok(ClientAuthentication::Basic {
            client_id,
            secret,
            as_sent,
        });
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(ClientAuthentication::Post {
            client_id: id.to_owned(),
            secret: SecretString::new(secret),
        }),
        (Some(id), None) => Ok(ClientAuthentication::None {
            client_id: id.to_owned(),
        }),
        (None, _) => Err(AuthenticationError::invalid_client(
            "client authentication is required",
            false,
        )),
    }
}

/// `Basic base64(urlencode(client_id) ":" urlencode(secret))`. The scheme is
/// case-insensitive (RFC 9110 §11.1); both parts are form-decoded after the
/// split (RFC 6749 §2.3.1), so an encoded colon stays in the id. The secret
/// as sent is returned too when form-decoding changed it.
fn parse_basic(
    header: &str,
) -> Result<(String, SecretString, Option<SecretString>), AuthenticationError> {
    let bad = || AuthenticationError::invalid_client("malformed Basic credentials", true);
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthenticationError::invalid_client(
            "only the Basic scheme is accepted for client authentication",
            true,
        ));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-encoded. The whole part is
    // decoded: a raw `&` is a character of the secret, not the end of it
    // (issue 13 item 6: reading it through a form parser cut "a&b" to "a",
    // so anything after a `&` was ignored, and "right&anything" passed for
    // the secret "right").
    let (id, id_not_utf8) = crate::params::decode(id.as_bytes());
    let (decoded, secret_not_utf8) = crate::params::decode(secret.as_bytes());
    // A NUL is in no client id or secret (and PostgreSQL refuses it in text).
    if id.is_empty()
        || id_not_utf8
        || id.contains('\0')
        || secret.contains('\0')
        || decoded.contains('\0')
    {
        return Err(bad());
    }
    // A decoding that is not UTF-8 is no reading of the secret; the secret
    // as sent still is.
    if secret_not_utf8 || decoded == secret {
        return Ok((id, SecretString::new(secret), None));
    }
    Ok((
        id,
        SecretString::new(decoded),
        Some(SecretString::new(secret)),
    ))
}

/// The grant a token request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRequest {
    AuthorizationCode {
        code: SecretString,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: SecretString,
        scope: Option<Scope>,
    },
    ClientCredentials {
        scope: Option<Scope>,
    },
}

/// Parses the grant-specific parameters. Repeats were already refused.
pub fn grant_request(body: &Params) -> Result<GrantRequest, OAuthError> {
    let grant_type = body
        .single("grant_type")?
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let scope = || -> Result<Option<Scope>, OAuthError> {
        body.single("scope")?
            .map(|s| Scope::parse(s).map_err(|_| OAuthError::invalid_scope("scope is malformed")))
            .transpose()
    };
    // Only the grant types of `GrantType::ALL` are served (the password and
    // implicit grants are deliberately absent: RFC 9700 §2.4, OAuth 2.1).
    let grant_type: GrantType = grant_type.parse().map_err(|_| {
        OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "this grant_type is not supported",
        )
    })?;
    match grant_type {
        GrantType::AuthorizationCode => Ok(GrantRequest::AuthorizationCode {
            code: SecretString::new(
                body.single("code")?
                    .ok_or_else(|| OAuthError::invalid_request("code is required"))?,
            ),
            redirect_uri: body.single("redirect_uri")?.map(str::to_owned),
            code_verifier: body.single("code_verifier")?.map(str::to_owned),
        }),
        GrantType::RefreshToken => Ok(GrantRequest::RefreshToken {
            refresh_token: SecretString::new(
                body.single("refresh_token")?
                    .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?,
            ),
            scope: scope()?,
        }),
        GrantType::ClientCredentials => Ok(GrantRequest::ClientCredentials { scope: scope()? }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
        )
    }

    #[test]
    fn conformance_1c_25_basic_credentials_are_form_decoded() {
        let auth = client_authentication(Some(&basic("a b:c", "p%&")), &Params::default());
        assert_eq!(
            auth,
            Ok(ClientAuthentication::Basic {
                client_id: "a b:c".into(),
                secret: SecretString::new("p%&"),
                as_sent: Some(SecretString::new("p%25%26")),
            })
        );
        let lower = basic("c1", "s").replace("Basic", "bAsIc");
        assert!(client_authentication(Some(&lower), &Params::default()).is_ok());
    }

    fn readings(auth: &ClientAuthentication) -> Vec<&str> {
        auth.secret_readings()
            .into_iter()
            .map(SecretString::expose)
            .collect()
    }

    /// Issue 12 item 2: a secret with `+` is read both as RFC 6749 §2.3.1
    /// says (form-decoded) and as clients that skip the encoding send it.
    #[test]
    fn issue12_item2_basic_secret_is_read_decoded_and_as_sent() {
        let raw =
            |id: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        // Sent unencoded (Authlib, requests-oauthlib, curl -u).
        let auth = client_authentication(Some(&raw("c1", "a+b/c=")), &Params::default());
        let auth = auth.expect("parsed");
        assert_eq!(readings(&auth), ["a b/c=", "a+b/c="]);
        // Sent form-encoded as the RFC says.
        let auth = client_authentication(Some(&basic("c1", "a+b/c=")), &Params::default());
        let auth = auth.expect("parsed");
        assert_eq!(readings(&auth), ["a+b/c=", "a%2Bb%2Fc%3D"]);
        // Nothing to decode: one reading.
        let auth = client_authentication(Some(&raw("c1", "plain-secret")), &Params::default());
        assert_eq!(readings(&auth.expect("parsed")), ["plain-secret"]);
        // client_secret_post is form-decoded by the body parser: one reading.
        let body = Params::parse(b"client_id=c1&client_secret=a%2Bb");
        let auth = client_authentication(None, &body).expect("parsed");
        assert_eq!(readings(&auth), ["a+b"]);
    }

    #[test]
    fn conformance_1c_24_two_methods_are_refused() {
        let body = Params::parse(b"client_secret=x");
        let err = client_authentication(Some(&basic("c1", "s")), &body).err();
        assert_eq!(
            err.map(|e| (e.error.code, e.basic_attempted)),
            Some((ErrorCode::InvalidRequest, true))
        );
    }

    #[test]
    fn body_and_none_methods() {
        assert!(matches!(
            client_authentication(None, &Params::parse(b"client_id=c1&client_secret=s")),
            Ok(ClientAuthentication::Post { .. })
        ));
        assert!(matches!(
            client_authentication(None, &Params::parse(b"client_id=p1")),
            Ok(ClientAuthentication::None { .. })
        ));
        let err = client_authentication(None, &Params::default()).err();
        assert_eq!(
            err.map(|e| (e.error.code, e.basic_attempted)),
            Some((ErrorCode::InvalidClient, false))
        );
        let err = client_authentication(Some("Basic !!!"), &Params::default()).err();
        assert_eq!(
            err.map(|e| (e.error.code, e.basic_attempted)),
            Some((ErrorCode::InvalidClient, true))
        );
    }

    #[test]
    fn conformance_1c_26_grant_type_errors() {
        let code = |q: &str| {
            grant_request(&Params::parse(q.as_bytes()))
                .err()
                .map(|e| e.code)
        };
        assert_eq!(code(""), Some(ErrorCode::InvalidRequest));
        assert_eq!(
            code("grant_type=foo"),
            Some(ErrorCode::UnsupportedGrantType)
        );
        assert_eq!(
            code("grant_type=password&username=a&password=b"),
            Some(ErrorCode::UnsupportedGrantType)
        );
        assert_eq!(
            code("grant_type=authorization_code"),
            Some(ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let auth = client_authentication(
            None,
            &Params::parse(b"client_id=c1&client_secret=topsecretvalue"),
        );
        assert!(!format!("{auth:?}").contains("topsecretvalue"));
    }

    /// Issue 13 item 6 (found reading the parser while writing the
    /// `token_request` fuzz target): a raw `&` in a Basic secret is part of it; the
    /// decoded reading is the whole secret, never what precedes the `&`.
    #[test]
    fn issue13_a_raw_ampersand_does_not_cut_the_basic_secret() {
        let raw = format!("Basic {}", STANDARD.encode("c1:right&anything"));
        let auth = client_authentication(Some(&raw), &Params::default()).expect("parsed");
        assert_eq!(readings(&auth), ["right&anything"]);
        let raw = format!("Basic {}", STANDARD.encode("c1&x:a+b&c"));
        let auth = client_authentication(Some(&raw), &Params::default()).expect("parsed");
        assert_eq!(auth.client_id(), "c1&x");
        assert_eq!(readings(&auth), ["a b&c", "a+b&c"]);
    }

    /// Basic parts that decode to bytes that are not UTF-8: the id is
    /// refused, the secret is read only as sent.
    #[test]
    fn issue13_basic_parts_that_are_not_utf8() {
        let raw = format!("Basic {}", STANDARD.encode("c%FF:s"));
        assert!(client_authentication(Some(&raw), &Params::default()).is_err());
        let raw = format!("Basic {}", STANDARD.encode("c1:s%FF"));
        let auth = client_authentication(Some(&raw), &Params::default()).expect("parsed");
        assert_eq!(readings(&auth), ["s%FF"]);
    }

    proptest::proptest! {
        /// Decoding a Basic header never panics, whatever the header.
        #[test]
        fn basic_decoding_never_panics(header in "\\PC{0,80}", b64 in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = client_authentication(Some(&header), &Params::default());
            let encoded = format!("Basic {}", STANDARD.encode(&b64));
            let _ = client_authentication(Some(&encoded), &Params::default());
        }

        /// RFC 6749 §2.3.1 round trip: any id and secret, form-encoded
        /// into Basic, come back exactly (the first reading is the secret).
        #[test]
        fn basic_credentials_round_trip(id in "[^\u{0}]{1,20}", secret in "[^\u{0}]{0,30}") {
            let auth = client_authentication(Some(&basic(&id, &secret)), &Params::default())
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(auth.client_id(), id.as_str());
            proptest::prop_assert_eq!(readings(&auth).first().copied(), Some(secret.as_str()));
        }

        /// The token-request parser answers every form with a grant or an
        /// OAuth error, never a panic; a repeated parameter it reads is an
        /// error.
        #[test]
        fn grant_request_never_panics(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128), grant in "(authorization_code|refresh_token|client_credentials|password)") {
            let _ = grant_request(&Params::parse(&input));
            let mut form = b"grant_type=".to_vec();
            form.extend_from_slice(grant.as_bytes());
            form.push(b'&');
            form.extend_from_slice(&input);
            let _ = grant_request(&Params::parse(&form));
            let twice = format!("grant_type={grant}&grant_type={grant}");
            proptest::prop_assert!(grant_request(&Params::parse(twice.as_bytes())).is_err());
        }
    }
}
