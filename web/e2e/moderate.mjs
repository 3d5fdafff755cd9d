// Scenario "moderate" (SPEC §14): a seller appoints a buyer as moderator in the studio; the moderator, in the
// live room and without the studio, deletes another buyer's message, which disappears for that buyer too.

import { createShow } from './show.mjs';

/** @param {{ newPage: Function, signIn: Function, step: Function, eventually: Function, screenshot: Function, desktop: object, phone: object }} h */
export async function moderate(h) {
  const { newPage, signIn, step, eventually, screenshot, desktop, phone } = h;
  const { seller, sessionUrl } = await createShow(h, { seller: 'demo-seller-ayu', title: 'Moderated batik hour' });

  const citra = await newPage(desktop);
  const dimas = await newPage(phone, { mobile: true });
  for (const [page, user] of [[citra, 'demo-buyer-citra'], [dimas, 'demo-buyer-dimas']]) {
    await page.goto(sessionUrl);
    await signIn(page, user);
    await page.getByPlaceholder('Say something…').waitFor();
    await eventually('the chat to connect', async () => (await page.getByText('Connecting to the chat…').count()) === 0);
  }
  if ((await citra.getByTestId('moderator-tools').count()) !== 0) throw new Error('a buyer sees moderator tools before being appointed');

  await seller.getByLabel('User id of the new moderator').fill('demo-buyer-citra');
  await seller.getByRole('button', { name: 'Add moderator' }).click();
  await seller.getByRole('button', { name: 'Remove Citra as moderator' }).waitFor();
  step('the seller appointed Citra as moderator in the studio');
  await citra.getByTestId('moderator-tools').waitFor();
  step('Citra sees the moderator tools in the room');

  await dimas.getByLabel('Message', { exact: true }).fill('Buy cheap followers at spam.example');
  await dimas.getByLabel('Message', { exact: true }).press('Enter');
  const spamFor = (page) => page.getByTestId('chat').getByText('Buy cheap followers at spam.example');
  await spamFor(dimas).waitFor();
  await spamFor(citra).waitFor();
  await citra.getByRole('button', { name: 'Delete message from Dimas' }).click();
  await spamFor(citra).waitFor({ state: 'detached' });
  await spamFor(dimas).waitFor({ state: 'detached' });
  step('Citra deleted Dimas’s message and it disappeared for Dimas');

  await citra.getByLabel('Message', { exact: true }).fill('Please keep the chat friendly');
  await citra.getByLabel('Message', { exact: true }).press('Enter');
  await dimas.getByTestId('chat').locator('li', { hasText: 'Please keep the chat friendly' }).getByTestId('moderator-badge').waitFor();
  step('Dimas sees Citra’s message with the moderator badge');
  await screenshot(citra, 'live-room-moderator');
}
