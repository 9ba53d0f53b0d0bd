/** Renames or drops and adds: the candidates, the flags that decide them, the questions, the names that follow. */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/engine/errors.ts';
import {
  type AskRename,
  decideRenames,
  type RenamePair,
  RenameUndecidedError,
  type TablesByName,
} from '../../lib/schema/rename-decisions.ts';
import { derivedName } from '../../lib/schema/rename-statements.ts';

const column = (name: string, type = 'text', notNull = false) => ({ name, type, notNull });
const tables = (entries: Record<string, ReturnType<typeof column>[]>): TablesByName =>
  new Map(Object.entries(entries));

const USERS = [
  column('id', 'bigint', true),
  column('email', 'text', true),
  column('name', 'character varying(20)'),
];
const POSTS = [
  column('id', 'bigint', true),
  column('user_id', 'bigint', true),
  column('title', 'text', true),
];

/** head has users with `name`; the wanted schema has `full_name` of the same type instead. */
const renamedColumn = {
  head: tables({ 'public.users': USERS }),
  wanted: tables({
    'public.users': [...USERS.slice(0, 2), column('full_name', 'character varying(20)', true)],
  }),
};

async function refusal(run: Promise<unknown>): Promise<RenameUndecidedError> {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(RenameUndecidedError);
  return error as RenameUndecidedError;
}

describe('rename candidates', () => {
  it('pairs a column that disappears with one of the same type that appears, whatever its nullability', async () => {
    const error = await refusal(decideRenames(renamedColumn, {}));
    expect(error.undecided).toEqual([
      { kind: 'column', fromTable: 'public.users', toTable: 'public.users', from: 'name', to: 'full_name' },
    ]);
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toContain('nothing was written');
    expect(error.message).toContain('--rename users.name=users.full_name');
    expect(error.message).toContain('--drop-add users.name=users.full_name');
  });

  it('leaves a column of another type to the diff: a drop and an add, with nothing to ask', async () => {
    const wanted = tables({ 'public.users': [...USERS.slice(0, 2), column('full_name', 'text')] });
    expect(await decideRenames({ head: renamedColumn.head, wanted }, {})).toEqual({
      renames: [],
      dropAdds: [],
    });
  });

  it('pairs tables with at least half of their columns in common, and not unrelated ones', async () => {
    const head = tables({
      'public.users': USERS,
      'public.posts': POSTS,
      'public.audit': [column('payload')],
    });
    const wanted = tables({
      'public.users': USERS,
      'public.articles': [...POSTS, column('published_at', 'timestamp with time zone')],
      'public.events': [column('kind'), column('at', 'timestamp with time zone')],
    });
    const error = await refusal(decideRenames({ head, wanted }, {}));
    expect(error.undecided).toEqual([{ kind: 'table', from: 'public.posts', to: 'public.articles' }]);
    expect(error.message).toContain('table posts disappears while articles appears with 3 of its 3 columns');
    expect(error.message).toContain('--rename posts=articles');
  });
});

describe('--rename and --drop-add', () => {
  it('renames a column written as table.old=table.new or table.old=new', async () => {
    for (const spec of [
      'users.name=users.full_name',
      'users.name=full_name',
      'public.users.name=public.users.full_name',
    ]) {
      const decided = await decideRenames(renamedColumn, { renames: [spec] });
      expect(decided.renames, spec).toEqual([
        { kind: 'column', fromTable: 'public.users', toTable: 'public.users', from: 'name', to: 'full_name' },
      ]);
    }
  });

  it('renames tables and columns of another schema, and a column of a renamed table', async () => {
    const head = tables({ 'billing.invoices': [column('id', 'bigint'), column('total', 'numeric')] });
    const wanted = tables({ 'billing.bills': [column('id', 'bigint'), column('amount', 'numeric')] });
    const decided = await decideRenames(
      { head, wanted },
      { renames: ['billing.invoices=bills', 'billing.invoices.total=billing.bills.amount'] },
    );
    expect(decided.renames).toEqual([
      { kind: 'table', from: 'billing.invoices', to: 'billing.bills' },
      {
        kind: 'column',
        fromTable: 'billing.invoices',
        toTable: 'billing.bills',
        from: 'total',
        to: 'amount',
      },
    ]);
  });

  it('writes a confirmed pair as a drop and an add', async () => {
    expect(await decideRenames(renamedColumn, { dropAdds: ['users.name=users.full_name'] })).toEqual({
      renames: [],
      dropAdds: [
        { kind: 'column', fromTable: 'public.users', toTable: 'public.users', from: 'name', to: 'full_name' },
      ],
    });
  });

  it('says what is wrong with a flag that names no such change', async () => {
    const cases: [string, string][] = [
      ['users.nme=users.full_name', 'table users has no column nme at head'],
      ['users.email=users.full_name', 'column email is still in users in the wanted schema'],
      ['users.name=users.nick', 'the wanted schema has no column users.nick'],
      ['users.name=people.full_name', 'a column stays in its table'],
      ['posts=articles', "head's schema has no table posts"],
      ['users.name', 'write old=new'],
    ];
    for (const [spec, problem] of cases) {
      await expect(decideRenames(renamedColumn, { renames: [spec] }), spec).rejects.toThrow(problem);
    }
  });
});

describe('in a terminal', () => {
  it('asks about each candidate, and a yes to one ends the questions about what appears', async () => {
    const head = tables({ 'public.users': [...USERS, column('nick', 'character varying(20)')] });
    const wanted = tables({
      'public.users': [...USERS.slice(0, 2), column('full_name', 'character varying(20)')],
    });
    const asked: string[] = [];
    const ask: AskRename = async (pair: RenamePair, question: string) => {
      asked.push(question);
      return pair.from === 'nick';
    };
    const decided = await decideRenames({ head, wanted }, {}, ask);
    expect(asked).toHaveLength(2);
    expect(asked[0]).toMatch(
      /^column users\.name disappears while users\.full_name \(character varying\(20\)\) appears\. Is it users\.name renamed to users\.full_name/,
    );
    expect(decided.renames).toEqual([
      { kind: 'column', fromTable: 'public.users', toTable: 'public.users', from: 'nick', to: 'full_name' },
    ]);
    expect(decided.dropAdds).toEqual([
      { kind: 'column', fromTable: 'public.users', toTable: 'public.users', from: 'name', to: 'full_name' },
    ]);
  });
});

describe('names that follow a rename', () => {
  it("follows the table's name as the prefix and the columns' as words between underscores", () => {
    const none = new Map<string, string>();
    expect(derivedName('posts_pkey', 'posts', 'articles', none)).toBe('articles_pkey');
    expect(derivedName('posts_user_id_fkey', 'posts', 'articles', none)).toBe('articles_user_id_fkey');
    const name = new Map([['name', 'full_name']]);
    expect(derivedName('users_name_idx', 'users', 'users', name)).toBe('users_full_name_idx');
    expect(derivedName('users_username_idx', 'users', 'users', name)).toBeUndefined();
    expect(derivedName('idx_custom', 'users', 'users', name)).toBeUndefined();
  });
});
