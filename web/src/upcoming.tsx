// Upcoming (scheduled) shows, "Notify me", and the reminder when it arrives (SPEC §14).

import { useEffect, useState } from 'preact/hooks';
import { del, get, put, type AppNotification, type LiveSession, type Page } from './api';
import { openSignIn, useUser } from './auth';
import { ago } from './format';
import { createLiveHub, type HubConnection } from './hub';
import { ErrorNote, Loading, Section, SellerName, useAsync } from './ui';

/** When a show starts, in the viewer's own time zone, and how far off that is. */
export function startsAt(iso: string): string {
  const at = new Date(iso);
  return `${at.toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })} (${ago(iso)})`;
}

/** The "Notify me" toggle of one scheduled show. */
export function NotifyMe({ session }: { session: LiveSession }) {
  const user = useUser();
  const path = `/api/live/sessions/${encodeURIComponent(session.id)}/reminders`;
  const state = useAsync(
    (signal) => (user ? get<{ subscribed: boolean; subscribers: number }>(path, signal) : Promise.resolve(null)),
    [user?.id, session.id],
  );
  const [on, setOn] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const subscribed = on ?? state.data?.subscribed ?? false;

  async function toggle() {
    if (!user) {
      openSignIn();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      if (subscribed) await del(path);
      else await put(path);
      setOn(!subscribed);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <span class="notify-me">
      <button type="button" class={subscribed ? 'small' : 'primary small'} aria-pressed={subscribed} disabled={busy} onClick={toggle}>
        {subscribed ? 'Reminder on' : 'Notify me'}
        <span class="sr-only">: {session.title}</span>
      </button>
      <ErrorNote error={error} />
    </span>
  );
}

/**
 * Shows reminders, reschedules and cancellations as they are pushed to this user. A page that already holds a
 * hub connection (the live room) passes it, or null while it connects, so a viewer keeps one connection;
 * without the prop this opens its own.
 */
export function ShowNotices({ hub: shared }: { hub?: HubConnection | null } = {}) {
  const user = useUser();
  const [notes, setNotes] = useState<AppNotification[]>([]);
  useEffect(() => {
    if (!user || shared === null) return; // null: the page's connection is not up yet
    const hub = shared ?? createLiveHub();
    const handler = (n: AppNotification) => {
      if (['SHOW_STARTING', 'SHOW_RESCHEDULED', 'SHOW_CANCELLED', 'SELLER_LIVE'].includes(n.type)) setNotes((list) => [n, ...list.filter((x) => x.id !== n.id)].slice(0, 3));
    };
    hub.on('notification', handler);
    if (shared) return () => hub.off('notification', handler);
    hub.start().catch(() => undefined);
    return () => void hub.stop();
  }, [user?.id, shared]);
  if (notes.length === 0) return null;
  return (
    <div class="show-notices" role="status" aria-live="polite" data-testid="show-notices">
      {notes.map((n) => (
        <p key={n.id} class="card small" data-type={n.type}>
          <strong>{n.title}</strong> {n.body}
          <button type="button" class="ghost small" onClick={() => setNotes((list) => list.filter((x) => x.id !== n.id))}>
            Dismiss<span class="sr-only">: {n.title}</span>
          </button>
        </p>
      ))}
    </div>
  );
}

/** Upcoming shows, soonest first; of one seller when <code>sellerId</code> is given. */
export function UpcomingShows({ sellerId }: { sellerId?: string }) {
  const query = `/api/live/sessions?status=scheduled&limit=12${sellerId ? `&sellerId=${encodeURIComponent(sellerId)}` : ''}`;
  const upcoming = useAsync((signal) => get<Page<LiveSession>>(query, signal), [query]);
  return (
    <Section title="Upcoming shows" id="upcoming" actions={<button type="button" class="ghost small" onClick={upcoming.reload}>Refresh</button>}>
      {upcoming.loading && !upcoming.data && <Loading what="upcoming shows" />}
      <ErrorNote error={upcoming.error} />
      {upcoming.data && upcoming.data.items.length === 0 && <p class="muted">No shows scheduled yet.</p>}
      <ul class="live-list" data-testid="upcoming">
        {upcoming.data?.items.map((s) => (
          <li key={s.id} class="upcoming-card">
            <a class="live-card" href={`/live/${encodeURIComponent(s.id)}`}>
              <span class="badge scheduled">UPCOMING</span>
              <strong class="clip">{s.title}</strong>
              <span class="muted small">{s.scheduledAt ? <time dateTime={s.scheduledAt}>{startsAt(s.scheduledAt)}</time> : null}</span>
            </a>
            <span class="row wrap small">
              {!sellerId && <a href={`/seller/${encodeURIComponent(s.sellerId)}`}><SellerName id={s.sellerId} /></a>}
              <NotifyMe session={s} />
            </span>
          </li>
        ))}
      </ul>
    </Section>
  );
}
