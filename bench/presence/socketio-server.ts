/**
 * The comparison server: the plain Socket.IO way to share cursors (what the best-known peer does),
 * every cursor event re-broadcast at once to everyone else in the board's room, no coalescing.
 * Runs as its own process so, like workerd, it does not share an event loop with the load. Prints
 * `listening PORT`; exits when its parent closes stdin, so it can never outlive the bench.
 */
import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });

io.on("connection", (socket) => {
  const board = String(socket.handshake.query.board ?? "default");
  void socket.join(board);
  socket.on("cursor", (cursor: { x: number; y: number }) => {
    socket.to(board).emit("cursor", { connectionId: socket.id, cursor });
  });
});

http.listen(0, "127.0.0.1", () => {
  const addr = http.address();
  process.stdout.write(`listening ${typeof addr === "object" && addr ? addr.port : 0}\n`);
});

const stop = () => {
  io.close();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.stdin.on("end", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
