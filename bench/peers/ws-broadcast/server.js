'use strict';
// The chat fan-out peer: a plain Node.js `ws` broadcast server, written the way a naive chat server is.
// Every accepted chat message becomes one frame, serialized once and sent to every client in the room;
// no coalescing, no per-connection send bound. Protocol (JSON text frames):
//   client -> server  {"type":"join","room":"<id>"}  {"type":"chat","room":"<id>","text":"..."}  {"type":"ping"}
//   server -> client  {"type":"joined"}  {"type":"chat","message":{id,sessionId,userId,userName,text,sentAt}}
// Usage: node server.js PORT   (prints "listening PORT" when ready)
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 8080);
const rooms = new Map();
let nextId = 0;

const wss = new WebSocketServer({ host: '127.0.0.1', port, backlog: 1024, maxPayload: 16 * 1024, clientTracking: false });

wss.on('connection', (ws, req) => {
  const userId = new URL(req.url, 'http://localhost').searchParams.get('user');
  let room = null;
  ws.on('error', () => {});
  ws.on('close', () => {
    if (room !== null) {
      rooms.get(room)?.delete(ws);
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
      let members = rooms.get(room);
      if (members === undefined) {
        rooms.set(room, (members = new Set()));
      }
      members.add(ws);
      ws.send('{"type":"joined"}');
    } else if (m.type === 'chat' && typeof m.room === 'string' && typeof m.text === 'string' && userId !== null) {
      const text = m.text.trim();
      if (text.length === 0 || text.length > 300) {
        return;
      }
      const frame = JSON.stringify({
        type: 'chat',
        message: { id: String(++nextId), sessionId: m.room, userId, userName: userId, text, sentAt: new Date().toISOString() },
      });
      const members = rooms.get(m.room);
      if (members !== undefined) {
        for (const client of members) {
          if (client.readyState === 1) {
            client.send(frame);
          }
        }
      }
    }
  });
});

wss.on('listening', () => console.log(`listening ${port}`));
