import { useState } from 'preact/hooks';
import { isMissingRoute, post, type LiveSession, type Product } from '../api';
import { money } from '../format';
import { ErrorNote, toast } from '../ui';

export function FlashSaleForm({ session, products }: { session: LiveSession; products: Product[] }) {
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
