/**
 * Access to the pools' upstream credentials derived from the config: `secretsmanager:GetSecretValue`
 * on exactly the secrets the pools name, `ssm:GetParameter` on exactly their parameters, and
 * `kms:Decrypt` only on the customer-managed keys they name (`kmsKeyArn`; the AWS-managed keys
 * need no grant), given to the functions that call pools. Nothing at all when no pool has `auth`.
 * A pool reading its credential from an environment variable cannot be deployed: the value would
 * have to be in the template, in clear.
 */
import { Stack, Token } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { PARAMETER_ARN_PATTERN } from '../lambda/core/config.ts';
import { ConfigError } from '../lambda/core/errors.ts';
import type { DeployConfig } from './deploy-config.ts';

/** What reading a secret takes (no `DescribeSecret`: the gateway only reads the value). */
export const SECRET_READ_ACTIONS = ['secretsmanager:GetSecretValue'] as const;
/** What reading a parameter takes (`WithDecryption` is authorised by the key policy and `kms:Decrypt`). */
export const PARAMETER_READ_ACTIONS = ['ssm:GetParameter'] as const;
/** What decrypting with a customer-managed key takes. */
export const KEY_DECRYPT_ACTIONS = ['kms:Decrypt'] as const;

/** The resources the pools' credentials are read from. */
export interface CredentialResources {
  readonly secretArns: readonly string[];
  readonly parameterArns: readonly string[];
  readonly kmsKeyArns: readonly string[];
}

/** Where one credential is read from (a pool's `auth`, or the workers' `secret`). */
export interface CredentialSource {
  readonly secretArn?: string | undefined;
  readonly parameter?: string | undefined;
  readonly kmsKeyArn?: string | undefined;
}

/**
 * The secrets, parameters and keys `sources` name. A parameter given by name is in the stack's
 * account and region (`arn:<partition>:ssm:<region>:<account>:parameter/<name>`).
 */
export function sourceResources(scope: Construct, sources: readonly (CredentialSource | undefined)[]): CredentialResources {
  const secrets = new Set<string>();
  const parameters = new Set<string>();
  const keys = new Set<string>();
  for (const source of sources) {
    if (!source) continue;
    if (source.secretArn !== undefined) secrets.add(source.secretArn);
    if (source.parameter !== undefined) {
      parameters.add(
        PARAMETER_ARN_PATTERN.test(source.parameter)
          ? source.parameter
          : Stack.of(scope).formatArn({ service: 'ssm', resource: 'parameter', resourceName: source.parameter.replace(/^\//, '') }),
      );
    }
    if (source.kmsKeyArn !== undefined) keys.add(source.kmsKeyArn);
  }
  return { secretArns: [...secrets], parameterArns: [...parameters], kmsKeyArns: [...keys] };
}

/**
 * The secrets, parameters and keys the config's pools name (their `auth`).
 *
 * @example
 * credentialResources(stack, config).secretArns; // ['arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/vllm-key-AbCdEf']
 */
export function credentialResources(scope: Construct, config: DeployConfig): CredentialResources {
  return sourceResources(scope, Object.values(config.pools).map((pool) => pool.auth));
}

/**
 * Refuses pools whose credential is an environment variable: deployed, it would have to be in the
 * template and the Lambda environment, in clear.
 *
 * @throws ConfigError naming each such pool
 */
export function assertDeployableCredentials(config: DeployConfig, source = 'config'): void {
  const pools = Object.entries(config.pools).filter(([, pool]) => pool.auth?.env !== undefined);
  if (pools.length === 0) return;
  throw new ConfigError(
    `${source}: ${pools.map(([name, pool]) => `pools.${name}.auth.env (${pool.auth!.env})`).join(', ')}: a credential read from an environment variable is for local runs only; ` +
      'deployed, the value would be written into the CloudFormation template and the Lambda environment in clear. ' +
      'Store it in Secrets Manager ("auth": { "secretArn": "<the secret\'s complete ARN>" }) or as an SSM SecureString ("auth": { "parameter": "/name" }).',
  );
}

/** The region field of an ARN (`arn:<partition>:<service>:<region>:…`). */
function regionOf(arn: string): string {
  return arn.split(':')[3] ?? '';
}

/** The services that decrypt the pools' credentials on the functions' behalf, in their regions (`kms:ViaService`). */
function viaServices({ secretArns, parameterArns }: CredentialResources): string[] {
  return [...new Set([...secretArns.map((a) => `secretsmanager.${regionOf(a)}.amazonaws.com`), ...parameterArns.map((a) => `ssm.${regionOf(a)}.amazonaws.com`)])];
}

/**
 * Refuses, when the functions run in a VPC, a secret or parameter (of a pool, or the workers'
 * shared secret) in another region than the stack's (when the stack's region is known at synth): the VPC's Secrets Manager and SSM
 * endpoints serve the stack's region only, and a VPC without a NAT has no other way out.
 *
 * @throws ConfigError naming each such credential
 */
export function assertCredentialsInRegion(scope: Construct, config: DeployConfig, source = 'config'): void {
  const region = Stack.of(scope).region;
  if (config.vpc === undefined || Token.isUnresolved(region)) return;
  const { secretArns, parameterArns } = sourceResources(scope, [...Object.values(config.pools).map((pool) => pool.auth), config.workers?.secret]);
  const elsewhere = [...secretArns, ...parameterArns].filter((arn) => !Token.isUnresolved(arn) && regionOf(arn) !== region);
  if (elsewhere.length === 0) return;
  throw new ConfigError(
    `${source}: ${elsewhere.join(', ')}: in another region than the stack's (${region}). With a "vpc" the functions reach Secrets Manager and SSM ` +
      "through the VPC's endpoints, which serve the stack's region only. Copy the credential into " + region + ' (Secrets Manager replicas work), or deploy the stack in its region.',
  );
}

/**
 * Grants each grantee read on exactly the credentials the pools name (see {@link credentialResources}).
 *
 * @returns the grants made (none when no pool names a secret or a parameter)
 */
export function grantUpstreamCredentials(scope: Construct, config: DeployConfig, grantees: readonly IGrantable[]): Grant[] {
  return grantCredentialReads(credentialResources(scope, config), grantees);
}

/**
 * Grants each grantee read on exactly `resources`: the secrets, the parameters, and `kms:Decrypt`
 * on the keys only when Secrets Manager or SSM asks for the decryption on the function's behalf
 * (a key may protect more than these credentials).
 */
export function grantCredentialReads(resources: CredentialResources, grantees: readonly IGrantable[]): Grant[] {
  const { secretArns, parameterArns, kmsKeyArns } = resources;
  const decryptVia = kmsKeyArns.length > 0 ? viaServices(resources) : [];
  const grants: Grant[] = [];
  for (const grantee of grantees) {
    if (secretArns.length > 0) grants.push(Grant.addToPrincipal({ grantee, actions: [...SECRET_READ_ACTIONS], resourceArns: [...secretArns] }));
    if (parameterArns.length > 0) grants.push(Grant.addToPrincipal({ grantee, actions: [...PARAMETER_READ_ACTIONS], resourceArns: [...parameterArns] }));
    if (kmsKeyArns.length > 0) grants.push(Grant.addToPrincipal({ grantee, actions: [...KEY_DECRYPT_ACTIONS], resourceArns: [...kmsKeyArns], conditions: { 'ForAnyValue:StringEquals': { 'kms:ViaService': decryptVia } } }));
  }
  return grants;
}
