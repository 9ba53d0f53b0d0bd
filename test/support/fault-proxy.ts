/**
 * A TCP proxy between a client and the test server that fails the way networks do, on demand:
 * - `delay(ms)`: each new connection reaches the server only after `ms` (a database starting up,
 *   an Aurora Serverless cluster resuming from zero capacity);
 * - `blackhole()`: every connection, open or new, stays open and carries nothing more, either
 *   way, and is never closed: no FIN, no RST (a route that died, a failover that left the old
 *   address behind). A close on one side is not passed on: the other side keeps waiting;
 * - `reset()`: every open connection is destroyed on both sides with an RST.
 * `heal()` forwards again; the connections the blackhole swallowed are reset then, as TCP
 * keepalives or retransmission timeouts end them in time on a real network.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

type Mode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'blackhole' };

interface Pair {
  readonly client: Socket;
  upstream?: Socket;
  /** Swallowed by a blackhole: nothing is forwarded any more, and closes are not passed on. */
  dead: boolean;
}

export interface FaultProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string;
  delay(ms: number): void;
  blackhole(): void;
  reset(): void;
  heal(): void;
  /** The application_name of each connection's startup packet, in order (a probe names itself). */
  readonly applications: readonly string[];
  close(): Promise<void>;
}

/** A proxy on 127.0.0.1 to `target` (a PostgreSQL URL: its host and port are used). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port: targetPort } = new URL(target);
  const pairs = new Set<Pair>();
  let mode: Mode = { kind: 'pass' };
  const applications: string[] = [];

  const forget = (pair: Pair) => {
    if (pair.client.destroyed && (!pair.upstream || pair.upstream.destroyed)) pairs.delete(pair);
  };
  const wire = (pair: Pair, upstream: Socket, early: Buffer[]) => {
    pair.upstream = upstream;
    for (const chunk of early) upstream.write(chunk);
    pair.client.on('data', (chunk) => {
      if (!pair.dead) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!pair.dead) pair.client.write(chunk);
    });
    upstream.on('error', () => undefined);
    upstream.on('close', () => {
      if (!pair.dead) pair.client.destroy();
      forget(pair);
    });
    pair.client.on('close', () => {
      if (!pair.dead) upstream.destroy();
      forget(pair);
    });
  };

  const server: Server = createServer((client) => {
    const pair: Pair = { client, dead: mode.kind === 'blackhole' };
    pairs.add(pair);
    client.on('error', () => undefined);
    if (pair.dead) {
      client.on('close', () => forget(pair));
      return;
    }
    // What the client sends before the server is reached (its startup packet) goes first.
    const early: Buffer[] = [];
    const hold = (chunk: Buffer) => {
      if (early.length === 0) applications.push(applicationOf(chunk));
      early.push(chunk);
    };
    client.on('data', hold);
    const reach = () => {
      if (pair.dead || client.destroyed) return;
      const upstream = tcpConnect(Number(targetPort), hostname);
      upstream.once('connect', () => {
        client.off('data', hold);
        wire(pair, upstream, early);
      });
      upstream.once('error', () => client.destroy());
    };
    if (mode.kind === 'delay') setTimeout(reach, mode.ms);
    else reach();
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const resetAll = (which: (pair: Pair) => boolean) => {
    for (const pair of [...pairs]) {
      if (!which(pair)) continue;
      pair.dead = true;
      pair.client.resetAndDestroy();
      pair.upstream?.resetAndDestroy();
      pairs.delete(pair);
    }
  };

  return {
    port,
    url: (url) => {
      const rewritten = new URL(url);
      rewritten.hostname = '127.0.0.1';
      rewritten.port = String(port);
      return rewritten.toString();
    },
    delay: (ms) => {
      mode = { kind: 'delay', ms };
    },
    blackhole: () => {
      mode = { kind: 'blackhole' };
      for (const pair of pairs) pair.dead = true;
    },
    reset: () => resetAll(() => true),
    heal: () => {
      mode = { kind: 'pass' };
      resetAll((pair) => pair.dead);
    },
    get applications() {
      return applications;
    },
    close: async () => {
      resetAll(() => true);
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** application_name of a startup packet (length, protocol 3.0, then name and value pairs); '' if none. */
function applicationOf(packet: Buffer): string {
  if (packet.length < 8 || packet.readInt32BE(4) !== 196608) return '';
  const fields = packet.subarray(8).toString('utf8').split('\0');
  const at = fields.indexOf('application_name');
  return at >= 0 ? (fields[at + 1] ?? '') : '';
}
