/**
 * The two DynamoDB tables (docs/architecture.md), keyed as lambda/store/table-schema.ts says.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CONFIG_TTL_ATTRIBUTE, TABLE_KEYS, USAGE_TTL_ATTRIBUTE } from '../lambda/store/table-schema.ts';

/** Properties of {@link Tables}. */
export interface TablesProps {
  /**
   * What happens to the Config table when it leaves the stack. It holds tenants and key hashes:
   * losing it locks every customer out, so it is kept unless you say otherwise.
   * @default RemovalPolicy.RETAIN
   */
  readonly configRemovalPolicy?: RemovalPolicy;
  /**
   * What happens to the Usage table when it leaves the stack. Its items are short-lived by design
   * (rate windows last minutes, metering records expire by TTL) and are rebuilt by traffic, so a
   * retained orphan would only keep costing; deleting a table that has point-in-time recovery on
   * still leaves a system backup for 35 days, which is the recovery route for metering records.
   * (CloudFormation has no `Snapshot` deletion policy for DynamoDB tables.)
   * @default RemovalPolicy.DESTROY
   */
  readonly usageRemovalPolicy?: RemovalPolicy;
}

/**
 * Config (tenants, key hashes, tier limits; read-mostly) and Usage (windows and metering records;
 * write-heavy, TTL on `expiresAt`). Both on-demand (traffic is bursty and unknown up front),
 * point-in-time recovery on, encrypted with the AWS managed key (`alias/aws/dynamodb`): the data
 * needs encryption at rest but no key policy of its own, and a customer managed key would add a
 * KMS call to the cold path and a key to administer without changing who can read the table
 * (IAM grants below already decide that).
 */
export class Tables extends Construct {
  /** Tenants, API key hashes, per-tenant limits. */
  public readonly config: ITable;
  /** Rate windows, token reservations, metering records. */
  public readonly usage: ITable;

  constructor(scope: Construct, id: string, props: TablesProps = {}) {
    super(scope, id);
    const common = {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
    } as const;
    this.config = new Table(this, 'Config', {
      ...common,
      // Registered workers lapse (lambda/store/worker-registry.ts); tenants and keys carry no expiresAt.
      timeToLiveAttribute: CONFIG_TTL_ATTRIBUTE,
      removalPolicy: props.configRemovalPolicy ?? RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
    this.usage = new Table(this, 'Usage', {
      ...common,
      timeToLiveAttribute: USAGE_TTL_ATTRIBUTE,
      removalPolicy: props.usageRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
  }
}
