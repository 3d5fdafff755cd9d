import { useEffect, useState } from 'preact/hooks';
import { del, isMissingRoute, post, type CreatedSession, type LiveSession, type Product } from '../api';
import type { User } from '../auth';
import { ChatPanel } from '../chat';
import { count, countdown } from '../format';
import { useLiveRoom } from '../room';
import { ErrorNote, Price, Section, useNow } from '../ui';
import { ChatSettings } from './ChatSettings';
import { FlashSaleForm } from './FlashSaleForm';
import { GiveawayForm, PollForm } from '../engage';
import { VoucherForm } from '../vouchers';
import { AuctionForm } from '../auctions';
import { ScheduleControls } from './Schedule';
import { Moderators } from './Moderators';
import { Stats } from './Stats';
import { statusLabel } from './status';
import { StreamSettings } from './StreamSettings';

export function Manage({ session, created, onRotated, onChanged, user, products }: {
  session: LiveSession; created: CreatedSession | undefined; onRotated: (key: string) => void; onChanged: () => void; user: User; products: Product[];
}) {
  const room = useLiveRoom(session.id);
  const live = room.session ?? session;
  const now = useNow(1000);
  const [error, setError] = useState<unknown>(null);
  const pinnedIds = new Set(room.pinned.map((p) => p.productId));

  async function togglePin(p: Product) {
    setError(null);
    try {
      if (pinnedIds.has(p.id)) await del(`/api/live/sessions/${encodeURIComponent(session.id)}/pins/${encodeURIComponent(p.id)}`);
      else await post(`/api/live/sessions/${encodeURIComponent(session.id)}/pins`, { productId: p.id });
      if (room.hub !== 'connected') room.reloadSession();
    } catch (e) {
      setError(isMissingRoute(e) ? new Error('Pinning is not available on this server yet.') : e);
    }
  }

  async function end() {
    if (!confirm('End this live show now? Viewers see the replay afterwards.')) return;
    try {
      await post(`/api/live/sessions/${encodeURIComponent(session.id)}/end`);
      onChanged();
      room.reloadSession();
    } catch (e) {
      setError(e);
    }
  }

  // Keep the list of shows in step when this one goes live or ends.
  useEffect(() => {
    if (live.status !== session.status) onChanged();
  }, [live.status]);

  const sale = room.flashSale;
  return (
    <div class="studio-manage">
      <Section title={live.title} id="manage" actions={<span class={`badge ${live.status}`} data-testid="session-status">{statusLabel[live.status] ?? live.status}</span>}>
        <p class="row wrap small">
          <a href={`/live/${encodeURIComponent(live.id)}`}>Open the live room</a>
          {live.replayUrl && <a href={live.replayUrl} data-testid="replay-link">Replay (HLS)</a>}
          {live.replayUrl && <a href={`/live/${encodeURIComponent(live.id)}`}>Watch the replay</a>}
          <span class="muted">{count(room.viewers.current)} watching · peak {count(room.viewers.peak)}</span>
        </p>
        {session.status === 'scheduled' && (
          <ScheduleControls
            session={session}
            onChanged={() => {
              onChanged();
              room.reloadSession();
            }}
          />
        )}
        {live.status !== 'ended' && live.status !== 'cancelled' && <StreamSettings session={live} created={created} onRotated={onRotated} />}
        {live.status !== 'ended' && live.status !== 'cancelled' && live.status !== 'scheduled' && (
          <button type="button" class="danger" onClick={end}>End show</button>
        )}
        <ErrorNote error={error} />
      </Section>

      <Section title="Live stats" id="stats">
        <Stats session={live} />
      </Section>

      <Section title="Pinned products" id="pins">
        <p class="muted small">Up to 5 products show in the room; pinning a sixth replaces the oldest.</p>
        <ul class="pin-picker">
          {products.map((p) => (
            <li key={p.id}>
              <span class="grow clip">{p.title}</span>
              <Price minor={p.priceMinor} currency={p.currency} />
              <button type="button" class={pinnedIds.has(p.id) ? 'ghost small' : 'small'} aria-pressed={pinnedIds.has(p.id)} onClick={() => togglePin(p)}>
                {pinnedIds.has(p.id) ? 'Unpin' : 'Pin'}<span class="sr-only"> {p.title}</span>
              </button>
            </li>
          ))}
        </ul>
        {products.length === 0 && <p class="muted">List a product first.</p>}
      </Section>

      <Section title="Flash sale" id="flash">
        {sale && (
          <p class="flash-now" data-testid="studio-flash">
            Running: <strong>{count(sale.remaining)}</strong> of {count(sale.quantity)} left ·{' '}
            {sale.remaining <= 0 ? 'sold out' : new Date(sale.endsAt).getTime() > now ? `${countdown(new Date(sale.endsAt).getTime() - now)} to go` : 'ended'}
          </p>
        )}
        <FlashSaleForm session={live} products={products} />
      </Section>

      <Section title="Vouchers" id="vouchers">
        <VoucherForm session={live} />
      </Section>

      <Section title="Auction" id="auction">
        <AuctionForm session={live} products={products} />
      </Section>

      <Section title="Poll" id="poll">
        <PollForm session={live} />
      </Section>

      <Section title="Giveaway" id="giveaway">
        <GiveawayForm session={live} />
      </Section>

      <div class="studio-chat">
        <ChatPanel room={room} sessionId={session.id} moderator={user.role === 'seller' || user.role === 'admin'} />
        <Section title="Chat settings" id="chat-settings">
          <ChatSettings sessionId={session.id} />
        </Section>
        <Section title="Moderators" id="moderators">
          <Moderators sessionId={session.id} />
        </Section>
      </div>
    </div>
  );
}
