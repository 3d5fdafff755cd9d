// Live auctions (SPEC §15): the room's auction card and the studio's start form.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get, isMissingRoute, newIdempotencyKey, post, type Auction, type AuctionBid, type LiveSession, type Product } from './api';
import { openSignIn, useUser } from './auth';
import { count, countdown, money } from './format';
import { ErrorNote, toast, useNow } from './ui';

/** The next bid the server accepts: the start price first, then the highest bid plus the increment. */
export function nextBid(a: Auction): number {
  return a.highestBidMinor == null ? a.startPriceMinor : a.highestBidMinor + a.incrementMinor;
}

export function AuctionCard({ auction }: { auction: Auction }) {
  const user = useUser();
  const now = useNow(250);
  const [myBid, setMyBid] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // One key per intended bid: a retry after a network failure is the same bid, never a second one.
  const key = useRef(newIdempotencyKey());
  useEffect(() => setMyBid(null), [auction.id]);

  const left = new Date(auction.endsAt).getTime() - now;
  const open = auction.status === 'open' && left > 0;
  const mine = user != null && auction.highestBidderId === user.id;
  // My accepted bid above the highest the room has shown means its push has not arrived yet.
  const winning = mine || (myBid != null && myBid > (auction.highestBidMinor ?? 0));
  const outbid = !winning && myBid != null;
  const next = nextBid(auction);
  const seller = user?.id === auction.sellerId;

  async function bid(amountMinor: number) {
    if (!user) return openSignIn();
    setBusy(true);
    setError(null);
    try {
      const placed = await post<AuctionBid>(`/api/auctions/${encodeURIComponent(auction.id)}/bids`, { amountMinor }, key.current);
      setMyBid(placed.amountMinor);
    } catch (e) {
      setError(e);
    } finally {
      key.current = newIdempotencyKey();
      setBusy(false);
    }
  }

  let result: string | null = null;
  if (auction.status === 'sold') {
    result = mine ? `You won at ${money(auction.highestBidMinor ?? 0, auction.currency)}!` : `Sold to ${auction.bidderName ?? 'a buyer'} for ${money(auction.highestBidMinor ?? 0, auction.currency)}`;
  } else if (auction.status === 'unsold') {
    result = 'No bids: the item goes back on the shelf';
  }

  return (
    <section class={`auction card${winning ? ' winning' : outbid ? ' outbid' : ''}`} aria-labelledby={`auction-${auction.id}`} data-testid="auction">
      <div class="card-head">
        <h2 id={`auction-${auction.id}`}>🔨 Live auction</h2>
        <span class="countdown" data-testid="auction-countdown" aria-live="off">{open ? countdown(left) : 'Ended'}</span>
      </div>
      <p class="auction-highest">
        {auction.highestBidMinor == null ? (
          <>Starts at <strong data-testid="auction-highest">{money(auction.startPriceMinor, auction.currency)}</strong></>
        ) : (
          <>
            <strong data-testid="auction-highest">{money(auction.highestBidMinor, auction.currency)}</strong>
            <span class="muted small"> by {mine ? 'you' : auction.bidderName ?? 'a buyer'} · {count(auction.bids)} bids</span>
          </>
        )}
      </p>
      {result ? (
        <p class="auction-result" data-testid="auction-result" role="status">
          {result} {auction.status === 'sold' && mine && <a href="/me">See your order</a>}
        </p>
      ) : (
        <>
          {user && !seller && (winning || outbid) && (
            <p class={`auction-state ${winning ? 'ok' : 'warn'}`} data-testid="auction-state" role="status">
              {winning ? "You're winning" : "You've been outbid"}
            </p>
          )}
          <div class="row wrap">
            {[next, next + auction.incrementMinor].map((amount, i) => (
              <button key={i} type="button" class={i === 0 ? 'primary small' : 'small'} disabled={!open || busy || seller || mine}
                onClick={() => bid(amount)} data-testid={i === 0 ? 'auction-bid' : 'auction-bid-more'}
                aria-label={`Bid ${money(amount, auction.currency)}`}>
                Bid {money(amount, auction.currency)}
              </button>
            ))}
          </div>
          <p class="muted small">Steps of {money(auction.incrementMinor, auction.currency)}{auction.antiSnipeSeconds > 0 ? ` · a bid in the last ${auction.antiSnipeSeconds} s adds time` : ''}</p>
        </>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

export function AuctionForm({ session, products }: { session: LiveSession; products: Product[] }) {
  const [productId, setProductId] = useState('');
  const [start, setStart] = useState('10');
  const [increment, setIncrement] = useState('1');
  const [durationSeconds, setDuration] = useState('60');
  const [antiSnipe, setAntiSnipe] = useState('10');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [running, setRunning] = useState<Auction | null>(null);
  const now = useNow(1000);
  // A double click or a retry starts one auction.
  const key = useRef(newIdempotencyKey());
  const chosen = products.find((p) => p.id === (productId || products[0]?.id));

  useEffect(() => {
    if (!running || running.status !== 'open') return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      get<Auction>(`/api/auctions/${encodeURIComponent(running.id)}`, controller.signal).then(setRunning, () => undefined);
    }, 2000);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [running]);

  async function begin(e: Event) {
    e.preventDefault();
    if (!chosen) return;
    setBusy(true);
    setError(null);
    try {
      const auction = await post<Auction>(`/api/live/sessions/${encodeURIComponent(session.id)}/auctions`, {
        productId: chosen.id,
        startPriceMinor: Math.round(Number(start) * 100),
        incrementMinor: Math.round(Number(increment) * 100),
        durationSeconds: Number(durationSeconds),
        antiSnipeSeconds: Number(antiSnipe),
      }, key.current);
      key.current = newIdempotencyKey();
      setRunning(auction);
      toast('Auction started', 'success');
    } catch (err) {
      key.current = newIdempotencyKey();
      setError(isMissingRoute(err) ? new Error('Auctions are not available on this server yet.') : err);
    } finally {
      setBusy(false);
    }
  }

  const field = (id: string, label: string, value: string, set: (v: string) => void, attrs: Record<string, string> = {}) => (
    <div class="field small-field">
      <label for={id}>{label}</label>
      <input id={id} required value={value} onInput={(e) => set((e.target as HTMLInputElement).value)} {...attrs} />
    </div>
  );
  const currency = chosen?.currency ?? 'SGD';

  return (
    <form class="stack" onSubmit={begin}>
      <div class="field">
        <label for="a-product">Product (one unit)</label>
        <select id="a-product" value={chosen?.id ?? ''} onChange={(e) => setProductId((e.target as HTMLSelectElement).value)}>
          {products.map((p) => (
            <option key={p.id} value={p.id}>
              {p.title} — {p.stock} in stock
            </option>
          ))}
        </select>
      </div>
      <div class="row wrap">
        {field('a-start', `Start price (${currency})`, start, setStart, { type: 'number', min: '0.01', step: '0.01' })}
        {field('a-increment', `Increment (${currency})`, increment, setIncrement, { type: 'number', min: '0.01', step: '0.01' })}
        {field('a-duration', 'Duration (s)', durationSeconds, setDuration, { type: 'number', min: '10', max: '3600' })}
        {field('a-snipe', 'Anti-snipe (s)', antiSnipe, setAntiSnipe, { type: 'number', min: '0', max: '120' })}
      </div>
      <button type="submit" class="primary" disabled={busy || !chosen || session.status !== 'live'} data-testid="auction-start">
        {busy ? 'Starting…' : 'Start auction'}
      </button>
      {session.status !== 'live' && <p class="muted small">An auction can start once the show is live.</p>}
      <ErrorNote error={error} />
      {running && (
        <p class="small" data-testid="studio-auction">
          {running.status === 'open'
            ? <>Highest: <strong>{running.highestBidMinor == null ? 'no bid yet' : money(running.highestBidMinor, running.currency)}</strong> · {count(running.bids)} bids · {countdown(Math.max(0, new Date(running.endsAt).getTime() - now))} to go</>
            : running.status === 'sold' ? <>Sold for <strong>{money(running.highestBidMinor ?? 0, running.currency)}</strong> to {running.bidderName}</> : 'Ended without a bid: the unit is back in stock'}
        </p>
      )}
    </form>
  );
}
