import { useState } from 'preact/hooks';
import { isMissingRoute, put } from '../api';
import { ErrorNote } from '../ui';

export function ChatSettings({ sessionId }: { sessionId: string }) {
  const [slow, setSlow] = useState('0');
  const [words, setWords] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await put(`/api/live/sessions/${encodeURIComponent(sessionId)}/chat-settings`, {
        slowModeSeconds: Number(slow),
        blockedWords: words.split(',').map((w) => w.trim()).filter(Boolean),
      });
      setSaved(true);
    } catch (err) {
      setError(isMissingRoute(err) ? 'Chat settings are not available on this server yet.' : err);
    }
  }
  return (
    <form class="stack" onSubmit={save}>
      <div class="field">
        <label for="slow">Slow mode (seconds between messages)</label>
        <input id="slow" type="number" min="0" max="3600" value={slow} onInput={(e) => setSlow((e.target as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for="blocked">Blocked words (comma-separated)</label>
        <input id="blocked" value={words} onInput={(e) => setWords((e.target as HTMLInputElement).value)} />
      </div>
      <button type="submit" class="ghost">Save chat settings</button>
      {saved && <p class="success small" role="status">Saved.</p>}
      {typeof error === 'string' ? <p class="error" role="alert">{error}</p> : <ErrorNote error={error} />}
    </form>
  );
}
