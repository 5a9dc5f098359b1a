/**
 * What worker registration (docs/worker-registration.md) takes in the stack, least privilege:
 *
 * - the gateway function writes registrations: `dynamodb:UpdateItem` on the Config table, only
 *   on items whose partition key starts with `POOL#` (`dynamodb:LeadingKeys`), so it cannot
 *   touch a tenant or a key; it already reads the table;
 * - the prefill, decode and fallback functions discover workers: `dynamodb:Query` on the Config
 *   table, also only under `POOL#` (they read nothing else of it);
 * - the gateway function reads the shared secret (`workers.secret`): `secretsmanager:GetSecretValue`
 *   or `ssm:GetParameter` on exactly that secret or parameter, and `kms:Decrypt` on its
 *   customer-managed key through those services only. A secret read from an environment
 *   variable cannot be deployed (it would be in the template in clear).
 *
 * Nothing at all when no pool has `registration` (and no write or secret grant without
 * `workers.secret`). The REST API serves the registration routes under the same conditions
 * (lib/api.ts `WORKER_API_ROUTES`).
 */
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { ConfigError } from '../lambda/core/errors.ts';
import { CONFIG_KEYS } from '../lambda/store/config-items.ts';
import type { DeployConfig } from './deploy-config.ts';
import { grantCredentialReads, sourceResources } from './upstream-credentials.ts';

/** What writing a registration takes (register, heartbeat and deregister are each one UpdateItem). */
export const REGISTRATION_WRITE_ACTIONS = ['dynamodb:UpdateItem'] as const;
/** What discovering workers takes (one Query per pool). */
export const DISCOVERY_READ_ACTIONS = ['dynamodb:Query'] as const;

/** The pools that take registrations. */
export function registrationPools(config: Pick<DeployConfig, 'pools'>): string[] {
  return Object.entries(config.pools).filter(([, p]) => p.registration !== undefined).map(([name]) => name);
}

/** The condition that keeps a grant to the registered-worker items (partition keys `POOL#…`). */
function workerItemsOnly(): Record<string, Record<string, string[]>> {
  return { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${CONFIG_KEYS.poolPrefix}*`] } };
}

/**
 * Refuses a shared secret read from an environment variable: deployed, its value would be in the
 * template and the Lambda environment in clear.
 *
 * @throws ConfigError naming `workers.secret.env`
 */
export function assertDeployableWorkerSecret(config: Pick<DeployConfig, 'workers'>, source = 'config'): void {
  const env = config.workers?.secret.env;
  if (env === undefined) return;
  throw new ConfigError(
    `${source}: workers.secret.env (${env}): a secret read from an environment variable is for local runs only; deployed, the value would be written ` +
      'into the CloudFormation template and the Lambda environment in clear. Store it in Secrets Manager ("secretArn") or as an SSM SecureString ("parameter").',
  );
}

/** Properties of {@link grantWorkerRegistration}. */
export interface WorkerRegistrationGrantees {
  readonly configTable: ITable;
  /** The gateway function: answers the registration routes. */
  readonly gateway: IGrantable;
  /** The functions that select endpoints besides the gateway (the prefill, decode and fallback steps). */
  readonly discoverers: readonly IGrantable[];
}

/**
 * Grants what registration and discovery take (see the module's description).
 *
 * @returns the grants made (none when no pool takes registrations)
 */
export function grantWorkerRegistration(scope: Construct, config: Pick<DeployConfig, 'pools' | 'workers'>, grantees: WorkerRegistrationGrantees): Grant[] {
  if (registrationPools(config).length === 0) return [];
  const table = grantees.configTable.tableArn;
  const grants: Grant[] = [];
  if (config.workers) {
    grants.push(Grant.addToPrincipal({ grantee: grantees.gateway, actions: [...REGISTRATION_WRITE_ACTIONS], resourceArns: [table], conditions: workerItemsOnly() }));
    grants.push(...grantCredentialReads(sourceResources(scope, [config.workers.secret]), [grantees.gateway]));
  }
  for (const grantee of grantees.discoverers) {
    grants.push(Grant.addToPrincipal({ grantee, actions: [...DISCOVERY_READ_ACTIONS], resourceArns: [table], conditions: workerItemsOnly() }));
  }
  return grants;
}
