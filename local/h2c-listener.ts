/**
 * One cleartext port for HTTP/1.1 and HTTP/2 (h2c with prior knowledge, what the AWS SDK's default
 * `NodeHttp2Handler` speaks to an `http://` endpoint): each connection's first bytes are peeked; the
 * HTTP/2 connection preface goes to an HTTP/2 server, anything else to the HTTP/1.1 server. Node's
 * `http2.createServer({ allowHTTP1 })` only falls back with TLS (ALPN), hence the sniff.
 *
 * HTTP/2 requests are handed to the HTTP/1.1 server's `request` listeners (the compatibility API's
 * request and response objects), so one handler, the access log and the drain serve both protocols.
 */
import { createServer as createHttp2Server } from 'node:http2';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { Duplex } from 'node:stream';

/** The HTTP/2 client connection preface (RFC 9113, section 3.4). */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** What {@link dualProtocolServer} returns: the listening socket server and the HTTP/2 side. */
export interface DualProtocolServer {
  /** Listens on the port; every accepted connection goes to one of the two protocol servers. */
  readonly net: NetServer;
  /** The HTTP/2 server (its requests are emitted on the HTTP/1.1 server). */
  readonly h2: Http2Server;
  /**
   * Sends GOAWAY on every HTTP/2 session (new streams are refused, streams in flight finish) and
   * closes the connections that have not yet sent enough to tell their protocol (no request yet).
   */
  closeIdleSessions(): void;
  /** Destroys every connection (HTTP/1.1, HTTP/2, and any still being sniffed) at once. */
  destroyConnections(): void;
}

/**
 * Whether `head` (a connection's first bytes) is, or may still become, the HTTP/2 preface:
 * true, false, or undefined while too few bytes have arrived to tell.
 */
export function isHttp2Preface(head: Buffer): boolean | undefined {
  const n = Math.min(head.length, HTTP2_PREFACE.length);
  if (head.subarray(0, n).compare(HTTP2_PREFACE, 0, n) !== 0) return false;
  return n === HTTP2_PREFACE.length ? true : undefined;
}

/**
 * Serves `h1` (an HTTP/1.1 server that is not listening itself) and HTTP/2 on one socket server;
 * an HTTP/2 session idle for `idleTimeoutMs` is closed (as `h1`'s keep-alive timeout does), and a
 * connection that has not sent enough to tell its protocol within `h1.headersTimeout` (60 s when
 * unset) is closed, as `h1` itself closes one whose request headers do not arrive in time.
 *
 * @example
 * const h1 = createServer(handler);
 * const { net } = dualProtocolServer(h1);
 * net.listen(8787, '127.0.0.1');
 */
export function dualProtocolServer(h1: HttpServer, idleTimeoutMs = 65_000): DualProtocolServer {
  const h2 = createHttp2Server();
  h2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => h1.emit('request', req, asServerResponse(res)));
  const sessions = new Set<Http2Session>();
  h2.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // An idle session is closed as an idle HTTP/1.1 keep-alive connection is (GOAWAY, then close).
    session.setTimeout(idleTimeoutMs, () => session.close());
  });
  const sockets = new Set<Socket>();
  /** Connections whose protocol is not known yet: they belong to neither server, nor its timeouts. */
  const sniffing = new Set<Socket>();
  const sniffTimeoutMs = h1.headersTimeout > 0 ? h1.headersTimeout : 60_000;
  // As node:http does for its own sockets: no Nagle delay, or each small write after the first
  // (an SSE chunk, the end of a chunked body) waits for the client's delayed ACK.
  const net = createNetServer({ noDelay: true }, (socket: Socket) => {
    sockets.add(socket);
    sniffing.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      sniffing.delete(socket);
    });
    socket.setTimeout(sniffTimeoutMs, () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const h2c = isHttp2Preface(head);
      if (h2c === undefined) return;
      sniffing.delete(socket);
      socket.setTimeout(0);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      if (h2c) {
        // The session is created synchronously for the connection; it is destroyed with its
        // socket (over a plain duplex, the session would not see the client's connection close).
        let session: Http2Session | undefined;
        const created = (s: Http2Session) => void (session = s);
        h2.once('session', created);
        h2.emit('connection', peekedSocket(socket, head));
        h2.off('session', created);
        socket.once('close', () => session?.destroy());
        return;
      }
      // The HTTP/1.1 parser reads what is buffered on the socket before what arrives next.
      socket.unshift(head);
      h1.emit('connection', socket);
      socket.resume();
    };
    const onError = () => socket.destroy();
    socket.on('data', onData);
    socket.on('error', onError);
  });
  return {
    net,
    h2,
    closeIdleSessions: () => {
      for (const session of sessions) session.close();
      for (const socket of sniffing) socket.destroy();
    },
    destroyConnections: () => {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * The HTTP/2 compatibility response, reading as a `node:http` response does where the adapters
 * tell a finished response from an abandoned one: `destroyed` once its stream is (the client went
 * away), and `writableFinished` only for a response that was ended and flushed (the compatibility
 * API reports a reset stream as finished).
 */
function asServerResponse(res: Http2ServerResponse): Http2ServerResponse {
  Object.defineProperties(res, {
    destroyed: { get: () => res.stream.destroyed },
    writableFinished: { get: () => res.writableEnded && res.stream.writableFinished },
  });
  return res;
}

/**
 * `socket` with `head` (bytes already read from it) in front, as a plain duplex stream. The HTTP/2
 * session reads a `net.Socket` from its native handle, past anything unshifted onto the stream;
 * over a plain duplex it reads through the stream, so it sees the peeked preface first.
 */
function peekedSocket(socket: Socket, head: Buffer): Duplex {
  const proxy = new Duplex({
    read: () => {
      socket.resume();
    },
    write: (chunk: Buffer, _encoding, callback) => {
      socket.write(chunk, callback);
    },
    final: (callback) => {
      socket.end(callback);
    },
    destroy: (err, callback) => {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  // Read by the HTTP/2 compatibility API (`req.socket.remoteAddress`), as on a socket.
  Object.defineProperties(proxy, {
    remoteAddress: { get: () => socket.remoteAddress },
    remotePort: { get: () => socket.remotePort },
    remoteFamily: { get: () => socket.remoteFamily },
    localAddress: { get: () => socket.localAddress },
    localPort: { get: () => socket.localPort },
  });
  proxy.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!proxy.push(chunk)) socket.pause();
  });
  socket.on('end', () => proxy.push(null));
  socket.on('error', (err) => proxy.destroy(err));
  socket.on('close', () => proxy.destroy());
  socket.setNoDelay(true);
  socket.resume();
  return proxy;
}
