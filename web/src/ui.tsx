// Small building blocks shared by the pages.

import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { errorText, get, type Product, type Seller } from './api';
import { money } from './format';
import { openSignIn } from './auth';

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  set: (value: T) => void;
}

/** Runs a load on mount and whenever deps change; the last result wins. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(abort.signal).then(
      (data) => !abort.signal.aborted && setState({ data, loading: false }),
      (error) => !abort.signal.aborted && setState({ error, loading: false }),
    );
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const set = useCallback((data: T) => setState({ data, loading: false }), []);
  return { data: state.data, error: state.error, loading: state.loading, reload, set };
}

/** Repeats a callback every `ms` while the component is mounted. */
export function useInterval(callback: () => void, ms: number | null): void {
  const saved = useRef(callback);
  saved.current = callback;
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => saved.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useInterval(() => setNow(Date.now()), ms);
  return now;
}

export function ErrorNote({ error, prefix }: { error: unknown; prefix?: string }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {prefix ? `${prefix}: ` : ''}
      {errorText(error)}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Section({ title, id, children, actions }: { title: string; id?: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const headingId = id ? `${id}-title` : undefined;
  return (
    <section class="card" id={id} aria-labelledby={headingId}>
      <div class="card-head">
        <h2 id={headingId}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function Price({ minor, currency, was }: { minor: number; currency: string; was?: number }) {
  return (
    <span class="price">
      {money(minor, currency)}
      {was !== undefined && was > minor && (
        <s class="was">
          <span class="sr-only">was </span>
          {money(was, currency)}
        </s>
      )}
    </span>
  );
}

/** A product picture, or a letter tile when the product has none. */
export function Thumb({ product, size = 'md' }: { product: { title: string; imageUrl?: string | null }; size?: 'sm' | 'md' | 'lg' }) {
  if (product.imageUrl) return <img class={`thumb thumb-${size}`} src={product.imageUrl} alt="" loading="lazy" />;
  const hue = [...product.title].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
  return (
    <span class={`thumb thumb-${size} thumb-letter`} style={{ background: `hsl(${hue} 55% 38%)` }} aria-hidden="true">
      {product.title.slice(0, 1).toUpperCase()}
    </span>
  );
}

// ---- Toasts: short messages that say what just happened, read out by screen readers ----

export interface Toast {
  id: number;
  text: string;
  kind: 'info' | 'success' | 'error' | 'purchase';
}

let toastId = 0;
const toastListeners = new Set<(t: Toast) => void>();

export function toast(text: string, kind: Toast['kind'] = 'info'): void {
  const t = { id: ++toastId, text, kind };
  for (const l of toastListeners) l(t);
}

export function Toasts() {
  const [items, setItems] = useState<Toast[]>([]);
  useEffect(() => {
    const l = (t: Toast) => {
      setItems((all) => [...all.slice(-3), t]);
      setTimeout(() => setItems((all) => all.filter((x) => x.id !== t.id)), t.kind === 'error' ? 8000 : 5000);
    };
    toastListeners.add(l);
    return () => toastListeners.delete(l);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {items.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

/** Copies text to the clipboard, falling back to selecting it when the clipboard is not allowed. */
export async function copyText(text: string, fallbackInput?: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallbackInput) {
      fallbackInput.focus();
      fallbackInput.select();
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
    return false;
  }
}

export function CopyField({ label, value, secret = false, testId }: { label: string; value: string; secret?: boolean; testId?: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [shown, setShown] = useState(!secret);
  const [copied, setCopied] = useState<string | null>(null);
  const id = `copy-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div class="field copy-field">
      <label for={id}>{label}</label>
      <div class="row">
        <input id={id} ref={input} readOnly value={value} type={shown ? 'text' : 'password'} data-testid={testId} spellcheck={false} />
        {secret && (
          <button type="button" class="ghost" onClick={() => setShown(!shown)} aria-pressed={shown}>
            {shown ? 'Hide' : 'Show'}
          </button>
        )}
        <button
          type="button"
          onClick={async () => {
            const ok = await copyText(value, input.current);
            setCopied(ok ? 'Copied' : 'Select and copy it by hand');
            setTimeout(() => setCopied(null), 2500);
          }}
        >
          Copy<span class="sr-only"> {label}</span>
        </button>
      </div>
      <span class="muted small" role="status">
        {copied ?? ''}
      </span>
    </div>
  );
}

// ---- Small caches for names shown beside ids ----

const sellerCache = new Map<string, Promise<Seller>>();
const productCache = new Map<string, Promise<Product>>();

export function sellerOf(id: string): Promise<Seller> {
  let p = sellerCache.get(id);
  if (!p) {
    p = get<Seller>(`/api/sellers/${encodeURIComponent(id)}`);
    p.catch(() => sellerCache.delete(id));
    sellerCache.set(id, p);
  }
  return p;
}

export function productOf(id: string): Promise<Product> {
  let p = productCache.get(id);
  if (!p) {
    p = get<Product>(`/api/products/${encodeURIComponent(id)}`);
    p.catch(() => productCache.delete(id));
    productCache.set(id, p);
  }
  return p;
}

export function forgetSeller(id: string): void {
  sellerCache.delete(id);
}

export function SellerName({ id }: { id: string }) {
  const { data } = useAsync(() => sellerOf(id), [id]);
  return <>{data?.name ?? id}</>;
}

export function ProductName({ id }: { id: string }) {
  const { data } = useAsync(() => productOf(id), [id]);
  return <>{data?.title ?? 'a product'}</>;
}

export function SignInPrompt({ to }: { to: string }) {
  return (
    <div class="signin-prompt">
      <p>Sign in {to}.</p>
      <button type="button" onClick={openSignIn}>
        Sign in
      </button>
    </div>
  );
}

/** Whether a media query matches, following changes (a phone turned, a window resized). */
export function useMedia(query: string): boolean {
  const [matches, setMatches] = useState(() => typeof matchMedia === 'function' && matchMedia(query).matches);
  useEffect(() => {
    if (typeof matchMedia !== 'function') return undefined;
    const mq = matchMedia(query);
    const changed = () => setMatches(mq.matches);
    changed();
    mq.addEventListener('change', changed);
    return () => mq.removeEventListener('change', changed);
  }, [query]);
  return matches;
}

/** Where the live room is the phone's full-screen room: below 700 px wide, or a phone on its side (ADR 0022). */
export const phoneQuery = '(max-width: 699.98px), (max-height: 500px) and (orientation: landscape)';
