/**
 * A session whose network path dies without a FIN or RST hears nothing more, and nothing ends its
 * wait soon: statement_timeout cannot (the server's answer is what gets lost), and TCP keepalives
 * take about 12 minutes with Linux's defaults (Node sets only their first delay). So a query left
 * unanswered for `silenceMs` makes us ask whether the server answers a new connection: when it
 * does not within `probeTimeoutMs`, the session is given up (its socket destroyed) and the query
 * fails with ConnectionSilentError. When it does, the query is only slow (a long statement, a lock
 * wait): the wait goes on, and the question is asked again after another `silenceMs`.
 */
import type { Duplex } from 'node:stream';
import pg from 'pg';
import type { Database } from './database.ts';
import { ConnectionSilentError } from './errors.ts';

interface SilenceLimits {
  /** How long a query may go without a byte from the server before the server is asked. */
  readonly silenceMs: number;
  /** How long a new connection (and its SELECT 1) may take to prove the server answers. */
  readonly probeTimeoutMs: number;
}

/**
 * `db` (a session on `client`) whose queries fail with ConnectionSilentError once the session went
 * silent and the server no longer answers `config` either.
 */
export function watchForSilence(
  client: pg.Client,
  db: Database,
  config: pg.ClientConfig,
  limits: SilenceLimits,
  target: string,
): Database {
  const stream: Duplex = client.connection.stream;
  const pid = (client as unknown as { processID?: number | null }).processID ?? undefined;
  let lastHeard = Date.now();
  let pending = 0;
  let asking = false;
  let silent: ConnectionSilentError | undefined;

  const check = async () => {
    if (pending === 0 || asking || silent) return;
    const quietSince = lastHeard;
    if (Date.now() - quietSince < limits.silenceMs) return;
    asking = true;
    const failure = await serverFailsToAnswer(config, limits.probeTimeoutMs).finally(() => {
      asking = false;
    });
    // Answered, or the session spoke (or finished its queries) meanwhile: only slow.
    if (failure === undefined || lastHeard !== quietSince || pending === 0) {
      if (failure === undefined) lastHeard = Date.now();
      return;
    }
    silent = new ConnectionSilentError(target, Date.now() - quietSince, failure, pid);
    stream.destroy();
  };
  const timer = setInterval(check, Math.min(1000, Math.max(50, limits.silenceMs / 4)));
  timer.unref();
  stream.on('data', () => {
    lastHeard = Date.now();
  });
  stream.once('close', () => clearInterval(timer));

  return {
    query: async (text, values) => {
      if (pending === 0) lastHeard = Date.now();
      pending += 1;
      try {
        return await db.query(text, values);
      } catch (error) {
        throw silent ?? error;
      } finally {
        pending -= 1;
      }
    },
  };
}

/**
 * Undefined when the server answers a new connection within `timeoutMs` (an error from the server
 * itself, such as too many connections, is an answer); else what went wrong.
 */
async function serverFailsToAnswer(config: pg.ClientConfig, timeoutMs: number): Promise<string | undefined> {
  // No timeout of pg's own: the race below bounds connecting and the query alike.
  const probe = new pg.Client({
    ...config,
    connectionTimeoutMillis: 0,
    keepAlive: false,
    application_name: 'rds-migrate probe',
  });
  probe.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const noAnswer = new Promise<string>((done) => {
    timer = setTimeout(() => done(`no answer within ${Math.round(timeoutMs / 100) / 10} s`), timeoutMs);
  });
  const asked = probe
    .connect()
    .then(() => probe.query('SELECT 1'))
    .then(
      () => undefined,
      (error: { code?: string; message?: string }) =>
        /^[0-9A-Z]{5}$/.test(error.code ?? '') ? undefined : (error.message ?? String(error)),
    );
  const failure = await Promise.race([asked, noAnswer]);
  clearTimeout(timer);
  if (failure === undefined) probe.end().catch(() => undefined);
  else probe.connection.stream.destroy();
  return failure;
}
