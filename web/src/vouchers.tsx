// Live vouchers (SPEC §15): the claim card in the room, the studio's drop form and report, the checkout picker.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get, isMissingRoute, newIdempotencyKey, post, type LiveSession, type Voucher, type VoucherClaim } from './api';
import { openSignIn, useUser } from './auth';
import { count, countdown, money } from './format';
import { ErrorNote, toast, useNow } from './ui';

export function VoucherCard({ voucher }: { voucher: Voucher }) {
  const user = useUser();
  const now = useNow(500);
  const [claimed, setClaimed] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // One key per intended claim: a retry after a network failure answers the same claim.
  const key = useRef(newIdempotencyKey());
  const left = new Date(voucher.endsAt).getTime() - now;
  const open = left > 0 && voucher.remaining > 0;

  async function claim() {
    if (!user) return openSignIn();
    setBusy(true);
    setError(null);
    try {
      await post<VoucherClaim>(`/api/vouchers/${encodeURIComponent(voucher.id)}/claims`, undefined, key.current);
      setClaimed(true);
      key.current = newIdempotencyKey();
      toast('Voucher claimed: use it at checkout', 'success');
    } catch (e) {
      key.current = newIdempotencyKey();
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="voucher card" aria-labelledby={`voucher-${voucher.id}`} data-testid="voucher">
      <div class="card-head">
        <h2 id={`voucher-${voucher.id}`}>🎟️ {money(voucher.discountMinor, voucher.currency)} off</h2>
        <span class="countdown" data-testid="voucher-countdown">{left > 0 ? countdown(left) : 'Ended'}</span>
      </div>
      <p class="muted small">
        {voucher.minSpendMinor > 0 ? `On orders from ${money(voucher.minSpendMinor, voucher.currency)} · ` : ''}
        <span data-testid="voucher-remaining">{count(voucher.remaining)}</span> of {count(voucher.quantity)} left
      </p>
      <button type="button" class="primary small" disabled={!open || busy || user?.role === 'seller'} onClick={claim} data-testid="voucher-claim">
        {claimed ? 'Claimed ✓ — claim again' : busy ? 'Claiming…' : voucher.remaining <= 0 ? 'All claimed' : 'Claim'}
      </button>
      <ErrorNote error={error} />
    </section>
  );
}

interface VoucherReport {
  voucher: Voucher;
  claimed: number;
  redeemed: number;
}

export function VoucherForm({ session }: { session: LiveSession }) {
  const [discount, setDiscount] = useState('2');
  const [minSpend, setMinSpend] = useState('0');
  const [currency, setCurrency] = useState('SGD');
  const [quantity, setQuantity] = useState('50');
  const [limit, setLimit] = useState('1');
  const [durationSeconds, setDuration] = useState('300');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<VoucherReport[]>([]);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    get<{ items: VoucherReport[] }>(`/api/live/sessions/${encodeURIComponent(session.id)}/vouchers`, controller.signal).then(
      (r) => setReport(r.items),
      () => undefined,
    );
    const timer = setTimeout(() => setTick((t) => t + 1), 3000);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [session.id, tick]);

  async function drop(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post(`/api/live/sessions/${encodeURIComponent(session.id)}/vouchers`, {
        discountMinor: Math.round(Number(discount) * 100),
        currency,
        minSpendMinor: Math.round(Number(minSpend) * 100),
        quantity: Number(quantity),
        perUserLimit: Number(limit),
        durationSeconds: Number(durationSeconds),
      });
      toast('Voucher dropped', 'success');
      setTick((t) => t + 1);
    } catch (err) {
      setError(isMissingRoute(err) ? new Error('Vouchers are not available on this server yet.') : err);
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

  return (
    <form class="stack" onSubmit={drop}>
      <div class="row wrap">
        {field('v-discount', `Discount (${currency})`, discount, setDiscount, { type: 'number', min: '0.01', step: '0.01' })}
        {field('v-min', `Minimum spend (${currency})`, minSpend, setMinSpend, { type: 'number', min: '0', step: '0.01' })}
        {field('v-currency', 'Currency', currency, (v) => setCurrency(v.toUpperCase()), { maxLength: '3', pattern: '[A-Za-z]{3}' })}
        {field('v-qty', 'Quantity', quantity, setQuantity, { type: 'number', min: '1' })}
        {field('v-limit', 'Per buyer', limit, setLimit, { type: 'number', min: '1' })}
        {field('v-duration', 'Duration (s)', durationSeconds, setDuration, { type: 'number', min: '10', max: '3600' })}
      </div>
      <button type="submit" class="primary" disabled={busy || session.status !== 'live'} data-testid="voucher-drop">
        {busy ? 'Dropping…' : 'Drop voucher'}
      </button>
      {session.status !== 'live' && <p class="muted small">A voucher can drop once the show is live.</p>}
      <ErrorNote error={error} />
      {report.length > 0 && (
        <ul class="plain" data-testid="studio-vouchers">
          {report.map((r) => (
            <li key={r.voucher.id} class="small">
              {money(r.voucher.discountMinor, r.voucher.currency)} off · <strong data-testid="voucher-claimed">{count(r.claimed)}</strong> of {count(r.voucher.quantity)} claimed ·{' '}
              <strong data-testid="voucher-redeemed">{count(r.redeemed)}</strong> used · {r.voucher.status}
            </li>
          ))}
        </ul>
      )}
    </form>
  );
}

/** The buyer's unused claims that fit this product: its seller and currency (min spend is shown, checked by the server). */
export function VoucherPicker({ sellerId, currency, value, onChange, reload }: {
  sellerId: string; currency: string; value: string; onChange: (claimId: string, discountMinor: number) => void; reload: unknown;
}) {
  const [claims, setClaims] = useState<VoucherClaim[]>([]);
  useEffect(() => {
    const controller = new AbortController();
    get<{ items: VoucherClaim[] }>('/api/me/vouchers', controller.signal).then(
      (r) => setClaims(r.items.filter((c) => c.sellerId === sellerId && c.currency === currency)),
      () => setClaims([]),
    );
    return () => controller.abort();
  }, [sellerId, currency, reload]);
  if (claims.length === 0) return null;
  return (
    <div class="field small-field">
      <label for="claim">Voucher</label>
      <select id="claim" value={value} data-testid="voucher-picker"
        onChange={(e) => {
          const id = (e.target as HTMLSelectElement).value;
          onChange(id, claims.find((c) => c.claimId === id)?.discountMinor ?? 0);
        }}>
        <option value="">No voucher</option>
        {claims.map((c) => (
          <option key={c.claimId} value={c.claimId}>
            {money(c.discountMinor, c.currency)} off{c.minSpendMinor > 0 ? ` (from ${money(c.minSpendMinor, c.currency)})` : ''}
          </option>
        ))}
      </select>
    </div>
  );
}
