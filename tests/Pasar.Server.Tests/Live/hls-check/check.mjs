// Parses an HLS playlist (a file path argument) with hls-parser in strict mode and checks the LL-HLS rules
// Pasar's tests rely on. Prints one JSON object; exit code 1 when the parser or a rule check fails.
import { readFileSync } from 'node:fs';
import HLS from 'hls-parser';

const text = readFileSync(process.argv[2], 'utf8');
const errors = [];
let playlist;
try {
  HLS.setOptions({ strictMode: true });
  playlist = HLS.parse(text);
} catch (e) {
  console.log(JSON.stringify({ ok: false, errors: [`parse: ${e.message}`] }));
  process.exit(1);
}

if (playlist.isMasterPlaylist) {
  const variants = playlist.variants.map(v => ({ uri: v.uri, bandwidth: v.bandwidth, codecs: v.codecs, resolution: v.resolution, frameRate: v.frameRate }));
  for (const v of variants) {
    if (!v.bandwidth || !v.codecs || !v.resolution) errors.push(`variant ${v.uri} lacks BANDWIDTH, CODECS or RESOLUTION`);
  }
  console.log(JSON.stringify({ ok: errors.length === 0, errors, master: true, variants }));
  process.exit(errors.length === 0 ? 0 : 1);
}

const partTarget = playlist.partTargetDuration;
const control = playlist.lowLatencyCompatibility ?? {};
if (!partTarget) errors.push('no EXT-X-PART-INF');
if (!control.canBlockReload) errors.push('no CAN-BLOCK-RELOAD=YES');
if (!(control.partHoldBack >= 3 * partTarget - 1e-9)) errors.push(`PART-HOLD-BACK ${control.partHoldBack} < 3 x PART-TARGET ${partTarget}`);
if (!(control.canSkipUntil >= 6 * playlist.targetDuration)) errors.push(`CAN-SKIP-UNTIL ${control.canSkipUntil} < 6 x TARGETDURATION`);
const parts = [];
let hints = 0;
for (const segment of playlist.segments) {
  if (segment.uri && segment.duration > playlist.targetDuration + 0.5) errors.push(`segment ${segment.uri} is ${segment.duration}s, over the target`);
  if (segment.uri && !segment.programDateTime) errors.push(`segment ${segment.uri} has no PROGRAM-DATE-TIME`);
  if (segment.uri && !segment.map) errors.push(`segment ${segment.uri} has no EXT-X-MAP`);
  for (const part of segment.parts ?? []) {
    if (part.hint) { hints++; continue; }
    if (part.duration > partTarget + 0.001) errors.push(`part ${part.uri} is ${part.duration}s, over PART-TARGET ${partTarget}`);
    parts.push({ uri: part.uri, duration: part.duration, independent: part.independent === true, msn: segment.mediaSequenceNumber });
  }
}
for (const hint of playlist.prefetchSegments ?? []) hints++;
if (text.includes('#EXT-X-PRELOAD-HINT') && hints === 0) hints = 1;
if (!text.includes('#EXT-X-ENDLIST') && hints === 0) errors.push('no EXT-X-PRELOAD-HINT');
if (parts.length === 0) errors.push('no EXT-X-PART');
const reports = (playlist.renditionReports ?? []).map(r => ({ uri: r.uri, lastMsn: r.lastMSN, lastPart: r.lastPart }));
for (const r of reports) {
  if (!r.uri || !(r.lastMsn >= 0) || !(r.lastPart >= 0)) errors.push(`rendition report ${JSON.stringify(r)} lacks URI, LAST-MSN or LAST-PART`);
}
console.log(JSON.stringify({
  ok: errors.length === 0, errors, master: false,
  targetDuration: playlist.targetDuration, partTarget, partHoldBack: control.partHoldBack, skip: playlist.skip ?? 0,
  mediaSequence: playlist.mediaSequenceBase ?? 0,
  segments: playlist.segments.filter(s => s.uri).map(s => ({ uri: s.uri, duration: s.duration, msn: s.mediaSequenceNumber })),
  parts, reports,
}));
process.exit(errors.length === 0 ? 0 : 1);
