// Scenario "react" (SPEC §16): in a live room one buyer taps the heart a few times; another buyer, on a phone,
// sees the hearts float up and the room's reaction counter rise.

import { createShow } from './show.mjs';

/** @param {{ newPage: Function, signIn: Function, step: Function, eventually: Function, screenshot: Function, desktop: object, phone: object }} h */
export async function react(h) {
  const { newPage, signIn, step, eventually, screenshot, desktop, phone } = h;
  const { sessionUrl } = await createShow(h, { seller: 'demo-seller-ayu', title: 'Hearts for the batik hour' });

  const citra = await newPage(desktop);
  const dimas = await newPage(phone, { mobile: true });
  for (const [page, user] of [[citra, 'demo-buyer-citra'], [dimas, 'demo-buyer-dimas']]) {
    await page.goto(sessionUrl);
    await signIn(page, user);
    await eventually('the reaction buttons to connect', async () => await page.getByRole('button', { name: 'Send a heart' }).isEnabled());
  }
  step('both buyers are in the room with the reaction buttons');

  const heart = citra.getByRole('button', { name: 'Send a heart' });
  for (let i = 0; i < 5; i++) await heart.click();
  step('Citra tapped the heart five times');

  await eventually('hearts to float for Dimas', async () => (await dimas.getByTestId('reaction-float').count()) > 0, 10000);
  const floats = await dimas.getByTestId('reaction-float').count();
  step(`Dimas sees ${floats} hearts float up`);
  await eventually('the counter to reach 5', async () => (await dimas.getByTestId('reaction-count').textContent())?.trim() === '5 reactions', 10000);
  step('Dimas’s reaction counter shows 5');
  await screenshot(dimas, 'live-room-reactions');
  await eventually('the hearts to float away', async () => (await dimas.getByTestId('reaction-float').count()) === 0, 10000);
  step('the hearts floated away');
}
