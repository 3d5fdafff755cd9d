// Scenario "voucher" (SPEC §15): a seller on air drops a voucher in the studio; a buyer claims it in the live
// room, sees the remaining count drop, and spends it at checkout on the seller's product; the studio counts both.

import { goLive } from './show.mjs';

/** @param {{ newPage: Function, signIn: Function, step: Function, eventually: Function, screenshot: Function, publish: Function, api: Function, desktop: object }} h */
export async function voucher(h) {
  const { newPage, signIn, step, eventually, screenshot, api, desktop } = h;
  const { seller, sessionUrl } = await goLive(h, { seller: 'demo-seller-ayu', title: 'Voucher hour' });

  const citra = await newPage(desktop);
  await citra.goto(sessionUrl);
  await signIn(citra, 'demo-buyer-citra');
  await eventually('the chat to connect', async () => (await citra.getByText('Connecting to the chat…').count()) === 0);

  await seller.locator('#v-discount').fill('3');
  await seller.locator('#v-min').fill('0');
  await seller.locator('#v-qty').fill('5');
  await seller.getByTestId('voucher-drop').click();
  await citra.getByTestId('voucher').waitFor();
  step('the buyer sees the voucher card');
  await citra.getByTestId('voucher-claim').click();
  await citra.getByTestId('voucher-remaining').filter({ hasText: /^4$/ }).waitFor({ timeout: 10000 });
  step('the buyer claimed it and the remaining count dropped to 4');
  await screenshot(citra, 'live-room-voucher');
  await seller.getByTestId('voucher-claimed').filter({ hasText: /^1$/ }).waitFor({ timeout: 10000 });
  step('the studio counts the claim');

  const product = (await api('GET', '/api/sellers/demo-seller-ayu/products')).items.find((p) => p.stock > 0 && p.currency === 'SGD');
  await citra.goto(`/p/${encodeURIComponent(product.id)}`);
  const picker = citra.getByTestId('voucher-picker');
  await picker.waitFor();
  const claimId = await picker.locator('option').nth(1).getAttribute('value');
  await picker.selectOption(claimId);
  await citra.getByRole('button', { name: /^Buy now/ }).click();
  await citra.getByTestId('order-placed').filter({ hasText: 'voucher' }).waitFor();
  step('the buyer spent the voucher at checkout');
  await seller.getByTestId('voucher-redeemed').filter({ hasText: /^1$/ }).waitFor({ timeout: 10000 });
  step('the studio counts the redemption');
}
