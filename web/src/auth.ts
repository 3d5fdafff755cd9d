// Who is signed in. Pasar keeps no passwords: while dev tokens are on, a demo sign-in asks the server for a
// dev token; in production the platform's own identity provider issues the JWT (oidc.ts).

import { useEffect, useState } from 'preact/hooks';

export type Role = 'buyer' | 'seller' | 'admin';

export interface User {
  id: string;
  name: string;
  role: Role;
  token: string;
}

export const demoUsers: Omit<User, 'token'>[] = [
  { id: 'demo-buyer-citra', name: 'Citra', role: 'buyer' },
  { id: 'demo-buyer-dimas', name: 'Dimas', role: 'buyer' },
  { id: 'demo-seller-ayu', name: 'Ayu Batik House', role: 'seller' },
  { id: 'demo-seller-budi', name: 'Budi Gadget Corner', role: 'seller' },
  { id: 'demo-admin', name: 'Pasar Admin', role: 'admin' },
];

const storageKey = 'pasar.user';

function load(): User | null {
  try {
    const raw = localStorage.getItem(storageKey);
    if (!raw) return null;
    const user = JSON.parse(raw) as User;
    // Drop a token that has expired (exp is in seconds) rather than failing on the first call.
    const payload = JSON.parse(atob(user.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: number };
    if (payload.exp && payload.exp * 1000 < Date.now()) return null;
    return user;
  } catch {
    return null;
  }
}

type Listener = (user: User | null) => void;

class Session {
  private current: User | null = load();
  private readonly listeners = new Set<Listener>();

  get value(): User | null {
    return this.current;
  }

  signIn(user: User): void {
    localStorage.setItem(storageKey, JSON.stringify(user));
    this.set(user);
  }

  signOut(): void {
    localStorage.removeItem(storageKey);
    this.set(null);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(user: User | null): void {
    this.current = user;
    for (const l of this.listeners) l(user);
  }
}

export const session = new Session();

// Another tab signing in or out changes this one too.
window.addEventListener('storage', (e) => {
  if (e.key === storageKey) {
    const user = load();
    if (user) session.signIn(user);
    else session.signOut();
  }
});

export function useUser(): User | null {
  const [user, setUser] = useState(session.value);
  useEffect(() => {
    // A sign-in between this component's first render and this effect would otherwise be missed for good.
    setUser(session.value);
    return session.subscribe(setUser);
  }, []);
  return user;
}

/**
 * The anonymous viewer id the server issued to this browser (SPEC §17), kept so that the live room counts it once
 * across reloads and tabs. The server signs it; an id made up here would not be believed, so there is none until
 * the first room snapshot brings one ('' until then: the server then issues one for the connection).
 */
const viewerIdKey = 'pasar.viewerId';

export function anonymousId(): string {
  const id = localStorage.getItem(viewerIdKey) ?? '';
  return /^[A-Za-z0-9_-]{8,40}\.[A-Za-z0-9_-]{8,40}$/.test(id) ? id : '';
}

/** Keeps the viewer id a room snapshot carried (the server's, or the one this browser already had). */
export function rememberViewerId(id: string | null | undefined): void {
  if (id && id !== localStorage.getItem(viewerIdKey)) localStorage.setItem(viewerIdKey, id);
}

const signInListeners = new Set<() => void>();

/** Opens the sign-in dialog (rendered once by the app shell). */
export function openSignIn(): void {
  for (const l of signInListeners) l();
}

export function onOpenSignIn(listener: () => void): () => void {
  signInListeners.add(listener);
  return () => signInListeners.delete(listener);
}

/** How this server signs people in (GET /api/auth/config): demo dev tokens, a provider, or both. */
export interface AuthConfig {
  devTokens: boolean;
  authority: string | null;
  clientId: string | null;
  scope: string | null;
  roleClaim: string;
}

let config: Promise<AuthConfig> | null = null;

/** The sign-in settings, asked once per page load; a failure is asked again next time. */
export function authConfig(): Promise<AuthConfig> {
  config ??= fetch('/api/auth/config', { headers: { accept: 'application/json' } })
    .then((r) => {
      if (!r.ok) throw new Error(`The server answered ${r.status}.`);
      return r.json() as Promise<AuthConfig>;
    })
    .catch((e: unknown) => {
      config = null;
      throw e;
    });
  return config;
}
