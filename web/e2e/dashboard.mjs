// The seller's analytics dashboard in the studio (SPEC §13): a buyer watches a show and chats; the seller's
// studio shows that show with its figures and its viewers chart (or the note that the chart needs a minute).

export async function dashboard({ newPage, desktop, signIn, api, token, step, eventually, screenshot }) {
  const ayu = await token('demo-seller-ayu', 'seller');
  const session = await api('POST', '/api/live/sessions', { token: ayu, body: { title: 'Dashboard show' } });
  const citra = await newPage(desktop);
  // Signed in before she opens the room: a page that joins anonymously and signs in there is two viewer ids
  // (the anonymous one and hers), and the count below would depend on which joined first.
  await citra.goto('/');
  await signIn(citra, 'demo-buyer-citra');
  await citra.goto(`/live/${session.id}`);
  await citra.getByPlaceholder('Say something…').waitFor();
  await citra.locator('#chat-title').waitFor();
  await eventually('the room to connect', async () => (await citra.getByText('Connecting to the chat…').count()) === 0);
  await citra.getByLabel('Message', { exact: true }).fill('Watching from the dashboard test');
  await citra.getByLabel('Message', { exact: true }).press('Enter');
  await citra.getByTestId('chat').getByText('Watching from the dashboard test').waitFor();
  step('Citra watches the show and chats');

  const seller = await newPage(desktop);
  await seller.goto('/studio');
  await signIn(seller, 'demo-seller-ayu');
  const show = seller.getByTestId('dashboard-shows').locator(`li[data-session="${session.id}"]`);
  await show.waitFor();
  const figure = async (scope, name) => (await scope.locator('div').filter({ has: seller.locator('dt', { hasText: new RegExp(`^${name}$`) }) }).locator('dd').first().textContent()).trim();
  await eventually('the show to count its viewer and chat', async () => {
    await seller.reload();
    await show.waitFor();
    return (await figure(show, 'Unique viewers')) === '1' && (await figure(show, 'Chat messages')) === '1';
  });
  step(`the dashboard shows "Dashboard show": unique viewers ${await figure(show, 'Unique viewers')}, chat messages ${await figure(show, 'Chat messages')}`);
  const total = seller.getByTestId('dashboard-total');
  if (Number(await figure(total, 'Shows')) < 1) throw new Error('the dashboard total counts no show');
  const chart = show.getByTestId('viewers-chart');
  const note = show.getByText('The viewers chart appears once the show has been live for a minute.');
  await eventually('the viewers chart or its note', async () => (await chart.count()) + (await note.count()) > 0);
  step((await chart.count()) > 0 ? 'the show has its viewers chart' : 'the show says its viewers chart comes after a minute');
  await screenshot(seller, 'studio-dashboard');
}
