#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/corpus/<target>/, a handful of
valid inputs each. The JWT seeds are signed with the harness's fixed
Ed25519 key (seed 0x42 * 32, src/lib.rs), so they verify in the targets.
Run again after changing the harness's key or the targets' input layout:
python3 fuzz/make_seeds.py (needs python3-cryptography)."""

import base64
import json
import os
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

SEP = b"\xff"
HERE = os.path.dirname(os.path.abspath(__file__))
KEY = Ed25519PrivateKey.from_private_bytes(b"\x42" * 32)
NOW = 1_800_000_000


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwks():
    x = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64(x), "kid": "fuzz-ed",
                                 "alg": "EdDSA", "use": "sig"}]}).encode()


def sign(header, payload):
    signing_input = f"{b64(header)}.{b64(payload)}".encode()
    return (signing_input + b"." + b64(KEY.sign(signing_input)).encode()).decode()


def j(v):
    return json.dumps(v, separators=(",", ":")).encode()


AT_HEADER = j({"alg": "EdDSA", "typ": "at+jwt", "kid": "fuzz-ed"})
AT_CLAIMS = j({"iss": "https://as.example", "sub": "alice", "aud": "https://rs.example",
               "exp": NOW + 300, "iat": NOW, "nbf": NOW, "jti": "j1", "client_id": "photo-printer",
               "scope": "photos:read photos:write", "auth_time": NOW - 5})
ID_HEADER = j({"alg": "EdDSA", "typ": "JWT", "kid": "fuzz-ed"})
ID_CLAIMS = j({"iss": "https://as.example", "sub": "alice", "aud": "photo-printer", "exp": NOW + 300,
               "iat": NOW, "nonce": "n-0123456789", "auth_time": NOW - 5, "name": "Alice",
               "email": "alice@example.com"})
ID_CLAIMS_MANY = j({"iss": "https://as.example", "sub": "alice", "aud": ["photo-printer", "other"],
                    "azp": "photo-printer", "exp": NOW + 300, "iat": NOW})

SEEDS = {
    "authorize_request": [
        b"response_type=code&client_id=c1&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&scope=openid%20photos%3Aread&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        b"response_type=code&client_id=c1&redirect_uri=http://127.0.0.1:53124/cb&scope=photos:read&state=a%20b&nonce=n&prompt=login%20consent&max_age=0&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        b"response_type=code&client_id=c1&redirect_uri=http%3A%2F%2F%5B%3A%3A1%5D%3A8080%2Fcb%3Fx%3D1&scope=openid&resource=https%3A%2F%2Frs.example&response_mode=query&login_hint=alice&max_age=3600",
        b"client_id=c1&redirect_uri=https://client.example/cb&state=%FF&state=x&response_type=token",
        b"client_id=c1&scope=openid+profile&request_uri=urn:x&prompt=none",
    ],
    "token_request": [
        b"Basic YzE6czFzZWNyZXQ=" + SEP + b"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        b"basic YSUyMGI6cCUyNSUyNg==" + SEP + b"grant_type=refresh_token&refresh_token=rt&scope=photos%3Aread",
        SEP + b"grant_type=client_credentials&client_id=svc&client_secret=s3cret&scope=photos:read",
        SEP + b"grant_type=authorization_code&client_id=pub&code=x&code_verifier=v",
        b"c1:a&b+c%2" + SEP + b"grant_type=password&username=u",
    ],
    "redirect_uri": [
        b"https://client.example/cb" + SEP + b"https://client.example/cb",
        b"http://127.0.0.1/cb" + SEP + b"http://127.0.0.1:53124/cb",
        b"http://[::1]:8080/cb?x=1" + SEP + b"http://[::1]:9/cb?x=1",
        b"https://client.example/cb?tenant=7" + SEP + b"https://client.example/cb?tenant=7&x",
        b"com.example.app:/oauth2redirect" + SEP + b"http://localhost:9000/callback",
    ],
    "scope": [b"openid", b"openid profile email", b"photos:read photos:write", b"b  a", b"a\"b"],
    "guard_jwt": [
        jwks() + SEP + sign(AT_HEADER, AT_CLAIMS).encode(),
        jwks() + SEP + b"Bearer " + sign(AT_HEADER, AT_CLAIMS).encode(),
        j({"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                     "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "ec", "alg": "ES256"},
                    {"kty": "oct", "k": "c2VjcmV0", "kid": "oct", "alg": "HS256"}]}) + SEP
        + b"eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImVjIn0.e30.AAAA",
        jwks() + SEP + sign(ID_HEADER, AT_CLAIMS).encode(),
    ],
    "guard_signed_claims": [
        AT_HEADER + SEP + AT_CLAIMS,
        j({"alg": "EdDSA", "typ": "application/at+jwt", "kid": "fuzz-ed"}) + SEP
        + j({"iss": "https://as.example", "sub": "s", "aud": ["x", "https://rs.example"],
             "exp": 1.8e9 + 0.5, "iat": 0, "jti": "j", "client_id": "c"}),
        j({"alg": "EdDSA", "typ": "at+jwt", "kid": "fuzz-ed", "crit": ["exp"]}) + SEP + AT_CLAIMS,
    ],
    "client_id_token": [
        jwks() + SEP + sign(ID_HEADER, ID_CLAIMS).encode() + SEP + b"max-age=300",
        jwks() + SEP + sign(ID_HEADER, ID_CLAIMS_MANY).encode() + SEP + b"no-store, max-age=5",
        jwks() + SEP + sign(AT_HEADER, ID_CLAIMS).encode() + SEP + b"public, max-age=\"99999999\"",
    ],
    "client_signed_claims": [
        ID_HEADER + SEP + ID_CLAIMS,
        ID_HEADER + SEP + ID_CLAIMS_MANY,
        j({"alg": "EdDSA", "kid": "fuzz-ed"}) + SEP + j({"iss": "https://as.example", "sub": "a",
                                                        "aud": "photo-printer", "exp": NOW, "iat": NOW,
                                                        "at_hash": "x"}),
    ],
}

for target, seeds in SEEDS.items():
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for i, seed in enumerate(seeds):
        with open(os.path.join(directory, f"seed-{i}"), "wb") as f:
            f.write(seed)
