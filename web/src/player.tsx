import Hls, { type HlsConfig, type Level } from 'hls.js/light';
import { useEffect, useRef, useState } from 'preact/hooks';

// ---- The live player: hls.js where MSE exists (low-latency mode for LL-HLS), native HLS on Safari/iOS ----

/** What the variant playlist says about low latency: its part target and PART-HOLD-BACK, or null for plain HLS. */
export interface LowLatencyInfo {
  partTarget: number;
  partHoldBack: number;
}

/** Reads the master playlist and its first variant; LL-HLS when the variant has EXT-X-PART-INF or SERVER-CONTROL parts. */
export async function probeLowLatency(src: string, signal?: AbortSignal): Promise<LowLatencyInfo | null> {
  const master = await fetch(src, { signal });
  if (!master.ok) throw new Error(`playlist ${master.status}`);
  let text = await master.text();
  let url = new URL(src, location.href);
  if (text.includes('#EXT-X-STREAM-INF')) {
    const variant = text.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
    if (!variant) return null;
    url = new URL(variant, url);
    const media = await fetch(url, { signal });
    if (!media.ok) throw new Error(`playlist ${media.status}`);
    text = await media.text();
  }
  const part = /#EXT-X-PART-INF:PART-TARGET=([\d.]+)/.exec(text);
  const holdBack = /PART-HOLD-BACK=([\d.]+)/.exec(text);
  if (!part && !holdBack) return null;
  const partTarget = part ? Number(part[1]) : 0.333;
  return { partTarget, partHoldBack: holdBack ? Number(holdBack[1]) : 3 * partTarget };
}

/**
 * hls.js settings. LL-HLS: lowLatencyMode, and a target a little behind PART-HOLD-BACK (4 parts, 1.33 s for our
 * 0.333 s parts) so that one late part does not stall a loaded viewer; playback speeds up to 1.1× to catch up when
 * it falls behind, and jumps to the target past two segments behind. On a stall hls.js raises the target by
 * liveSyncOnStallIncrease (capped at a target duration). Plain HLS: 3 segments behind, as before.
 */
export function hlsConfig(ll: LowLatencyInfo | null): Partial<HlsConfig> {
  if (!ll) return { lowLatencyMode: false, liveSyncDurationCount: 3, backBufferLength: 30 };
  const sync = Math.max(ll.partHoldBack, 4 * ll.partTarget);
  return {
    lowLatencyMode: true,
    liveSyncDuration: sync,
    liveMaxLatencyDuration: sync + 4,
    maxLiveSyncPlaybackRate: 1.1,
    liveSyncOnStallIncrease: ll.partTarget,
    backBufferLength: 10,
    maxBufferHole: 0.2,
  };
}

/** The viewer's latency in seconds: wall clock minus the EXT-X-PROGRAM-DATE-TIME of the frame on screen. */
export function measureLatency(hls: Hls | null, el: HTMLVideoElement): number | null {
  const date = hls?.playingDate ?? nativeDate(el);
  if (date) return (Date.now() - date.getTime()) / 1000;
  return hls && Number.isFinite(hls.latency) && hls.latency > 0 ? hls.latency : null;
}

function nativeDate(el: HTMLVideoElement): Date | null {
  const start = (el as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.();
  return start && !Number.isNaN(start.getTime()) ? new Date(start.getTime() + el.currentTime * 1000) : null;
}

/**
 * How a full-screen video fills its box: `cover` when the video's shape is close to the box's (a 9:16 show on a
 * portrait phone fills it with no bars, cutting a sliver at most), `contain` when they differ strongly (a 16:9
 * show on a portrait phone keeps its whole picture, with bars), so nothing important is cut off.
 */
export function fitFor(videoWidth: number, videoHeight: number, boxWidth: number, boxHeight: number): 'cover' | 'contain' {
  if (!videoWidth || !videoHeight || !boxWidth || !boxHeight) return 'cover';
  const ratio = videoWidth / videoHeight / (boxWidth / boxHeight);
  return ratio > 0.7 && ratio < 1.45 ? 'cover' : 'contain';
}

/** `immersive`: the phone room's full-screen video (no native controls; the room's overlays sit on it). */
export function Player({ src, live, immersive = false }: { src: string; live: boolean; immersive?: boolean }) {
  const video = useRef<HTMLVideoElement>(null);
  const hlsRef = useRef<Hls | null>(null);
  const [levels, setLevels] = useState<Level[]>([]);
  const [level, setLevel] = useState(-1);
  const [playing, setPlaying] = useState(-1);
  const [muted, setMuted] = useState(true);
  const [note, setNote] = useState<string | null>(null);
  const [mode, setMode] = useState<'low-latency' | 'hls' | 'native' | null>(null);
  const [showLatency, setShowLatency] = useState(false);
  const [latency, setLatency] = useState<number | null>(null);

  useEffect(() => {
    const el = video.current!;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let hls: Hls | null = null;
    let stopped = false;
    const abort = new AbortController();
    if (Hls.isSupported()) {
      const start = async () => {
        let ll: LowLatencyInfo | null;
        try {
          ll = await probeLowLatency(src, abort.signal);
        } catch {
          if (stopped) return;
          // The playlist is not there yet (the stream is starting) or the network dropped: try again.
          setNote(live ? 'Waiting for the stream…' : 'The video could not load; retrying…');
          retry = setTimeout(start, 2000);
          return;
        }
        if (stopped) return;
        hls = new Hls(hlsConfig(ll));
        hlsRef.current = hls;
        setMode(ll ? 'low-latency' : 'hls');
        el.dataset.lowLatency = ll ? 'true' : 'false';
        attach(hls);
      };
      const attach = (h: Hls) => {
        let lastMediaRecovery = 0;
        h.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
          setLevels(data.levels);
          setNote(null);
          el.play().catch(() => setNote('Press play to start.'));
        });
        h.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => setPlaying(data.level));
        h.on(Hls.Events.ERROR, (_e, data) => {
          if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) el.dataset.stalls = String(Number(el.dataset.stalls ?? 0) + 1);
          if (!data.fatal) return;
          if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
            // A decode or append error: recover once; twice within 3 s, swap the audio codec too.
            const now = performance.now();
            if (now - lastMediaRecovery < 3000) h.swapAudioCodec();
            lastMediaRecovery = now;
            h.recoverMediaError();
            return;
          }
          if (data.type === Hls.ErrorTypes.NETWORK_ERROR && data.details !== Hls.ErrorDetails.MANIFEST_LOAD_ERROR) {
            // A playlist or part request failed after its retries: resume loading from where it stopped.
            setNote('Reconnecting…');
            retry = setTimeout(() => {
              setNote(null);
              h.startLoad();
            }, 1000);
            return;
          }
          setNote(live ? 'Waiting for the stream…' : 'The video could not load; retrying…');
          h.destroy();
          hlsRef.current = null;
          hls = null;
          retry = setTimeout(start, 2000);
        });
        h.loadSource(src);
        h.attachMedia(el);
      };
      void start();
      return () => {
        stopped = true;
        abort.abort();
        if (retry) clearTimeout(retry);
        hls?.destroy();
        hlsRef.current = null;
      };
    }
    if (el.canPlayType('application/vnd.apple.mpegurl')) {
      // Safari and iOS: the same playlists, as ordinary (or native low-latency) HLS.
      setMode('native');
      el.src = src;
      el.play().catch(() => setNote('Press play to start.'));
      return () => {
        el.removeAttribute('src');
        el.load();
      };
    }
    setNote('This browser cannot play live video.');
    return undefined;
  }, [src, live]);

  useEffect(() => {
    if (!showLatency) return undefined;
    const tick = setInterval(() => setLatency(measureLatency(hlsRef.current, video.current!)), 500);
    return () => clearInterval(tick);
  }, [showLatency]);

  const [fit, setFit] = useState<'cover' | 'contain'>('cover');
  useEffect(() => {
    const el = video.current!;
    const update = () => setFit(fitFor(el.videoWidth, el.videoHeight, el.clientWidth, el.clientHeight));
    el.addEventListener('resize', update);
    el.addEventListener('loadedmetadata', update);
    window.addEventListener('resize', update);
    update();
    return () => {
      el.removeEventListener('resize', update);
      el.removeEventListener('loadedmetadata', update);
      window.removeEventListener('resize', update);
    };
  }, [immersive]);

  function choose(index: number) {
    setLevel(index);
    if (hlsRef.current) hlsRef.current.currentLevel = index;
  }

  const name = (l: Level) => (l.height ? `${l.height}p` : `${Math.round(l.bitrate / 1000)} kbps`);
  return (
    <div class="player">
      <video ref={video} muted={muted} autoplay playsInline controls={!immersive} aria-label="Live video" data-testid="video" data-fit={fit} />
      <div class="player-bar">
        <button type="button" class="ghost small on-dark" onClick={() => setMuted(!muted)} aria-pressed={!muted}>
          {muted ? 'Unmute' : 'Mute'}
        </button>
        {levels.length > 1 && (
          <label class="quality small">
            <span class="bar-label">Quality</span>{' '}
            <select value={String(level)} onChange={(e) => choose(Number((e.target as HTMLSelectElement).value))}>
              <option value="-1">Auto{level === -1 && playing >= 0 && levels[playing] ? ` (${name(levels[playing])})` : ''}</option>
              {levels.map((l, i) => (
                <option key={i} value={String(i)}>
                  {name(l)}
                </option>
              ))}
            </select>
          </label>
        )}
        {live && (
          <label class="small on-dark">
            <input type="checkbox" checked={showLatency} onChange={(e) => setShowLatency((e.target as HTMLInputElement).checked)} />{' '}
            <span class="bar-label">Show </span>latency
          </label>
        )}
        {showLatency && (
          <span class="small on-dark" data-testid="latency" data-seconds={latency === null ? '' : latency.toFixed(3)}>
            {latency === null ? 'latency …' : `latency ${latency.toFixed(2)} s`}
            {mode ? ` (${mode})` : ''}
          </span>
        )}
        {note && <span class="small on-dark" role="status">{note}</span>}
      </div>
    </div>
  );
}
