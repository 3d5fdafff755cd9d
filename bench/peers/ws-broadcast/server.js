'use strict';
// The chat fan-out peers on Node.js `ws`, in two designs selected by the second argument:
//   naive     (default) a chat server written the simple way: every accepted message becomes one frame, serialized
//             once and sent to every client of the room at once; no coalescing, no per-connection send bound.
//   coalesce  the same design as Pasar's live room: messages accepted during a tick (100 ms, or the third argument)
//             are sent to each viewer as ONE frame carrying a JSON array, encoded once per tick and the same bytes
//             written to every member; the room is written 256 members at a time with a yield to the event loop in
//             between (so chat arriving meanwhile is accepted), the next tick waits for the delivery (an overloaded
//             room gets fewer, fuller frames, not a queue of frames), and a client with more than 64 frames buffered
//             is dropped (Pasar's bounded per-connection queue).
// Protocol (JSON text frames):
//   client -> server  {"type":"join","room":"<id>"}  {"type":"chat","room":"<id>","text":"..."}  {"type":"ping"}
//   server -> client  {"type":"joined"}  naive: {"type":"chat","message":{id,sessionId,userId,userName,text,sentAt}}
//                                        coalesce: {"type":"chat","messages":[{id,sessionId,userId,userName,text,sentAt},...]}
// Usage: node server.js PORT [naive|coalesce] [TICK_MS]   (prints "listening PORT" when ready)
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8080);
const mode = process.argv[3] || 'naive';
const tickMs = Number(process.argv[4] || 100);
const slice = 256;
const maxBufferedFrames = 64;
if (mode !== 'naive' && mode !== 'coalesce') {
  throw new Error(`unknown mode ${mode}: naive or coalesce`);
}

const rooms = new Map(); // room -> { members: Set<WebSocket>, pending: message[] }
let nextId = 0;

const wss = new WebSocketServer({ host: '127.0.0.1', port, backlog: 1024, maxPayload: 16 * 1024, clientTracking: false });

wss.on('connection', (ws, req) => {
  const userId = new URL(req.url, 'http://localhost').searchParams.get('user');
  let room = null;
  ws.on('error', () => {});
  ws.on('close', () => {
    if (room !== null) {
      rooms.get(room)?.members.delete(ws);
    }
  });
  ws.on('message', (data) => {
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    if (m.type === 'join' && typeof m.room === 'string') {
      room = m.room;
      let state = rooms.get(room);
      if (state === undefined) {
        rooms.set(room, (state = { members: new Set(), pending: [] }));
      }
      state.members.add(ws);
      ws.send('{"type":"joined"}');
    } else if (m.type === 'chat' && typeof m.room === 'string' && typeof m.text === 'string' && userId !== null) {
      const text = m.text.trim();
      const state = rooms.get(m.room);
      if (text.length === 0 || text.length > 300 || state === undefined) {
        return;
      }
      const message = { id: String(++nextId), sessionId: m.room, userId, userName: userId, text, sentAt: new Date().toISOString() };
      if (mode === 'coalesce') {
        state.pending.push(message);
      } else {
        const frame = JSON.stringify({ type: 'chat', message });
        for (const client of state.members) {
          if (client.readyState === 1) {
            client.send(frame);
          }
        }
      }
    }
  });
});

const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));

async function deliver(state) {
  const batch = state.pending;
  state.pending = [];
  // Encoded once per tick: the same bytes go to every member (ws only adds the frame header per client).
  const frame = Buffer.from(JSON.stringify({ type: 'chat', messages: batch }));
  const bound = maxBufferedFrames * frame.length;
  let count = 0;
  // A Set's iterator sees members that join during the yields and skips those that left, without a copy.
  for (const client of state.members) {
    if (client.readyState === 1) {
      if (client.bufferedAmount > bound) {
        client.terminate();
      } else {
        client.send(frame, { binary: false });
      }
    }
    if (++count % slice === 0) {
      await yieldToEventLoop();
    }
  }
}

async function coalesce() {
  // Like .NET's PeriodicTimer: ticks on a fixed period; a flush that overruns is followed at once by the next.
  let next = Date.now() + tickMs;
  for (;;) {
    const wait = next - Date.now();
    if (wait > 0) {
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    next += tickMs;
    for (const state of rooms.values()) {
      if (state.pending.length > 0) {
        await deliver(state);
      }
    }
    const now = Date.now();
    if (next <= now) {
      next = now;
    }
  }
}

wss.on('listening', () => {
  if (mode === 'coalesce') {
    coalesce();
  }
  console.log(`listening ${port}`);
});
