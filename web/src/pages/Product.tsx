import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError, del, errorText, get, isMissingRoute, newIdempotencyKey, post, put,
  type Order, type Page, type Product as ProductT, type Seller, type ShareLink, type Signals,
} from '../api';
import { openSignIn, useUser } from '../auth';
import { count, money } from '../format';
import { createLiveHub, isHubMissing } from '../hub';
import { useLocation } from '../router';
import { CopyField, ErrorNote, Loading, Price, Thumb, forgetSeller, toast, useAsync } from '../ui';
import { VoucherPicker } from '../vouchers';

/** Follow / unfollow a seller, with the exact follower count from the server. */
/** The seller box with its follow button; `compact` is the button alone (over the phone room's video). */
export function FollowButton({ sellerId, compact = false }: { sellerId: string; compact?: boolean }) {
  const user = useUser();
  const seller = useAsync((signal) => get<Seller>(`/api/sellers/${encodeURIComponent(sellerId)}`, signal), [sellerId]);
  const following = useAsync(
    async (signal) => {
      if (!user) return false;
      const page = await get<Page<Seller>>('/api/me/following?limit=100', signal);
      return page.items.some((s) => s.id === sellerId);
    },
    [sellerId, user?.id],
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function toggle() {
    if (!user) return openSignIn();
    setBusy(true);
    setError(null);
    try {
      if (following.data) await del(`/api/me/following/${encodeURIComponent(sellerId)}`);
      else await put(`/api/me/following/${encodeURIComponent(sellerId)}`);
      following.set(!following.data);
      forgetSeller(sellerId);
      seller.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const isSelf = user?.id === sellerId;
  if (compact) {
    if (isSelf) return null;
    return (
      <button type="button" class={`small follow${following.data ? ' ghost on-dark' : ''}`} aria-pressed={!!following.data} disabled={busy || following.loading}
        onClick={toggle} title={error ? errorText(error) : undefined}>
        {following.data ? 'Following' : 'Follow'}
      </button>
    );
  }
  return (
    <div class="seller-box">
      <span class="avatar" aria-hidden="true">{(seller.data?.name ?? '?').slice(0, 1)}</span>
      <span class="seller-info">
        <strong>{seller.data?.name ?? sellerId}</strong>
        <span class="muted small" data-testid="followers">
          {seller.data ? `${count(seller.data.followers)} follower${seller.data.followers === 1 ? '' : 's'}` : ''}
          {seller.data?.isLive && seller.data.liveSessionId && (
            <> · <a href={`/live/${encodeURIComponent(seller.data.liveSessionId)}`}>live now</a></>
          )}
        </span>
      </span>
      {!isSelf && (
        <button type="button" class={following.data ? 'ghost' : ''} aria-pressed={!!following.data} disabled={busy || following.loading} onClick={toggle}>
          {following.data ? 'Following' : 'Follow'}
        </button>
      )}
      <ErrorNote error={error} />
    </div>
  );
}

const platforms: { id: string; label: string; intent: (url: string, text: string) => string }[] = [
  { id: 'whatsapp', label: 'WhatsApp', intent: (u, t) => `https://wa.me/?text=${encodeURIComponent(`${t} ${u}`)}` },
  { id: 'facebook', label: 'Facebook', intent: (u) => `https://www.facebook.com/sharer/sharer.php?u=${encodeURIComponent(u)}` },
  { id: 'telegram', label: 'Telegram', intent: (u, t) => `https://t.me/share/url?url=${encodeURIComponent(u)}&text=${encodeURIComponent(t)}` },
  { id: 'x', label: 'X', intent: (u, t) => `https://x.com/intent/post?url=${encodeURIComponent(u)}&text=${encodeURIComponent(t)}` },
  { id: 'line', label: 'LINE', intent: (u) => `https://social-plugins.line.me/lineit/share?url=${encodeURIComponent(u)}` },
];

function SharePanel({ product }: { product: ProductT }) {
  const user = useUser();
  const [open, setOpen] = useState(false);
  const [link, setLink] = useState<ShareLink | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function share(platform: string): Promise<ShareLink | null> {
    if (!user) {
      openSignIn();
      return null;
    }
    setBusy(true);
    setError(null);
    try {
      const created = await post<ShareLink>(`/api/products/${encodeURIComponent(product.id)}/shares`, { platform });
      setLink(created);
      return created;
    } catch (e) {
      setError(e);
      return null;
    } finally {
      setBusy(false);
    }
  }

  async function copy() {
    const created = await share('copy');
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.url);
      toast('Link copied. Anyone who buys through it earns you coins.', 'success');
    } catch {
      toast('Your link is ready below: copy it from there.', 'info');
    }
  }

  async function openPlatform(p: (typeof platforms)[number]) {
    // Open the window first (inside the click) so pop-up blockers allow it, then point it at the link.
    const w = window.open('', '_blank');
    if (w) w.opener = null;
    const created = await share(p.id);
    if (created && w) w.location.href = p.intent(created.url, product.title);
    else w?.close();
  }

  return (
    <div class="share">
      <button type="button" class="ghost" aria-expanded={open} aria-controls="share-panel" onClick={() => setOpen(!open)}>
        Share
      </button>
      {open && (
        <div id="share-panel" class="share-panel">
          <p class="muted small">Share this product. When a friend buys through your link you earn coins.</p>
          <div class="share-buttons">
            <button type="button" disabled={busy} onClick={copy}>Copy link</button>
            {platforms.map((p) => (
              <button key={p.id} type="button" class={`ghost platform-${p.id}`} disabled={busy} onClick={() => openPlatform(p)}>
                {p.label}
              </button>
            ))}
          </div>
          {link && <CopyField label="Your share link" value={link.url} testId="share-url" />}
          <ErrorNote error={error} />
        </div>
      )}
    </div>
  );
}

function SignalsBox({ productId }: { productId: string }) {
  const signals = useAsync(async (signal) => {
    try {
      return await get<Signals>(`/api/products/${encodeURIComponent(productId)}/signals`, signal);
    } catch (e) {
      if (isMissingRoute(e)) return null; // social proof not on this server yet
      throw e;
    }
  }, [productId]);

  // Live: watch the product on the hub and refresh when someone buys or stock runs low.
  const reload = useRef(signals.reload);
  reload.current = signals.reload;
  useEffect(() => {
    const hub = createLiveHub();
    let pending: ReturnType<typeof setTimeout> | null = null;
    const refresh = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        reload.current();
      }, 300);
    };
    hub.on('purchaseSignal', refresh);
    hub.on('lowStock', refresh);
    hub.onreconnected(() => hub.invoke('WatchProduct', productId).catch(() => undefined));
    hub
      .start()
      .then(() => hub.invoke('WatchProduct', productId))
      .catch((e) => {
        if (!isHubMissing(e)) console.warn('Live updates are off:', e);
      });
    return () => {
      if (pending) clearTimeout(pending);
      hub.stop();
    };
  }, [productId]);

  const s = signals.data;
  if (!s) return <ErrorNote error={signals.error} />;
  const lines = s.messages.length > 0 ? s.messages : [];
  if (lines.length === 0) return null;
  return (
    <ul class="signals" aria-live="polite" data-testid="signals">
      {lines.map((m) => (
        <li key={m} class={/left/i.test(m) ? 'badge low' : 'badge hot'}>{m}</li>
      ))}
    </ul>
  );
}

function BuyBox({ product, onBought }: { product: ProductT; onBought: () => void }) {
  const user = useUser();
  const { query } = useLocation();
  const ref = query.get('ref');
  const [quantity, setQuantity] = useState(1);
  const [coins, setCoins] = useState(0);
  const [claim, setClaim] = useState({ id: '', discountMinor: 0 });
  const [error, setError] = useState<unknown>(null);
  const [order, setOrder] = useState<Order | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per intended purchase: a retry after a network failure reuses it, so it is never bought twice.
  const key = useRef(newIdempotencyKey());
  const balance = useAsync((signal) => (user?.role === 'buyer' ? get<{ balance: number }>('/api/me/coins', signal) : Promise.resolve(null)), [user?.id, order?.id]);

  // The voucher comes off first; coins may pay a quarter of what it leaves (ADR 0019).
  const afterVoucher = Math.max(0, product.priceMinor * quantity - claim.discountMinor);
  const maxCoins = Math.min(balance.data?.balance ?? 0, Math.floor((afterVoucher * 25) / 100));

  async function buy(e: Event) {
    e.preventDefault();
    if (!user) return openSignIn();
    setBusy(true);
    setError(null);
    try {
      const placed = await post<Order>(
        '/api/orders',
        { productId: product.id, quantity, coinsToRedeem: coins || undefined, ref: ref ?? undefined, claimId: claim.id || undefined },
        key.current,
      );
      setOrder(placed);
      setClaim({ id: '', discountMinor: 0 });
      key.current = newIdempotencyKey();
      toast(`Order placed: ${money(placed.totalMinor, placed.currency)}`, 'success');
      onBought();
    } catch (err) {
      if (err instanceof ApiError && err.status > 0) key.current = newIdempotencyKey();
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const soldOut = product.stock <= 0;
  return (
    <form class="buy" onSubmit={buy} onInput={() => setOrder(null)}>
      <div class="row wrap">
        <div class="field small-field">
          <label for="qty">Quantity</label>
          <input id="qty" type="number" min={1} max={Math.max(1, product.stock)} value={quantity}
            onInput={(e) => setQuantity(Math.max(1, Number((e.target as HTMLInputElement).value) || 1))} />
        </div>
        {user?.role === 'buyer' && (balance.data?.balance ?? 0) > 0 && (
          <div class="field small-field">
            <label for="coins">Coins to use (max {maxCoins})</label>
            <input id="coins" type="number" min={0} max={maxCoins} value={coins}
              onInput={(e) => setCoins(Math.max(0, Number((e.target as HTMLInputElement).value) || 0))} />
          </div>
        )}
        {user?.role === 'buyer' && (
          <VoucherPicker sellerId={product.sellerId} currency={product.currency} value={claim.id} reload={order?.id}
            onChange={(id, discountMinor) => setClaim({ id, discountMinor })} />
        )}
      </div>
      {ref && <p class="muted small">Shared with you by a friend: they earn coins if you buy.</p>}
      <button type="submit" class="primary big" disabled={busy || soldOut || (user !== null && user.role !== 'buyer')}>
        {soldOut ? 'Sold out' : busy ? 'Placing order…' : `Buy now · ${money(Math.max(0, afterVoucher - coins), product.currency)}`}
      </button>
      {user && user.role !== 'buyer' && <p class="muted small">Only buyers can place orders. Sign in as a buyer to buy.</p>}
      <ErrorNote error={error} />
      {order && (
        <p class="success" role="status" data-testid="order-placed">
          Order placed: {order.quantity} × {money(order.unitPriceMinor, order.currency)}
          {order.discountMinor ? `, voucher ${money(order.discountMinor, order.currency)} off` : ''}
          {order.coinsRedeemed > 0 ? `, ${order.coinsRedeemed} coins used` : ''} — total {money(order.totalMinor, order.currency)}.
        </p>
      )}
    </form>
  );
}

export default function Product({ id }: { id?: string }) {
  const product = useAsync((signal) => get<ProductT>(`/api/products/${encodeURIComponent(id ?? '')}`, signal), [id]);
  const p = product.data;
  return (
    <main id="main" class="page">
      {product.loading && !p && <Loading what="the product" />}
      {product.error ? (
        <div class="card">
          <h1>Product unavailable</h1>
          <ErrorNote error={product.error} />
          <a href="/">Back to the home page</a>
        </div>
      ) : null}
      {p && (
        <article class="product">
          <div class="product-media">
            <Thumb product={p} size="lg" />
          </div>
          <div class="product-main card">
            <h1>{p.title}</h1>
            <p class="product-price">
              <Price minor={p.priceMinor} currency={p.currency} />
            </p>
            <p class="muted" data-testid="stock">
              {p.stock > 0 ? `${count(p.stock)} in stock` : 'Out of stock'}
            </p>
            <SignalsBox productId={p.id} />
            <BuyBox product={p} onBought={product.reload} />
            <SharePanel product={p} />
            {p.description && <p class="description">{p.description}</p>}
            <FollowButton sellerId={p.sellerId} />
          </div>
        </article>
      )}
      {!p && !product.loading && !product.error && <p>{errorText('Not found')}</p>}
    </main>
  );
}
