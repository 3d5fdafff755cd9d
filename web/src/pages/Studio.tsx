import { useState } from 'preact/hooks';
import { errorText, get, post, type CreatedSession, type LiveSession, type Page, type Product } from '../api';
import { useUser } from '../auth';
import { ago } from '../format';
import { Dashboard } from '../studio/Dashboard';
import { Manage } from '../studio/Manage';
import { NewProduct } from '../studio/NewProduct';
import { statusLabel } from '../studio/status';
import { ErrorNote, Loading, Section, SignInPrompt, useAsync } from '../ui';

export default function Studio() {
  const user = useUser();
  const [title, setTitle] = useState('');
  const [when, setWhen] = useState('');
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
      // datetime-local is the seller's own time; the API takes an instant.
      const s = await post<CreatedSession>('/api/live/sessions', when ? { title, scheduledAt: new Date(when).toISOString() } : { title });
      setCreated((c) => ({ ...c, [s.id]: s }));
      setSelected(s.id);
      setTitle('');
      setWhen('');
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
              <div class="field">
                <label for="show-when">Starts at (optional)</label>
                <input id="show-when" type="datetime-local" value={when} onInput={(e) => setWhen((e.target as HTMLInputElement).value)} />
                <span class="small muted">Leave empty to go live whenever you are ready. Your stream key works at once either way.</span>
              </div>
              <button type="submit" class="primary">{when ? 'Schedule show' : 'Create show'}</button>
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
                      <span class={`badge ${s.status}`}>{statusLabel[s.status] ?? s.status}</span>{' '}
                      {s.status === 'scheduled' && s.scheduledAt ? ago(s.scheduledAt) : s.createdAt ? ago(s.createdAt) : ''}
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
          <Section title="Analytics, last 30 days" id="analytics">
            <Dashboard />
          </Section>
        </div>
      </div>
    </main>
  );
}
