import { useEffect, useState } from 'preact/hooks';
import {
  del, errorText, get, isMissingRoute, post, put,
  type CreatedSession, type LiveSession, type LiveStats, type Page, type Product,
} from '../api';
import { useUser, type User } from '../auth';
import { ChatPanel } from '../chat';
import { ago, clock, count, countdown, duration, money } from '../format';
import { useLiveRoom } from '../room';
import { CopyField, ErrorNote, Loading, Price, Section, SignInPrompt, toast, useAsync, useInterval, useNow } from '../ui';

const statusLabel: Record<string, string> = { created: 'Not started', live: 'Live', ended: 'Ended' };

function NewProduct({ onCreated }: { onCreated: () => void }) {
  const [title, setTitle] = useState('');
  const [price, setPrice] = useState('');
  const [stock, setStock] = useState('10');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function create(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const p = await post<Product>('/api/products', {
        title,
        priceMinor: Math.round(Number(price) * 100),
        currency: 'SGD',
        stock: Number(stock),
      });
      toast(`Listed ${p.title}`, 'success');
      setTitle('');
      setPrice('');
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="stack" onSubmit={create}>
      <div class="field">
        <label for="np-title">Product name</label>
        <input id="np-title" required maxLength={200} value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
      </div>
      <div class="row wrap">
        <div class="field small-field">
          <label for="np-price">Price (SGD)</label>
          <input id="np-price" required type="number" min="0" step="0.01" inputMode="decimal" value={price} onInput={(e) => setPrice((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field small-field">
          <label for="np-stock">Stock</label>
          <input id="np-stock" required type="number" min="0" step="1" value={stock} onInput={(e) => setStock((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <button type="submit" disabled={busy}>{busy ? 'Listing…' : 'List product'}</button>
      <ErrorNote error={error} />
    </form>
  );
}

function StreamSettings({ session, created, onRotated }: { session: LiveSession; created: CreatedSession | undefined; onRotated: (key: string) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const rtmpUrl = created?.rtmpUrl ?? `rtmp://${location.hostname}:1935/live`;

  async function rotate() {
    if (created?.streamKey && !confirm('Rotate the stream key? The old key stops working; update OBS with the new one.')) return;
    setBusy(true);
    setError(null);
    try {
      const { streamKey } = await post<{ streamKey: string }>(`/api/live/sessions/${encodeURIComponent(session.id)}/stream-key/rotate`);
      onRotated(streamKey);
      toast('New stream key ready. Paste it into OBS.', 'success');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="stack">
      <CopyField label="Server" value={rtmpUrl} testId="rtmp-url" />
      {created?.streamKey ? (
        <CopyField label="Stream key" value={created.streamKey} secret testId="stream-key" />
      ) : (
        <p class="muted small">The stream key is shown only when the show is created or the key is rotated. Rotate to get a new one.</p>
      )}
      {session.status !== 'ended' && (
        <button type="button" class="ghost" disabled={busy} onClick={rotate}>
          {busy ? 'Rotating…' : 'Rotate stream key'}
        </button>
      )}
      <details>
        <summary>OBS settings</summary>
        <ul class="small">
          <li>Settings → Stream: Service <strong>Custom…</strong>, Server and Stream key from above.</li>
          <li>Settings → Output: video encoder <strong>x264</strong> (H.264), rate control CBR 2500–6000 kbps, keyframe interval <strong>2 s</strong>, profile main or high, tune zerolatency.</li>
          <li>Audio: <strong>AAC</strong>, 128–160 kbps, 44.1 or 48 kHz.</li>
          <li>Video: up to 1920×1080, 30 or 60 fps. Viewers get the source plus smaller renditions.</li>
          <li>If OBS reconnects within 30 s the show goes on; after that it ends.</li>
        </ul>
      </details>
      <ErrorNote error={error} />
    </div>
  );
}

function ViewersChart({ timeline }: { timeline: { at: string; viewers: number }[] }) {
  if (timeline.length < 2) return <p class="muted small">The viewers chart appears once the show has been live for a minute.</p>;
  const w = 600;
  const h = 160;
  const pad = 28;
  const t0 = new Date(timeline[0].at).getTime();
  const t1 = new Date(timeline[timeline.length - 1].at).getTime();
  const max = Math.max(1, ...timeline.map((p) => p.viewers));
  const x = (at: string) => pad + ((new Date(at).getTime() - t0) / Math.max(1, t1 - t0)) * (w - pad * 2);
  const y = (v: number) => h - pad - (v / max) * (h - pad * 2);
  const points = timeline.map((p) => `${x(p.at).toFixed(1)},${y(p.viewers).toFixed(1)}`).join(' ');
  return (
    <svg class="chart" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`Viewers over time: peak ${max}, from ${clock(timeline[0].at)} to ${clock(timeline[timeline.length - 1].at)}`} data-testid="viewers-chart">
      <line x1={pad} y1={h - pad} x2={w - pad} y2={h - pad} class="axis" />
      <line x1={pad} y1={pad} x2={pad} y2={h - pad} class="axis" />
      <text x={pad - 6} y={pad + 4} text-anchor="end" class="tick">{max}</text>
      <text x={pad - 6} y={h - pad + 4} text-anchor="end" class="tick">0</text>
      <text x={pad} y={h - 8} class="tick">{clock(timeline[0].at)}</text>
      <text x={w - pad} y={h - 8} text-anchor="end" class="tick">{clock(timeline[timeline.length - 1].at)}</text>
      <polyline points={`${pad},${h - pad} ${points} ${x(timeline[timeline.length - 1].at).toFixed(1)},${h - pad}`} class="area" />
      <polyline points={points} class="line" />
    </svg>
  );
}

function Stats({ session }: { session: LiveSession }) {
  const stats = useAsync(async (signal) => {
    try {
      return await get<LiveStats>(`/api/live/sessions/${encodeURIComponent(session.id)}/stats`, signal);
    } catch (e) {
      if (isMissingRoute(e)) return null;
      throw e;
    }
  }, [session.id]);
  useInterval(stats.reload, session.status === 'live' ? 5000 : null);
  const s = stats.data;
  if (stats.data === null) return <p class="muted">Live stats are not available on this server yet.</p>;
  return (
    <>
      <ErrorNote error={stats.error} />
      {!s && stats.loading && <Loading what="stats" />}
      {s && (
        <>
          <dl class="stats-grid" data-testid="stats">
            <div><dt>Watching now</dt><dd>{count(s.currentViewers)}</dd></div>
            <div><dt>Peak</dt><dd>{count(s.peakViewers)}</dd></div>
            <div><dt>Unique viewers</dt><dd>{count(s.uniqueViewers)}</dd></div>
            <div><dt>Avg. watch</dt><dd>{duration(s.avgWatchSeconds)}</dd></div>
            <div><dt>Chat messages</dt><dd>{count(s.chatMessages)}</dd></div>
            <div><dt>Purchases</dt><dd>{count(s.purchases)}</dd></div>
            <div><dt>Sales</dt><dd>{money(s.gmvMinor, 'SGD')}</dd></div>
            <div><dt>Conversion</dt><dd>{(s.conversionRate * 100).toFixed(1)}%</dd></div>
          </dl>
          <ViewersChart timeline={s.timeline} />
        </>
      )}
    </>
  );
}

function ChatSettings({ sessionId }: { sessionId: string }) {
  const [slow, setSlow] = useState('0');
  const [words, setWords] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await put(`/api/live/sessions/${encodeURIComponent(sessionId)}/chat-settings`, {
        slowModeSeconds: Number(slow),
        blockedWords: words.split(',').map((w) => w.trim()).filter(Boolean),
      });
      setSaved(true);
    } catch (err) {
      setError(isMissingRoute(err) ? 'Chat settings are not available on this server yet.' : err);
    }
  }
  return (
    <form class="stack" onSubmit={save}>
      <div class="field">
        <label for="slow">Slow mode (seconds between messages)</label>
        <input id="slow" type="number" min="0" max="3600" value={slow} onInput={(e) => setSlow((e.target as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for="blocked">Blocked words (comma-separated)</label>
        <input id="blocked" value={words} onInput={(e) => setWords((e.target as HTMLInputElement).value)} />
      </div>
      <button type="submit" class="ghost">Save chat settings</button>
      {saved && <p class="success small" role="status">Saved.</p>}
      {typeof error === 'string' ? <p class="error" role="alert">{error}</p> : <ErrorNote error={error} />}
    </form>
  );
}

function FlashSaleForm({ session, products }: { session: LiveSession; products: Product[] }) {
  const [productId, setProductId] = useState('');
  const [price, setPrice] = useState('');
  const [quantity, setQuantity] = useState('10');
  const [durationSeconds, setDuration] = useState('300');
  const [limit, setLimit] = useState('1');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const chosen = products.find((p) => p.id === (productId || products[0]?.id));

  async function start(e: Event) {
    e.preventDefault();
    if (!chosen) return;
    setBusy(true);
    setError(null);
    try {
      await post(`/api/live/sessions/${encodeURIComponent(session.id)}/flash-sales`, {
        productId: chosen.id,
        salePriceMinor: Math.round(Number(price) * 100),
        quantity: Number(quantity),
        durationSeconds: Number(durationSeconds),
        perUserLimit: Number(limit),
      });
      toast('Flash sale started', 'success');
    } catch (err) {
      setError(isMissingRoute(err) ? new Error('Flash sales are not available on this server yet.') : err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="stack" onSubmit={start}>
      <div class="field">
        <label for="fs-product">Product</label>
        <select id="fs-product" value={chosen?.id ?? ''} onChange={(e) => setProductId((e.target as HTMLSelectElement).value)}>
          {products.map((p) => (
            <option key={p.id} value={p.id}>
              {p.title} — {money(p.priceMinor, p.currency)} · {p.stock} in stock
            </option>
          ))}
        </select>
      </div>
      <div class="row wrap">
        <div class="field small-field">
          <label for="fs-price">Sale price (SGD)</label>
          <input id="fs-price" required type="number" min="0" step="0.01" inputMode="decimal" value={price} onInput={(e) => setPrice((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field small-field">
          <label for="fs-qty">Quantity</label>
          <input id="fs-qty" required type="number" min="1" value={quantity} onInput={(e) => setQuantity((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field small-field">
          <label for="fs-duration">Duration (s)</label>
          <input id="fs-duration" required type="number" min="10" max="3600" value={durationSeconds} onInput={(e) => setDuration((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field small-field">
          <label for="fs-limit">Per buyer</label>
          <input id="fs-limit" required type="number" min="1" value={limit} onInput={(e) => setLimit((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <button type="submit" class="primary" disabled={busy || !chosen || session.status !== 'live'}>
        {busy ? 'Starting…' : 'Start flash sale'}
      </button>
      {session.status !== 'live' && <p class="muted small">A flash sale can start once the show is live.</p>}
      <ErrorNote error={error} />
    </form>
  );
}

function Manage({ session, created, onRotated, onChanged, user, products }: {
  session: LiveSession; created: CreatedSession | undefined; onRotated: (key: string) => void; onChanged: () => void; user: User; products: Product[];
}) {
  const room = useLiveRoom(session.id);
  const live = room.session ?? session;
  const now = useNow(1000);
  const [error, setError] = useState<unknown>(null);
  const pinnedIds = new Set(room.pinned.map((p) => p.productId));

  async function togglePin(p: Product) {
    setError(null);
    try {
      if (pinnedIds.has(p.id)) await del(`/api/live/sessions/${encodeURIComponent(session.id)}/pins/${encodeURIComponent(p.id)}`);
      else await post(`/api/live/sessions/${encodeURIComponent(session.id)}/pins`, { productId: p.id });
      if (room.hub !== 'connected') room.reloadSession();
    } catch (e) {
      setError(isMissingRoute(e) ? new Error('Pinning is not available on this server yet.') : e);
    }
  }

  async function end() {
    if (!confirm('End this live show now? Viewers see the replay afterwards.')) return;
    try {
      await post(`/api/live/sessions/${encodeURIComponent(session.id)}/end`);
      onChanged();
      room.reloadSession();
    } catch (e) {
      setError(e);
    }
  }

  // Keep the list of shows in step when this one goes live or ends.
  useEffect(() => {
    if (live.status !== session.status) onChanged();
  }, [live.status]);

  const sale = room.flashSale;
  return (
    <div class="studio-manage">
      <Section title={live.title} id="manage" actions={<span class={`badge ${live.status}`} data-testid="session-status">{statusLabel[live.status] ?? live.status}</span>}>
        <p class="row wrap small">
          <a href={`/live/${encodeURIComponent(live.id)}`}>Open the live room</a>
          {live.replayUrl && <a href={live.replayUrl} data-testid="replay-link">Replay (HLS)</a>}
          {live.replayUrl && <a href={`/live/${encodeURIComponent(live.id)}`}>Watch the replay</a>}
          <span class="muted">{count(room.viewers.current)} watching · peak {count(room.viewers.peak)}</span>
        </p>
        {live.status !== 'ended' && <StreamSettings session={live} created={created} onRotated={onRotated} />}
        {live.status !== 'ended' && (
          <button type="button" class="danger" onClick={end}>End show</button>
        )}
        <ErrorNote error={error} />
      </Section>

      <Section title="Live stats" id="stats">
        <Stats session={live} />
      </Section>

      <Section title="Pinned products" id="pins">
        <p class="muted small">Up to 5 products show in the room; pinning a sixth replaces the oldest.</p>
        <ul class="pin-picker">
          {products.map((p) => (
            <li key={p.id}>
              <span class="grow clip">{p.title}</span>
              <Price minor={p.priceMinor} currency={p.currency} />
              <button type="button" class={pinnedIds.has(p.id) ? 'ghost small' : 'small'} aria-pressed={pinnedIds.has(p.id)} onClick={() => togglePin(p)}>
                {pinnedIds.has(p.id) ? 'Unpin' : 'Pin'}<span class="sr-only"> {p.title}</span>
              </button>
            </li>
          ))}
        </ul>
        {products.length === 0 && <p class="muted">List a product first.</p>}
      </Section>

      <Section title="Flash sale" id="flash">
        {sale && (
          <p class="flash-now" data-testid="studio-flash">
            Running: <strong>{count(sale.remaining)}</strong> of {count(sale.quantity)} left ·{' '}
            {sale.remaining <= 0 ? 'sold out' : new Date(sale.endsAt).getTime() > now ? `${countdown(new Date(sale.endsAt).getTime() - now)} to go` : 'ended'}
          </p>
        )}
        <FlashSaleForm session={live} products={products} />
      </Section>

      <div class="studio-chat">
        <ChatPanel room={room} sessionId={session.id} moderator={user.role === 'seller' || user.role === 'admin'} />
        <Section title="Chat settings" id="chat-settings">
          <ChatSettings sessionId={session.id} />
        </Section>
      </div>
    </div>
  );
}

export default function Studio() {
  const user = useUser();
  const [title, setTitle] = useState('');
  const [created, setCreated] = useState<Record<string, CreatedSession>>({});
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const sessions = useAsync(
    (signal) => (user ? get<Page<LiveSession>>(`/api/live/sessions?sellerId=${encodeURIComponent(user.id)}&limit=20`, signal) : Promise.resolve(null)),
    [user?.id],
  );
  const products = useAsync(
    (signal) => (user ? get<Page<Product>>(`/api/sellers/${encodeURIComponent(user.id)}/products?limit=100`, signal) : Promise.resolve(null)),
    [user?.id],
  );

  if (!user || (user.role !== 'seller' && user.role !== 'admin')) {
    return (
      <main id="main" class="page narrow">
        <h1>Seller studio</h1>
        {user ? <p>The studio is for sellers. You are signed in as a {user.role}.</p> : null}
        <SignInPrompt to="as a seller to go live" />
      </main>
    );
  }

  async function create(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const s = await post<CreatedSession>('/api/live/sessions', { title });
      setCreated((c) => ({ ...c, [s.id]: s }));
      setSelected(s.id);
      setTitle('');
      sessions.reload();
    } catch (err) {
      setError(err);
    }
  }

  const list = sessions.data?.items ?? [];
  const current = list.find((s) => s.id === selected) ?? null;
  return (
    <main id="main" class="page studio">
      <h1>Seller studio</h1>
      <div class="studio-grid">
        <div class="studio-side">
          <Section title="New live show" id="new-show">
            <form class="stack" onSubmit={create}>
              <div class="field">
                <label for="show-title">Title</label>
                <input id="show-title" required maxLength={200} value={title} placeholder="Friday batik drop" onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
              </div>
              <button type="submit" class="primary">Create show</button>
              <ErrorNote error={error} />
            </form>
          </Section>
          <Section title="Your shows" id="shows" actions={<button type="button" class="ghost small" onClick={sessions.reload}>Refresh</button>}>
            {sessions.loading && !sessions.data && <Loading what="your shows" />}
            <ErrorNote error={sessions.error} />
            {list.length === 0 && sessions.data && <p class="muted">No shows yet.</p>}
            <ul class="show-list">
              {list.map((s) => (
                <li key={s.id}>
                  <button type="button" class={`show ${s.id === selected ? 'selected' : ''}`} aria-pressed={s.id === selected} onClick={() => setSelected(s.id)}>
                    <strong class="clip">{s.title}</strong>
                    <span class="small">
                      <span class={`badge ${s.status}`}>{statusLabel[s.status] ?? s.status}</span> {s.createdAt ? ago(s.createdAt) : ''}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </Section>
        </div>
        {current ? (
          <Manage
            key={current.id}
            session={current}
            created={created[current.id]}
            user={user}
            products={products.data?.items ?? []}
            onChanged={sessions.reload}
            onRotated={(streamKey) =>
              setCreated((c) => ({ ...c, [current.id]: { ...(c[current.id] ?? { id: current.id, status: current.status, rtmpUrl: `rtmp://${location.hostname}:1935/live`, playbackUrl: current.playbackUrl }), streamKey } }))
            }
          />
        ) : (
          <section class="card muted">
            <p>{errorText('Create a show or pick one of yours to manage it.')}</p>
          </section>
        )}
        <div class="studio-products">
          <Section title="List a product" id="new-product">
            <NewProduct onCreated={products.reload} />
          </Section>
        </div>
      </div>
    </main>
  );
}
