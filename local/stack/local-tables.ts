/**
 * The template's DynamoDB tables as CreateTable inputs for the embedded store: key schema,
 * attribute definitions, billing mode and secondary indexes come from the resource's Properties;
 * what the embedded store cannot honour (encryption, point-in-time recovery, TTL expiry, deletion
 * protection) is left out.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { resourcesOfType } from './cloud-assembly.ts';
import type { CfnTemplate, TemplateResolver } from './template-resolver.ts';

/** A table of the template. */
export interface LocalTableDefinition {
  readonly logicalId: string;
  readonly input: CreateTableCommandInput;
}

type Props = Record<string, unknown>;

function index(raw: unknown): Props {
  const i = raw as Props;
  return {
    IndexName: i.IndexName,
    KeySchema: i.KeySchema,
    Projection: i.Projection ?? { ProjectionType: 'ALL' },
    ...(i.ProvisionedThroughput ? { ProvisionedThroughput: i.ProvisionedThroughput } : {}),
  };
}

/**
 * CreateTable inputs of every `AWS::DynamoDB::Table` of a template, with intrinsics resolved and
 * the local physical name (the `TableName` property, else the logical id).
 *
 * @example
 * const defs = tableDefinitionsFromTemplate(template, resolver);
 * await createTables(store.client, defs.map((d) => d.input));
 */
export function tableDefinitionsFromTemplate(template: CfnTemplate, resolver: TemplateResolver): LocalTableDefinition[] {
  return resourcesOfType(template, 'AWS::DynamoDB::Table').map(([logicalId, resource]) => {
    const p = resolver.resolve(resource.Properties ?? {}) as Props;
    const billing = (p.BillingMode as string | undefined) ?? 'PROVISIONED';
    const gsis = (p.GlobalSecondaryIndexes as unknown[] | undefined)?.map(index);
    const lsis = (p.LocalSecondaryIndexes as unknown[] | undefined)?.map(index);
    const input = {
      TableName: String(resolver.ref(logicalId)),
      KeySchema: p.KeySchema,
      AttributeDefinitions: p.AttributeDefinitions,
      BillingMode: billing,
      ...(billing === 'PROVISIONED' ? { ProvisionedThroughput: p.ProvisionedThroughput ?? { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } } : {}),
      ...(gsis?.length ? { GlobalSecondaryIndexes: gsis } : {}),
      ...(lsis?.length ? { LocalSecondaryIndexes: lsis } : {}),
    } as CreateTableCommandInput;
    return { logicalId, input };
  });
}
