/**
 * What the migrations read so far say about domains and sequences: which constraints a domain
 * carries (a column of it rewrites the table, a NOT NULL one fails on rows) and a sequence's
 * integer type (narrowing it fails past the new maximum). Learnt from up sections only, like
 * schema-knowledge.ts, which owns one.
 */
import type { Node } from 'libpg-query';
import { fromNameList, fromNames, fromRangeVar, RelationMap, type RelationName } from './relation-name.ts';

interface DomainFacts {
  readonly notNull: boolean;
  readonly check: boolean;
  readonly hasDefault: boolean;
}

/** The integer types a sequence can have, narrowest first. */
export const SEQUENCE_TYPES = ['int2', 'int4', 'int8'] as const;
export type SequenceType = (typeof SEQUENCE_TYPES)[number];

export class TypeFactsKnowledge {
  private readonly domains = new RelationMap<DomainFacts>();
  private readonly sequences = new RelationMap<SequenceType>();

  domain(name: RelationName): DomainFacts | undefined {
    return this.domains.get(name);
  }

  /** A sequence's integer type, when a migration created it (CREATE SEQUENCE defaults to bigint). */
  sequenceType(name: RelationName): SequenceType | undefined {
    return this.sequences.get(name);
  }

  learn(node: Node): void {
    if ('CreateDomainStmt' in node) this.createDomain(node.CreateDomainStmt);
    else if ('AlterDomainStmt' in node) this.alterDomain(node.AlterDomainStmt);
    else if ('CreateSeqStmt' in node && node.CreateSeqStmt.sequence) {
      const type = sequenceTypeOf(node.CreateSeqStmt.options) ?? 'int8';
      this.sequences.set(fromRangeVar(node.CreateSeqStmt.sequence), type);
    } else if ('AlterSeqStmt' in node && node.AlterSeqStmt.sequence) {
      const type = sequenceTypeOf(node.AlterSeqStmt.options);
      if (type) this.sequences.set(fromRangeVar(node.AlterSeqStmt.sequence), type);
    } else if ('DropStmt' in node) {
      for (const object of node.DropStmt.objects ?? []) {
        const name = fromNameList(object);
        if (!name) continue;
        if (node.DropStmt.removeType === 'OBJECT_DOMAIN') this.domains.delete(name);
        else if (node.DropStmt.removeType === 'OBJECT_SEQUENCE') this.sequences.delete(name);
      }
    }
  }

  private createDomain(statement: Extract<Node, { CreateDomainStmt: unknown }>['CreateDomainStmt']): void {
    const name = fromNames(statement.domainname);
    if (!name) return;
    const constraints = (statement.constraints ?? []).flatMap((node) =>
      'Constraint' in node ? [node.Constraint] : [],
    );
    this.domains.set(name, {
      notNull: constraints.some((constraint) => constraint.contype === 'CONSTR_NOTNULL'),
      check: constraints.some((constraint) => constraint.contype === 'CONSTR_CHECK'),
      hasDefault: constraints.some((constraint) => constraint.contype === 'CONSTR_DEFAULT'),
    });
  }

  private alterDomain(statement: Extract<Node, { AlterDomainStmt: unknown }>['AlterDomainStmt']): void {
    const name = fromNames(statement.typeName);
    const known = name ? this.domains.get(name) : undefined;
    if (!name || !known) return;
    if (statement.subtype === 'O') this.domains.set(name, { ...known, notNull: true });
    else if (statement.subtype === 'N') this.domains.set(name, { ...known, notNull: false });
    else if (statement.subtype === 'C') this.domains.set(name, { ...known, check: true });
    else if (statement.subtype === 'T')
      this.domains.set(name, { ...known, hasDefault: statement.def !== undefined });
  }
}

const INTEGER_NAMES: Record<string, SequenceType> = {
  int2: 'int2',
  smallint: 'int2',
  int4: 'int4',
  integer: 'int4',
  int: 'int4',
  int8: 'int8',
  bigint: 'int8',
};

/** The integer type a type name stands for: `integer` is `int4` and so on. */
export function integerType(name: string | undefined): SequenceType | undefined {
  return name === undefined ? undefined : INTEGER_NAMES[name];
}

/** The `AS type` of CREATE/ALTER SEQUENCE options. */
export function sequenceTypeOf(options: Node[] | undefined): SequenceType | undefined {
  for (const option of options ?? []) {
    if (!('DefElem' in option) || option.DefElem.defname !== 'as') continue;
    const arg = option.DefElem.arg;
    const type = arg && 'TypeName' in arg ? fromNames(arg.TypeName.names)?.name : undefined;
    return integerType(type);
  }
  return undefined;
}
