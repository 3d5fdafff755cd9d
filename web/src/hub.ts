// The live room's SignalR connection (SPEC §6.2): /hubs/live with the user's token, or an anonymous
// per-browser id, so that anyone may watch and signed-in users may chat.

import { HubConnection, HubConnectionBuilder, HubConnectionState, LogLevel } from '@microsoft/signalr';
import { anonymousId, session } from './auth';

export type { HubConnection };
export { HubConnectionState };

const liveHubUrl = () => `/hubs/live?anonId=${encodeURIComponent(anonymousId())}`;

export function createLiveHub(): HubConnection {
  const hub = new HubConnectionBuilder()
    .withUrl(liveHubUrl(), {
      accessTokenFactory: () => session.value?.token ?? '',
    })
    .withAutomaticReconnect([0, 1000, 3000, 5000, 10000, 20000, 30000])
    .configureLogging(LogLevel.None)
    .build();
  // The first connection of a new browser is issued its viewer id in the room snapshot: reconnect with it.
  hub.onreconnecting(() => {
    hub.baseUrl = liveHubUrl();
  });
  return hub;
}

/** Whether starting failed because this server has no live-room hub (a 404 on negotiate). */
export function isHubMissing(e: unknown): boolean {
  const status = (e as { statusCode?: number } | null)?.statusCode;
  return status === 404 || /\b404\b/.test(String((e as Error | null)?.message ?? ''));
}

export interface HubProblem {
  code: string;
  message: string;
}

/**
 * The hub reports refusals as a HubException whose message starts with the code ("RATE_LIMITED: …");
 * the client wraps it ("An unexpected error occurred invoking 'SendChat' on the server. HubException: …").
 */
export function hubProblem(e: unknown): HubProblem {
  const raw = String((e as Error | null)?.message ?? e);
  const inner = raw.includes('HubException: ') ? raw.slice(raw.indexOf('HubException: ') + 'HubException: '.length) : raw;
  const m = /^([A-Z][A-Z_]+):\s*(.*)$/s.exec(inner.trim());
  if (m) return { code: m[1], message: m[2] || m[1] };
  if (/connection/i.test(inner) && /not in the 'Connected' State|disconnected|stopped/i.test(inner)) {
    return { code: 'DISCONNECTED', message: 'The live room is reconnecting; try again in a moment.' };
  }
  return { code: 'ERROR', message: inner };
}
