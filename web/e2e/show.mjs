// The seller's side every live scenario starts with: a show created in the studio and, for goLive, published with
// real ffmpeg over RTMP until the studio says "Live".

/**
 * Signs the seller in to the studio (a desktop page) and creates a show.
 * @param {{ newPage: Function, signIn: Function, desktop: object }} h
 * @returns {Promise<{ seller: import('playwright-core').Page, key: string, rtmp: string, sessionUrl: string }>}
 */
export async function createShow({ newPage, signIn, desktop }, { seller: sellerId = 'demo-seller-ayu', title }) {
  const seller = await newPage(desktop);
  await seller.goto('/studio');
  await signIn(seller, sellerId);
  await seller.getByLabel('Title').fill(title);
  await seller.getByRole('button', { name: 'Create show' }).click();
  const key = await seller.getByTestId('stream-key').inputValue();
  const rtmp = await seller.getByTestId('rtmp-url').inputValue();
  const sessionUrl = await seller.getByRole('link', { name: 'Open the live room' }).getAttribute('href');
  return { seller, key, rtmp, sessionUrl };
}

/**
 * Creates a show, publishes a test picture of `size` to it with ffmpeg and waits until the studio shows "Live".
 * @param {{ newPage: Function, signIn: Function, desktop: object, publish: Function, eventually: Function, step: Function }} h
 */
export async function goLive(h, { seller, title, size = '640x360' }) {
  const show = await createShow(h, { seller, title });
  const ff = h.publish(show.rtmp, show.key, size);
  await h.eventually('the show to go live', async () => (await show.seller.getByTestId('session-status').textContent()) === 'Live', 90000).catch((e) => {
    throw new Error(`${e.message}; ffmpeg said: ${ff.errors().slice(-500)}`);
  });
  h.step('the show is live');
  return { ...show, ff };
}
