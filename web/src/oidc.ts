// Sign-in with the platform's OpenID Connect provider: the authorization-code flow with PKCE (RFC 7636) for a
// public client, by hand with crypto.subtle, so the app carries no OAuth library. Loaded only when someone
// signs in or comes back from the provider, so no page pays for it otherwise.

import type { AuthConfig } from './auth';
import { session, type Role, type User } from './auth';

/** Where the provider sends the browser back; the server answers it with the app's page. */
export const callbackPath = '/auth/callback';

const pendingKey = 'pasar.oidc.pending';

interface Pending {
  state: string;
  verifier: string;
  returnTo: string;
  authority: string;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

function base64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random(bytes = 32): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function discover(authority: string): Promise<Discovery> {
  const r = await fetch(`${authority}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
  if (!r.ok) throw new Error(`The sign-in provider answered ${r.status}.`);
  return (await r.json()) as Discovery;
}

function redirectUri(): string {
  return window.location.origin + callbackPath;
}

/** Leaves for the provider's sign-in page; comes back at {@link callbackPath}. */
export async function beginSignIn(config: AuthConfig): Promise<void> {
  const authority = config.authority!;
  const { authorization_endpoint } = await discover(authority);
  const verifier = random(48);
  const challenge = base64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const pending: Pending = { state: random(16), verifier, returnTo: window.location.pathname + window.location.search, authority };
  // sessionStorage: the verifier lives only in this tab, and only until the provider sends the browser back.
  sessionStorage.setItem(pendingKey, JSON.stringify(pending));
  const url = new URL(authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId!,
    redirect_uri: redirectUri(),
    scope: config.scope ?? 'openid profile',
    state: pending.state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.toString());
}

function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/** The user a provider's access token names, read the way the server reads it (role claim, buyer by default). */
export function userFromToken(token: string, roleClaim: string): User {
  const claims = claimsOf(token);
  const id = String(claims.sub ?? '');
  const role = claims[roleClaim];
  const name = typeof claims.name === 'string' && claims.name.trim() ? claims.name : typeof claims.preferred_username === 'string' ? claims.preferred_username : id;
  return { id, name: name.slice(0, 80), role: role === 'seller' || role === 'admin' ? (role as Role) : 'buyer', token };
}

/**
 * Finishes a sign-in the provider sent back here: checks the state, trades the code and the PKCE verifier for
 * tokens, and signs in with the access token. Returns where to go next.
 */
export async function completeSignIn(config: AuthConfig): Promise<string> {
  const params = new URLSearchParams(window.location.search);
  const raw = sessionStorage.getItem(pendingKey);
  sessionStorage.removeItem(pendingKey);
  const pending = raw ? (JSON.parse(raw) as Pending) : null;
  const error = params.get('error');
  if (error) throw new Error(`The sign-in provider said: ${params.get('error_description') ?? error}`);
  if (!pending || params.get('state') !== pending.state || pending.authority !== config.authority) {
    throw new Error('This sign-in was not started here, or it was already used. Please sign in again.');
  }

  const { token_endpoint } = await discover(pending.authority);
  const r = await fetch(token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: redirectUri(),
      client_id: config.clientId!,
      code_verifier: pending.verifier,
    }),
  });
  if (!r.ok) throw new Error(`The sign-in provider refused the sign-in (${r.status}). Please sign in again.`);
  const tokens = (await r.json()) as { access_token?: string };
  if (!tokens.access_token) throw new Error('The sign-in provider sent no access token.');
  session.signIn(userFromToken(tokens.access_token, config.roleClaim));
  return pending.returnTo.startsWith('/') && !pending.returnTo.startsWith('//') ? pending.returnTo : '/';
}
