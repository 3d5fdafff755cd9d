// Glass-to-glass latency in Chromium for Pasar.Bench llhls-latency.
// Usage: node glass.mjs <roomUrl> <publisherStartEpochMs> <fps> <seconds> [rendition]
// With a rendition, the player is handed a master playlist listing only that rendition (to watch a transcoded rung).
// The publisher burns its frame number into the picture (20 black/white bars of 32 px in the top 24 rows, bit i
// at x = 32·i). Frame n left the publisher at start + n/fps (ffmpeg -re). Each 250 ms the page draws the frame on
// screen to a canvas, reads n back, and the latency is now − (start + n/fps). Prints one JSON line.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const [roomUrl, startMs, fps, seconds, rendition] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  if (rendition) {
    await page.route('**/master.m3u8', async (route) => {
      const response = await route.fetch();
      const lines = (await response.text()).split('\n');
      const kept = lines.filter((line, i) => !(line.startsWith('#EXT-X-STREAM-INF') && !lines[i + 1].startsWith(`${rendition}/`))
        && !(i > 0 && lines[i - 1].startsWith('#EXT-X-STREAM-INF') && !line.startsWith(`${rendition}/`)));
      await route.fulfill({ response, body: kept.join('\n') });
    });
  }
  await page.goto(roomUrl);
  const video = page.getByTestId('video');
  await video.waitFor({ timeout: 60000 });
  const deadline = Date.now() + 90000;
  while ((await video.evaluate((v) => v.currentTime)) < 1) {
    if (Date.now() > deadline) throw new Error('the video did not start');
    await page.waitForTimeout(250);
  }
  const mode = await video.evaluate((v) => v.dataset.lowLatency ?? 'native');
  const samples = [];
  const end = Date.now() + Number(seconds) * 1000;
  let waiting = 0;
  await page.evaluate(() => {
    window.__waiting = 0;
    document.querySelector('video').addEventListener('waiting', () => window.__waiting++);
  });
  while (Date.now() < end) {
    const frame = await page.evaluate(() => {
      const v = document.querySelector('video');
      const c = document.createElement('canvas');
      c.width = v.videoWidth;
      c.height = v.videoHeight;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(v, 0, 0);
      const now = Date.now();
      const scale = v.videoWidth / 640;
      let n = 0;
      for (let bit = 0; bit < 20; bit++) {
        const px = g.getImageData(Math.round((bit * 32 + 16) * scale), Math.round(12 * scale), 1, 1).data;
        if (px[0] + px[1] + px[2] > 3 * 128) n |= 1 << bit;
      }
      return { n, now };
    });
    samples.push((frame.now - (Number(startMs) + (frame.n * 1000) / Number(fps))) / 1000);
    await page.waitForTimeout(250);
  }
  waiting = await page.evaluate(() => window.__waiting);
  console.log(JSON.stringify({ mode, waiting, samples }));
} finally {
  await browser.close();
}
