// Scenario "auction" (SPEC §15): a seller on air starts an auction in the studio; two buyers bid against each
// other in the live room and each sees "outbid" when the other goes higher; at the end the winner's card says
// so and the order is in their /me, at the winning price.

import { goLive } from './show.mjs';

/** @param {{ newPage: Function, signIn: Function, step: Function, eventually: Function, screenshot: Function, publish: Function, desktop: object, phone: object }} h */
export async function auction(h) {
  const { newPage, signIn, step, eventually, screenshot, desktop, phone } = h;
  const { seller, sessionUrl } = await goLive(h, { seller: 'demo-seller-ayu', title: 'Auction night' });

  const citra = await newPage(desktop);
  await citra.goto(sessionUrl);
  await signIn(citra, 'demo-buyer-citra');
  const dimas = await newPage(phone);
  await dimas.goto(sessionUrl);
  await signIn(dimas, 'demo-buyer-dimas');
  for (const page of [citra, dimas]) {
    await eventually('the chat to connect', async () => (await page.getByText('Connecting to the chat…').count()) === 0);
  }

  await seller.locator('#a-start').fill('10');
  await seller.locator('#a-increment').fill('1');
  await seller.locator('#a-duration').fill('30');
  await seller.locator('#a-snipe').fill('5');
  await seller.getByTestId('auction-start').click();
  await citra.getByTestId('auction').waitFor();
  await dimas.getByTestId('auction').waitFor();
  step('both buyers see the auction card');

  await citra.getByTestId('auction-bid').click();
  await citra.getByTestId('auction-state').filter({ hasText: "You're winning" }).waitFor({ timeout: 10000 });
  // The start price reads 10.00 too: wait for the bid itself, with its bidder, before Dimas answers it.
  await dimas.getByTestId('auction').filter({ hasText: 'by Citra' }).waitFor({ timeout: 10000 });
  step('Citra bid the start price and is winning');

  await dimas.getByTestId('auction-bid').click();
  await dimas.getByTestId('auction-state').filter({ hasText: "You're winning" }).waitFor({ timeout: 10000 });
  await citra.getByTestId('auction-state').filter({ hasText: 'outbid' }).waitFor({ timeout: 10000 });
  step('Dimas bid higher and Citra sees "outbid"');
  await screenshot(citra, 'live-room-auction-outbid');

  await citra.getByTestId('auction-bid-more').click();
  await citra.getByTestId('auction-state').filter({ hasText: "You're winning" }).waitFor({ timeout: 10000 });
  await dimas.getByTestId('auction-state').filter({ hasText: 'outbid' }).waitFor({ timeout: 10000 });
  const winning = (await citra.getByTestId('auction-highest').textContent()).trim();
  step(`Citra answered with ${winning} and Dimas sees "outbid"`);
  await screenshot(dimas, 'live-room-auction-phone');

  await citra.getByTestId('auction-result').filter({ hasText: 'You won' }).waitFor({ timeout: 60000 });
  await dimas.getByTestId('auction-result').filter({ hasText: 'Sold to Citra' }).waitFor({ timeout: 10000 });
  step('at the end Citra won and Dimas sees who did');
  await screenshot(citra, 'live-room-auction-won');

  await citra.getByRole('link', { name: 'See your order' }).click();
  await citra.waitForURL(/\/me$/);
  await citra.getByTestId('order-total').filter({ hasText: winning }).first().waitFor({ timeout: 10000 });
  step(`the winner's order is in /me at ${winning}`);
  await screenshot(citra, 'me-auction-order');
}
