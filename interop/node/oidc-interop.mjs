// Interoperability check: Node's openid-client (v6) as the relying party
// against a running Tessera. Discovery, authorization code + PKCE (the login
// and consent forms are filled in over HTTP with a cookie jar, as a browser
// would), ID-token validation (signature included), UserInfo, refresh,
// introspection and revocation. Exits non-zero on the first failure.
//
// Configuration from the environment: TESSERA_ISSUER, CLIENT_ID,
// CLIENT_SECRET, REDIRECT_URI, USERNAME, PASSWORD, RS_CLIENT_ID and
// RS_CLIENT_SECRET (a client allowed to introspect).

import * as client from 'openid-client'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}

const issuer = new URL(env('TESSERA_ISSUER'))
const clientId = env('CLIENT_ID')
const redirectUri = env('REDIRECT_URI')

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`)
  console.log(`ok - ${what}`)
}

// Plain-http loopback issuer in tests: openid-client refuses http unless told.
const insecure = { execute: [client.allowInsecureRequests] }

// --- a minimal browser: cookies, manual redirects, form parsing ------------
const jar = new Map()

async function browse(url, init = {}) {
  const headers = new Headers(init.headers)
  if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '))
  const res = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual' })
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';')
    const i = pair.indexOf('=')
    const [name, value] = [pair.slice(0, i), pair.slice(i + 1)]
    if (value === '' || /max-age=0/i.test(c)) jar.delete(name)
    else jar.set(name, value)
  }
  return res
}

const unescape = (s) =>
  s.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#x2f;/gi, '/').replace(/&amp;/g, '&')

// The form of a Tessera page: its action, hidden fields and checked boxes.
function parseForm(html) {
  const action = html.match(/<form method="post" action="([^"]*)">/)
  if (!action) throw new Error('no form on the page')
  const fields = new URLSearchParams()
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.append(m[1], unescape(m[2]))
  }
  for (const m of html.matchAll(/<input type="checkbox" name="([^"]+)" value="([^"]*)" checked>/g)) {
    fields.append(m[1], unescape(m[2]))
  }
  return { action: unescape(action[1]), fields }
}

async function submit(pageUrl, extra) {
  const page = await browse(pageUrl)
  check(page.status === 200, `GET ${new URL(pageUrl, issuer).pathname} is a page`)
  const form = parseForm(await page.text())
  for (const [k, v] of Object.entries(extra)) form.fields.append(k, v)
  return browse(form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.fields.toString(),
  })
}

// From the authorization URL to the redirect back to the client.
async function authorizeInBrowser(url) {
  let res = await browse(url)
  let location = res.headers.get('location')
  check(res.status === 302 && location, 'the authorization request redirects')
  if (location.includes('/login')) {
    res = await submit(location, { username: env('USERNAME'), password: env('PASSWORD') })
    location = res.headers.get('location')
    check(res.status === 303 && location, 'signed in')
  }
  if (location.includes('/consent')) {
    res = await submit(location, { decision: 'approve' })
    location = res.headers.get('location')
    check(res.status === 303 && location, 'consent given')
  }
  return new URL(location)
}

// --- the relying party -----------------------------------------------------
const config = await client.discovery(
  issuer, clientId, undefined, client.ClientSecretBasic(env('CLIENT_SECRET')), insecure)
client.allowInsecureRequests(config)
// Verify ID-token signatures against the discovered JWKS, not only TLS.
client.enableNonRepudiationChecks(config)
const meta = config.serverMetadata()
check(meta.issuer === issuer.href.replace(/\/$/, ''), 'discovery: issuer matches')
check(meta.userinfo_endpoint && meta.end_session_endpoint, 'discovery: OIDC endpoints advertised')
check(meta.id_token_signing_alg_values_supported.includes('RS256'), 'discovery: RS256 offered')

const codeVerifier = client.randomPKCECodeVerifier()
const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
const nonce = client.randomNonce()
const state = client.randomState()
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email',
  code_challenge: codeChallenge,
  code_challenge_method: 'S256',
  nonce,
  state,
})
const callback = await authorizeInBrowser(authorizationUrl)
check(callback.href.startsWith(redirectUri), 'back at the redirect URI')

const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: codeVerifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
})
const claims = tokens.claims()
check(claims && claims.nonce === nonce, 'ID token validated, nonce echoed')
check(claims.aud === clientId && claims.iss === meta.issuer, 'ID token iss and aud')
check(typeof claims.auth_time === 'number', 'ID token auth_time')

const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
check(userinfo.sub === claims.sub, 'UserInfo: same subject')
check(userinfo.email === 'alice@example.com', 'UserInfo: email released by the email scope')

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
check(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'refresh: a new access token')
check(refreshed.claims()?.sub === claims.sub, 'refresh: a new ID token for the same subject')
check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'refresh: the refresh token rotated')

const resourceServer = await client.discovery(
  issuer, env('RS_CLIENT_ID'), undefined, client.ClientSecretBasic(env('RS_CLIENT_SECRET')), insecure)
client.allowInsecureRequests(resourceServer)
const active = await client.tokenIntrospection(resourceServer, refreshed.access_token)
check(active.active === true && active.sub === claims.sub, 'introspection: the access token is active')

await client.tokenRevocation(config, refreshed.refresh_token)
let refused = false
try {
  await client.refreshTokenGrant(config, refreshed.refresh_token)
} catch (e) {
  refused = e.error === 'invalid_grant'
}
check(refused, 'revocation: the refresh token no longer works')
const inactive = await client.tokenIntrospection(resourceServer, refreshed.access_token)
check(inactive.active === false, 'revocation: the grant\'s access token is inactive')

console.log('openid-client interoperability: all checks passed')
