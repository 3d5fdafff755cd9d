// Live reactions (SPEC §16): heart, like, fire and clap buttons in the room, and the room's taps floating up as
// they arrive — one `reactions` push of counts per tick, not one event per tap.

import { useEffect, useRef, useState } from 'preact/hooks';
import { openSignIn, useUser } from './auth';
import { hubProblem, type HubConnection } from './hub';
import { count } from './format';

const kinds = [
  { kind: 'heart', emoji: '❤️', label: 'Send a heart' },
  { kind: 'like', emoji: '👍', label: 'Send a like' },
  { kind: 'fire', emoji: '🔥', label: 'Send fire' },
  { kind: 'clap', emoji: '👏', label: 'Send applause' },
] as const;

type Kind = (typeof kinds)[number]['kind'];
type Counts = Record<Kind, number> & { sessionId?: string };

interface Floater {
  id: number;
  emoji: string;
  left: number;
}

/** At most this many float at once: a busy room's hundreds of hearts a tick become a steady stream, not a wall. */
const maxFloating = 24;
const floatMs = 1800;

function reducedMotion(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
}

/**
 * The reaction buttons and floating reactions; `hub` is the room's connection once joined, else null. `compact`
 * is the phone room's: one heart button over the video's right edge, the hearts floating up above it.
 */
export function Reactions({ hub, sessionId, compact = false }: { hub: HubConnection | null; sessionId: string; compact?: boolean }) {
  const user = useUser();
  const [total, setTotal] = useState(0);
  const [floating, setFloating] = useState<Floater[]>([]);
  const next = useRef(0);

  useEffect(() => {
    if (!hub) return;
    const handler = (c: Counts) => {
      if (c.sessionId && c.sessionId !== sessionId) return;
      const n = kinds.reduce((sum, k) => sum + (c[k.kind] ?? 0), 0);
      if (n === 0) return;
      setTotal((t) => t + n);
      if (reducedMotion()) return; // the counter says it; nothing moves
      const fresh: Floater[] = [];
      for (const k of kinds) {
        for (let i = 0; i < Math.min(c[k.kind] ?? 0, maxFloating); i++) fresh.push({ id: next.current++, emoji: k.emoji, left: 10 + Math.random() * 80 });
      }
      setFloating((list) => [...list, ...fresh].slice(-maxFloating));
      const ids = new Set(fresh.map((f) => f.id));
      setTimeout(() => setFloating((list) => list.filter((f) => !ids.has(f.id))), floatMs);
    };
    hub.on('reactions', handler);
    return () => hub.off('reactions', handler);
  }, [hub, sessionId]);

  const send = (kind: Kind) => {
    if (!user) {
      openSignIn();
      return;
    }
    // Past 10 taps a second the server refuses the extra ones; a tap is not worth an error message.
    hub?.invoke('SendReaction', sessionId, kind).catch((e) => {
      if (hubProblem(e).code !== 'RATE_LIMITED') console.warn('reaction not sent', e);
    });
  };

  return (
    <div class={`reactions${compact ? ' compact' : ''}`} data-testid="reactions">
      <div class="reaction-floats" aria-hidden="true">
        {floating.map((f) => (
          <span key={f.id} class="reaction-float" data-testid="reaction-float" style={{ left: `${f.left}%` }}>
            {f.emoji}
          </span>
        ))}
      </div>
      <div class="row reaction-buttons" role="group" aria-label="Reactions">
        {(compact ? kinds.slice(0, 1) : kinds).map((k) => (
          <button key={k.kind} type="button" class="ghost reaction" aria-label={k.label} disabled={!hub} onClick={() => send(k.kind)}>
            {k.emoji}
          </button>
        ))}
        <span class="muted small" data-testid="reaction-count" aria-live="off">
          {count(total)}
          <span class={compact ? 'sr-only' : undefined}> reactions</span>
        </span>
      </div>
    </div>
  );
}
