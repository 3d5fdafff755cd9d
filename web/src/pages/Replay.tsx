import Hls from 'hls.js/light';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, newIdempotencyKey, post, type LiveSession, type Order, type Product } from '../api';
import { openSignIn, useUser } from '../auth';
import { money } from '../format';
import { type Replay as ReplayT, type ReplayMoment } from '../replay';
import { ErrorNote, Loading, Price, SellerName, Thumb, toast, useAsync } from '../ui';

/** m:ss (or h:mm:ss) of a position in the replay. */
function position(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** The replay video: hls.js where MSE exists, native HLS on Safari/iOS. Reports its position; seeks on request. */
function ReplayVideo({ src, video, onTime }: { src: string; video: { current: HTMLVideoElement | null }; onTime: (t: number) => void }) {
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    const el = video.current!;
    if (Hls.isSupported()) {
      const hls = new Hls({ lowLatencyMode: false });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else setNote('The replay could not load. Reload to try again.');
      });
      hls.loadSource(src);
      hls.attachMedia(el);
      return () => hls.destroy();
    }
    if (el.canPlayType('application/vnd.apple.mpegurl')) {
      el.src = src;
      return () => {
        el.removeAttribute('src');
        el.load();
      };
    }
    setNote('This browser cannot play the replay.');
    return undefined;
  }, [src]);
  return (
    <div class="player">
      <video ref={video} muted playsInline controls aria-label="Replay video" data-testid="replay-video"
        onTimeUpdate={(e) => onTime((e.target as HTMLVideoElement).currentTime)}
        onSeeked={(e) => onTime((e.target as HTMLVideoElement).currentTime)} />
      {note && <div class="player-bar"><span class="small on-dark" role="status">{note}</span></div>}
    </div>
  );
}

function kindText(m: ReplayMoment) {
  return m.kind === 'flashSale' ? 'Flash sale' : 'Pinned';
}

/** The timeline of product moments under the video: a bar with a marker per moment, and the list to tap. */
function Timeline({ replay, now, selected, onSeek }: { replay: ReplayT; now: number; selected: number | null; onSeek: (i: number) => void }) {
  const total = Math.max(replay.durationSeconds, 1);
  return (
    <div class="replay-timeline">
      <div class="replay-bar" aria-hidden="true">
        <span class="replay-progress" style={{ width: `${Math.min(100, (now / total) * 100)}%` }} />
        {replay.moments.map((m, i) => (
          <span key={i} class={`replay-mark ${m.kind === 'flashSale' ? 'sale' : ''}`} style={{ left: `${(m.atSeconds / total) * 100}%` }} />
        ))}
      </div>
      {replay.moments.length === 0 && <p class="muted small">No products were shown in this show.</p>}
      <ol class="replay-moments">
        {replay.moments.map((m, i) => (
          <li key={i}>
            <button type="button" class={`ghost small ${selected === i ? 'active' : ''}`} aria-pressed={selected === i}
              data-testid="moment" data-at={m.atSeconds} data-product={m.productId} onClick={() => onSeek(i)}>
              <span class="muted">{position(m.atSeconds)}</span> {kindText(m)} · {m.title}
              {m.kind === 'flashSale' && <> · deal {money(m.priceMinor, m.currency)}</>}
            </button>
          </li>
        ))}
      </ol>
    </div>
  );
}

/** The product of a moment as it is today: current price and stock; the deal of the show is shown, not applied. */
function MomentProduct({ moment, sessionId }: { moment: ReplayMoment; sessionId: string }) {
  const user = useUser();
  const product = useAsync((signal) => get<Product>(`/api/products/${encodeURIComponent(moment.productId)}`, signal), [moment.productId]);
  const [order, setOrder] = useState<Order | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const key = useRef(newIdempotencyKey());
  const p = product.data;

  async function buy() {
    if (!user) return openSignIn();
    if (!p) return;
    setBusy(true);
    setError(null);
    try {
      // The order names the show, so the seller's stats count what the replay sold.
      const placed = await post<Order>('/api/orders', { productId: p.id, quantity: 1, sessionId }, key.current);
      setOrder(placed);
      key.current = newIdempotencyKey();
      toast(`Order placed: ${money(placed.totalMinor, placed.currency)}`, 'success');
      product.reload();
    } catch (err) {
      if (err instanceof ApiError && err.status > 0) key.current = newIdempotencyKey();
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card replay-product" data-testid="replay-product" data-product={moment.productId} data-price-minor={p?.priceMinor} aria-live="polite">
      {product.loading && !p && <Loading what="the product" />}
      <ErrorNote error={product.error} />
      {p && (
        <div class="row">
          <Thumb product={p} />
          <div>
            <a href={`/p/${encodeURIComponent(p.id)}`}><strong>{p.title}</strong></a>
            <div><Price minor={p.priceMinor} currency={p.currency} /></div>
            <p class="muted small" data-testid="stock">{p.stock > 0 ? `${p.stock} in stock` : 'Sold out'}</p>
            {moment.kind === 'flashSale' && (
              <p class="muted small">In the show: flash deal at {money(moment.priceMinor, moment.currency)}. The deal has ended; today's price applies.</p>
            )}
            <button type="button" class="primary" data-testid="buy" disabled={busy || p.stock <= 0 || (user !== null && user.role !== 'buyer')} onClick={buy}>
              {p.stock <= 0 ? 'Sold out' : busy ? 'Placing order…' : `Buy · ${money(p.priceMinor, p.currency)}`}
            </button>
            {user && user.role !== 'buyer' && <p class="muted small">Only buyers can place orders.</p>}
            <ErrorNote error={error} />
            {order && (
              <p class="success small" role="status" data-testid="order-placed">
                Order placed: {order.quantity} × {money(order.unitPriceMinor, order.currency)}.
              </p>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

/** /replay/{id}: the show's replay above its product moments; a tap seeks there and shows the product to buy. */
export default function Replay({ id = '' }: { id?: string }) {
  const session = useAsync((signal) => get<LiveSession>(`/api/live/sessions/${encodeURIComponent(id)}`, signal), [id]);
  const replay = useAsync((signal) => get<ReplayT>(`/api/live/sessions/${encodeURIComponent(id)}/replay`, signal), [id]);
  const video = useRef<HTMLVideoElement | null>(null);
  const [now, setNow] = useState(0);
  const [selected, setSelected] = useState<number | null>(null);
  const r = replay.data;

  function seek(i: number) {
    const m = r!.moments[i];
    setSelected(i);
    const el = video.current;
    if (el) {
      el.currentTime = m.atSeconds;
      el.play().catch(() => undefined);
    }
  }

  // Without a tap, the card follows the video: the latest moment at or before the position.
  const following = r ? r.moments.reduce<number | null>((last, m, i) => (m.atSeconds <= now + 0.25 ? i : last), null) : null;
  // A tapped moment stays on the card until the video plays on into a later one.
  const shown = selected !== null && (following === null || following <= selected) ? selected : following;
  const s = session.data;
  return (
    <main id="main" class="page replay">
      <div class="stage">
        <div class="stage-head">
          <h1 class="clip">{s?.title ?? 'Replay'}</h1>
          {s && <span class="muted small">Replay · <a href={`/seller/${encodeURIComponent(s.sellerId)}`}><SellerName id={s.sellerId} /></a></span>}
        </div>
        <ErrorNote error={session.error ?? replay.error} />
        {replay.loading && !r && <Loading what="the replay" />}
        {r && <ReplayVideo src={r.url} video={video} onTime={setNow} />}
        {r && <Timeline replay={r} now={now} selected={shown} onSeek={seek} />}
        {r && shown !== null && <MomentProduct key={r.moments[shown].productId} moment={r.moments[shown]} sessionId={id} />}
      </div>
    </main>
  );
}
