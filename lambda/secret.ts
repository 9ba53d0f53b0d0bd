/**
 * The database credentials from the Secrets Manager secret RDS made. Errors name the secret and
 * the fields that are wrong, never a value: the text of a secret must not reach a log line or a
 * CloudFormation event.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RdsMigrateError } from '../lib/engine/errors.ts';
import { awsCallHint } from './aws-errors.ts';
import { isRecord, wholeNumberFrom } from './config.ts';

interface DatabaseCredentials {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly dbname: string;
}

class SecretError extends RdsMigrateError {
  override readonly name = 'SecretError';
}

export async function readCredentials(
  client: SecretsManagerClient,
  secretArn: string,
): Promise<DatabaseCredentials> {
  let text: string | undefined;
  try {
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    text = result.SecretString;
  } catch (error) {
    const { name, message } = error as { name?: string; message?: string };
    throw new SecretError(
      `cannot read secret ${secretArn}: ${name ?? 'Error'}: ${message ?? String(error)}${awsCallHint(error, 'Secrets Manager', 'secretsmanager')}`,
    );
  }
  if (text === undefined) {
    throw new SecretError(
      `secret ${secretArn} has no SecretString; store the credentials as JSON text, as RDS does`,
    );
  }
  return parseCredentials(secretArn, text);
}

/** Checks the secret's JSON; a parse error's message would quote the text, so it is never used. */
export function parseCredentials(secretArn: string, text: string): DatabaseCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretError(
      `secret ${secretArn} is not valid JSON; RDS stores {username, password, host, port, dbname}`,
    );
  }
  if (!isRecord(parsed)) throw new SecretError(`secret ${secretArn} is not a JSON object`);
  const wrong: string[] = [];
  const field = (key: string): string => {
    const value = parsed[key];
    if (typeof value === 'string' && value !== '') return value;
    wrong.push(key);
    return '';
  };
  const username = field('username');
  const password = field('password');
  const host = field('host');
  const port = portOf(parsed.port, wrong);
  const dbname = parsed.dbname === undefined ? 'postgres' : field('dbname');
  if (wrong.length > 0) {
    throw new SecretError(
      `secret ${secretArn} lacks valid ${wrong.join(', ')}; it needs username, password, host and port ` +
        '(strings; port a number), and optionally dbname',
    );
  }
  return { username, password, host, port, dbname };
}

function portOf(value: unknown, wrong: string[]): number {
  const port = wholeNumberFrom(value);
  if (Number.isInteger(port) && port > 0 && port < 65536) return port;
  wrong.push('port');
  return 0;
}
