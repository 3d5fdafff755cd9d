/** What the studio calls each session status. */
export const statusLabel: Record<string, string> = { scheduled: 'Scheduled', created: 'Not started', live: 'Live', ended: 'Ended', cancelled: 'Cancelled' };
