'use strict';
// The chat fan-out peer as many teams build it: Socket.IO 4, one room per live show, each chat message broadcast
// with io.to(room).emit (the adapter encodes the packet once and sends the same pre-encoded WebSocket frame to every
// member). WebSocket transport only (no long-polling), no per-message deflate (Socket.IO's default).
// Same messages as bench/peers/ws-broadcast, in Socket.IO's framing (Engine.IO v4, Socket.IO protocol v5):
//   client -> server  40{"room":"<id>"} (connect to "/" with the room in the auth payload)
//                     42["chat",{"room":"<id>","text":"..."}]       3 (pong, answering the server's ping 2)
//   server -> client  42["joined"]  42["chat",{id,sessionId,userId,userName,text,sentAt}]
// A chatter names itself in the query string (?user=...). Usage: node server.js PORT (prints "listening PORT").
const http = require('node:http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 8080);
let nextId = 0;

const server = http.createServer();
const io = new Server(server, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 16 * 1024 });

io.on('connection', (socket) => {
  const userId = typeof socket.handshake.query.user === 'string' ? socket.handshake.query.user : null;
  const room = socket.handshake.auth?.room;
  if (typeof room !== 'string') {
    socket.disconnect(true);
    return;
  }
  socket.join(room);
  socket.emit('joined');
  socket.on('chat', (m) => {
    if (userId === null || typeof m?.text !== 'string' || m.room !== room) {
      return;
    }
    const text = m.text.trim();
    if (text.length === 0 || text.length > 300) {
      return;
    }
    io.to(room).emit('chat', { id: String(++nextId), sessionId: room, userId, userName: userId, text, sentAt: new Date().toISOString() });
  });
});

server.listen({ host: '127.0.0.1', port, backlog: 1024 }, () => console.log(`listening ${port}`));
