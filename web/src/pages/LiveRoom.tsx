import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, newIdempotencyKey, post, type FlashSale, type Order, type Page, type Pin, type Product } from '../api';
import { openSignIn, useUser } from '../auth';
import { ChatPanel } from '../chat';
import { GiveawayCard, PollCard } from '../engage';
import { VoucherCard } from '../vouchers';
import { AuctionCard } from '../auctions';
import { ModeratorTools, useModerator } from '../moderation';
import { count, countdown, money } from '../format';
import { useLiveRoom, type LiveRoom } from '../room';
import { ErrorNote, Loading, Price, SellerName, Thumb, phoneQuery, productOf, toast, useAsync, useMedia, useNow } from '../ui';
import { FollowButton } from './Product';
import { NotifyMe, ShowNotices, startsAt } from '../upcoming';
import { Player } from '../player';
import { Reactions } from '../reactions';

// ---- Buying from the room ----

function useBuy() {
  const user = useUser();
  const keys = useRef(new Map<string, string>());
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function buy(what: string, path: string, body: unknown): Promise<Order | null> {
    if (!user) {
      openSignIn();
      return null;
    }
    // The same purchase retried (after a network error) reuses its key, so it is never bought twice.
    let key = keys.current.get(what);
    if (!key) keys.current.set(what, (key = newIdempotencyKey()));
    setBusy(what);
    setError(null);
    try {
      const order = await post<Order>(path, body, key);
      keys.current.delete(what);
      toast(`Bought! ${money(order.totalMinor, order.currency)}`, 'success');
      return order;
    } catch (e) {
      if (e instanceof ApiError && e.status > 0) keys.current.delete(what);
      setError(e);
      return null;
    } finally {
      setBusy(null);
    }
  }

  return { buy, busy, error };
}

function FlashSaleCard({ sale }: { sale: FlashSale }) {
  const now = useNow(250);
  const product = useAsync(() => productOf(sale.productId), [sale.productId]);
  const { buy, busy, error } = useBuy();
  const [bought, setBought] = useState<Order | null>(null);
  const ends = new Date(sale.endsAt).getTime();
  const soldOut = sale.remaining <= 0 || /sold.?out/i.test(sale.status);
  const over = !soldOut && (now >= ends || /ended|expired|cancel/i.test(sale.status));
  const taken = sale.quantity > 0 ? ((sale.quantity - sale.remaining) / sale.quantity) * 100 : 100;

  return (
    <section class={`flash card ${soldOut ? 'sold-out' : ''}`} aria-labelledby="flash-title" data-testid="flash-sale">
      <div class="card-head">
        <h2 id="flash-title">⚡ Flash sale</h2>
        <span class="countdown">
          <span class="sr-only">Time left: </span>
          {soldOut ? 'Sold out' : over ? 'Ended' : countdown(ends - now)}
        </span>
      </div>
      <div class="flash-body">
        {product.data && <Thumb product={product.data} size="sm" />}
        <div class="grow">
          <strong class="clip">{product.data?.title ?? 'Deal'}</strong>
          <Price minor={sale.salePriceMinor} currency={sale.currency} was={product.data?.priceMinor} />
          <div class="bar" aria-hidden="true">
            <span style={{ width: `${taken}%` }} />
          </div>
          <span class="small" data-testid="flash-remaining">
            {soldOut ? 'All gone!' : `${count(sale.remaining)} of ${count(sale.quantity)} left`}
          </span>
          {sale.perUserLimit > 0 && <span class="muted small"> · limit {sale.perUserLimit} per person</span>}
        </div>
        <button
          type="button"
          class="primary"
          disabled={soldOut || over || busy !== null}
          onClick={async () => {
            const o = await buy(`flash:${sale.id}`, `/api/flash-sales/${encodeURIComponent(sale.id)}/purchases`, { quantity: 1 });
            if (o) setBought(o);
          }}
        >
          {soldOut ? 'Sold out' : over ? 'Ended' : busy ? 'Buying…' : 'Buy'}
        </button>
      </div>
      {bought && <p class="success small" role="status">You got it! Order {bought.id.slice(-6)} placed.</p>}
      <ErrorNote error={error} />
    </section>
  );
}

/** One product with its price and a "Buy" that places a real order (pinned products and the show's products alike). */
interface ShopItem {
  productId: string;
  title: string;
  priceMinor: number;
  currency: string;
  imageUrl: string | null;
}

function ProductList({ items, lowStock, onProductClick, testId }: { items: ShopItem[]; lowStock: Record<string, number>; onProductClick: (productId: string) => void; testId: string }) {
  const { buy, busy, error } = useBuy();
  return (
    <>
      <ul class="pinned-list" data-testid={testId}>
        {items.map((p) => (
          <li key={p.productId}>
            <Thumb product={p} size="sm" />
            <span class="grow">
              <a href={`/p/${encodeURIComponent(p.productId)}`} class="clip" onClick={() => onProductClick(p.productId)}>{p.title}</a>
              <Price minor={p.priceMinor} currency={p.currency} />
              {lowStock[p.productId] !== undefined && (
                <span class="badge low">{lowStock[p.productId] <= 0 ? 'Sold out' : `Only ${lowStock[p.productId]} left!`}</span>
              )}
            </span>
            <button type="button" class="small" disabled={busy !== null}
              onClick={() => { onProductClick(p.productId); buy(`${testId}:${p.productId}`, '/api/orders', { productId: p.productId, quantity: 1 }); }}>
              Buy<span class="sr-only"> {p.title}</span>
            </button>
          </li>
        ))}
      </ul>
      <ErrorNote error={error} />
    </>
  );
}

function Pinned({ pinned, lowStock, onProductClick }: { pinned: Pin[]; lowStock: Record<string, number>; onProductClick: (productId: string) => void }) {
  if (pinned.length === 0) return null;
  return (
    <section class="pinned card" aria-labelledby="pinned-title">
      <h2 id="pinned-title">Pinned by the seller</h2>
      <ProductList items={[...pinned].reverse()} lowStock={lowStock} onProductClick={onProductClick} testId="pinned" />
    </section>
  );
}

export function BagIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="26" height="26" aria-hidden="true">
      <path d="M7 8V7a5 5 0 0 1 10 0v1h3l-1 13H5L4 8h3zm2 0h6V7a3 3 0 0 0-6 0v1z" fill="currentColor" />
    </svg>
  );
}

/** The product bag of the phone room: a bottom sheet with the pinned products and the rest of the show's. */
function Bag({ sellerId, pinned, lowStock, onProductClick, onClose }: { sellerId: string; pinned: Pin[]; lowStock: Record<string, number>; onProductClick: (productId: string) => void; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const products = useAsync((signal) => get<Page<Product>>(`/api/sellers/${encodeURIComponent(sellerId)}/products?limit=50`, signal), [sellerId]);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const pinnedIds = new Set(pinned.map((p) => p.productId));
  const rest: ShopItem[] = (products.data?.items ?? [])
    .filter((p) => !pinnedIds.has(p.id) && p.stock > 0)
    .map((p) => ({ productId: p.id, title: p.title, priceMinor: p.priceMinor, currency: p.currency, imageUrl: p.imageUrl }));
  return (
    <dialog ref={dialog} class="sheet bag" aria-labelledby="bag-title" data-testid="bag" onClose={onClose}
      onClick={(e) => e.target === dialog.current && dialog.current?.close()}>
      <div class="sheet-body">
        <div class="card-head">
          <h2 id="bag-title">Shop this show</h2>
          <button type="button" class="ghost small" onClick={() => dialog.current?.close()}>Close<span class="sr-only"> the product bag</span></button>
        </div>
        {pinned.length > 0 && (
          <>
            <h3 class="small muted">Pinned by the seller</h3>
            <ProductList items={[...pinned].reverse()} lowStock={lowStock} onProductClick={onProductClick} testId="pinned" />
          </>
        )}
        <h3 class="small muted">All products</h3>
        {products.loading && !products.data && <Loading what="the products" />}
        <ErrorNote error={products.error} />
        {products.data && rest.length === 0 && <p class="muted small">Nothing else in this show.</p>}
        {rest.length > 0 && <ProductList items={rest} lowStock={lowStock} onProductClick={onProductClick} testId="bag-products" />}
      </div>
    </dialog>
  );
}

/**
 * The deal cards. On a phone they sit low over the video (above the chat, or on the right in landscape), never on
 * the seller's face, and fold into one "Deals" chip; a new deal unfolds them again.
 */
function Deals({ room, phone }: { room: LiveRoom; phone: boolean }) {
  const ids = [room.flashSale?.id, ...room.vouchers.map((v) => v.id), room.auction?.id, room.poll?.id, room.giveaway?.id].filter(Boolean) as string[];
  const [folded, setFolded] = useState<string | null>(null);
  const key = ids.join(',');
  if (ids.length === 0) return null;
  const isFolded = phone && folded === key;
  return (
    <div class={`deals${isFolded ? ' folded' : ''}`} data-testid="deals">
      {phone && (
        <button type="button" class="small deals-toggle" aria-expanded={!isFolded} onClick={() => setFolded(isFolded ? null : key)}>
          {isFolded ? `Deals (${ids.length})` : 'Hide deals'}
        </button>
      )}
      {!isFolded && (
        <div class="deal-cards">
          {room.flashSale && <FlashSaleCard sale={room.flashSale} />}
          {room.vouchers.map((v) => <VoucherCard key={v.id} voucher={v} />)}
          {room.auction && <AuctionCard auction={room.auction} />}
          {room.poll && <PollCard poll={room.poll} />}
          {room.giveaway && <GiveawayCard giveaway={room.giveaway} />}
        </div>
      )}
    </div>
  );
}

export function EyeIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <path d="M12 5C6.5 5 2.7 9.1 1.5 12c1.2 2.9 5 7 10.5 7s9.3-4.1 10.5-7C21.3 9.1 17.5 5 12 5zm0 11.5a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9zm0-2.5a2 2 0 1 0 0-4 2 2 0 0 0 0 4z" fill="currentColor" />
    </svg>
  );
}

function purchaseText(e: Record<string, unknown>): string {
  if (typeof e.message === 'string') return e.message;
  const who = typeof e.buyerName === 'string' ? e.buyerName : 'Someone';
  const what = typeof e.title === 'string' ? e.title : typeof e.productTitle === 'string' ? e.productTitle : 'a pinned product';
  return `${who} just bought ${what}`;
}

export default function LiveRoom({ id }: { id?: string }) {
  const sessionId = id ?? '';
  const user = useUser();
  const room = useLiveRoom(sessionId, { onPurchase: (e) => toast(purchaseText(e), 'purchase') });
  const appointed = useModerator(sessionId, room);
  const phone = useMedia(phoneQuery);
  const [bagOpen, setBagOpen] = useState(false);
  useVisualViewportHeight(phone);
  const s = room.session;

  if (room.sessionError) {
    return (
      <main id="main" class="page narrow">
        <h1>Live show unavailable</h1>
        <ErrorNote error={room.sessionError} />
        <a href="/">Back to the home page</a>
      </main>
    );
  }
  if (!s) return <main id="main" class="page"><Loading what="the live show" /></main>;

  const owner = user !== null && user.id === s.sellerId;
  const moderator = user !== null && (owner || user.role === 'admin' || appointed);
  const src = s.status === 'ended' ? s.replayUrl : s.playbackUrl;
  const hub = room.hub === 'connected' ? room.hubRef.current : null;
  // One tree for both layouts (CSS places it), so turning a phone or resizing a window never restarts the video.
  return (
    <main id="main" class={`page live-room${phone ? ' phone-room' : ''}`} data-layout={phone ? 'phone' : 'desktop'}>
      <div class="stage">
        <div class="stage-head">
          {phone && (
            <a href="/" class="back" aria-label="Back to the home page">
              <span aria-hidden="true">‹</span>
            </a>
          )}
          <div class="grow">
            <h1 class="clip">{s.title}</h1>
            {phone && <span class="small clip"><SellerName id={s.sellerId} /></span>}
          </div>
          <span class="row small">
            {s.status === 'live' && <span class="badge live">LIVE</span>}
            <span class="viewers" data-testid="viewers">
              <EyeIcon /> {count(room.viewers.current)}
              <span class={phone ? 'sr-only' : undefined}> watching</span>
            </span>
          </span>
          {phone && <FollowButton sellerId={s.sellerId} compact />}
          {phone && !user && (
            <button type="button" class="small" onClick={openSignIn}>Sign in</button>
          )}
        </div>
        <div class="screen">
          {s.status === 'created' && (
            <div class="player placeholder" role="status">
              <p>
                <SellerName id={s.sellerId} /> has not started yet. The video starts here when they go live.
              </p>
            </div>
          )}
          {s.status === 'scheduled' && (
            <div class="player placeholder" role="status">
              <p>
                <SellerName id={s.sellerId} /> goes live {s.scheduledAt ? <time dateTime={s.scheduledAt}>{startsAt(s.scheduledAt)}</time> : 'soon'}.
              </p>
              <NotifyMe session={s} />
            </div>
          )}
          {s.status === 'cancelled' && (
            <div class="player placeholder" role="status">
              <p>This show was cancelled.</p>
            </div>
          )}
          {s.status !== 'created' && s.status !== 'scheduled' && s.status !== 'cancelled' && src && <Player src={src} live={s.status === 'live'} immersive={phone} />}
          {s.status === 'ended' && !src && (
            <div class="player placeholder" role="status">
              <p>This live show has ended. No replay is available.</p>
            </div>
          )}
          {phone && (
            <button type="button" class="bag-button" aria-label={`Products in this show${room.pinned.length ? `, ${room.pinned.length} pinned` : ''}`}
              aria-haspopup="dialog" data-testid="bag-button" onClick={() => setBagOpen(true)}>
              <BagIcon />
              {room.pinned.length > 0 && <span class="bag-count" aria-hidden="true">{room.pinned.length}</span>}
            </button>
          )}
          {(s.status === 'live' || s.status === 'created') && <Reactions hub={hub} sessionId={sessionId} compact={phone} />}
        </div>
        <ShowNotices hub={hub} />
        {s.status === 'ended' && src && (
          <p class="muted small replay-note">
            The show has ended: you are watching the replay. <a href={`/replay/${encodeURIComponent(s.id)}`} data-testid="shop-replay">Shop the replay</a>
          </p>
        )}
        <Deals room={room} phone={phone} />
        {!phone && <Pinned pinned={room.pinned} lowStock={room.lowStock} onProductClick={room.productClicked} />}
        {!phone && <FollowButton sellerId={s.sellerId} />}
        {appointed && !owner && s.status !== 'ended' && <ModeratorTools session={s} poll={room.poll} />}
      </div>
      <ChatPanel room={room} sessionId={sessionId} moderator={moderator} overlay={phone} />
      {phone && bagOpen && (
        <Bag sellerId={s.sellerId} pinned={room.pinned} lowStock={room.lowStock} onProductClick={room.productClicked} onClose={() => setBagOpen(false)} />
      )}
    </main>
  );
}

/**
 * Keeps --room-height at the visual viewport's height on a phone, so the chat input stays on screen above the
 * keyboard even where the browser resizes only the visual viewport (100dvh and interactive-widget cover the rest).
 */
function useVisualViewportHeight(on: boolean) {
  useEffect(() => {
    const vv = window.visualViewport;
    const root = document.documentElement;
    if (!on || !vv) return undefined;
    const update = () => root.style.setProperty('--room-height', `${Math.round(vv.height)}px`);
    update();
    vv.addEventListener('resize', update);
    return () => {
      vv.removeEventListener('resize', update);
      root.style.removeProperty('--room-height');
    };
  }, [on]);
}
