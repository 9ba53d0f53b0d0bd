/**
 * Targets listed in an SSM parameter, read when the stack deploys (and rolls back): a JSON list,
 * in rollout order, of `{"name", "instance" | "cluster", "secret", "database"?}`. A list that is
 * not that, or that names a server outside the source's identifier patterns, is refused before
 * anything runs, with the entry and what to write; values of the list are never echoed beyond
 * names and identifiers (a SecureString list stays out of CloudFormation's events).
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { awsCallHint } from '../aws-errors.ts';
import { messageOf } from '../deploy/answers.ts';
import { DeployFailed } from '../failure.ts';
import { shortText } from '../input.ts';
import { type FleetTarget, type ParameterSource, TARGET_NAME } from './model.ts';

/** The shape of one entry, for the errors. */
const ENTRY_SHAPE =
  '{"name": "acme", "instance": "<instance identifier>" (or "cluster"), "secret": "<secret ARN>", "database": "<optional>"}';
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;
const KNOWN_FIELDS = new Set(['name', 'instance', 'cluster', 'secret', 'database']);

export async function listedTargets(ssm: SSMClient, source: ParameterSource): Promise<FleetTarget[]> {
  const text = await parameterValue(ssm, source.name);
  return parseTargetList(text, source);
}

async function parameterValue(ssm: SSMClient, name: string): Promise<string> {
  try {
    const answer = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return answer.Parameter?.Value ?? '';
  } catch (error) {
    const missing = (error as Error)?.name === 'ParameterNotFound';
    throw new DeployFailed(
      missing
        ? `the fleet's target list, SSM parameter ${name}, does not exist in this account and region: create it ` +
            `with a JSON list of ${ENTRY_SHAPE}; nothing was migrated`
        : `could not read the fleet's target list, SSM parameter ${name}: ${messageOf(error)}` +
            `${awsCallHint(error, 'SSM', 'ssm')}; nothing was migrated`,
    );
  }
}

/** The targets the list's text names, in its order, or a DeployFailed naming the first fault. */
function parseTargetList(text: string, source: ParameterSource): FleetTarget[] {
  const refuse = (fault: string): never => {
    throw new DeployFailed(
      `the fleet's target list, SSM parameter ${source.name}, ${fault}; nothing was migrated`,
    );
  };
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: a SecureString's content stays out of the error.
    refuse(`is not valid JSON: write a JSON list of ${ENTRY_SHAPE}`);
  }
  if (!Array.isArray(list)) return refuse(`must be a JSON list of ${ENTRY_SHAPE}, not a single value`);
  const allowed = source.servers.map(patternRegExp);
  return list.map((entry, index) => {
    const fault = (problem: string) => refuse(`entry ${index} ${problem}`);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return fault(`is not an object: write ${ENTRY_SHAPE}`);
    const fields = entry as Record<string, unknown>;
    const unknown = Object.keys(fields).filter((key) => !KNOWN_FIELDS.has(key));
    if (unknown.length > 0)
      fault(`has field ${shortText(unknown[0], 40)}, which a target does not take: write ${ENTRY_SHAPE}`);
    const name = fields.name;
    if (typeof name !== 'string' || !TARGET_NAME.test(name)) {
      fault(
        `has no valid "name": 1-80 letters, digits or . _ : / - (starting with a letter or digit); ` +
          'it is how status, errors and the rollback name the target',
      );
    }
    const label = `${index} (${name})`;
    const wrong = (problem: string) => refuse(`entry ${label} ${problem}`);
    if ((fields.instance === undefined) === (fields.cluster === undefined))
      wrong('must give "instance" or "cluster" (the server\'s identifier), one of the two');
    const kind = fields.instance === undefined ? 'cluster' : 'instance';
    const identifier = fields[kind];
    if (typeof identifier !== 'string' || !IDENTIFIER.test(identifier))
      wrong(`has "${kind}" ${shortText(identifier, 70)}, which is not an RDS identifier`);
    if (!allowed.some((pattern) => pattern.test(identifier as string))) {
      wrong(
        `names ${kind} ${identifier}, which is not among the servers this fleet may migrate ` +
          `(${source.servers.join(', ')}): add it to FleetTargets.fromParameter's servers, or correct the list`,
      );
    }
    if (typeof fields.secret !== 'string' || !SECRET_ARN.test(fields.secret))
      wrong('has no "secret": the ARN of the Secrets Manager secret it logs in with');
    const database = fields.database;
    if (database !== undefined && (typeof database !== 'string' || database === '' || database.length > 63))
      wrong('has a "database" that is not a database name (1-63 characters)');
    return {
      name: name as string,
      kind,
      identifier: identifier as string,
      secretArn: fields.secret as string,
      ...(database ? { database: database as string } : {}),
    };
  });
}

/** An identifier pattern (`*` for any characters) as RDS compares identifiers: case-insensitively. */
function patternRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i');
}
