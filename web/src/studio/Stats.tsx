import { get, isMissingRoute, type LiveSession, type LiveStats } from '../api';
import { clock, count, duration, money } from '../format';
import { ErrorNote, Loading, useAsync, useInterval } from '../ui';

export function ViewersChart({ timeline }: { timeline: { at: string; viewers: number }[] }) {
  if (timeline.length < 2) return <p class="muted small">The viewers chart appears once the show has been live for a minute.</p>;
  const w = 600;
  const h = 160;
  const pad = 28;
  const t0 = new Date(timeline[0].at).getTime();
  const t1 = new Date(timeline[timeline.length - 1].at).getTime();
  const max = Math.max(1, ...timeline.map((p) => p.viewers));
  const x = (at: string) => pad + ((new Date(at).getTime() - t0) / Math.max(1, t1 - t0)) * (w - pad * 2);
  const y = (v: number) => h - pad - (v / max) * (h - pad * 2);
  const points = timeline.map((p) => `${x(p.at).toFixed(1)},${y(p.viewers).toFixed(1)}`).join(' ');
  return (
    <svg class="chart" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`Viewers over time: peak ${max}, from ${clock(timeline[0].at)} to ${clock(timeline[timeline.length - 1].at)}`} data-testid="viewers-chart">
      <line x1={pad} y1={h - pad} x2={w - pad} y2={h - pad} class="axis" />
      <line x1={pad} y1={pad} x2={pad} y2={h - pad} class="axis" />
      <text x={pad - 6} y={pad + 4} text-anchor="end" class="tick">{max}</text>
      <text x={pad - 6} y={h - pad + 4} text-anchor="end" class="tick">0</text>
      <text x={pad} y={h - 8} class="tick">{clock(timeline[0].at)}</text>
      <text x={w - pad} y={h - 8} text-anchor="end" class="tick">{clock(timeline[timeline.length - 1].at)}</text>
      <polyline points={`${pad},${h - pad} ${points} ${x(timeline[timeline.length - 1].at).toFixed(1)},${h - pad}`} class="area" />
      <polyline points={points} class="line" />
    </svg>
  );
}

export function Stats({ session }: { session: LiveSession }) {
  const stats = useAsync(async (signal) => {
    try {
      return await get<LiveStats>(`/api/live/sessions/${encodeURIComponent(session.id)}/stats`, signal);
    } catch (e) {
      if (isMissingRoute(e)) return null;
      throw e;
    }
  }, [session.id]);
  useInterval(stats.reload, session.status === 'live' ? 5000 : null);
  const s = stats.data;
  if (stats.data === null) return <p class="muted">Live stats are not available on this server yet.</p>;
  return (
    <>
      <ErrorNote error={stats.error} />
      {!s && stats.loading && <Loading what="stats" />}
      {s && (
        <>
          <dl class="stats-grid" data-testid="stats">
            <div><dt>Watching now</dt><dd>{count(s.currentViewers)}</dd></div>
            <div><dt>Peak</dt><dd>{count(s.peakViewers)}</dd></div>
            <div><dt>Unique viewers</dt><dd>{count(s.uniqueViewers)}</dd></div>
            <div><dt>Avg. watch</dt><dd>{duration(s.avgWatchSeconds)}</dd></div>
            <div><dt>Chat messages</dt><dd>{count(s.chatMessages)}</dd></div>
            <div><dt>Purchases</dt><dd>{count(s.purchases)}</dd></div>
            <div><dt>Sales</dt><dd>{money(s.gmvMinor, 'SGD')}</dd></div>
            <div><dt>Conversion</dt><dd>{(s.conversionRate * 100).toFixed(1)}%</dd></div>
          </dl>
          <ViewersChart timeline={s.timeline} />
        </>
      )}
    </>
  );
}
