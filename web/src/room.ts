// The state of one live room, kept in step with the hub (SPEC §6.2): a snapshot on join, then events.

import { useEffect, useReducer, useRef } from 'preact/hooks';
import { get, type Auction, type ChatMessage, type FlashSale, type Giveaway, type LiveSession, type Pin, type Poll, type Voucher } from './api';
import { rememberViewerId, useUser } from './auth';
import { createLiveHub, hubProblem, isHubMissing, type HubConnection } from './hub';
import { toast } from './ui';

export type HubStatus = 'connecting' | 'connected' | 'reconnecting' | 'unavailable' | 'offline';

export interface RoomState {
  session: LiveSession | null;
  sessionError: unknown;
  pinned: Pin[];
  viewers: { current: number; peak: number };
  flashSale: FlashSale | null;
  poll: Poll | null;
  giveaway: Giveaway | null;
  vouchers: Voucher[];
  auction: Auction | null;
  chat: ChatMessage[];
  hub: HubStatus;
  lowStock: Record<string, number>;
}

interface Snapshot {
  session?: LiveSession;
  pinned?: Pin[];
  viewers?: { current: number; peak: number };
  activeFlashSale?: FlashSale | null;
  activePoll?: Poll | null;
  activeGiveaway?: Giveaway | null;
  activeVouchers?: Voucher[];
  activeAuction?: Auction | null;
  recentChat?: ChatMessage[];
  /** The anonymous viewer id the server issued (null when signed in): kept and presented on the next connect. */
  viewerToken?: string | null;
}

type Action =
  | { type: 'session'; session: LiveSession }
  | { type: 'sessionError'; error: unknown }
  | { type: 'snapshot'; snapshot: Snapshot }
  | { type: 'hub'; status: HubStatus }
  | { type: 'chat'; messages: ChatMessage[] }
  | { type: 'chatDeleted'; messageId: string }
  | { type: 'pins'; pinned: Pin[] }
  | { type: 'viewers'; current: number; peak: number }
  | { type: 'flashSale'; sale: FlashSale | null }
  | { type: 'flashSaleRemaining'; id: string; remaining: number }
  | { type: 'flashSaleEnded'; id: string; status?: string; remaining?: number }
  | { type: 'poll'; poll: Poll }
  | { type: 'pollCounts'; id: string; counts: number[] }
  | { type: 'giveaway'; giveaway: Giveaway }
  | { type: 'voucher'; voucher: Voucher }
  | { type: 'voucherRemaining'; id: string; remaining: number }
  | { type: 'auction'; auction: Auction }
  | { type: 'auctionUpdated'; update: AuctionUpdate }
  | { type: 'auctionEnded'; ended: AuctionEnd }
  | { type: 'status'; status: string; replayUrl?: string | null }
  | { type: 'lowStock'; productId: string; stock: number };

interface AuctionUpdate {
  id: string;
  highestBidMinor: number | null;
  highestBidderId: string | null;
  bidderName: string | null;
  endsAt: string;
  bids: number;
}

interface AuctionEnd {
  id: string;
  status: string;
  highestBidMinor: number | null;
  winnerId: string | null;
  winnerName: string | null;
}

const maxChat = 200;

function reduce(s: RoomState, a: Action): RoomState {
  switch (a.type) {
    case 'session':
      return {
        ...s,
        session: a.session,
        sessionError: null,
        pinned: s.hub === 'connected' ? s.pinned : a.session.pinned ?? [],
        flashSale: s.hub === 'connected' ? s.flashSale : a.session.activeFlashSale ?? s.flashSale,
        viewers: s.hub === 'connected' ? s.viewers : a.session.viewers ?? s.viewers,
        poll: s.hub === 'connected' ? s.poll : a.session.activePoll ?? s.poll,
        giveaway: s.hub === 'connected' ? s.giveaway : a.session.activeGiveaway ?? s.giveaway,
        vouchers: s.hub === 'connected' ? s.vouchers : a.session.activeVouchers ?? s.vouchers,
        auction: s.hub === 'connected' ? s.auction : a.session.activeAuction ?? s.auction,
      };
    case 'sessionError':
      return { ...s, sessionError: a.error };
    case 'snapshot': {
      const snap = a.snapshot;
      return {
        ...s,
        session: snap.session ?? s.session,
        pinned: snap.pinned ?? s.pinned,
        viewers: snap.viewers ?? s.viewers,
        flashSale: snap.activeFlashSale !== undefined ? snap.activeFlashSale : s.flashSale,
        // A poll or giveaway that ended stays on screen (its results); a running one from the snapshot replaces it.
        poll: snap.activePoll ?? s.poll,
        giveaway: snap.activeGiveaway ?? s.giveaway,
        vouchers: snap.activeVouchers ?? s.vouchers,
        // An auction that ended stays on screen (its result); a running one from the snapshot replaces it.
        auction: snap.activeAuction ?? s.auction,
        chat: snap.recentChat ? [...snap.recentChat].sort((x, y) => x.sentAt.localeCompare(y.sentAt)).slice(-maxChat) : s.chat,
      };
    }
    case 'hub':
      return { ...s, hub: a.status };
    case 'chat': {
      const seen = new Set(s.chat.map((m) => m.id));
      const fresh = a.messages.filter((m) => !seen.has(m.id));
      return fresh.length ? { ...s, chat: [...s.chat, ...fresh].slice(-maxChat) } : s;
    }
    case 'chatDeleted':
      return { ...s, chat: s.chat.filter((m) => m.id !== a.messageId) };
    case 'pins':
      return { ...s, pinned: a.pinned };
    case 'viewers':
      return { ...s, viewers: { current: a.current, peak: a.peak } };
    case 'flashSale':
      return { ...s, flashSale: a.sale };
    case 'flashSaleRemaining':
      return s.flashSale && s.flashSale.id === a.id ? { ...s, flashSale: { ...s.flashSale, remaining: a.remaining } } : s;
    case 'flashSaleEnded':
      return s.flashSale && s.flashSale.id === a.id
        ? { ...s, flashSale: { ...s.flashSale, status: a.status ?? 'ended', remaining: a.remaining ?? s.flashSale.remaining } }
        : s;
    case 'poll':
      return { ...s, poll: a.poll };
    case 'pollCounts':
      return s.poll && s.poll.id === a.id
        ? { ...s, poll: { ...s.poll, counts: a.counts, totalVotes: a.counts.reduce((x, y) => x + y, 0) } }
        : s;
    case 'giveaway':
      return { ...s, giveaway: a.giveaway };
    case 'voucher':
      return { ...s, vouchers: [...s.vouchers.filter((v) => v.id !== a.voucher.id), a.voucher] };
    case 'voucherRemaining':
      return { ...s, vouchers: s.vouchers.map((v) => (v.id === a.id ? { ...v, remaining: a.remaining } : v)) };
    case 'auction':
      return { ...s, auction: a.auction };
    case 'auctionUpdated':
      // Pushes are coalesced and may cross: a smaller bid count is an older state.
      return s.auction && s.auction.id === a.update.id && a.update.bids >= s.auction.bids
        ? { ...s, auction: { ...s.auction, ...a.update } }
        : s;
    case 'auctionEnded':
      return s.auction && s.auction.id === a.ended.id
        ? { ...s, auction: { ...s.auction, status: a.ended.status, highestBidMinor: a.ended.highestBidMinor, highestBidderId: a.ended.winnerId, bidderName: a.ended.winnerName ?? s.auction.bidderName } }
        : s;
    case 'status':
      return s.session ? { ...s, session: { ...s.session, status: a.status, replayUrl: a.replayUrl ?? s.session.replayUrl } } : s;
    case 'lowStock':
      return { ...s, lowStock: { ...s.lowStock, [a.productId]: a.stock } };
  }
}

export interface LiveRoom extends RoomState {
  sendChat: (text: string) => Promise<void>;
  reloadSession: () => void;
  hubRef: { current: HubConnection | null };
  /** Reports a click on a product of the room (SPEC §13 analytics); never throws. */
  productClicked: (productId: string) => void;
}

/** Joins the room of `sessionId` for as long as the component is mounted. */
export function useLiveRoom(sessionId: string, options: { onPurchase?: (payload: Record<string, unknown>) => void } = {}): LiveRoom {
  const user = useUser();
  const [state, dispatch] = useReducer(reduce, {
    session: null,
    sessionError: null,
    pinned: [],
    viewers: { current: 0, peak: 0 },
    flashSale: null,
    poll: null,
    giveaway: null,
    vouchers: [],
    auction: null,
    chat: [],
    hub: 'connecting',
    lowStock: {},
  });
  const hubRef = useRef<HubConnection | null>(null);
  const onPurchase = useRef(options.onPurchase);
  onPurchase.current = options.onPurchase;

  const reloadSession = () => {
    get<LiveSession>(`/api/live/sessions/${encodeURIComponent(sessionId)}`).then(
      (session) => dispatch({ type: 'session', session }),
      (error) => dispatch({ type: 'sessionError', error }),
    );
  };

  useEffect(reloadSession, [sessionId]);

  // Without the hub's sessionStatus events, notice the show going live or ending by asking now and then.
  const status = state.session?.status;
  useEffect(() => {
    if (!status || status === 'ended' || state.hub === 'connected') return;
    const t = setInterval(reloadSession, 3000);
    return () => clearInterval(t);
  }, [sessionId, status, state.hub]);

  useEffect(() => {
    const hub = createLiveHub();
    hubRef.current = hub;
    // A new connection (a new identity after sign-in): consumers that bind handlers to the connection once it is
    // 'connected' must see the status change, or they stay bound to the connection just stopped.
    dispatch({ type: 'hub', status: 'connecting' });
    let stopped = false;
    let heartbeat: ReturnType<typeof setInterval> | null = null;

    // A push that arrives while the join is answered is newer than the snapshot's pins (read before it was sent, and
    // the answer can be written after it): the snapshot then leaves the pins the push set.
    let pinPushes = 0;
    const join = async () => {
      const pushesBefore = pinPushes;
      const snapshot = await hub.invoke<Snapshot>('JoinSession', sessionId);
      rememberViewerId(snapshot.viewerToken);
      dispatch({ type: 'snapshot', snapshot: pinPushes === pushesBefore ? snapshot : { ...snapshot, pinned: undefined } });
      dispatch({ type: 'hub', status: 'connected' });
    };

    hub.on('chat', (messages: ChatMessage[] | ChatMessage) => {
      const list = (Array.isArray(messages) ? messages : [messages]).filter((m) => m.sessionId === undefined || m.sessionId === sessionId);
      dispatch({ type: 'chat', messages: list });
    });
    hub.on('chatDeleted', (e: { sessionId?: string; messageId: string }) => {
      if (!e.sessionId || e.sessionId === sessionId) dispatch({ type: 'chatDeleted', messageId: e.messageId });
    });
    hub.on('pinsUpdated', (e: { sessionId?: string; pinned: Pin[] }) => {
      if (!e.sessionId || e.sessionId === sessionId) {
        pinPushes++;
        dispatch({ type: 'pins', pinned: e.pinned });
      }
    });
    hub.on('viewersUpdated', (e: { sessionId?: string; current: number; peak: number }) => {
      if (!e.sessionId || e.sessionId === sessionId) dispatch({ type: 'viewers', current: e.current, peak: e.peak });
    });
    hub.on('flashSaleStarted', (sale: FlashSale) => {
      if (!sale.sessionId || sale.sessionId === sessionId) {
        dispatch({ type: 'flashSale', sale });
        toast('A flash sale just started!', 'info');
      }
    });
    hub.on('flashSaleUpdated', (e: Partial<FlashSale> & { id: string; remaining: number }) => {
      dispatch({ type: 'flashSaleRemaining', id: e.id, remaining: e.remaining });
    });
    hub.on('flashSaleEnded', (e: Partial<FlashSale> & { id: string }) => {
      dispatch({ type: 'flashSaleEnded', id: e.id, status: e.status, remaining: e.remaining });
    });
    hub.on('pollStarted', (poll: Poll) => {
      if (poll.sessionId === sessionId) dispatch({ type: 'poll', poll });
    });
    hub.on('voucherDropped', (voucher: Voucher) => {
      if (voucher.sessionId === sessionId) dispatch({ type: 'voucher', voucher });
    });
    hub.on('auctionStarted', (auction: Auction) => {
      if (auction.sessionId === sessionId) dispatch({ type: 'auction', auction });
    });
    hub.on('auctionUpdated', (update: AuctionUpdate & { sessionId: string }) => {
      if (update.sessionId === sessionId) dispatch({ type: 'auctionUpdated', update });
    });
    hub.on('auctionEnded', (ended: AuctionEnd & { sessionId: string }) => {
      if (ended.sessionId === sessionId) dispatch({ type: 'auctionEnded', ended });
    });
    hub.on('voucherUpdated', (e: { id: string; remaining: number }) => dispatch({ type: 'voucherRemaining', id: e.id, remaining: e.remaining }));
    hub.on('pollUpdated', (e: { id: string; sessionId?: string; counts: number[] }) => dispatch({ type: 'pollCounts', id: e.id, counts: e.counts }));
    hub.on('pollEnded', (poll: Poll) => {
      if (poll.sessionId === sessionId) dispatch({ type: 'poll', poll });
    });
    hub.on('giveawayStarted', (giveaway: Giveaway) => {
      if (giveaway.sessionId === sessionId) {
        dispatch({ type: 'giveaway', giveaway });
        toast('A giveaway just started!', 'info');
      }
    });
    hub.on('giveawayDrawn', (e: { id: string; sessionId?: string }) => {
      if (e.sessionId && e.sessionId !== sessionId) return;
      // The push carries the winners; the revealed seed and the entrant list come from the giveaway itself.
      get<Giveaway>(`/api/giveaways/${encodeURIComponent(e.id)}`).then((giveaway) => dispatch({ type: 'giveaway', giveaway }), () => undefined);
    });
    hub.on('sessionStatus', (e: { sessionId?: string; status: string; replayUrl?: string | null }) => {
      if (!e.sessionId || e.sessionId === sessionId) {
        dispatch({ type: 'status', status: e.status, replayUrl: e.replayUrl });
        reloadSession();
      }
    });
    hub.on('lowStock', (e: { productId: string; stock?: number; remaining?: number }) => {
      const stock = e.stock ?? e.remaining;
      if (typeof stock === 'number') dispatch({ type: 'lowStock', productId: e.productId, stock });
    });
    hub.on('purchaseSignal', (e: Record<string, unknown>) => onPurchase.current?.(e));

    hub.onreconnecting(() => dispatch({ type: 'hub', status: 'reconnecting' }));
    hub.onreconnected(() => {
      join().catch(() => dispatch({ type: 'hub', status: 'offline' }));
    });
    hub.onclose(() => !stopped && dispatch({ type: 'hub', status: 'offline' }));

    hub
      .start()
      .then(join)
      .then(() => {
        heartbeat = setInterval(() => {
          hub.invoke('Heartbeat', sessionId).catch(() => undefined);
        }, 15000);
      })
      .catch((e) => {
        if (stopped) return;
        dispatch({ type: 'hub', status: isHubMissing(e) ? 'unavailable' : 'offline' });
      });

    return () => {
      stopped = true;
      if (heartbeat) clearInterval(heartbeat);
      hub.invoke('LeaveSession', sessionId).catch(() => undefined).finally(() => hub.stop());
      hubRef.current = null;
    };
    // A new identity needs a new connection: the token travels when the connection starts.
  }, [sessionId, user?.id]);

  const sendChat = async (text: string) => {
    const hub = hubRef.current;
    if (!hub || state.hub !== 'connected') throw { code: 'DISCONNECTED', message: 'Chat is not connected right now; try again in a moment.' };
    try {
      await hub.invoke('SendChat', sessionId, text);
    } catch (e) {
      throw hubProblem(e);
    }
  };

  // SPEC §13: a click on a product in the room counts for the show's click-through (anonymous viewers too).
  const productClicked = (productId: string) => {
    const hub = hubRef.current;
    if (hub && state.hub === 'connected') hub.invoke('ProductClicked', sessionId, productId).catch(() => undefined);
  };

  return { ...state, sendChat, reloadSession, hubRef, productClicked };
}
