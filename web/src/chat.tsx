// The live chat: messages render as text (Preact escapes them), never as HTML.

import { useEffect, useRef, useState } from 'preact/hooks';
import { del, errorText, post } from './api';
import { openSignIn, useUser } from './auth';
import { clock } from './format';
import type { HubProblem } from './hub';
import type { LiveRoom } from './room';

const hubNotes: Record<string, string> = {
  connecting: 'Connecting to the chat…',
  reconnecting: 'Reconnecting…',
  unavailable: 'Live chat is not available on this server yet.',
  offline: 'Chat is offline. Reload the page to reconnect.',
};

/**
 * The room's chat. `overlay` is the phone room's: the last messages float over the video's lower part, fading out
 * at the top; tapping them (or "Full chat") opens the whole chat as a sheet. The input stays at the bottom.
 */
export function ChatPanel({ room, sessionId, moderator, overlay = false }: { room: LiveRoom; sessionId: string; moderator: boolean; overlay?: boolean }) {
  const [open, setOpen] = useState(false);
  const folded = overlay && !open;
  const user = useUser();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');
  const list = useRef<HTMLOListElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    const el = list.current;
    if (el && (stick.current || folded)) el.scrollTop = el.scrollHeight;
  }, [room.chat.length, folded]);

  async function send(e: Event) {
    e.preventDefault();
    if (!user) return openSignIn();
    const trimmed = text.trim();
    if (!trimmed) return;
    setBusy(true);
    setError(null);
    try {
      await room.sendChat(trimmed);
      setText('');
      stick.current = true;
    } catch (err) {
      const p = err as HubProblem;
      setError(p.message ? `${friendly(p.code)}${p.message}` : errorText(err));
    } finally {
      setBusy(false);
    }
  }

  async function remove(messageId: string) {
    try {
      await del(`/api/live/sessions/${encodeURIComponent(sessionId)}/chat/${encodeURIComponent(messageId)}`);
    } catch (e) {
      setError(errorText(e));
    }
  }

  async function mute(userId: string, name: string) {
    try {
      await post(`/api/live/sessions/${encodeURIComponent(sessionId)}/mutes`, { userId, durationSeconds: 300 });
      setError(null);
      setNote(`${name} is muted for 5 minutes.`);
    } catch (e) {
      setError(errorText(e));
    }
  }

  return (
    <section class={`chat card${overlay ? ' chat-overlay' : ''}${open && overlay ? ' open' : ''}`} aria-labelledby="chat-title">
      <div class="card-head">
        <h2 id="chat-title" class={folded ? 'sr-only' : undefined}>Chat</h2>
        {overlay && (
          <button type="button" class="small chat-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Close chat' : 'Full chat'}
          </button>
        )}
        {room.hub !== 'connected' && <span class="muted small">{hubNotes[room.hub]}</span>}
      </div>
      <ol
        ref={list}
        class="chat-list"
        data-testid="chat"
        aria-live="polite"
        aria-relevant="additions"
        tabIndex={0}
        aria-label="Chat messages"
        onClick={folded ? () => setOpen(true) : undefined}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {room.chat.length === 0 && room.hub === 'connected' && <li class="muted small">No messages yet. Say hello!</li>}
        {room.chat.map((m) => (
          <li key={m.id} class={m.userId === user?.id ? 'mine' : ''} data-message-id={m.id}>
            <span class="chat-name">{m.userName}</span>
            {m.role === 'seller' && <span class="badge seller" data-testid="seller-badge">Seller</span>}
            {m.role === 'moderator' && <span class="badge mod" data-testid="moderator-badge">Mod</span>}{' '}
            <span class="chat-text">{m.text}</span>
            <time class="muted small" dateTime={m.sentAt}> {clock(m.sentAt)}</time>
            {moderator && !folded && m.userId !== user?.id && (
              <span class="mod">
                <button type="button" class="link small" onClick={() => remove(m.id)}>
                  Delete<span class="sr-only"> message from {m.userName}</span>
                </button>
                <button type="button" class="link small" onClick={() => mute(m.userId, m.userName)}>
                  Mute 5 min<span class="sr-only"> {m.userName}</span>
                </button>
              </span>
            )}
            {moderator && !folded && m.userId === user?.id && (
              <button type="button" class="link small mod" onClick={() => remove(m.id)}>
                Delete<span class="sr-only"> my message</span>
              </button>
            )}
          </li>
        ))}
      </ol>
      <p class="muted small" role="status">
        {note}
      </p>
      <form class="chat-form" onSubmit={send}>
        <label for="chat-input" class="sr-only">
          Message
        </label>
        <input
          id="chat-input"
          value={text}
          maxLength={300}
          autocomplete="off"
          placeholder={user ? 'Say something…' : 'Sign in to chat'}
          disabled={room.hub === 'unavailable'}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy || room.hub === 'unavailable'}>
          {user ? 'Send' : 'Sign in'}
        </button>
      </form>
      {error && (
        <p class="error" role="alert" data-testid="chat-error">
          {error}
        </p>
      )}
    </section>
  );
}

function friendly(code: string): string {
  switch (code) {
    case 'RATE_LIMITED':
      return 'Slow down: ';
    case 'MUTED':
      return 'You are muted: ';
    case 'BLOCKED_WORD':
      return 'Not sent: ';
    case 'INVALID_MESSAGE':
      return 'Not sent: ';
    default:
      return '';
  }
}
