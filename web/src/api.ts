// The one way the app talks to Pasar's HTTP API: JSON in and out, the signed-in user's token, and
// problem details turned into errors whose message is something a person can read.

import { session } from './auth';

export interface Problem {
  status: number;
  title?: string;
  detail?: string;
  code?: string;
  errors?: Record<string, string[]>;
  retryAfterSeconds?: number;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(describe(problem));
    this.name = 'ApiError';
    this.status = problem.status;
    this.code = problem.code ?? `HTTP_${problem.status}`;
    this.problem = problem;
  }
}

/** What a person should read for a problem: the detail, else the title, plus field errors. */
function describe(p: Problem): string {
  const fields = p.errors ? Object.values(p.errors).flat().join(' ') : '';
  const main = p.detail && p.detail !== fields ? p.detail : p.title ?? `The server answered ${p.status}.`;
  return [main, fields].filter(Boolean).join(' ');
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = session.value?.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;

  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError({ status: 0, code: 'NETWORK', title: 'Pasar cannot be reached. Check your connection and try again.' });
  }

  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }

  if (!response.ok) {
    const p = (json && typeof json === 'object' ? json : {}) as Problem;
    if (response.status === 401 && token) {
      // The token expired or the server's key changed: sign out so the next step asks again.
      session.signOut();
    }
    throw new ApiError({
      ...p,
      status: response.status,
      title: p.title ?? (response.status === 401 ? 'Please sign in first.' : response.statusText || undefined),
    });
  }

  return json as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, { signal });
export const post = <T>(path: string, body?: unknown, idempotencyKey?: string) => api<T>('POST', path, { body, idempotencyKey });
export const put = <T>(path: string, body?: unknown) => api<T>('PUT', path, { body });
export const del = <T>(path: string) => api<T>('DELETE', path);
export const patch = <T>(path: string, body?: unknown) => api<T>('PATCH', path, { body });

/** A new Idempotency-Key: one per intended purchase, reused if that same purchase is retried. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** A 404 on a route means that feature is not on this server (yet); pages show "not available" for it. */
export function isMissingRoute(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404 && (e.code === 'NOT_FOUND' || e.code === 'HTTP_404' || !e.problem.code);
}

// ---- The API's shapes (SPEC §3–§8) ----

export interface Product {
  id: string;
  sellerId: string;
  title: string;
  description: string | null;
  priceMinor: number;
  currency: string;
  stock: number;
  imageUrl: string | null;
}

export interface Order {
  id: string;
  productId: string;
  sellerId: string;
  quantity: number;
  unitPriceMinor: number;
  coinsRedeemed: number;
  totalMinor: number;
  currency: string;
  status: string;
  flashSaleId: string | null;
  ref: string | null;
  discountMinor?: number;
  claimId?: string | null;
}

export interface Seller {
  id: string;
  name: string;
  followers: number;
  isLive: boolean;
  liveSessionId: string | null;
}

export interface Activity {
  id: string;
  sellerId: string;
  type: 'NEW_PRODUCT' | 'PRICE_DROP' | 'LIVE_STARTED' | 'FLASH_SALE_STARTED' | string;
  productId: string | null;
  sessionId: string | null;
  flashSaleId: string | null;
  createdAt: string;
}

export interface ShareLink {
  trackingCode: string;
  url: string;
}

export interface ShareStats {
  trackingCode: string;
  productId: string;
  platform: string;
  clicks: number;
  purchases: number;
  coinsEarned: number;
  createdAt: string;
}

export interface CoinEntry {
  id: string;
  amount: number;
  source: string;
  reference: string;
  createdAt: string;
  balanceAfter: number;
}

export interface CheckInStatus {
  streakDay: number;
  checkedInToday: boolean;
  nextReward: number;
  nextRewardIsBonus?: boolean;
  recent: { date: string; coins: number }[];
}

export interface CheckInResult {
  streakDay: number;
  coins: number;
  bonus: boolean;
  date: string;
}

export interface ShakeResult {
  coinsWon: number;
  remainingPlays: number;
  jackpot: boolean;
}

export interface AppNotification {
  id: string;
  type: string;
  title: string;
  body: string;
  createdAt: string;
  readAt: string | null;
}

export interface Pin {
  productId: string;
  title: string;
  priceMinor: number;
  currency: string;
  imageUrl: string | null;
  pinnedAt: string;
}

export interface FlashSale {
  id: string;
  sessionId: string;
  productId: string;
  salePriceMinor: number;
  currency: string;
  quantity: number;
  remaining: number;
  perUserLimit: number;
  startsAt: string;
  endsAt: string;
  status: string;
  title?: string;
  priceMinor?: number;
}

export interface LiveSession {
  id: string;
  sellerId: string;
  title: string;
  status: 'scheduled' | 'created' | 'live' | 'ended' | 'cancelled' | string;
  createdAt?: string;
  scheduledAt?: string | null;
  startedAt: string | null;
  endedAt: string | null;
  playbackUrl: string;
  replayUrl: string | null;
  viewers: { current: number; peak: number };
  pinned: Pin[];
  activeFlashSale: FlashSale | null;
  activePoll?: Poll | null;
  activeVouchers?: Voucher[];
  activeGiveaway?: Giveaway | null;
  activeAuction?: Auction | null;
}

export interface Auction {
  id: string;
  sessionId: string;
  sellerId: string;
  productId: string;
  currency: string;
  startPriceMinor: number;
  incrementMinor: number;
  antiSnipeSeconds: number;
  startsAt: string;
  endsAt: string;
  highestBidMinor: number | null;
  highestBidderId: string | null;
  bidderName: string | null;
  bids: number;
  status: 'open' | 'sold' | 'unsold' | string;
  orderId: string | null;
}

export interface AuctionBid {
  id: string;
  auctionId: string;
  bidderId: string;
  bidderName: string;
  amountMinor: number;
  placedAt: string;
  endsAt: string;
}

export interface Voucher {
  id: string;
  sessionId: string;
  sellerId: string;
  discountMinor: number;
  currency: string;
  minSpendMinor: number;
  quantity: number;
  remaining: number;
  perUserLimit: number;
  startsAt: string;
  endsAt: string;
  status: 'active' | 'ended' | string;
}

export interface VoucherClaim {
  voucherId: string;
  claimId: string;
  sessionId: string;
  sellerId: string;
  discountMinor: number;
  currency: string;
  minSpendMinor: number;
  claimedAt: string;
}

export interface Poll {
  id: string;
  sessionId: string;
  question: string;
  options: string[];
  counts: number[];
  totalVotes: number;
  startsAt: string;
  endsAt: string;
  status: 'open' | 'closed' | string;
}

/** Before the draw `seed`, `entrantIds` and `winners` are null (SPEC §14). */
export interface Giveaway {
  id: string;
  sessionId: string;
  sellerId: string;
  prizeCoins: number;
  winnerCount: number;
  seedHash: string;
  entrants: number;
  startsAt: string;
  endsAt: string;
  status: 'active' | 'drawn' | string;
  seed: string | null;
  entrantIds: string[] | null;
  winners: string[] | null;
}

export interface CreatedSession {
  id: string;
  status: string;
  rtmpUrl: string;
  streamKey: string;
  playbackUrl: string;
}

export interface ChatMessage {
  id: string;
  sessionId: string;
  userId: string;
  userName: string;
  text: string;
  sentAt: string;
  /** The sender's role in the session when sent (SPEC §6.2); absent from older servers. */
  role?: 'seller' | 'moderator' | 'viewer' | string;
}

export interface Signals {
  boughtLastHour: number;
  stock: number;
  lowStock: boolean;
  messages: string[];
}

export interface LiveStats {
  uniqueViewers: number;
  totalViews: number;
  peakViewers: number;
  currentViewers: number;
  avgWatchSeconds: number;
  chatMessages: number;
  purchases: number;
  gmvMinor: number;
  conversionRate: number;
  timeline: { at: string; viewers: number }[];
}

/** One show in `GET /api/sellers/me/analytics` (SPEC §13). */
export interface ShowAnalytics {
  sessionId: string;
  title: string;
  status: string;
  createdAt: string;
  startedAt: string | null;
  gmvMinor: number;
  orders: number;
  uniqueViewers: number;
  peakViewers: number;
  avgWatchSeconds: number;
  productClicks: number;
  clickThroughRate: number;
  conversionRate: number;
  chatMessages: number;
  viewers: { at: string; viewers: number }[];
}

export interface SellerAnalytics {
  from: string;
  to: string;
  total: Omit<ShowAnalytics, 'sessionId' | 'title' | 'status' | 'createdAt' | 'startedAt' | 'viewers'> & { shows: number };
  shows: ShowAnalytics[];
}
