import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError, get, post,
  type AppNotification, type CheckInResult, type Order, type CheckInStatus, type CoinEntry, type Page, type ShakeResult, type ShareStats,
} from '../api';
import { useUser } from '../auth';
import { ago, coinSources, count, countdown, money } from '../format';
import { createLiveHub } from '../hub';
import { ErrorNote, Loading, ProductName, Section, SignInPrompt, toast, useAsync } from '../ui';

function regionToday(recent: { date: string }[], checkedInToday: boolean): Date {
  // The server's "today" is a region day (Asia/Singapore by default); when we checked in today the latest
  // recent date is that day, else use the local date (close enough for drawing the calendar).
  if (checkedInToday && recent[0]) return new Date(`${recent[0].date}T00:00:00Z`);
  const d = new Date();
  return new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
}

function CheckInCard({ onEarned }: { onEarned: () => void }) {
  const status = useAsync((signal) => get<CheckInStatus>('/api/me/check-ins', signal), []);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [last, setLast] = useState<CheckInResult | null>(null);

  async function checkIn() {
    setBusy(true);
    setError(null);
    try {
      const r = await post<CheckInResult>('/api/me/check-ins');
      setLast(r);
      toast(`Checked in: +${r.coins} coins${r.bonus ? ' (bonus day!)' : ''}`, 'success');
      status.reload();
      onEarned();
    } catch (e) {
      setError(e);
      status.reload();
    } finally {
      setBusy(false);
    }
  }

  const s = status.data;
  const days: { key: string; label: string; coins?: number; today: boolean }[] = [];
  if (s) {
    const today = regionToday(s.recent, s.checkedInToday);
    const byDate = new Map(s.recent.map((r) => [r.date, r.coins]));
    for (let i = 6; i >= 0; i--) {
      const d = new Date(today.getTime() - i * 86400000);
      const key = d.toISOString().slice(0, 10);
      days.push({ key, label: d.toLocaleDateString(undefined, { weekday: 'short', timeZone: 'UTC' }), coins: byDate.get(key), today: i === 0 });
    }
  }

  return (
    <Section title="Daily check-in" id="checkin">
      {!s && status.loading && <Loading what="your streak" />}
      <ErrorNote error={status.error} />
      {s && (
        <>
          <p>
            Streak: <strong data-testid="streak">{s.streakDay} day{s.streakDay === 1 ? '' : 's'}</strong>
            {!s.checkedInToday && <> · today's reward: <strong>{s.nextReward} coins</strong>{s.nextRewardIsBonus ? ' (bonus)' : ''}</>}
          </p>
          <ol class="calendar" aria-label="The last seven days">
            {days.map((d) => (
              <li key={d.key} class={`${d.coins !== undefined ? 'done' : ''} ${d.today ? 'today' : ''}`}>
                <span class="small">{d.label}</span>
                <span aria-hidden="true">{d.coins !== undefined ? '✓' : '·'}</span>
                <span class="sr-only">{d.coins !== undefined ? `checked in, ${d.coins} coins` : 'not checked in'}</span>
                {d.coins !== undefined && <span class="small">+{d.coins}</span>}
              </li>
            ))}
          </ol>
          <button type="button" class="primary" disabled={busy || s.checkedInToday} onClick={checkIn}>
            {s.checkedInToday ? 'Checked in today ✓' : busy ? 'Checking in…' : 'Check in'}
          </button>
          {last && <p class="success" role="status">+{last.coins} coins for day {last.streakDay}.</p>}
        </>
      )}
      <ErrorNote error={error} />
    </Section>
  );
}

// Shake-Shake: on a phone the shake itself is the input (device motion); elsewhere hold the button to
// charge it. Either way the power (0–100) goes to the server, which draws the prize.
function ShakeCard({ onEarned }: { onEarned: () => void }) {
  const [result, setResult] = useState<ShakeResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [power, setPower] = useState(0);
  const [motion, setMotion] = useState<'off' | 'listening' | 'denied'>('off');
  const [limitUntil, setLimitUntil] = useState<number | null>(null);
  const chargeStart = useRef<number | null>(null);
  const releasedAt = useRef(0);
  const raf = useRef(0);
  const hasMotion = typeof window !== 'undefined' && 'DeviceMotionEvent' in window && matchMedia('(pointer: coarse)').matches;

  async function play(shakePower: number) {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const r = await post<ShakeResult>('/api/games/shake', { shakePower: Math.round(Math.max(0, Math.min(100, shakePower))) });
      setResult(r);
      toast(r.jackpot ? `JACKPOT! +${r.coinsWon} coins` : `You won ${r.coinsWon} coins`, 'success');
      onEarned();
    } catch (e) {
      setResult(null);
      setError(e);
      if (e instanceof ApiError && e.code === 'DAILY_LIMIT' && typeof e.problem.retryAfterSeconds === 'number') {
        setLimitUntil(Date.now() + e.problem.retryAfterSeconds * 1000);
      }
    } finally {
      setBusy(false);
      setPower(0);
    }
  }

  function startCharge() {
    if (busy || chargeStart.current !== null) return;
    chargeStart.current = performance.now();
    const tick = () => {
      if (chargeStart.current === null) return;
      setPower(Math.min(100, ((performance.now() - chargeStart.current) / 1500) * 100));
      raf.current = requestAnimationFrame(tick);
    };
    raf.current = requestAnimationFrame(tick);
  }

  function release() {
    if (chargeStart.current === null) return;
    const p = Math.min(100, ((performance.now() - chargeStart.current) / 1500) * 100);
    chargeStart.current = null;
    releasedAt.current = performance.now();
    cancelAnimationFrame(raf.current);
    void play(Math.max(5, p));
  }

  // Phones: a shake stronger than ~25 m/s² plays once, with power from the peak acceleration.
  useEffect(() => {
    if (motion !== 'listening') return;
    let peak = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const onMotion = (e: DeviceMotionEvent) => {
      const a = e.accelerationIncludingGravity ?? e.acceleration;
      if (!a) return;
      const g = Math.hypot(a.x ?? 0, a.y ?? 0, a.z ?? 0);
      if (g < 25) return;
      peak = Math.max(peak, g);
      setPower(Math.min(100, ((peak - 25) / 25) * 100));
      if (!timer) {
        timer = setTimeout(() => {
          void play(Math.min(100, ((peak - 25) / 25) * 100));
          peak = 0;
          timer = null;
        }, 600);
      }
    };
    window.addEventListener('devicemotion', onMotion);
    return () => {
      window.removeEventListener('devicemotion', onMotion);
      if (timer) clearTimeout(timer);
    };
  }, [motion]);

  async function enableMotion() {
    const dme = DeviceMotionEvent as unknown as { requestPermission?: () => Promise<string> };
    try {
      if (dme.requestPermission && (await dme.requestPermission()) !== 'granted') return setMotion('denied');
      setMotion('listening');
    } catch {
      setMotion('denied');
    }
  }

  const now = Date.now();
  return (
    <Section title="Shake-Shake" id="shake">
      <p class="muted">Three plays a day. Shake harder for a bigger prize — and maybe the 500-coin jackpot.</p>
      <div class="shake">
        <button
          type="button"
          class={`shake-button ${busy ? 'shaking' : ''}`}
          disabled={busy}
          onPointerDown={startCharge}
          onPointerUp={release}
          onPointerLeave={release}
          onKeyDown={(e) => (e.key === ' ' || e.key === 'Enter') && !e.repeat && (e.preventDefault(), startCharge())}
          onKeyUp={(e) => (e.key === ' ' || e.key === 'Enter') && (e.preventDefault(), release())}
          // A click with no press before it (assistive technology) plays at medium power.
          onClick={() => chargeStart.current === null && performance.now() - releasedAt.current > 400 && void play(50)}
          aria-describedby="shake-help"
        >
          {busy ? 'Shaking…' : 'Shake!'}
        </button>
        <div class="meter" role="meter" aria-label="Shake power" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(power)}>
          <span style={{ width: `${power}%` }} />
        </div>
        <p id="shake-help" class="muted small">
          {hasMotion ? 'Shake your phone, or hold the button: the longer you hold, the harder the shake.' : 'Hold the button (or Space): the longer you hold, the harder the shake.'}
        </p>
        {hasMotion && motion !== 'listening' && (
          <button type="button" class="ghost small" onClick={enableMotion}>
            {motion === 'denied' ? 'Motion not allowed: use the button' : 'Use phone motion'}
          </button>
        )}
        {motion === 'listening' && <p class="muted small">Motion on: shake your phone!</p>}
      </div>
      {result && (
        <p class={`success ${result.jackpot ? 'jackpot' : ''}`} role="status" data-testid="shake-result">
          {result.jackpot ? 'JACKPOT! ' : ''}You won {result.coinsWon} coins. {result.remainingPlays} play{result.remainingPlays === 1 ? '' : 's'} left today.
        </p>
      )}
      <ErrorNote error={error} />
      {limitUntil && limitUntil > now && <p class="muted small">New plays in {countdown(limitUntil - now)}.</p>}
    </Section>
  );
}

function Transactions({ version }: { version: number }) {
  const list = useAsync((signal) => get<Page<CoinEntry>>('/api/me/coins/transactions?limit=20', signal), [version]);
  return (
    <Section title="Coin history" id="history">
      {list.loading && !list.data && <Loading what="your coin history" />}
      <ErrorNote error={list.error} />
      {list.data && list.data.items.length === 0 && <p class="muted">No coins yet: check in or play Shake-Shake.</p>}
      <ul class="ledger" data-testid="ledger">
        {list.data?.items.map((t) => (
          <li key={t.id}>
            <span>
              {coinSources[t.source] ?? t.source}
              <time class="muted small" dateTime={t.createdAt}> · {ago(t.createdAt)}</time>
            </span>
            <span class={t.amount >= 0 ? 'plus' : 'minus'}>{t.amount >= 0 ? `+${t.amount}` : t.amount}</span>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function Notifications() {
  const list = useAsync((signal) => get<Page<AppNotification> & { unread: number }>('/api/me/notifications?limit=20', signal), []);
  const [error, setError] = useState<unknown>(null);
  const reload = useRef(list.reload);
  reload.current = list.reload;

  useEffect(() => {
    // New notifications are pushed on the live hub when it is there; otherwise they show on reload.
    const hub = createLiveHub();
    hub.on('notification', () => reload.current());
    hub.start().catch(() => undefined);
    return () => void hub.stop();
  }, []);

  async function read(id: string) {
    try {
      await post(`/api/me/notifications/${encodeURIComponent(id)}/read`);
      list.reload();
    } catch (e) {
      setError(e);
    }
  }

  return (
    <Section
      title={`Notifications${list.data?.unread ? ` (${list.data.unread} new)` : ''}`}
      id="notifications"
      actions={<button type="button" class="ghost small" onClick={list.reload}>Refresh</button>}
    >
      {list.loading && !list.data && <Loading what="notifications" />}
      <ErrorNote error={list.error ?? error} />
      {list.data && list.data.items.length === 0 && <p class="muted">No notifications yet.</p>}
      <ul class="notes">
        {list.data?.items.map((n) => (
          <li key={n.id} class={n.readAt ? 'read' : 'unread'}>
            <div>
              <strong>{n.title}</strong>
              <p class="small">{n.body}</p>
              <time class="muted small" dateTime={n.createdAt}>{ago(n.createdAt)}</time>
            </div>
            {!n.readAt && (
              <button type="button" class="ghost small" onClick={() => read(n.id)}>
                Mark read<span class="sr-only">: {n.title}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
    </Section>
  );
}

function Orders() {
  const list = useAsync((signal) => get<Page<Order>>('/api/me/orders?limit=20', signal), []);
  return (
    <Section title="My orders" id="orders" actions={<button type="button" class="ghost small" onClick={list.reload}>Refresh</button>}>
      {list.loading && !list.data && <Loading what="your orders" />}
      <ErrorNote error={list.error} />
      {list.data && list.data.items.length === 0 && <p class="muted">No orders yet.</p>}
      <ul class="ledger" data-testid="orders">
        {list.data?.items.map((o) => (
          <li key={o.id} data-order={o.id}>
            <span>
              <a href={`/p/${encodeURIComponent(o.productId)}`}><ProductName id={o.productId} /></a>
              <span class="muted small"> · {o.quantity} × {money(o.unitPriceMinor, o.currency)} · {o.status}</span>
            </span>
            <strong data-testid="order-total">{money(o.totalMinor, o.currency)}</strong>
          </li>
        ))}
      </ul>
    </Section>
  );
}

function Shares() {
  const list = useAsync((signal) => get<Page<ShareStats>>('/api/me/shares?limit=20', signal), []);
  return (
    <Section title="My share links" id="shares" actions={<button type="button" class="ghost small" onClick={list.reload}>Refresh</button>}>
      <ErrorNote error={list.error} />
      {list.data && list.data.items.length === 0 && <p class="muted">Share a product to earn coins when friends buy through your link.</p>}
      <ul class="shares" data-testid="shares">
        {list.data?.items.map((s) => (
          <li key={s.trackingCode} data-code={s.trackingCode}>
            <a href={`/p/${encodeURIComponent(s.productId)}`}><ProductName id={s.productId} /></a>
            <span class="muted small"> via {s.platform}</span>
            <span class="stats small">
              <span data-testid="clicks">{count(s.clicks)} click{s.clicks === 1 ? '' : 's'}</span> · {count(s.purchases)} bought · +{count(s.coinsEarned)} coins
            </span>
          </li>
        ))}
      </ul>
    </Section>
  );
}

export default function Me() {
  const user = useUser();
  const [version, setVersion] = useState(0);
  const balance = useAsync((signal) => (user ? get<{ balance: number }>('/api/me/coins', signal) : Promise.resolve(null)), [user?.id, version]);
  const earned = () => setVersion((v) => v + 1);

  if (!user) {
    return (
      <main id="main" class="page narrow">
        <h1>Me</h1>
        <SignInPrompt to="to see your coins, check in and play Shake-Shake" />
      </main>
    );
  }

  return (
    <main id="main" class="page">
      <div class="me-head card">
        <h1>Hi, {user.name}</h1>
        <p class="coins" aria-live="polite">
          <span class="coin" aria-hidden="true">●</span>
          <strong data-testid="balance">{balance.data ? count(balance.data.balance) : '…'}</strong> coins
        </p>
        <ErrorNote error={balance.error} />
      </div>
      <div class="me-grid">
        <CheckInCard onEarned={earned} />
        <ShakeCard onEarned={earned} />
        <Transactions version={version} />
        <Orders />
        <Notifications />
        <Shares />
      </div>
    </main>
  );
}
