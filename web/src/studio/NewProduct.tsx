import { useState } from 'preact/hooks';
import { post, type Product } from '../api';
import { ErrorNote, toast } from '../ui';

export function NewProduct({ onCreated }: { onCreated: () => void }) {
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
