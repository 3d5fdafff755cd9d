// The owner appoints, lists and removes a show's moderators (SPEC §14).

import { useEffect, useState } from 'preact/hooks';
import { del, get, isMissingRoute, put } from '../api';
import { ErrorNote } from '../ui';

interface Moderator {
  userId: string;
  userName: string;
  appointedAt: string;
}

export function Moderators({ sessionId }: { sessionId: string }) {
  const [list, setList] = useState<Moderator[] | null>(null);
  const [userId, setUserId] = useState('');
  const [error, setError] = useState<unknown>(null);
  const base = `/api/live/sessions/${encodeURIComponent(sessionId)}/moderators`;

  const load = () =>
    get<{ items: Moderator[] }>(base).then(
      (r) => setList(r.items),
      (e) => setError(isMissingRoute(e) ? 'Moderators are not available on this server yet.' : e),
    );
  useEffect(() => {
    load();
  }, [sessionId]);

  async function add(e: Event) {
    e.preventDefault();
    const id = userId.trim();
    if (!id) return;
    setError(null);
    try {
      await put(`${base}/${encodeURIComponent(id)}`);
      setUserId('');
      await load();
    } catch (err) {
      setError(err);
    }
  }

  async function remove(id: string) {
    setError(null);
    try {
      await del(`${base}/${encodeURIComponent(id)}`);
      await load();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <div class="stack">
      <p class="muted small">Moderators may delete messages, mute people, change the chat settings and run polls in this show. Nothing else.</p>
      <ul class="moderator-list" data-testid="moderators">
        {list?.length === 0 && <li class="muted small">No moderators yet.</li>}
        {list?.map((m) => (
          <li key={m.userId} class="row">
            <span class="grow clip">
              {m.userName} <span class="muted small">({m.userId})</span>
            </span>
            <button type="button" class="ghost small" onClick={() => remove(m.userId)}>
              Remove<span class="sr-only"> {m.userName} as moderator</span>
            </button>
          </li>
        ))}
      </ul>
      <form class="row" onSubmit={add}>
        <label for="moderator-id" class="sr-only">User id of the new moderator</label>
        <input id="moderator-id" placeholder="User id" maxLength={64} value={userId} onInput={(e) => setUserId((e.target as HTMLInputElement).value)} />
        <button type="submit" class="small">Add moderator</button>
      </form>
      {typeof error === 'string' ? <p class="error" role="alert">{error}</p> : <ErrorNote error={error} />}
    </div>
  );
}
