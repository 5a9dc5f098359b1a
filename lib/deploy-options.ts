/**
 * The deploy-only parts of the configuration file (docs/configuration.md, docs/deploy.md): where
 * the functions run (`vpc`) and where alarms go (`alarms`). The runtime config schema
 * (lambda/core/config.ts) keeps them opaque; they are validated here, at synth, by
 * {@link parseDeployOptions}. They are never sent to the functions and local runs ignore them.
 */
import * as z from 'zod/mini';
import '../lambda/core/zod.ts';
import { ConfigError } from '../lambda/core/errors.ts';

/**
 * AWS services the functions can reach through a VPC endpoint the stack creates: `dynamodb` is a
 * gateway endpoint (free), the others interface endpoints (billed per hour and AZ, docs/deploy.md).
 */
export const VPC_ENDPOINT_SERVICES = ['dynamodb', 'sync-states', 'bedrock-runtime', 'secretsmanager', 'ssm', 'logs', 'monitoring', 'xray'] as const;
/** One of {@link VPC_ENDPOINT_SERVICES}. */
export type VpcEndpointService = (typeof VPC_ENDPOINT_SERVICES)[number];

/** Lambda allows 5 security groups per function; the stack attaches up to 3 of its own. */
export const MAX_EXTRA_SECURITY_GROUPS = 2;

const id = (prefix: string) => z.string().check(z.regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `expected an id like ${prefix}-0123456789abcdef0`));

const endpoints = z.optional(
  z.array(z.enum(VPC_ENDPOINT_SERVICES)).check(z.refine((list) => new Set(list).size === list.length, 'lists a service twice')),
);

/** An existing VPC: the functions get network interfaces in `subnetIds`. */
const existingVpcSchema = z
  .strictObject({
    /** Absent (or `false`) for an existing VPC: the discriminator of {@link vpcSchema}. */
    create: z.optional(z.literal(false)),
    vpcId: id('vpc'),
    /** Private subnets the functions run in (one per AZ, two AZs or more for availability). */
    subnetIds: z.array(id('subnet')).check(z.minLength(1), z.maxLength(16)),
    /** Security groups added as they are to every function, beside the stack's own (e.g. one a pool's group admits). */
    securityGroupIds: z._default(z.array(id('sg')).check(z.maxLength(MAX_EXTRA_SECURITY_GROUPS)), []),
    /** Route tables of `subnetIds`: the DynamoDB gateway endpoint is added to them. Needed when `endpoints` has `dynamodb`. */
    routeTableIds: z.optional(z.array(id('rtb')).check(z.minLength(1))),
    /** Endpoints the stack creates. Default: the ones the stack needs (see docs/deploy.md); `[]` when the VPC has its own. */
    endpoints,
  })
  .check(
    z.superRefine((vpc, ctx) => {
      const wantsDynamo = vpc.endpoints === undefined || vpc.endpoints.includes('dynamodb');
      if (wantsDynamo && vpc.routeTableIds === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['routeTableIds'],
          message: 'the DynamoDB gateway endpoint goes into route tables: list the subnets\' "routeTableIds", or leave "dynamodb" out of "endpoints" when the VPC already has one',
        });
      }
    }),
  );

/** A VPC the stack creates: private subnets only, unless `natGateways` asks for public ones. */
const createdVpcSchema = z.strictObject({
  create: z.literal(true),
  /** The VPC's IPv4 range. */
  cidr: z._default(z.cidrv4(), '10.64.0.0/16'),
  /** Availability zones (one private subnet each). */
  maxAzs: z._default(z.int().check(z.minimum(1), z.maximum(6)), 2),
  /** NAT gateways, only needed for pools with public addresses (0: no internet route at all). */
  natGateways: z._default(z.int().check(z.minimum(0), z.maximum(6)), 0),
  /** Endpoints the stack creates. Default: the ones the stack needs (see docs/deploy.md). */
  endpoints,
});

/** `vpc`: run the functions in an existing VPC, or in one the stack creates. */
export const vpcSchema = z.discriminatedUnion('create', [existingVpcSchema, createdVpcSchema]);
/** A validated `vpc` block. */
export type VpcOptions = z.output<typeof vpcSchema>;
/** An existing VPC (`vpcId`, `subnetIds`, ...). */
export type ExistingVpcOptions = z.output<typeof existingVpcSchema>;
/** A VPC the stack creates (`create: true`, ...). */
export type CreatedVpcOptions = z.output<typeof createdVpcSchema>;

/** An SLO objective: the fraction of judged requests that must meet the tier's SLO (as a tier's `slo.objective`). */
const sloObjectiveSchema = z.number().check(z.minimum(0.5), z.maximum(0.99999));

/** `alarms`: where alarm notifications go, and the objective the burn-rate alarms defend. */
export const alarmsSchema = z
  .strictObject({
    /** An existing SNS topic the alarms notify. */
    topicArn: z.optional(z.string().check(z.regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'expected an SNS topic ARN'))),
    /** Create a topic (output `AlarmTopicArn`) and subscribe `emails` to it. */
    createTopic: z._default(z.boolean(), false),
    /** E-mail addresses subscribed to the created topic (each confirms by mail). */
    emails: z._default(z.array(z.email()), []),
    /** SLO objective of every tier without its own `slo.objective`. */
    objective: z._default(sloObjectiveSchema, 0.99),
  })
  .check(
    z.superRefine((alarms, ctx) => {
      if (alarms.topicArn !== undefined && alarms.createTopic) {
        ctx.addIssue({ code: 'custom', path: ['createTopic'], message: 'give either "topicArn" or "createTopic", not both' });
      }
      if (alarms.emails.length > 0 && !alarms.createTopic) {
        ctx.addIssue({ code: 'custom', path: ['emails'], message: '"emails" subscribe to a created topic: set "createTopic": true (subscribe to an existing topic outside the stack)' });
      }
    }),
  );
/** A validated `alarms` block. */
export type AlarmsOptions = z.output<typeof alarmsSchema>;

/** The validated deploy-only blocks of a config. */
export interface DeployOptions {
  readonly vpc?: VpcOptions;
  readonly alarms?: AlarmsOptions;
}

/**
 * Validates a config's `vpc` and `alarms` blocks (defaults filled in), throwing a
 * {@link ConfigError} that names every bad field by its path, as parseConfig does.
 *
 * @example
 * const { vpc, alarms } = parseDeployOptions({ vpc: config.vpc, alarms: config.alarms }, 'deploy.json');
 */
export function parseDeployOptions(blocks: { readonly vpc?: unknown; readonly alarms?: unknown }, source = 'config'): DeployOptions {
  const result = z.strictObject({ vpc: z.optional(vpcSchema), alarms: z.optional(alarmsSchema) }).safeParse(blocks);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new ConfigError(`invalid ${source}:\n${lines.join('\n')}`);
}
