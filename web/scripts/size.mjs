// The bytes a browser downloads for a page's script and style: the entry, the page's chunk and every chunk
// they import, gzip-compressed. Usage: node scripts/size.mjs [page]   (page: LiveRoom, Home, …; default LiveRoom)
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const dist = new URL('../../src/Pasar.Server/wwwroot/dist/', import.meta.url).pathname;
const page = process.argv[2] ?? 'LiveRoom';
const manifest = JSON.parse(readFileSync(`${dist}.vite/manifest.json`, 'utf8'));
const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry);
const pageKey = Object.keys(manifest).find((k) => k.endsWith(`pages/${page}.tsx`));
if (!entryKey || !pageKey) throw new Error(`No entry or page ${page} in the manifest`);

const seen = new Set();
const files = [];
function walk(key) {
  if (seen.has(key)) return;
  seen.add(key);
  const chunk = manifest[key];
  files.push(chunk.file, ...(chunk.css ?? []));
  for (const dep of chunk.imports ?? []) walk(dep);
}
walk(entryKey);
walk(pageKey);

let raw = 0;
let gz = 0;
for (const f of [...new Set(files)]) {
  const data = readFileSync(dist + f);
  const z = gzipSync(data, { level: 9 }).length;
  raw += data.length;
  gz += z;
  console.log(`${f.padEnd(40)} ${String(data.length).padStart(8)} B  ${String(z).padStart(7)} B gzip`);
}
console.log(`${page}: ${(raw / 1024).toFixed(1)} KB raw, ${(gz / 1024).toFixed(1)} KB gzip (${gz} bytes)`);
