// Scenario "remind" (issue 17): a seller schedules a show in the studio; a buyer taps "Notify me" on the home page
// and the SHOW_STARTING reminder arrives in the page. The server runs with a short Pasar:Live:ReminderLeadMinutes
// (BrowserTests sets 0.3, 18 s), so the show is moved to 30 s from now and its reminder is due within seconds.

export default async function remind({ newPage, signIn, step, api, token, screenshot, phone, desktop }) {
  const seller = await newPage(desktop);
  await seller.goto('/studio');
  await signIn(seller, 'demo-seller-ayu');
  const title = `Batik preview ${Date.now() % 100000}`;
  await seller.getByLabel('Title').fill(title);
  // datetime-local takes the seller's local time, to the minute: ten minutes ahead.
  const local = await seller.evaluate(() => {
    const d = new Date(Date.now() + 10 * 60_000);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  });
  await seller.getByLabel('Starts at (optional)').fill(local);
  await seller.getByRole('button', { name: 'Schedule show' }).click();
  await seller.getByTestId('schedule-controls').waitFor();
  const status = (await seller.getByTestId('session-status').textContent()).trim();
  if (status !== 'Scheduled') throw new Error(`the new show is "${status}", not Scheduled`);
  step('the seller scheduled a show in the studio');

  // Move it close, so that its reminder is due within seconds.
  const sellerToken = await token('demo-seller-ayu', 'seller');
  const upcoming = await api('GET', '/api/live/sessions?status=scheduled&sellerId=demo-seller-ayu');
  const show = upcoming.items.find((s) => s.title === title);
  if (!show) throw new Error('the scheduled show is not listed as upcoming');
  await api('PATCH', `/api/live/sessions/${show.id}`, { token: sellerToken, body: { scheduledAt: new Date(Date.now() + 30_000).toISOString() } });
  step('the show is moved to start in 30 s');

  const buyer = await newPage(phone, { mobile: true });
  await buyer.goto('/');
  await signIn(buyer, 'demo-buyer-citra');
  const card = buyer.getByTestId('upcoming').locator('li', { hasText: title });
  await card.waitFor();
  step('the buyer sees the show under Upcoming shows on the home page');
  await card.getByRole('button', { name: /^Notify me/ }).click();
  await card.getByRole('button', { name: /^Reminder on/ }).waitFor();
  step('the buyer tapped Notify me');
  const reminder = buyer.getByTestId('show-notices').locator('[data-type="SHOW_STARTING"]', { hasText: title });
  await reminder.waitFor({ timeout: 40000 });
  step(`the reminder arrived in the page: "${(await reminder.textContent()).replace(/Dismiss.*$/, '').trim()}"`);
  await screenshot(buyer, 'home-reminder');

  await buyer.goto('/me');
  await buyer.locator('#notifications').getByText(title).first().waitFor();
  step('the reminder is in the notifications on the Me page');

  // The seller's page lists it too, until it starts.
  await buyer.goto('/seller/demo-seller-ayu');
  await buyer.getByTestId('upcoming').locator('strong', { hasText: title }).waitFor();
  step("the seller's page lists the upcoming show");

  // The seller moves the show in the studio, then cancels it: the buyer is told both, live, on the seller's page.
  const later = await seller.evaluate(() => {
    const d = new Date(Date.now() + 45 * 60_000);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  });
  await seller.getByLabel('New start time').fill(later);
  await seller.getByRole('button', { name: 'Reschedule' }).click();
  await seller.getByTestId('schedule-controls').getByText('Subscribers were told').waitFor();
  await buyer.getByTestId('show-notices').locator('[data-type="SHOW_RESCHEDULED"]', { hasText: title }).waitFor({ timeout: 20000 });
  step('the seller rescheduled in the studio and the buyer was told in the page');
  seller.once('dialog', (d) => d.accept());
  await seller.getByRole('button', { name: 'Cancel show' }).click();
  await buyer.getByTestId('show-notices').locator('[data-type="SHOW_CANCELLED"]', { hasText: title }).waitFor({ timeout: 20000 });
  const cancelled = (await seller.getByTestId('session-status').textContent()).trim();
  step(`the seller cancelled it in the studio ("${cancelled}") and the buyer was told in the page`);
  await screenshot(seller, 'studio-cancelled');
}
