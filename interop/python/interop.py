"""Interoperability check: Python's most used OAuth clients against a running
Tessera (issue 12 item 2 and its "Done when").

- Authlib (OAuth2Session) as an OpenID Connect relying party: discovery, the
  code flow with PKCE S256 (the login and consent forms filled in over HTTP
  with a cookie jar, as a browser would), the ID token validated with
  Authlib's own CodeIDToken rules (signature, iss, aud, nonce, at_hash),
  UserInfo, refresh with rotation, revocation.
- requests-oauthlib (OAuth2Session + BackendApplicationClient): the
  client-credentials grant and introspection.

Both send HTTP Basic credentials without the form-encoding RFC 6749 §2.3.1
asks for, so the secrets given here contain `+`, `/` and `=` on purpose.
Exits non-zero on the first failure.

Configuration from the environment: TESSERA_ISSUER, CLIENT_ID, CLIENT_SECRET,
REDIRECT_URI, USERNAME, PASSWORD (the OIDC client and user), SERVICE_ID,
SERVICE_SECRET (a client_credentials client), RS_CLIENT_ID, RS_CLIENT_SECRET
(a client allowed to introspect).
"""

import html
import os
import re
import sys
from urllib.parse import urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as OAuthlibSession


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set")
    return value


def check(condition, what):
    if not condition:
        raise SystemExit(f"check failed: {what}")
    print(f"ok - {what}")


ISSUER = env("TESSERA_ISSUER").rstrip("/")
REDIRECT_URI = env("REDIRECT_URI")
# oauthlib refuses plain http unless told; the test server is on loopback.
if ISSUER.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

# --- a minimal browser: cookies, manual redirects, form parsing -------------
browser = requests.Session()


def parse_form(page):
    action = re.search(r'<form method="post" action="([^"]*)">', page)
    if not action:
        raise SystemExit("no form on the page")
    fields = []
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page):
        fields.append((name, html.unescape(value)))
    for name, value in re.findall(
        r'<input type="checkbox" name="([^"]+)" value="([^"]*)" checked>', page
    ):
        fields.append((name, html.unescape(value)))
    return urljoin(ISSUER + "/", html.unescape(action.group(1))), fields


def submit(page_url, extra):
    page = browser.get(urljoin(ISSUER + "/", page_url), allow_redirects=False)
    check(page.status_code == 200, f"GET {page_url.split('?')[0]} is a page")
    action, fields = parse_form(page.text)
    return browser.post(action, data=fields + list(extra.items()), allow_redirects=False)


def authorize_in_browser(url):
    """From the authorization URL to the redirect back to the client."""
    res = browser.get(url, allow_redirects=False)
    location = res.headers.get("location", "")
    check(res.status_code == 302 and location, "the authorization request redirects")
    if "/login" in location:
        res = submit(location, {"username": env("USERNAME"), "password": env("PASSWORD")})
        location = res.headers.get("location", "")
        check(res.status_code == 303 and location, "signed in")
    if "/consent" in location:
        res = submit(location, {"decision": "approve"})
        location = res.headers.get("location", "")
        check(res.status_code == 303 and location, "consent given")
    return location


# --- Authlib, the relying party ----------------------------------------------
metadata = requests.get(f"{ISSUER}/.well-known/openid-configuration").json()
check(metadata["issuer"] == ISSUER, "discovery: issuer matches")
check(
    "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"],
    "discovery: client_secret_basic offered",
)

client_secret = env("CLIENT_SECRET")
check("+" in client_secret, "the client secret contains '+' (sent unencoded by Authlib)")
rp = OAuth2Session(
    env("CLIENT_ID"),
    client_secret,
    scope="openid profile email",
    redirect_uri=REDIRECT_URI,
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_basic",
)
verifier = generate_token(48)
nonce = generate_token(20)
authorization_url, state = rp.create_authorization_url(
    metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
)
callback = authorize_in_browser(authorization_url)
check(callback.startswith(REDIRECT_URI), "back at the redirect URI")
check(f"iss={requests.utils.quote(ISSUER, safe='')}" in callback, "the callback carries iss (RFC 9207)")

token = rp.fetch_token(
    metadata["token_endpoint"],
    authorization_response=callback,
    state=state,
    code_verifier=verifier,
)
check(token.get("token_type", "").lower() == "bearer", "code exchanged with a '+' secret over Basic")


def validate_id_token(tokens):
    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"]).json())
    decoded = jwt.decode(
        tokens["id_token"],
        key=keys,
        registry=JWSRegistry(algorithms=metadata["id_token_signing_alg_values_supported"]),
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"essential": True, "value": ISSUER}},
        {"nonce": nonce, "client_id": env("CLIENT_ID"), "access_token": tokens["access_token"]},
    )
    claims.validate(leeway=60)
    return claims


claims = validate_id_token(token)
check(claims["nonce"] == nonce, "ID token validated by Authlib (signature, iss, aud, nonce, at_hash)")

userinfo = rp.get(metadata["userinfo_endpoint"]).json()
check(userinfo["sub"] == claims["sub"], "UserInfo: same subject")
check(userinfo.get("email") == "alice@example.com", "UserInfo: email released by the email scope")

first_refresh = token["refresh_token"]
refreshed = rp.refresh_token(metadata["token_endpoint"], refresh_token=first_refresh)
check(refreshed["access_token"] != token["access_token"], "refresh: a new access token")
check(refreshed["refresh_token"] != first_refresh, "refresh: the refresh token rotated")

# client_secret_post: the body is form-encoded, so '+' arrives intact too.
rp_post = OAuth2Session(
    env("CLIENT_ID"), client_secret, token_endpoint_auth_method="client_secret_post"
)
twice = rp_post.refresh_token(metadata["token_endpoint"], refresh_token=refreshed["refresh_token"])
check(twice["refresh_token"] != refreshed["refresh_token"], "refresh with client_secret_post")

# --- requests-oauthlib: client credentials and introspection -----------------
service_secret = env("SERVICE_SECRET")
check("+" in service_secret, "the service secret contains '+' (sent unencoded by requests)")
service = OAuthlibSession(client=BackendApplicationClient(client_id=env("SERVICE_ID")))
service_token = service.fetch_token(
    token_url=metadata["token_endpoint"],
    auth=requests.auth.HTTPBasicAuth(env("SERVICE_ID"), service_secret),
)
check(service_token.get("access_token"), "requests-oauthlib: client credentials with a '+' secret")

introspection = requests.post(
    metadata["introspection_endpoint"],
    data={"token": twice["access_token"]},
    auth=(env("RS_CLIENT_ID"), env("RS_CLIENT_SECRET")),
).json()
check(
    introspection["active"] is True and introspection["sub"] == claims["sub"],
    "introspection: the access token is active",
)

# --- revocation (Authlib) ------------------------------------------------------
revoked = rp.revoke_token(
    metadata["revocation_endpoint"], token=twice["refresh_token"], token_type_hint="refresh_token"
)
check(revoked.status_code == 200, "revocation accepted")
refused = requests.post(
    metadata["token_endpoint"],
    data={"grant_type": "refresh_token", "refresh_token": twice["refresh_token"]},
    auth=(env("CLIENT_ID"), client_secret),
)
check(
    refused.status_code == 400 and refused.json()["error"] == "invalid_grant",
    "revocation: the refresh token no longer works",
)

print("Authlib and requests-oauthlib interoperability: all checks passed")
sys.exit(0)
