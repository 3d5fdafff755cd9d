// Polls and provably fair giveaways in the live room and the studio (SPEC §14).

import { useEffect, useState } from 'preact/hooks';
import { post, type Giveaway, type LiveSession, type Poll } from './api';
import { openSignIn, useUser } from './auth';
import { count, countdown } from './format';
import { ErrorNote, toast, useNow } from './ui';

// ---- Poll ----

export function PollCard({ poll }: { poll: Poll }) {
  const user = useUser();
  const now = useNow(500);
  const [voted, setVoted] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const open = poll.status === 'open' && new Date(poll.endsAt).getTime() > now;
  const total = poll.counts.reduce((x, y) => x + y, 0);

  async function vote(option: number) {
    if (!user) {
      openSignIn();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await post(`/api/polls/${encodeURIComponent(poll.id)}/votes`, { option });
      setVoted(option);
    } catch (e) {
      if ((e as { code?: string }).code === 'ALREADY_VOTED') setVoted(-1);
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="poll card" aria-labelledby={`poll-${poll.id}`} data-testid="poll">
      <div class="card-head">
        <h2 id={`poll-${poll.id}`}>📊 {poll.question}</h2>
        <span class="countdown">{open ? countdown(new Date(poll.endsAt).getTime() - now) : 'Closed'}</span>
      </div>
      <ul class="poll-options">
        {poll.options.map((option, i) => {
          const share = total > 0 ? Math.round((poll.counts[i] / total) * 100) : 0;
          return (
            <li key={i}>
              <button type="button" class={voted === i ? 'primary small' : 'small'} disabled={!open || busy || voted !== null}
                onClick={() => vote(i)} data-testid={`poll-option-${i}`}>
                {option}
              </button>
              <span class="bar" aria-hidden="true"><span style={{ width: `${share}%` }} /></span>
              <span class="small" data-testid={`poll-count-${i}`}>{count(poll.counts[i] ?? 0)}</span>
            </li>
          );
        })}
      </ul>
      <p class="muted small" data-testid="poll-total">{count(total)} {total === 1 ? 'vote' : 'votes'}{voted !== null && voted >= 0 ? ' · you voted' : ''}</p>
      <ErrorNote error={error} />
    </section>
  );
}

// ---- Giveaway and its verification ----

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** SPEC §14's rule, in the browser: sort entrants by hex SHA-256(seed bytes ‖ UTF-8 user id), take the first `winners`. */
export async function verifyDraw(g: Giveaway): Promise<{ hashOk: boolean; winners: string[]; matches: boolean }> {
  const seed = fromHex(g.seed ?? '');
  const hashOk = (await sha256Hex(seed)) === g.seedHash;
  const utf8 = new TextEncoder();
  const tickets = await Promise.all(
    (g.entrantIds ?? []).map(async (id) => {
      const idBytes = utf8.encode(id);
      const input = new Uint8Array(seed.length + idBytes.length);
      input.set(seed, 0);
      input.set(idBytes, seed.length);
      return { id, ticket: await sha256Hex(input) };
    }),
  );
  tickets.sort((a, b) => (a.ticket < b.ticket ? -1 : a.ticket > b.ticket ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const winners = tickets.slice(0, g.winnerCount).map((t) => t.id);
  const published = g.winners ?? [];
  return { hashOk, winners, matches: winners.length === published.length && winners.every((w, i) => w === published[i]) };
}

export function GiveawayCard({ giveaway }: { giveaway: Giveaway }) {
  const user = useUser();
  const now = useNow(500);
  const [entered, setEntered] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [check, setCheck] = useState<{ hashOk: boolean; winners: string[]; matches: boolean } | null>(null);
  const drawn = giveaway.status === 'drawn';
  const ends = new Date(giveaway.endsAt).getTime();
  const mine = user !== null && user.id === giveaway.sellerId;
  useEffect(() => setCheck(null), [giveaway.id, giveaway.status]);

  async function enter() {
    if (!user) {
      openSignIn();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await post(`/api/giveaways/${encodeURIComponent(giveaway.id)}/entries`);
      setEntered(true);
      toast('You are in the draw. Good luck!', 'success');
    } catch (e) {
      if ((e as { code?: string }).code === 'ALREADY_ENTERED') setEntered(true);
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const won = drawn && user !== null && (giveaway.winners ?? []).includes(user.id);
  return (
    <section class="giveaway card" aria-labelledby={`giveaway-${giveaway.id}`} data-testid="giveaway">
      <div class="card-head">
        <h2 id={`giveaway-${giveaway.id}`}>🎁 Giveaway: {count(giveaway.prizeCoins)} coins × {giveaway.winnerCount}</h2>
        <span class="countdown">{drawn ? 'Drawn' : now < ends ? countdown(ends - now) : 'Drawing…'}</span>
      </div>
      <p class="small muted">
        Seed hash (published at start): <code class="hash" data-testid="giveaway-seed-hash">{giveaway.seedHash}</code>
      </p>
      {!drawn && (
        <div class="row">
          <span class="small">{count(giveaway.entrants)} entered</span>
          {!mine && (
            <button type="button" class="primary" disabled={busy || entered || now >= ends} onClick={enter} data-testid="giveaway-enter">
              {entered ? 'Entered' : 'Enter'}
            </button>
          )}
        </div>
      )}
      {drawn && (
        <div class="stack">
          <p class="small" data-testid="giveaway-winners">
            {won ? 'You won! ' : ''}Winners ({giveaway.winners?.length ?? 0} of {count(giveaway.entrants)} entrants): {(giveaway.winners ?? []).join(', ') || 'nobody entered'}
          </p>
          <p class="small muted">Seed: <code class="hash" data-testid="giveaway-seed">{giveaway.seed}</code></p>
          <button type="button" class="small" onClick={async () => setCheck(await verifyDraw(giveaway))} data-testid="giveaway-verify">
            Verify this draw
          </button>
          {check && (
            <p class={check.hashOk && check.matches ? 'success small' : 'error small'} role="status" data-testid="giveaway-verdict">
              {check.hashOk ? 'The seed matches the published hash. ' : 'The seed does NOT match the published hash. '}
              {check.matches ? `Recomputed in your browser: the same ${check.winners.length} winners.` : `Recomputed winners differ: ${check.winners.join(', ')}`}
            </p>
          )}
        </div>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

// ---- Studio controls ----

export function PollForm({ session }: { session: LiveSession }) {
  const [question, setQuestion] = useState('');
  const [options, setOptions] = useState('Yes\nNo');
  const [duration, setDuration] = useState('60');
  const [error, setError] = useState<unknown>(null);
  const [running, setRunning] = useState<Poll | null>(null);

  async function start(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const poll = await post<Poll>(`/api/live/sessions/${encodeURIComponent(session.id)}/polls`, {
        question,
        options: options.split('\n').map((o) => o.trim()).filter(Boolean),
        durationSeconds: Number(duration),
      });
      setRunning(poll);
      toast('Poll started', 'success');
    } catch (err) {
      setError(err);
    }
  }

  async function close() {
    if (!running) return;
    try {
      setRunning(await post<Poll>(`/api/polls/${encodeURIComponent(running.id)}/close`));
      toast('Poll closed', 'success');
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form class="stack" onSubmit={start}>
      <div class="field">
        <label for="poll-question">Question</label>
        <input id="poll-question" required maxLength={200} value={question} onInput={(e) => setQuestion((e.target as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for="poll-options">Options (2 to 6, one per line)</label>
        <textarea id="poll-options" rows={4} value={options} onInput={(e) => setOptions((e.target as HTMLTextAreaElement).value)} />
      </div>
      <div class="field small-field">
        <label for="poll-duration">Poll length (seconds)</label>
        <input id="poll-duration" type="number" min="5" max="3600" value={duration} onInput={(e) => setDuration((e.target as HTMLInputElement).value)} />
      </div>
      <div class="row">
        <button type="submit" class="primary">Start poll</button>
        {running && running.status === 'open' && <button type="button" onClick={close}>Close poll now</button>}
      </div>
      <ErrorNote error={error} />
    </form>
  );
}

export function GiveawayForm({ session }: { session: LiveSession }) {
  const [prize, setPrize] = useState('100');
  const [winners, setWinners] = useState('1');
  const [duration, setDuration] = useState('60');
  const [error, setError] = useState<unknown>(null);

  async function start(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await post<Giveaway>(`/api/live/sessions/${encodeURIComponent(session.id)}/giveaways`, {
        prizeCoins: Number(prize),
        winners: Number(winners),
        durationSeconds: Number(duration),
      });
      toast('Giveaway started', 'success');
    } catch (err) {
      setError(err);
    }
  }

  return (
    <form class="stack" onSubmit={start}>
      <p class="muted small">Prize coins × winners are taken from your coin balance now; what is not won comes back after the draw.</p>
      <div class="row wrap">
        <div class="field small-field">
          <label for="ga-prize">Coins per winner</label>
          <input id="ga-prize" type="number" min="1" required value={prize} onInput={(e) => setPrize((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field small-field">
          <label for="ga-winners">Winners</label>
          <input id="ga-winners" type="number" min="1" max="100" required value={winners} onInput={(e) => setWinners((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field small-field">
          <label for="ga-duration">Giveaway length (seconds)</label>
          <input id="ga-duration" type="number" min="5" max="3600" required value={duration} onInput={(e) => setDuration((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <button type="submit" class="primary">Start giveaway</button>
      <ErrorNote error={error} />
    </form>
  );
}
