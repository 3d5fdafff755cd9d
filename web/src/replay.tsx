// Shoppable replays: the "Recent shows" list that links to them (home and seller pages).

import { get, type LiveSession, type Page } from './api';
import { ago } from './format';
import { ErrorNote, Loading, Section, SellerName, useAsync } from './ui';

/** GET /api/live/sessions/{id}/replay (SPEC §12). */
export interface ReplayMoment {
  atSeconds: number;
  kind: 'pin' | 'flashSale' | string;
  productId: string;
  title: string;
  priceMinor: number;
  currency: string;
}

export interface Replay {
  url: string;
  durationSeconds: number;
  moments: ReplayMoment[];
}

export const replayPath = (sessionId: string) => `/replay/${encodeURIComponent(sessionId)}`;

/** Ended shows with a replay, newest first; one seller's when sellerId is given. */
export function RecentShows({ sellerId }: { sellerId?: string }) {
  const query = `/api/live/sessions?status=ended&limit=12${sellerId ? `&sellerId=${encodeURIComponent(sellerId)}` : ''}`;
  const shows = useAsync((signal) => get<Page<LiveSession>>(query, signal), [query]);
  const replays = shows.data?.items.filter((s) => s.replayUrl) ?? [];
  return (
    <Section title="Recent shows" id="recent-shows">
      {shows.loading && !shows.data && <Loading what="recent shows" />}
      <ErrorNote error={shows.error} />
      {shows.data && replays.length === 0 && <p class="muted">No replays yet.</p>}
      <ul class="live-list" data-testid="recent-shows">
        {replays.map((s) => (
          <li key={s.id}>
            <a class="live-card" href={replayPath(s.id)}>
              <span class="badge">REPLAY</span>
              <strong class="clip">{s.title}</strong>
              <span class="muted small">
                {!sellerId && <><SellerName id={s.sellerId} /> · </>}
                {s.endedAt ? ago(s.endedAt) : 'ended'}
              </span>
            </a>
          </li>
        ))}
      </ul>
    </Section>
  );
}
