// Sign-in: the OpenID Connect authorization-code flow with PKCE (S256) against the issuer the
// server names at /auth/config. The access token lives in sessionStorage only (gone with the
// tab), is never put in a URL, and the `code`/`state` of the issuer's redirect are removed from
// the address bar as soon as the page reads them.

const SESSION_KEY = 'bando.session';
const PENDING_KEY = 'bando.signin.pending';

function base64url(bytes) {
  let text = '';
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomText(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The PKCE S256 challenge of `verifier`. */
async function challengeOf(verifier) {
  if (!crypto.subtle) throw new Error('PKCE needs a secure context (https:// or localhost)');
  return base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

/** The token's claims, for display only (the server verifies the token on every request). */
function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

/** The role names at the dotted `path` of the token's claims (Keycloak: `realm_access.roles`). */
function rolesOf(claims, path) {
  const value = path.split('.').reduce((v, k) => (v && typeof v === 'object' ? v[k] : undefined), claims);
  return Array.isArray(value) ? value.filter((r) => typeof r === 'string') : [];
}

function read(storage, key) {
  try { return JSON.parse(storage.getItem(key) ?? 'null'); } catch { return null; }
}

async function discover(issuer) {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`${issuer}: discovery HTTP ${response.status}`);
  const doc = await response.json();
  if (doc.issuer !== issuer) throw new Error(`discovery names issuer ${doc.issuer}, expected ${issuer}`);
  return doc;
}

/** The page's address to come back to: this path, no query (the hash is kept separately). */
const redirectUri = () => `${location.origin}${location.pathname}`;

/** Exchanges the redirect's code for tokens when the page is the issuer's answer. */
async function completeRedirect(config, storage) {
  const query = new URLSearchParams(location.search);
  if (!query.has('code') && !query.has('error')) return;
  const pending = read(storage, PENDING_KEY);
  storage.removeItem(PENDING_KEY);
  // Out of the address bar (and history) before anything else can fail.
  history.replaceState(null, '', `${location.pathname}${pending?.hash ?? location.hash}`);
  if (query.has('error')) throw new Error(`${query.get('error')}: ${query.get('error_description') ?? ''}`);
  if (!pending || query.get('state') !== pending.state) throw new Error('the sign-in answer does not match the request (state)');
  if (query.has('iss') && query.get('iss') !== config.issuer) throw new Error('the sign-in answer comes from another issuer');
  const discovery = await discover(config.issuer);
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: query.get('code'), code_verifier: pending.verifier,
      redirect_uri: pending.redirectUri, client_id: config.client_id,
    }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || !answer.access_token) {
    throw new Error(`token: HTTP ${response.status} ${answer.error ?? ''} ${answer.error_description ?? ''}`.trim());
  }
  const claims = claimsOf(answer.access_token);
  storage.setItem(SESSION_KEY, JSON.stringify({
    accessToken: answer.access_token,
    expiresAt: Date.now() + 1000 * Number(answer.expires_in ?? 300),
    username: claims.preferred_username ?? claims.sub ?? '',
    name: claims.name ?? '',
    // For showing or hiding controls only: the server decides on every request.
    roles: rolesOf(claims, config.roles_claim ?? 'realm_access.roles'),
  }));
}

/**
 * Sign-in for this page: reads /auth/config and finishes a redirect from the issuer. Resolves
 * to `{ enabled, development, user, token(), signIn(), signOut() }`; `error` is set when the
 * redirect could not be completed (the page stays anonymous).
 */
export async function createSignIn({ storage = sessionStorage } = {}) {
  const response = await fetch('/auth/config');
  if (!response.ok) throw new Error(`/auth/config: HTTP ${response.status}`);
  const config = await response.json();
  let error = null;
  if (config.enabled) {
    try {
      await completeRedirect(config, storage);
    } catch (e) {
      error = e;
    }
  }
  const session = () => {
    const s = read(storage, SESSION_KEY);
    if (s && s.expiresAt > Date.now()) return s;
    if (s) storage.removeItem(SESSION_KEY);
    return null;
  };
  return {
    enabled: Boolean(config.enabled),
    development: Boolean(config.development),
    error,
    /** The signed-in user's `{ username, name, roles }`, or null. */
    get user() {
      const s = session();
      return s ? { username: s.username, name: s.name, roles: s.roles ?? [] } : null;
    },
    /** The access token, or null when nobody is signed in (or it expired). */
    token: () => session()?.accessToken ?? null,
    /** Leaves for the issuer's login page; comes back to this page with its view. */
    async signIn() {
      const discovery = await discover(config.issuer);
      const verifier = randomText(48);
      const state = randomText(16);
      const pending = { verifier, state, redirectUri: redirectUri(), hash: location.hash };
      storage.setItem(PENDING_KEY, JSON.stringify(pending));
      const target = new URL(discovery.authorization_endpoint);
      target.search = new URLSearchParams({
        response_type: 'code', client_id: config.client_id, redirect_uri: pending.redirectUri,
        scope: 'openid', state, code_challenge: await challengeOf(verifier), code_challenge_method: 'S256',
      }).toString();
      location.assign(target.toString());
    },
    /** Forgets the token and reloads, so nothing seen while signed in stays on the page. */
    signOut() {
      storage.removeItem(SESSION_KEY);
      location.reload();
    },
  };
}
