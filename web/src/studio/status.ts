/** What the studio calls each session status. */
export const statusLabel: Record<string, string> = { created: 'Not started', live: 'Live', ended: 'Ended' };
