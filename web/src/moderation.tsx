// Moderators (SPEC §14): whether the signed-in user moderates a show, and the controls a moderator gets in the
// room without the studio (chat settings, polls). Deleting and muting are in the chat panel itself.

import { useEffect, useState } from 'preact/hooks';
import { get, post, type LiveSession, type Poll } from './api';
import { useUser } from './auth';
import { PollForm } from './engage';
import type { LiveRoom } from './room';
import { ChatSettings } from './studio/ChatSettings';
import { ErrorNote, Section, toast } from './ui';

/** True while the signed-in user moderates `sessionId`: asked on load, then kept in step by the hub's `moderatorStatus`. */
export function useModerator(sessionId: string, room: LiveRoom): boolean {
  const user = useUser();
  const [moderator, setModerator] = useState(false);

  useEffect(() => {
    setModerator(false);
    if (!user) return;
    const abort = new AbortController();
    get<{ moderator: boolean }>(`/api/live/sessions/${encodeURIComponent(sessionId)}/moderators/me`, abort.signal).then(
      (r) => setModerator(r.moderator),
      () => undefined,
    );
    return () => abort.abort();
  }, [sessionId, user?.id]);

  useEffect(() => {
    const hub = room.hubRef.current;
    if (!hub || room.hub !== 'connected') return;
    const handler = (e: { sessionId: string; moderator: boolean }) => {
      if (e.sessionId !== sessionId) return;
      setModerator(e.moderator);
      toast(e.moderator ? 'You are now a moderator of this show.' : 'You are no longer a moderator of this show.', 'info');
    };
    hub.on('moderatorStatus', handler);
    return () => hub.off('moderatorStatus', handler);
  }, [sessionId, room.hub]);

  return moderator;
}

/** The moderator's panel in the room: chat settings, and starting or closing the poll. */
export function ModeratorTools({ session, poll }: { session: LiveSession; poll: Poll | null }) {
  const [error, setError] = useState<unknown>(null);

  async function closePoll() {
    if (!poll) return;
    setError(null);
    try {
      await post<Poll>(`/api/polls/${encodeURIComponent(poll.id)}/close`);
      toast('Poll closed', 'success');
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section class="card moderator-tools" aria-labelledby="mod-tools-title" data-testid="moderator-tools">
      <div class="card-head">
        <h2 id="mod-tools-title">Moderator tools</h2>
        <span class="badge mod">Moderator</span>
      </div>
      <p class="muted small">You can delete messages and mute people in the chat, change the chat settings, and run polls.</p>
      <Section title="Chat settings" id="mod-chat-settings">
        <ChatSettings sessionId={session.id} />
      </Section>
      <Section title="Poll" id="mod-poll">
        {poll && poll.status === 'open' && (
          <p class="row">
            <span class="grow">Open: {poll.question}</span>
            <button type="button" onClick={closePoll}>Close poll now</button>
          </p>
        )}
        {session.status === 'live' ? <PollForm session={session} /> : <p class="muted small">Polls run while the show is live.</p>}
        <ErrorNote error={error} />
      </Section>
    </section>
  );
}
