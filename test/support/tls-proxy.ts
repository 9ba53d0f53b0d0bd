/**
 * PostgreSQL over TLS in front of the suite's shared server (which has no TLS): answers the
 * client's SSLRequest with 'S', completes the TLS handshake with a certificate for 127.0.0.1, and
 * pipes the decrypted stream to the server. The deployed function verifies certificates as it does
 * against RDS, so a test that runs it needs a server it can verify: this one, with a CA it is given.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** The SSLRequest message: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

export interface TlsProxy {
  readonly port: number;
  close(): Promise<void>;
}

export async function startTlsProxy(options: {
  readonly target: { readonly host: string; readonly port: number };
  readonly cert: Buffer;
  readonly key: Buffer;
}): Promise<TlsProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.once('data', (first) => {
      if (!first.equals(SSL_REQUEST)) {
        client.destroy(new Error('the client did not ask for TLS'));
        return;
      }
      client.write('S');
      const secure = new TLSSocket(client, { isServer: true, cert: options.cert, key: options.key });
      const upstream = createConnection(options.target);
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      secure.pipe(upstream).pipe(secure);
      secure.on('error', () => upstream.destroy());
      upstream.on('error', () => secure.destroy());
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the TLS proxy has no port');
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((closed) => server.close(() => closed()));
    },
  };
}
