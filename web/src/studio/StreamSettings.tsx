import { useState } from 'preact/hooks';
import { post, type CreatedSession, type LiveSession } from '../api';
import { CopyField, ErrorNote, toast } from '../ui';

export function StreamSettings({ session, created, onRotated }: { session: LiveSession; created: CreatedSession | undefined; onRotated: (key: string) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const rtmpUrl = created?.rtmpUrl ?? `rtmp://${location.hostname}:1935/live`;

  async function rotate() {
    if (created?.streamKey && !confirm('Rotate the stream key? The old key stops working; update OBS with the new one.')) return;
    setBusy(true);
    setError(null);
    try {
      const { streamKey } = await post<{ streamKey: string }>(`/api/live/sessions/${encodeURIComponent(session.id)}/stream-key/rotate`);
      onRotated(streamKey);
      toast('New stream key ready. Paste it into OBS.', 'success');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="stack">
      <CopyField label="Server" value={rtmpUrl} testId="rtmp-url" />
      {created?.streamKey ? (
        <CopyField label="Stream key" value={created.streamKey} secret testId="stream-key" />
      ) : (
        <p class="muted small">The stream key is shown only when the show is created or the key is rotated. Rotate to get a new one.</p>
      )}
      {session.status !== 'ended' && (
        <button type="button" class="ghost" disabled={busy} onClick={rotate}>
          {busy ? 'Rotating…' : 'Rotate stream key'}
        </button>
      )}
      <details>
        <summary>OBS settings</summary>
        <ul class="small">
          <li>Settings → Stream: Service <strong>Custom…</strong>, Server and Stream key from above.</li>
          <li>Settings → Output: video encoder <strong>x264</strong> (H.264), rate control CBR 2500–6000 kbps, keyframe interval <strong>2 s</strong>, profile main or high, tune zerolatency.</li>
          <li>Audio: <strong>AAC</strong>, 128–160 kbps, 44.1 or 48 kHz.</li>
          <li>Video: up to 1920×1080, 30 or 60 fps. Viewers get the source plus smaller renditions.</li>
          <li>If OBS reconnects within 30 s the show goes on; after that it ends.</li>
        </ul>
      </details>
      <ErrorNote error={error} />
    </div>
  );
}
