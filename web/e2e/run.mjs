// Browser scenarios for Pasar's web app, driven with playwright-core and Debian's chromium.
// Usage: node web/e2e/run.mjs <baseUrl> <scenario>   (scenarios: oidc, coins, social, chat, flash, engage, video, remind, moderate,
//        lowlatency, dashboard, react, voucher, auction, replay, phoneroom, a11y, demo)
// Env: CHROMIUM (browser path, default /usr/bin/chromium), SCREENSHOTS (folder for screenshots),
//      RTMP_PORT (the server's RTMP port, for scenarios that publish with ffmpeg), FFMPEG (default ffmpeg).
// Prints one line per step and "PASS <scenario>" at the end; exits 1 with the reason on a failure.

import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import remind from './remind.mjs';
import { moderate } from './moderate.mjs';
import lowlatency from './lowlatency.mjs';
import { dashboard } from './dashboard.mjs';
import { react } from './react.mjs';
import { voucher } from './voucher.mjs';
import { auction } from './auction.mjs';
import { replay } from './replay.mjs';
import { createShow, goLive } from './show.mjs';
import { a11y, demo, phoneRoom } from './phone.mjs';

const [baseUrl, scenario] = process.argv.slice(2);
if (!baseUrl || !scenario) {
  console.error('usage: node run.mjs <baseUrl> <scenario>');
  process.exit(2);
}
const shots = process.env.SCREENSHOTS ?? '';
if (shots) mkdirSync(shots, { recursive: true });

export const phone = { width: 390, height: 844 };
export const desktop = { width: 1440, height: 900 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  // Playwright gives every launch a fresh temporary profile (its own --user-data-dir).
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage',
  ],
});

const cleanups = [];
const consoleErrors = [];

function step(text) {
  console.log(`  · ${text}`);
}

/** Every page a scenario opened, for the screenshots taken when it fails. */
const openPages = [];

/** `scale`: the device pixel ratio; `bypassCSP` lets a scenario inject a checker (axe-core) into the page. */
async function newPage(viewport = desktop, { mobile = false, scale = 1, bypassCSP = false } = {}) {
  const context = await browser.newContext({
    baseURL: baseUrl,
    viewport,
    deviceScaleFactor: scale,
    isMobile: mobile,
    hasTouch: mobile,
    bypassCSP,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  // Generous: on CI the browser, the server and the server test suite share two cores.
  context.setDefaultTimeout(30000);
  const page = await context.newPage();
  openPages.push(page);
  page.on('pageerror', (e) => consoleErrors.push(`${e.message}`));
  if (process.env.E2E_DEBUG) page.on('console', (m) => console.log(`console.${m.type()}: ${m.text()}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|status of 40[149]|negotiat|WebSocket|Content Security Policy/i.test(m.text())) consoleErrors.push(m.text());
  });
  return page;
}

async function signIn(page, userId) {
  // The visible one: the phone room hides the site's header (and its Sign in) once it has loaded.
  await page.getByRole('button', { name: 'Sign in', exact: true }).filter({ visible: true }).first().click();
  await page.locator(`button[data-user="${userId}"]`).click();
  await page.getByTestId('signed-in-as').waitFor({ state: 'attached' });
}

async function api(method, path, { token, body, key } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (key) headers['idempotency-key'] = key;
  const r = await fetch(new URL(path, baseUrl), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const demoNames = { 'demo-seller-ayu': 'Ayu Batik House', 'demo-seller-budi': 'Budi Gadget Corner', 'demo-buyer-citra': 'Citra', 'demo-buyer-dimas': 'Dimas' };

async function token(userId, role) {
  return (await api('POST', '/api/dev/tokens', { body: { userId, role, name: demoNames[userId] } })).token;
}

/** Screenshots of the page at phone and desktop size; checks nothing sticks out sideways. */
async function screenshot(page, name) {
  const original = page.viewportSize();
  // Toasts are transient overlays: hide them so the page under them is what the screenshot shows.
  await page.evaluate(() => {
    document.querySelector('.toasts')?.style.setProperty('visibility', 'hidden');
    window.scrollTo(0, 0);
  });
  for (const [label, size] of [['phone', phone], ['desktop', desktop]]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150);
    const overflow = await page.evaluate(() => {
      const doc = document.documentElement;
      const wide = [...document.querySelectorAll('body *')]
        .filter((el) => {
          const r = el.getBoundingClientRect();
          return r.width > 0 && r.right > doc.clientWidth + 1 && getComputedStyle(el).position !== 'fixed' && !el.closest('.chat-list, .pinned-list, select, dialog:not([open])');
        })
        .slice(0, 3)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
      return { scroll: doc.scrollWidth - doc.clientWidth, wide };
    });
    if (overflow.scroll > 0) throw new Error(`${name} at ${label} size scrolls sideways by ${overflow.scroll}px: ${overflow.wide.join(', ')}`);
    if (shots) await page.screenshot({ path: join(shots, `${name}-${label}.png`), fullPage: true });
  }
  if (original) await page.setViewportSize(original);
  await page.evaluate(() => document.querySelector('.toasts')?.style.removeProperty('visibility'));
  step(`screenshots of ${name}`);
}

async function eventually(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

async function balanceOf(page) {
  const text = await page.getByTestId('balance').textContent();
  return Number(text.replace(/\D/g, ''));
}

function publish(rtmpUrl, key, size = '854x480') {
  const port = process.env.RTMP_PORT;
  const url = `rtmp://127.0.0.1:${port ?? new URL(rtmpUrl.replace('rtmp:', 'http:')).port}/live/${key}`;
  const ff = spawn(process.env.FFMPEG ?? 'ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  ff.stderr.on('data', (d) => (err += d));
  cleanups.push(() => ff.kill('SIGKILL'));
  step(`ffmpeg publishing to ${url.replace(key, '<key>')}`);
  return { process: ff, errors: () => err };
}

// ---------------------------------------------------------------------------------------------------------

/** What every scenario module gets. */
const helpers = { baseUrl, newPage, signIn, api, token, step, eventually, screenshot, publish, phone, desktop, shots };

const scenarios = {
  dashboard: () => dashboard(helpers),
  /** With a sign-in provider configured and dev tokens off: no demo sign-in; the provider's code flow with PKCE signs in. */
  async oidc() {
    const page = await newPage(desktop);
    await page.goto('/me');
    await page.getByRole('button', { name: 'Sign in', exact: true }).first().click();
    const provider = page.getByTestId('signin-provider');
    await provider.waitFor();
    if ((await page.locator('button[data-user]').count()) !== 0) throw new Error('the demo sign-in shows while dev tokens are off');
    step('the sign-in dialog offers the provider and no demo users');
    await provider.click();
    const failed = page.locator('main [role="alert"]');
    await Promise.race([page.getByTestId('signed-in-as').waitFor({ state: 'attached' }), failed.waitFor().then(async () => {
      throw new Error(`the sign-in failed: ${await failed.textContent()}`);
    })]);
    const who = (await page.getByTestId('signed-in-as').textContent()).trim();
    if (new URL(page.url()).pathname !== '/me') throw new Error(`back at ${page.url()}, not /me`);
    await page.getByRole('heading', { name: `Hi, ${who}` }).waitFor();
    await eventually('the balance from the API', async () => (await page.getByTestId('balance').textContent()) !== '…');
    step(`signed in as ${who} through the provider, back on /me, and the API answers with the provider's token`);
  },

  /** A buyer checks in and shakes; the balance and history update; the 4th shake shows the daily limit. */
  async coins() {
    const page = await newPage(phone, { mobile: true });
    await page.goto('/me');
    await signIn(page, 'demo-buyer-citra');
    await page.getByRole('heading', { name: 'Hi, Citra' }).waitFor();
    await eventually('the balance', async () => (await page.getByTestId('balance').textContent()) !== '…');
    const start = await balanceOf(page);
    step(`balance ${start}`);

    await page.getByRole('button', { name: 'Check in' }).click();
    await page.getByRole('button', { name: /Checked in today/ }).waitFor();
    await eventually('the check-in coins in the balance', async () => (await balanceOf(page)) === start + 10);
    await page.getByTestId('ledger').getByText('Daily check-in').waitFor();
    step('checked in: +10 coins, in the history');

    let expected = start + 10;
    const shake = page.getByRole('button', { name: /^Shake!/ });
    for (let play = 1; play <= 3; play++) {
      const box = await shake.boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.waitForTimeout(400 + play * 200);
      await page.mouse.up();
      const result = page.getByTestId('shake-result');
      await eventually(`shake ${play}`, async () => new RegExp(`${3 - play} plays? left today`).test((await result.textContent()) ?? ''));
      const won = Number(/won (\d+) coins/.exec(await result.textContent())[1]);
      expected += won;
      await eventually(`balance after shake ${play}`, async () => (await balanceOf(page)) === expected);
      step(`shake ${play}: won ${won}, balance ${expected}`);
      await shake.waitFor({ state: 'visible' });
      await page.waitForFunction(() => !document.querySelector('.shake-button')?.hasAttribute('disabled'));
    }
    const entries = await page.getByTestId('ledger').locator('li').count();
    if (entries < 2) throw new Error(`the history shows ${entries} entries`);
    await eventually('shakes in the history', async () => (await page.getByTestId('ledger').getByText('Shake-Shake').count()) >= 1);

    await shake.focus();
    await page.keyboard.down('Space');
    await page.waitForTimeout(300);
    await page.keyboard.up('Space');
    const alert = page.getByRole('alert').filter({ hasText: /Shake-Shake plays/ });
    await alert.waitFor();
    step(`4th shake: "${(await alert.textContent()).trim()}"`);
    if ((await balanceOf(page)) !== expected) throw new Error('the 4th shake changed the balance');
    await screenshot(page, 'me');
  },

  /** Follow a seller and see their activity in the feed; share a product, open the link elsewhere, the click counts. */
  async social() {
    const seller = await newPage(desktop);
    const buyer = await newPage(phone, { mobile: true });
    const products = await api('GET', '/api/sellers/demo-seller-ayu/products');
    const product = products.items[0];

    await buyer.goto(`/p/${product.id}`);
    await buyer.getByRole('heading', { name: product.title }).waitFor();
    await signIn(buyer, 'demo-buyer-citra');
    await buyer.getByRole('button', { name: 'Follow', exact: true }).click();
    await buyer.getByRole('button', { name: 'Following' }).waitFor();
    await eventually('the follower count', async () => /^1 follower\b/.test((await buyer.getByTestId('followers').textContent()) ?? ''));
    step('followed Ayu Batik House: 1 follower');

    await seller.goto('/studio');
    await signIn(seller, 'demo-seller-ayu');
    const title = `Sarong of the day ${Date.now().toString(36)}`;
    await seller.getByLabel('Product name').fill(title);
    await seller.getByLabel('Price (SGD)').first().fill('24.90');
    await seller.getByLabel('Stock').fill('7');
    await seller.getByRole('button', { name: 'List product' }).click();
    await seller.getByText(`Listed ${title}`).waitFor();
    step(`the seller listed "${title}"`);

    await buyer.getByRole('link', { name: 'Home', exact: true }).click();
    const feed = buyer.getByTestId('feed');
    await eventually('the new product in the feed', async () => {
      if ((await feed.getByText(title).count()) > 0) return true;
      await buyer.locator('#feed').getByRole('button', { name: 'Refresh' }).click();
      return false;
    });
    await feed.locator('li').filter({ hasText: title }).getByText('Ayu Batik House').waitFor();
    step('the feed shows "Ayu Batik House listed …"');
    await screenshot(buyer, 'home');

    await buyer.goto(`/p/${product.id}`);
    await buyer.getByRole('button', { name: 'Share' }).click();
    await buyer.getByRole('button', { name: 'Copy link' }).click();
    const url = await buyer.getByTestId('share-url').inputValue();
    if (!/\/s\/[A-Za-z0-9_-]{16,}$/.test(url)) throw new Error(`unexpected share link ${url}`);
    const copied = await buyer.evaluate(() => navigator.clipboard.readText()).catch(() => url);
    if (copied !== url) throw new Error(`the clipboard holds ${copied}, not ${url}`);
    step(`copied the share link ${url.replace(/[^/]+$/, '<code>')}`);
    await screenshot(buyer, 'product');

    const friend = await newPage(desktop);
    await friend.goto(url);
    await friend.getByRole('heading', { name: product.title }).waitFor();
    if (!friend.url().includes(`/p/${product.id}?ref=`)) throw new Error(`the link led to ${friend.url()}`);
    await friend.getByText('Shared with you by a friend').waitFor();
    step('a friend in another browser opened the link and landed on the product with ?ref=');

    await buyer.getByRole('link', { name: 'Me', exact: true }).click();
    const code = url.split('/').pop();
    const row = buyer.getByTestId('shares').locator(`li[data-code="${code}"]`);
    await eventually('the click counted', async () => {
      if (((await row.getByTestId('clicks').textContent().catch(() => '')) ?? '').startsWith('1 click')) return true;
      await buyer.locator('#shares').getByRole('button', { name: 'Refresh' }).click();
      return false;
    });
    step('"My share links" shows 1 click');
  },

  /** Two buyers chat in the same room; an <img onerror> message shows as text and runs nothing. */
  async chat() {
    const ayu = await token('demo-seller-ayu', 'seller');
    const session = await api('POST', '/api/live/sessions', { token: ayu, body: { title: 'Batik chat test' } });
    const citra = await newPage(desktop);
    const dimas = await newPage(phone, { mobile: true });
    for (const [page, user] of [[citra, 'demo-buyer-citra'], [dimas, 'demo-buyer-dimas']]) {
      await page.goto(`/live/${session.id}`);
      await signIn(page, user);
      await page.getByPlaceholder('Say something…').waitFor();
      await page.locator('#chat-title').waitFor();
      await eventually('the chat to connect', async () => (await page.getByText('Connecting to the chat…').count()) === 0);
    }
    await citra.getByLabel('Message', { exact: true }).fill('Hello from Citra!');
    await citra.getByLabel('Message', { exact: true }).press('Enter');
    await dimas.getByTestId('chat').getByText('Hello from Citra!').waitFor();
    step('Dimas sees Citra’s message');

    await dimas.waitForTimeout(1100); // one message per second per user
    const payload = '<img src=x onerror="window.__pwned=1;document.title=\'pwned\'">';
    await dimas.getByLabel('Message', { exact: true }).fill(payload);
    await dimas.getByRole('button', { name: 'Send', exact: true }).click();
    for (const page of [citra, dimas]) {
      const line = page.getByTestId('chat').locator('.chat-text').filter({ hasText: payload });
      await line.waitFor();
      if ((await line.textContent()) !== payload) throw new Error('the message text was changed');
      const imgs = await page.getByTestId('chat').locator('img').count();
      const pwned = await page.evaluate(() => window.__pwned === 1 || document.title === 'pwned');
      if (imgs > 0 || pwned) throw new Error('the message was rendered as HTML');
    }
    step('the <img onerror> message shows as text for both and runs nothing');
    await citra.getByLabel('Message', { exact: true }).fill('Nice scarf');
    await citra.getByLabel('Message', { exact: true }).press('Enter');
    await dimas.getByTestId('chat').getByText('Nice scarf').waitFor();
    await screenshot(dimas, 'live-room-chat');
  },

  /** The seller pins products in the studio; both buyers see the pins change live and can buy from them. */
  async pins() {
    const { seller, sessionUrl } = await createShow(helpers, { seller: 'demo-seller-ayu', title: 'Pin party' });
    const citra = await newPage(desktop);
    const dimas = await newPage(phone, { mobile: true });
    for (const [page, user] of [[citra, 'demo-buyer-citra'], [dimas, 'demo-buyer-dimas']]) {
      await page.goto(sessionUrl);
      await signIn(page, user);
      await eventually('the room to connect', async () => (await page.getByText('Connecting to the chat…').count()) === 0);
    }
    const pin = (title) => seller.locator('#pins li').filter({ hasText: title }).getByRole('button');
    await pin('Songket clutch').click();
    await pin('Batik kebaya top').click();
    // On the phone the pinned products are in the product bag.
    await dimas.getByTestId('bag-button').click();
    for (const page of [citra, dimas]) {
      await page.getByTestId('pinned').getByRole('link', { name: 'Songket clutch' }).waitFor();
      await page.getByTestId('pinned').getByRole('link', { name: 'Batik kebaya top' }).waitFor();
    }
    step('both buyers see the two pinned products');
    await pin('Songket clutch').click();
    for (const page of [citra, dimas]) {
      await eventually('the unpinned product to go', async () => (await page.getByTestId('pinned').getByRole('link', { name: 'Songket clutch' }).count()) === 0);
    }
    step('unpinning removes it for both');
    await citra.getByTestId('pinned').getByRole('button', { name: /^Buy/ }).click();
    await citra.getByText(/^Bought!/).waitFor();
    step('Citra bought the pinned kebaya from the room');
    await screenshot(dimas, 'live-room-pinned');
    await screenshot(seller, 'studio-pins');
  },

  /** The seller pins a product and starts a flash sale; both buyers see it; buying drops the count; sold out shows. */
  async flash() {
    const { seller, sessionUrl } = await goLive(helpers, { seller: 'demo-seller-ayu', title: 'Flash Friday' });

    const citra = await newPage(desktop);
    const dimas = await newPage(phone, { mobile: true });
    for (const [page, user] of [[citra, 'demo-buyer-citra'], [dimas, 'demo-buyer-dimas']]) {
      await page.goto(sessionUrl);
      await signIn(page, user);
    }

    const product = (await api('GET', '/api/sellers/demo-seller-ayu/products')).items.find((p) => p.title === 'Songket clutch');
    await seller.locator('#pins li').filter({ hasText: product.title }).getByRole('button', { name: /^Pin/ }).click();
    // On the phone the pinned products are in the product bag: open it, look, close it.
    await dimas.getByTestId('bag-button').click();
    for (const page of [citra, dimas]) await page.getByTestId('pinned').getByRole('link', { name: product.title }).waitFor();
    await dimas.keyboard.press('Escape');
    await dimas.getByTestId('bag').waitFor({ state: 'detached' });
    step('both buyers see the pinned Songket clutch');

    // The studio has other forms with the same labels (vouchers): fill the flash sale's own.
    const flashForm = seller.getByRole('region', { name: 'Flash sale' });
    await flashForm.getByLabel('Product', { exact: true }).selectOption(product.id);
    await flashForm.getByLabel('Sale price (SGD)').fill('29.90');
    await flashForm.getByLabel('Quantity').fill('2');
    await flashForm.getByLabel('Duration (s)').fill('300');
    await flashForm.getByLabel('Per buyer').fill('1');
    await flashForm.getByRole('button', { name: 'Start flash sale' }).click();
    for (const page of [citra, dimas]) await page.getByTestId('flash-remaining').filter({ hasText: '2 of 2 left' }).waitFor();
    step('both buyers see the flash sale: 2 of 2 left');
    await screenshot(dimas, 'live-room-flash');

    await citra.getByTestId('flash-sale').getByRole('button', { name: 'Buy' }).click();
    for (const page of [citra, dimas]) await page.getByTestId('flash-remaining').filter({ hasText: '1 of 2 left' }).waitFor({ timeout: 10000 });
    step('Citra bought one: both see 1 of 2 left');
    await dimas.getByTestId('flash-sale').getByRole('button', { name: 'Buy' }).click();
    for (const page of [citra, dimas]) {
      await page.getByTestId('flash-remaining').filter({ hasText: 'All gone!' }).waitFor({ timeout: 10000 });
      await page.getByTestId('flash-sale').getByRole('button', { name: 'Sold out' }).waitFor();
    }
    step('Dimas bought the last one: both see Sold out');
    await screenshot(citra, 'live-room-sold-out');
    await screenshot(seller, 'studio');
  },

  /** A poll two buyers vote in and watch move; a giveaway they enter, drawn and verified in the page. */
  async engage() {
    const { seller, sessionUrl } = await goLive(helpers, { seller: 'demo-seller-budi', title: 'Poll and prize hour' });
    await api('POST', '/api/admin/coins/adjustments', {
      token: await token('e2e-admin', 'admin'), key: `e2e-fund-${Date.now()}`,
      body: { userId: 'demo-seller-budi', amount: 500, reason: 'giveaway budget' },
    });

    const citra = await newPage(desktop);
    const dimas = await newPage(phone, { mobile: true });
    for (const [page, user] of [[citra, 'demo-buyer-citra'], [dimas, 'demo-buyer-dimas']]) {
      await page.goto(sessionUrl);
      await signIn(page, user);
    }

    await seller.getByLabel('Question').fill('Which colour next?');
    await seller.getByLabel('Options (2 to 6, one per line)').fill('Red\nBlue');
    await seller.getByLabel('Poll length (seconds)').fill('120');
    await seller.getByRole('button', { name: 'Start poll' }).click();
    for (const page of [citra, dimas]) await page.getByTestId('poll').getByText('Which colour next?').waitFor();
    step('both buyers see the poll');
    await citra.getByTestId('poll-option-0').click();
    for (const page of [citra, dimas]) await page.getByTestId('poll-count-0').filter({ hasText: /^1$/ }).waitFor({ timeout: 10000 });
    step('Citra voted Red: both see Red 1');
    await dimas.getByTestId('poll-option-1').click();
    for (const page of [citra, dimas]) await page.getByTestId('poll-count-1').filter({ hasText: /^1$/ }).waitFor({ timeout: 10000 });
    step('Dimas voted Blue: both see Blue 1, 2 votes');
    await screenshot(dimas, 'live-room-poll');

    await seller.getByLabel('Coins per winner').fill('50');
    await seller.getByLabel('Winners').fill('1');
    await seller.getByLabel('Giveaway length (seconds)').fill('10');
    await seller.getByRole('button', { name: 'Start giveaway' }).click();
    for (const page of [citra, dimas]) {
      await page.getByTestId('giveaway-enter').click();
      await page.getByTestId('giveaway-enter').filter({ hasText: 'Entered' }).waitFor();
    }
    step('both buyers entered the giveaway');
    for (const page of [citra, dimas]) await page.getByTestId('giveaway-winners').waitFor({ timeout: 30000 });
    step('the giveaway was drawn');
    for (const page of [citra, dimas]) {
      await page.getByTestId('giveaway-verify').click();
      const verdict = await page.getByTestId('giveaway-verdict').textContent();
      if (!/matches the published hash/.test(verdict) || !/the same 1 winners/.test(verdict)) throw new Error(`verification failed: ${verdict}`);
    }
    step('both verified the draw in the browser: the same winner');
    await screenshot(citra, 'live-room-giveaway');
  },

  /** A seller creates a show in the studio, ffmpeg publishes to it, a buyer's video plays. */
  async video() {
    const { seller, key, rtmp, sessionUrl } = await createShow(helpers, { seller: 'demo-seller-budi', title: 'Gadget hour' });
    if (!/^rtmp:\/\/[^/]+:\d+\/live$/.test(rtmp) || key.length < 16) throw new Error(`unexpected OBS settings ${rtmp} / ${key.length} characters`);
    step(`the studio shows the server ${rtmp} and a stream key`);
    await screenshot(seller, 'studio-new-show');

    const buyer = await newPage(phone, { mobile: true });
    await buyer.goto(sessionUrl);
    await buyer.getByText('has not started yet').waitFor();
    step('the buyer waits in the room');

    const ff = publish(rtmp, key, '854x480');
    await eventually('the show to go live in the studio', async () => (await seller.getByTestId('session-status').textContent()) === 'Live', 45000);
    const video = buyer.getByTestId('video');
    await video.waitFor({ timeout: 30000 });
    let first = 0;
    await eventually('the video to play', async () => {
      first = await video.evaluate((v) => v.currentTime);
      return first > 0.5;
    }, 60000).catch((e) => {
      throw new Error(`${e.message}; ffmpeg said: ${ff.errors().slice(-500)}`);
    });
    await buyer.waitForTimeout(2500);
    const later = await video.evaluate((v) => v.currentTime);
    if (!(later > first + 1)) throw new Error(`the video stalled: ${first} → ${later}`);
    step(`the video plays: currentTime ${first.toFixed(1)} s → ${later.toFixed(1)} s`);

    const quality = buyer.getByLabel('Quality');
    if ((await quality.count()) > 0) {
      const options = await quality.locator('option').allTextContents();
      await quality.selectOption({ index: options.length - 1 });
      step(`quality choices: ${options.join(', ')}; picked ${options[options.length - 1]}`);
    }
    await screenshot(buyer, 'live-room');
    await seller.getByRole('heading', { name: 'Live stats' }).waitFor();
    await screenshot(seller, 'studio-live');
  },

  remind: () => remind(helpers),
  moderate: () => moderate(helpers),
  lowlatency: () => lowlatency(helpers),
  react: () => react(helpers),
  voucher: () => voucher(helpers),
  auction: () => auction(helpers),
  replay: () => replay(helpers),
  phoneroom: () => phoneRoom(helpers),
  a11y: () => a11y(helpers),
  demo: () => demo(helpers),
};

// ---------------------------------------------------------------------------------------------------------

const run = scenarios[scenario];
let exitCode = 0;
if (!run) {
  console.error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(', ')}`);
  exitCode = 2;
} else {
  console.log(`scenario ${scenario} against ${baseUrl}`);
  try {
    await run();
    if (consoleErrors.length) throw new Error(`errors in the browser console: ${consoleErrors.join(' | ')}`);
    console.log(`PASS ${scenario}`);
  } catch (e) {
    console.log(`FAIL ${scenario}: ${e.stack ?? e}`);
    if (consoleErrors.length) console.log(`browser console: ${consoleErrors.join(' | ')}`);
    // What each page showed when it failed, to look at afterwards.
    for (const [i, page] of openPages.entries()) {
      const name = `failed-${scenario}-page${i + 1}.png`;
      if (shots) await page.screenshot({ path: join(shots, name), fullPage: true }).then(() => console.log(`screenshot ${name} (${page.url()})`), () => undefined);
    }
    exitCode = 1;
  }
}
for (const c of cleanups) c();
await browser.close();
process.exit(exitCode);
