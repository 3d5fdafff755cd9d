import { useState } from 'preact/hooks';
import { del, patch, type LiveSession } from '../api';
import { ErrorNote } from '../ui';
import { startsAt } from '../upcoming';

/** The value a datetime-local input shows for an instant, in the seller's own time zone. */
function localInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Move or cancel a scheduled show; its subscribers are told either way. */
export function ScheduleControls({ session, onChanged }: { session: LiveSession; onChanged: () => void }) {
  const [when, setWhen] = useState(session.scheduledAt ? localInput(session.scheduledAt) : '');
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);
  const path = `/api/live/sessions/${encodeURIComponent(session.id)}`;

  async function move(e: Event) {
    e.preventDefault();
    setError(null);
    setNote(null);
    try {
      const moved = await patch<LiveSession>(path, { scheduledAt: new Date(when).toISOString() });
      setNote(`Moved to ${moved.scheduledAt ? startsAt(moved.scheduledAt) : when}. Subscribers were told.`);
      onChanged();
    } catch (err) {
      setError(err);
    }
  }

  async function cancel() {
    if (!confirm('Cancel this show? Everyone who asked to be notified is told.')) return;
    setError(null);
    try {
      await del(path);
      onChanged();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form class="stack" onSubmit={move} data-testid="schedule-controls">
      <p class="small">
        Scheduled for {session.scheduledAt ? <time dateTime={session.scheduledAt}>{startsAt(session.scheduledAt)}</time> : '—'}. Going live early is fine.
      </p>
      <div class="field">
        <label for="reschedule-when">New start time</label>
        <input id="reschedule-when" type="datetime-local" required value={when} onInput={(e) => setWhen((e.target as HTMLInputElement).value)} />
      </div>
      <div class="row wrap">
        <button type="submit">Reschedule</button>
        <button type="button" class="danger" onClick={cancel}>Cancel show</button>
      </div>
      {note && <p class="success small" role="status">{note}</p>}
      <ErrorNote error={error} />
    </form>
  );
}
