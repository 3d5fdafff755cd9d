import { get, isMissingRoute, type SellerAnalytics } from '../api';
import { count, duration, money } from '../format';
import { ErrorNote, Loading, useAsync } from '../ui';
import { ViewersChart } from './Stats';

const percent = (rate: number) => `${(rate * 100).toFixed(1)}%`;

/** The seller's dashboard: the last 30 days of shows, in total and one by one, with each show's viewers chart. */
export function Dashboard() {
  const report = useAsync(async (signal) => {
    try {
      return await get<SellerAnalytics>('/api/sellers/me/analytics', signal);
    } catch (e) {
      if (isMissingRoute(e)) return null;
      throw e;
    }
  }, []);
  const r = report.data;
  if (report.data === null) return <p class="muted">The analytics dashboard is not available on this server yet.</p>;
  return (
    <>
      <ErrorNote error={report.error} />
      {!r && report.loading && <Loading what="analytics" />}
      {r && (
        <>
          <dl class="stats-grid" data-testid="dashboard-total">
            <div><dt>Shows</dt><dd>{count(r.total.shows)}</dd></div>
            <div><dt>Sales</dt><dd>{money(r.total.gmvMinor, 'SGD')}</dd></div>
            <div><dt>Orders</dt><dd>{count(r.total.orders)}</dd></div>
            <div><dt>Unique viewers</dt><dd>{count(r.total.uniqueViewers)}</dd></div>
            <div><dt>Peak</dt><dd>{count(r.total.peakViewers)}</dd></div>
            <div><dt>Avg. watch</dt><dd>{duration(r.total.avgWatchSeconds)}</dd></div>
            <div><dt>Click-through</dt><dd>{percent(r.total.clickThroughRate)}</dd></div>
            <div><dt>Conversion</dt><dd>{percent(r.total.conversionRate)}</dd></div>
          </dl>
          {r.shows.length === 0 && <p class="muted">No shows in the last 30 days.</p>}
          <ul class="stack" data-testid="dashboard-shows">
            {r.shows.map((s) => (
              <li key={s.sessionId} class="card" data-session={s.sessionId}>
                <h3 class="clip">{s.title}</h3>
                <dl class="stats-grid">
                  <div><dt>Sales</dt><dd>{money(s.gmvMinor, 'SGD')}</dd></div>
                  <div><dt>Orders</dt><dd>{count(s.orders)}</dd></div>
                  <div><dt>Unique viewers</dt><dd>{count(s.uniqueViewers)}</dd></div>
                  <div><dt>Peak</dt><dd>{count(s.peakViewers)}</dd></div>
                  <div><dt>Avg. watch</dt><dd>{duration(s.avgWatchSeconds)}</dd></div>
                  <div><dt>Click-through</dt><dd>{percent(s.clickThroughRate)}</dd></div>
                  <div><dt>Conversion</dt><dd>{percent(s.conversionRate)}</dd></div>
                  <div><dt>Chat messages</dt><dd>{count(s.chatMessages)}</dd></div>
                </dl>
                <ViewersChart timeline={s.viewers} />
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
