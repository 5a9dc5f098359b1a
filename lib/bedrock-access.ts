/**
 * Bedrock permissions derived from the config: only the models a `bedrock` pool names, and nothing
 * at all when no pool speaks Bedrock.
 */
import { Aws } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { DeployConfig } from './deploy-config.ts';

/**
 * Bedrock actions the Bedrock backend needs: Converse is authorised as `bedrock:InvokeModel` and
 * ConverseStream as `bedrock:InvokeModelWithResponseStream`.
 */
export const BEDROCK_INVOKE_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'] as const;

/** Geographic prefixes of cross-region inference profile IDs (`us.meta.llama3-1-8b-…`). */
const INFERENCE_PROFILE_PREFIX = /^(us|eu|apac|us-gov|ca|jp|au|global)\.(.+)$/;

/**
 * ARNs of the models the config's Bedrock pools use. A foundation model ID maps to
 * `arn:aws:bedrock:<region>::foundation-model/<modelId>` in the pool's region (default: the
 * stack's). A cross-region inference profile ID (`us.…`) maps to the profile in this account and
 * to its foundation model in any region the profile may route to.
 *
 * @example
 * bedrockModelArns(config) // ['arn:${AWS::Partition}:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0']
 */
export function bedrockModelArns(config: DeployConfig): string[] {
  const arns = new Set<string>();
  for (const [poolName, pool] of Object.entries(config.pools)) {
    if (pool.protocol !== 'bedrock') continue;
    const region = pool.region ?? Aws.REGION;
    for (const modelId of bedrockModelIds(config, poolName)) {
      const profile = INFERENCE_PROFILE_PREFIX.exec(modelId);
      if (profile) {
        arns.add(`arn:${Aws.PARTITION}:bedrock:${region}:${Aws.ACCOUNT_ID}:inference-profile/${modelId}`);
        arns.add(`arn:${Aws.PARTITION}:bedrock:*::foundation-model/${profile[2]}`);
      } else {
        arns.add(`arn:${Aws.PARTITION}:bedrock:${region}::foundation-model/${modelId}`);
      }
    }
  }
  return [...arns];
}

/**
 * Bedrock model IDs a pool may be asked for: its `modelIds` values, and for every public model
 * served by the pool without a `modelIds` entry, its `upstreamModels` name or the public name.
 */
export function bedrockModelIds(config: DeployConfig, poolName: string): string[] {
  const pool = config.pools[poolName];
  if (!pool) return [];
  const ids = new Set(Object.values(pool.modelIds ?? {}));
  for (const [model, m] of Object.entries(config.models)) {
    if (!m.pools.includes(poolName) || pool.modelIds?.[model] !== undefined) continue;
    ids.add(pool.upstreamModels?.[model] ?? model);
  }
  return [...ids];
}

/**
 * Grants {@link BEDROCK_INVOKE_ACTIONS} on the configured models to each grantee; a no-op (no
 * statement at all) when the config has no Bedrock pool or the pools name no models.
 *
 * @returns the grants made (empty when none)
 */
export function grantBedrockInvoke(config: DeployConfig, grantees: readonly IGrantable[]): Grant[] {
  const resourceArns = bedrockModelArns(config);
  if (resourceArns.length === 0) return [];
  return grantees.map((grantee) => Grant.addToPrincipal({ grantee, actions: [...BEDROCK_INVOKE_ACTIONS], resourceArns }));
}
