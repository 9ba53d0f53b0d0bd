/**
 * The FAILED reason at CloudFormation's limits: one line (the Provider framework sends every line
 * of the stack after the first), at most MAX_REASON_CHARS characters, at most MAX_REASON_BYTES
 * bytes once JSON-escaped and UTF-8 encoded (a body over 4096 bytes is dropped), and the words a
 * reader of the stack's events gets. Pure: no database, no AWS.
 */
import { describe, expect, it } from 'vitest';
import {
  boundedLine,
  DeployFailed,
  deployFailure,
  jsonBytes,
  MAX_REASON_BYTES,
  MAX_REASON_CHARS,
  oneLine,
  withoutRowData,
  withoutStack,
} from '../../lambda/failure.ts';
import { MigrationFailed } from '../../lib/engine/errors.ts';

function bytesOf(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), 'utf8') - 2;
}

function migrationFailed(
  postgres: { code?: string; message: string },
  leftAt: string[] = [],
  hint?: string,
): MigrationFailed {
  const error = new MigrationFailed({
    revision: 'bbbb02',
    direction: 'up',
    source: '0002_add_email.sql',
    postgres,
    databaseLeftAt: leftAt,
  });
  return hint ? error.withHint(hint) : error;
}

describe('the FAILED reason on one line', () => {
  it('turns line breaks, tabs, other control characters and Unicode line separators into single spaces', () => {
    expect(oneLine('  first\r\nsecond\tthird\u0000fourth\u2028fifth\u2029sixth\u007f\u0085end  ')).toBe(
      'first second third fourth fifth sixth end',
    );
    expect(oneLine('a \n \n b')).toBe('a b');
  });

  it('leaves a stack of just the one line, so the framework adds nothing after the message', () => {
    const failure = new DeployFailed('relation "users" does not exist\n    at Runner.apply (runner.ts:1:1)');
    expect(failure.message).toBe('relation "users" does not exist at Runner.apply (runner.ts:1:1)');
    expect(failure.stack).toBe(`DeployFailed: ${failure.message}`);
    expect(failure.stack).not.toContain('\n');
    expect(failure.name).toBe('DeployFailed');
  });
});

describe('the FAILED reason at its character limit', () => {
  it(`keeps a message of exactly ${MAX_REASON_CHARS} characters whole`, () => {
    const text = 'x'.repeat(MAX_REASON_CHARS);
    expect(new DeployFailed(text).message).toBe(text);
  });

  it('cuts one character more to the limit, ending in ...', () => {
    const message = new DeployFailed(`${'x'.repeat(MAX_REASON_CHARS - 1)}yz`).message;
    expect(message).toBe(`${'x'.repeat(MAX_REASON_CHARS - 3)}...`);
    expect(message).toHaveLength(MAX_REASON_CHARS);
  });

  it('counts characters after the text is made one line', () => {
    const text = `${'x'.repeat(MAX_REASON_CHARS - 1)}\n\n\n`;
    expect(new DeployFailed(text).message).toBe('x'.repeat(MAX_REASON_CHARS - 1));
  });

  it('keeps characters JSON escapes in two bytes (quotes, backslashes) under the byte limit whole', () => {
    const text = '"\\'.repeat(MAX_REASON_CHARS / 2);
    expect(bytesOf(text)).toBe(2 * MAX_REASON_CHARS);
    expect(new DeployFailed(text).message).toBe(text);
  });
});

describe('the FAILED reason at its byte limit', () => {
  it('cuts three-byte text on a character, as many as fit with the ... in the bytes', () => {
    const message = new DeployFailed('€'.repeat(MAX_REASON_CHARS)).message;
    const fitting = Math.floor((MAX_REASON_BYTES - 3) / 3);
    expect(message).toBe(`${'€'.repeat(fitting)}...`);
    expect(bytesOf(message)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(bytesOf(`${'€'.repeat(fitting + 1)}...`)).toBeGreaterThan(MAX_REASON_BYTES);
  });

  it('never splits a character of four bytes (outside the BMP) in two', () => {
    const message = new DeployFailed(`migration failed: ${'😀'.repeat(700)}`).message;
    expect(bytesOf(message)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(message.endsWith('😀...')).toBe(true);
    expect(Buffer.from(message, 'utf8').toString('utf8')).toBe(message);
    expect(message.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
  });

  it('keeps a character outside the BMP earlier in the text when the cut falls elsewhere', () => {
    const message = new DeployFailed(`😀${'x'.repeat(2 * MAX_REASON_CHARS)}`).message;
    expect(message).toBe(`😀${'x'.repeat(MAX_REASON_CHARS - 5)}...`);
  });

  it('bounds text to the byte it is asked for, exactly at the edge', () => {
    expect(boundedLine('ab€', 5)).toBe('ab€');
    expect(boundedLine('ab€c', 5)).toBe('ab...');
    expect(boundedLine('€€€€', 9)).toBe('€€...');
    expect(boundedLine('€€€€', 8)).toBe('€...');
    expect(boundedLine('€€€€', 3)).toBe('...');
  });

  it('counts the bytes a JSON document spends on the text', () => {
    expect(jsonBytes('')).toBe(0);
    expect(jsonBytes('abc')).toBe(3);
    expect(jsonBytes('"')).toBe(2);
    expect(jsonBytes('é€😀')).toBe(2 + 3 + 4);
  });

  it('leaves room in the 4096-byte response for the ids, the Logs line and the JSON around the reason', () => {
    const reason = new DeployFailed(`${'ü'.repeat(600)}${'€'.repeat(600)}`).message;
    const body = JSON.stringify({
      Status: 'FAILED',
      Reason: `${reason}\n\nLogs: /aws/lambda/${'a'.repeat(64)}/${'b'.repeat(64)}`,
      StackId: `arn:aws:cloudformation:eu-west-1:123456789012:stack/${'s'.repeat(128)}/${'c'.repeat(36)}`,
      RequestId: 'r'.repeat(36),
      LogicalResourceId: 'l'.repeat(255),
      PhysicalResourceId: 'p'.repeat(255),
    });
    expect(bytesOf(reason)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(Buffer.byteLength(body, 'utf8')).toBeLessThan(4096);
  });
});

describe('a manual invoke failing', () => {
  it('keeps its own error and message, and gives it a one-line bounded stack', () => {
    const error = new TypeError(`bad\ninput ${'€'.repeat(2000)}`);
    const answered = withoutStack(error);
    expect(answered).toBe(error);
    expect(answered.message).toBe(`bad\ninput ${'€'.repeat(2000)}`);
    expect(answered.stack?.startsWith('TypeError: bad input €')).toBe(true);
    expect(answered.stack?.endsWith('€...')).toBe(true);
    expect(bytesOf(answered.stack?.slice('TypeError: '.length) ?? '')).toBeLessThanOrEqual(MAX_REASON_BYTES);
  });

  it('makes a thrown non-error a DeployFailed with its text', () => {
    const answered = withoutStack('plain text\nthrown');
    expect(answered).toBeInstanceOf(DeployFailed);
    expect(answered.message).toBe('plain text thrown');
  });
});

describe('what CloudFormation shows for a failure', () => {
  it('passes a DeployFailed through as it is', () => {
    const failure = new DeployFailed('already said');
    expect(deployFailure(failure, { snapshotId: 'snap-1' })).toBe(failure);
  });

  it('gives any other error its message, and the snapshot taken before the step when there is one', () => {
    expect(deployFailure(new Error('connect ETIMEDOUT')).message).toBe('connect ETIMEDOUT');
    expect(deployFailure(new Error('connect ETIMEDOUT'), { snapshotId: 'snap-1' }).message).toBe(
      'connect ETIMEDOUT (snapshot snap-1 was taken before this step)',
    );
    expect(deployFailure('thrown text').message).toBe('thrown text');
  });

  it('says a failed first migration left the database unchanged, at base, and that no snapshot was taken', () => {
    const error = migrationFailed({ code: '42P01', message: 'relation "users" does not exist' });
    expect(deployFailure(error, { from: [] }).message).toBe(
      'migration bbbb02 (0002_add_email.sql) failed up [42P01]: relation "users" does not exist. ' +
        'The database is unchanged, at base. No snapshot was taken (the snapshot policy took none). ' +
        'Fix the migration and deploy again.',
    );
  });

  it('says the database is unchanged when it is still where the deploy found it', () => {
    const error = migrationFailed({ message: 'syntax error at or near "TABEL"' }, ['aaaa01', 'cccc03']);
    expect(deployFailure(error, { from: ['aaaa01', 'cccc03'], snapshotId: 'rds-migrate-db-1' }).message).toBe(
      'migration bbbb02 (0002_add_email.sql) failed up: syntax error at or near "TABEL". ' +
        'The database is unchanged, at aaaa01, cccc03. Snapshot rds-migrate-db-1 holds the state before the deploy. ' +
        'Fix the migration and deploy again.',
    );
  });

  it('tells steps that committed before the failure apart from an unchanged database', () => {
    const error = migrationFailed({ code: '23505', message: 'duplicate key' }, ['aaaa01', 'dddd04']);
    expect(deployFailure(error, { from: ['zzzz00'] }).message).toBe(
      'migration bbbb02 (0002_add_email.sql) failed up [23505]: duplicate key. ' +
        'The database is at aaaa01, dddd04 (it was at zzzz00: the steps before this one committed). ' +
        'No snapshot was taken (the snapshot policy took none). Fix the migration and deploy again.',
    );
    expect(deployFailure(migrationFailed({ message: 'x' }, ['aaaa01']), { from: [] }).message).toContain(
      'The database is at aaaa01 (it was at base: the steps before this one committed).',
    );
  });

  it('says where the database is when the deploy did not say where it started', () => {
    const error = migrationFailed({ message: 'x' }, ['aaaa01']);
    expect(deployFailure(error).message).toContain('The database is unchanged, at aaaa01.');
  });

  it("ends with the migration's own hint, as a sentence, instead of the usual advice", () => {
    const error = migrationFailed({ message: 'lock timeout' }, [], 'run it outside business hours.');
    const message = deployFailure(error, { from: [] }).message;
    expect(message.endsWith(' Run it outside business hours.')).toBe(true);
    expect(message).not.toContain('Fix the migration');
  });

  it("cuts PostgreSQL's message at 300 characters, before where the database is", () => {
    const message = deployFailure(migrationFailed({ message: 'e'.repeat(301) }), { from: [] }).message;
    expect(message).toContain(`: ${'e'.repeat(297)}.... The database is unchanged`);
    const whole = deployFailure(migrationFailed({ message: 'e'.repeat(300) }), { from: [] }).message;
    expect(whole).toContain(`: ${'e'.repeat(300)}. The database is unchanged`);
  });
});

describe('row data kept out of the reason', () => {
  it('leaves out the value a data exception (class 22) quotes', () => {
    expect(withoutRowData('invalid input syntax for type integer: "+1 555 0100"', '22P02')).toBe(
      'invalid input syntax for type integer: (value left out: see the function log)',
    );
    expect(withoutRowData('value too long: "line one\nline two"', '22001')).toBe(
      'value too long: (value left out: see the function log)',
    );
  });

  it('leaves out a value quoted within the message, and one that holds quotes itself', () => {
    expect(withoutRowData('value "99999999999" is out of range for type integer', '22003')).toBe(
      'value (value left out: see the function log) is out of range for type integer',
    );
    expect(withoutRowData('invalid input syntax for type json: "say "hi" to bob"', '22P02')).toBe(
      'invalid input syntax for type json: (value left out: see the function log)',
    );
    expect(withoutRowData('value too long for type character varying(5)', '22001')).toBe(
      'value too long for type character varying(5)',
    );
  });

  it('keeps messages of other classes as PostgreSQL wrote them', () => {
    expect(withoutRowData('identifier too long: "abc"', '42622')).toBe('identifier too long: "abc"');
    expect(withoutRowData('relation "users" does not exist', '42P01')).toBe(
      'relation "users" does not exist',
    );
    expect(withoutRowData('no code: "x"', undefined)).toBe('no code: "x"');
  });

  it('applies to the migration failure CloudFormation shows', () => {
    const error = migrationFailed({
      code: '22P02',
      message: 'invalid input syntax for type integer: "secret"',
    });
    const message = deployFailure(error, { from: [] }).message;
    expect(message).not.toContain('secret');
    expect(message).toContain('integer: (value left out: see the function log). The database');
  });
});
