import { render, type ComponentType } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorText, post } from './api';
import { authConfig, demoUsers, onOpenSignIn, openSignIn, session, useUser, type AuthConfig, type User } from './auth';
import { interceptLinks, navigate, useLocation } from './router';
import { Toasts } from './ui';
import './styles.css';

// Pages load on demand, so the home page does not pay for the video player and the live room does not
// pay for the studio.
const pages = {
  home: () => import('./pages/Home'),
  live: () => import('./pages/LiveRoom'),
  product: () => import('./pages/Product'),
  me: () => import('./pages/Me'),
  studio: () => import('./pages/Studio'),
  seller: () => import('./pages/Seller'),
  replay: () => import('./pages/Replay'),
};

type PageName = keyof typeof pages | 'notFound' | 'signIn';

function route(path: string): { page: PageName; id?: string } {
  if (path === '/' || path === '') return { page: 'home' };
  let m = /^\/live\/([^/]+)\/?$/.exec(path);
  if (m) return { page: 'live', id: decodeURIComponent(m[1]) };
  m = /^\/p\/([^/]+)\/?$/.exec(path);
  if (m) return { page: 'product', id: decodeURIComponent(m[1]) };
  m = /^\/replay\/([^/]+)\/?$/.exec(path);
  if (m) return { page: 'replay', id: decodeURIComponent(m[1]) };
  m = /^\/seller\/([^/]+)\/?$/.exec(path);
  if (m) return { page: 'seller', id: decodeURIComponent(m[1]) };
  if (/^\/me\/?$/.test(path)) return { page: 'me' };
  if (/^\/studio\/?$/.test(path)) return { page: 'studio' };
  if (path === '/auth/callback') return { page: 'signIn' };
  return { page: 'notFound' };
}

function SignInDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [config, setConfig] = useState<AuthConfig | null>(null);
  useEffect(() => {
    const l = () => {
      setError(null);
      dialog.current?.showModal();
      authConfig().then(setConfig, (e) => setError(errorText(e)));
    };
    return onOpenSignIn(l);
  }, []);

  async function pick(u: Omit<User, 'token'>) {
    setBusy(u.id);
    setError(null);
    try {
      const { token } = await post<{ token: string }>('/api/dev/tokens', { userId: u.id, role: u.role, name: u.name });
      session.signIn({ ...u, token });
      dialog.current?.close();
    } catch (e) {
      setError(e instanceof ApiError && e.status === 404 ? 'Demo sign-in is off on this server. Sign in with your account instead.' : errorText(e));
    } finally {
      setBusy(null);
    }
  }

  async function provider(c: AuthConfig) {
    setBusy('provider');
    setError(null);
    try {
      await (await import('./oidc')).beginSignIn(c);
    } catch (e) {
      setError(errorText(e));
      setBusy(null);
    }
  }

  const providerHost = config?.authority ? new URL(config.authority).host : null;
  return (
    <dialog ref={dialog} class="signin" aria-labelledby="signin-title">
      <form method="dialog" class="signin-body">
        <h2 id="signin-title">Sign in to Pasar</h2>
        {!config && !error && (
          <p class="muted" role="status">
            Loading…
          </p>
        )}
        {config?.authority && (
          <p>
            <button type="button" data-testid="signin-provider" disabled={busy !== null} onClick={() => provider(config)}>
              Sign in with your account
            </button>
            <span class="muted small"> · {providerHost}</span>
          </p>
        )}
        {config?.devTokens && (
          <>
            <p class="muted">Demo mode: pick a person to be. Buyers shop, chat and play; sellers go live from the studio.</p>
            <ul class="signin-list">
              {demoUsers.map((u) => (
                <li key={u.id}>
                  <button type="button" class="signin-user" data-user={u.id} disabled={busy !== null} onClick={() => pick(u)}>
                    <span class="avatar" aria-hidden="true">
                      {u.name.slice(0, 1)}
                    </span>
                    <span>
                      <strong>{u.name}</strong>
                      <span class="muted small"> · {u.role}</span>
                    </span>
                    {busy === u.id && <span class="muted small">signing in…</span>}
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
        {config && !config.devTokens && !config.authority && <p class="muted">This server has no sign-in configured: tokens come from your platform.</p>}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="row end">
          <button value="cancel" class="ghost">
            Close
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Back from the provider's sign-in page: finish the sign-in, then show the page it started from. */
function SignInCallback() {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([authConfig(), import('./oidc')])
      .then(([config, oidc]) => oidc.completeSignIn(config))
      .then((to) => navigate(to, true), (e) => setError(errorText(e)));
  }, []);
  return (
    <main id="main" class="page narrow">
      {error ? (
        <p class="error" role="alert">
          {error} <a href="/">Go to the home page</a>.
        </p>
      ) : (
        <p class="muted" role="status">
          Signing in…
        </p>
      )}
    </main>
  );
}

function Header() {
  const user = useUser();
  const { path } = useLocation();
  const link = (href: string, label: string) => (
    <a href={href} aria-current={path === href ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <header class="top">
      <div class="top-inner">
        <a href="/" class="brand" aria-label="Pasar home">
          <span aria-hidden="true">◆</span> Pasar
        </a>
        <nav aria-label="Main">
          {link('/', 'Home')}
          {link('/me', 'Me')}
          {(user?.role === 'seller' || user?.role === 'admin') && link('/studio', 'Studio')}
        </nav>
        <div class="who">
          {user ? (
            <>
              <span class="avatar who-avatar" aria-hidden="true">
                {user.name.slice(0, 1)}
              </span>
              <span class="who-name" data-testid="signed-in-as">
                {user.name}
              </span>
              <button type="button" class="ghost small" onClick={() => session.signOut()}>
                Sign out
              </button>
            </>
          ) : (
            <button type="button" class="small" onClick={openSignIn}>
              Sign in
            </button>
          )}
        </div>
      </div>
    </header>
  );
}

function NotFound() {
  return (
    <main id="main" class="page narrow">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <a href="/">Go to the home page</a>.
      </p>
    </main>
  );
}

function App() {
  const { path } = useLocation();
  const r = route(path);
  const [loaded, setLoaded] = useState<{ name: PageName; Page: ComponentType<{ id?: string }> } | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);

  useEffect(() => {
    if (r.page === 'notFound' || r.page === 'signIn') return;
    let live = true;
    pages[r.page]().then(
      (m) => live && setLoaded({ name: r.page, Page: m.default as ComponentType<{ id?: string }> }),
      (e) => live && setLoadError(e),
    );
    return () => {
      live = false;
    };
  }, [r.page]);

  // Before the first paint: on a phone the live room hides the site's header from its first frame (styles.css).
  useLayoutEffect(() => {
    document.body.dataset.page = r.page;
  }, [r.page]);

  useEffect(() => {
    const titles: Record<PageName, string> = { home: 'Pasar', live: 'Live · Pasar', product: 'Product · Pasar', me: 'Me · Pasar', studio: 'Studio · Pasar', seller: 'Seller · Pasar', replay: 'Replay · Pasar', notFound: 'Not found · Pasar', signIn: 'Signing in · Pasar' };
    document.title = titles[r.page];
  }, [r.page]);

  let body;
  if (r.page === 'notFound') body = <NotFound />;
  else if (r.page === 'signIn') body = <SignInCallback />;
  else if (loadError) body = <main id="main" class="page"><p class="error" role="alert">This page could not load: {errorText(loadError)}. Reload to try again.</p></main>;
  else if (!loaded || loaded.name !== r.page) body = <main id="main" class="page"><p class="muted" role="status">Loading…</p></main>;
  else body = <loaded.Page key={`${r.page}:${r.id ?? ''}`} id={r.id} />;

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header />
      {body}
      <SignInDialog />
      <Toasts />
    </>
  );
}

const root = document.getElementById('app')!;
interceptLinks(root);
render(<App />, root);
