/**
 * The construct's log groups: one each for the migrations function, the Provider framework's
 * functions, the framework's waiter state machine and the background state machine, made here
 * rather than left to Lambda and Step Functions, so their retention, encryption and removal are
 * the user's to set and each role can be given its own group and no other.
 */
import {
  Annotations,
  ArnFormat,
  Aws,
  Fn,
  aws_iam as iam,
  type aws_kms as kms,
  aws_logs as logs,
  Names,
  RemovalPolicy,
  Stack,
  Token,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** Where the construct's functions and state machines log. */
export interface MigrationLogsOptions {
  /**
   * How long CloudWatch Logs keeps the events of every log group the construct makes.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly retention?: logs.RetentionDays;
  /**
   * A KMS key to encrypt the log groups with. The construct lets CloudWatch Logs of the stack's
   * region use it (for this account's log groups) when the key is defined in this app; the
   * policy of an imported key must allow that already.
   * @default - none: CloudWatch Logs' own encryption
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the log groups when the stack is deleted (or the construct removed).
   * @default RemovalPolicy.RETAIN: the record of what migrations did outlives the stack
   */
  readonly removalPolicy?: RemovalPolicy;
}

interface ResolvedLogs {
  readonly retention: logs.RetentionDays;
  readonly encryptionKey?: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

export function resolveLogs(options: MigrationLogsOptions | undefined): ResolvedLogs {
  return {
    retention: options?.retention ?? logs.RetentionDays.ONE_YEAR,
    encryptionKey: options?.encryptionKey,
    removalPolicy: options?.removalPolicy ?? RemovalPolicy.RETAIN,
  };
}

/** The construct's log groups, by what logs into them. */
export interface MigrationLogGroups {
  readonly function: logs.LogGroup;
  readonly provider: logs.LogGroup;
  readonly waiter: logs.LogGroup;
  readonly background: logs.LogGroup;
}

/**
 * Makes the four log groups. The state machines' groups are named under /aws/vendedlogs/, where
 * Step Functions' log delivery needs no entry in the account's CloudWatch Logs resource policy
 * (whose size is limited), and end with the stack's own id, so a stack created again after a
 * deletion that retained them does not collide with the old ones.
 */
export function migrationLogGroups(scope: Construct, options: ResolvedLogs): MigrationLogGroups {
  if (options.encryptionKey) letLogsUseKey(scope, options.encryptionKey);
  const group = (id: string, logGroupName?: string) =>
    new logs.LogGroup(scope, id, {
      logGroupName,
      retention: options.retention,
      encryptionKey: options.encryptionKey,
      removalPolicy: options.removalPolicy,
    });
  return {
    function: group('FunctionLogs'),
    provider: group('ProviderLogs'),
    waiter: group('WaiterLogs', vendedLogGroupName(scope, 'Waiter')),
    background: group('BackgroundLogs', vendedLogGroupName(scope, 'Background')),
  };
}

function vendedLogGroupName(scope: Construct, suffix: string): string {
  const name = Names.uniqueResourceName(scope, { maxLength: 200, separator: '-' });
  // arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>: a new uuid per stack.
  const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
  return `/aws/vendedlogs/states/${name}-${suffix}-${stackUuid}`;
}

/**
 * The ARNs that let a role write to `group`: the group itself (CreateLogStream) and its streams
 * (PutLogEvents). Built from the name, since the group's `Arn` attribute already ends in `:*`.
 */
export function logGroupWriteArns(scope: Construct, group: logs.ILogGroup): string[] {
  const arn = Stack.of(scope).formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: group.logGroupName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  return [arn, `${arn}:*`];
}

/**
 * CloudWatch Logs encrypts with the key as the regional service principal, only for log groups of
 * this account (the encryption context names the group). The group ARNs cannot be named: each
 * group refers to the key, so the key's policy referring to them would be a cycle.
 */
function letLogsUseKey(scope: Construct, key: kms.IKey): void {
  const stack = Stack.of(scope);
  const added = key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  if (!added.statementAdded) {
    const name = Token.isUnresolved(key.keyArn) ? key.node.path : key.keyArn;
    Annotations.of(scope).addWarningV2(
      'rds-migrate:logsKeyPolicy',
      `logs.encryptionKey ${name} is imported, so its policy cannot be changed here: it must let ` +
        `logs.<region>.amazonaws.com encrypt and decrypt with it, or the log groups cannot be created`,
    );
  }
}
