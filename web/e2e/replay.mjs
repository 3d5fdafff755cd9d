// Scenario "replay" (issue 15, SPEC §12): a seller's show, published with real ffmpeg, pins a product and runs a
// flash sale, then ends. A buyer opens its replay from the home page's "Recent shows", taps the flash-sale moment:
// the video seeks there and the product card shows today's price; "Buy" places an order that the show's stats count.

/** @param {{ newPage: Function, signIn: Function, step: Function, eventually: Function, screenshot: Function, publish: Function, api: Function, token: Function, desktop: object, phone: object }} h */
export async function replay({ newPage, signIn, step, eventually, screenshot, publish, api, token, desktop }) {
  const sellerToken = await token('demo-seller-ayu', 'seller');
  const buyerToken = await token('demo-buyer-citra', 'buyer');
  const title = `Replay hour ${Date.now() % 100000}`;
  const created = await api('POST', '/api/live/sessions', { token: sellerToken, body: { title } });
  const ff = publish(created.rtmpUrl, created.streamKey, '640x360');
  await eventually('the show to go live', async () => (await api('GET', `/api/live/sessions/${created.id}`)).status === 'live', 45000).catch((e) => {
    throw new Error(`${e.message}; ffmpeg said: ${ff.errors().slice(-500)}`);
  });
  step('the show is live');

  const products = (await api('GET', '/api/sellers/demo-seller-ayu/products')).items.filter((p) => p.stock > 2);
  const [pinned, deal] = products;
  await new Promise((r) => setTimeout(r, 3000));
  await api('POST', `/api/live/sessions/${created.id}/pins`, { token: sellerToken, body: { productId: pinned.id } });
  await new Promise((r) => setTimeout(r, 4000));
  const sale = await api('POST', `/api/live/sessions/${created.id}/flash-sales`, {
    token: sellerToken,
    body: { productId: deal.id, salePriceMinor: Math.max(1, Math.floor(deal.priceMinor / 2)), quantity: 2, durationSeconds: 60, perUserLimit: 1 },
  });
  await new Promise((r) => setTimeout(r, 4000));
  await api('POST', `/api/live/sessions/${created.id}/end`, { token: sellerToken });
  step('the seller pinned a product, ran a flash sale and ended the show');
  const moments = (await api('GET', `/api/live/sessions/${created.id}/replay`)).moments;
  const saleMoment = moments.find((m) => m.kind === 'flashSale');
  if (moments.length !== 2 || !saleMoment) throw new Error(`expected a pin and a flash-sale moment, got ${JSON.stringify(moments)}`);

  const buyer = await newPage(desktop);
  await buyer.goto('/');
  await signIn(buyer, 'demo-buyer-citra');
  await buyer.getByTestId('recent-shows').getByRole('link', { name: new RegExp(title) }).click();
  await buyer.waitForURL(`**/replay/${created.id}`);
  step('the buyer opened the replay from "Recent shows"');

  const video = buyer.getByTestId('replay-video');
  await eventually('the replay to load', async () => (await video.evaluate((v) => v.readyState)) >= 1, 30000);
  const moment = buyer.locator(`[data-testid="moment"][data-product="${deal.id}"]`);
  await moment.click();
  await eventually('the video to seek to the flash-sale moment', async () => {
    const t = await video.evaluate((v) => v.currentTime);
    return Math.abs(t - saleMoment.atSeconds) < 1.5;
  }, 20000);
  step(`tapping the flash-sale moment seeks the video to ${saleMoment.atSeconds.toFixed(1)} s`);

  const card = buyer.locator(`[data-testid="replay-product"][data-product="${deal.id}"]`);
  await card.waitFor();
  const today = (await api('GET', `/api/products/${deal.id}`)).priceMinor;
  await eventually('the card to show today\'s price', async () => Number(await card.getAttribute('data-price-minor')) === today, 10000);
  await card.getByText('The deal has ended').waitFor();
  step(`the product card shows today's price and what the deal was (${sale.salePriceMinor})`);
  await screenshot(buyer, 'replay');

  await card.getByTestId('buy').click();
  await card.getByTestId('order-placed').waitFor();
  const order = (await api('GET', '/api/me/orders?limit=1', { token: buyerToken })).items[0];
  if (order.sessionId !== created.id || order.unitPriceMinor !== today) throw new Error(`the order is not the replay's at today's price: ${JSON.stringify(order)}`);
  step('the buyer bought from the replay at today\'s price');
  await eventually('the show\'s stats to count the order', async () => (await api('GET', `/api/live/sessions/${created.id}/stats`, { token: sellerToken })).purchases >= 1, 20000);
  step('the show\'s stats count the replay order');
}
