/**
 * cdk-nag acknowledgments for the `DatabaseMigrations` construct. cdk-nag 3 reports through
 * CDK's validation plugins, so findings are acknowledged with `Validations.of(scope)` by their
 * full id, in which CloudFormation references are spelled as cdk-nag flattens them.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges AwsSolutions findings on `scope` and below: `[ruleAndFinding, reason]` pairs. */
export function acknowledge(scope: IConstruct, ...findings: [string, string][]): void {
  for (const [finding, reason] of findings) {
    Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${finding}`, reason });
  }
}

/** A token (e.g. an ARN built from references) as cdk-nag spells it in a finding id. */
export function nagReference(scope: IConstruct, value: string): string {
  return flattenCfnReference(Stack.of(scope).resolve(value));
}

/**
 * A resolved CloudFormation value as one string: `Ref` becomes `<LogicalId>` (pseudo parameters
 * `<AWS::Region>`), `Fn::GetAtt` `<LogicalId.Attribute>`, `Fn::Join` is concatenated. The same
 * spelling as cdk-nag's own `flattenCfnReference`, which the package does not export.
 */
export function flattenCfnReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
  const object = node as Record<string, unknown>;
  if (Array.isArray(object['Fn::Join'])) {
    const [delimiter, items] = object['Fn::Join'] as [string, unknown[]];
    return items.map(flattenCfnReference).join(delimiter);
  }
  if (object['Fn::Sub'] !== undefined) return flattenCfnReference(object['Fn::Sub']);
  if (Array.isArray(object['Fn::GetAtt'])) {
    const [resource, attribute] = object['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenCfnReference(resource)}.${flattenCfnReference(attribute)}>`;
  }
  if (object['Fn::ImportValue'] !== undefined) return flattenCfnReference(object['Fn::ImportValue']);
  if (object.Ref !== undefined) return `<${flattenCfnReference(object.Ref)}>`;
  return JSON.stringify(node);
}
