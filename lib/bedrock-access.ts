/**
 * Access to Bedrock derived from the config: permissions on only the models a `bedrock` pool
 * names, and the Bedrock Runtime client at the version tested, shipped as a Lambda layer to the
 * functions that call Bedrock. Nothing at all when no pool speaks Bedrock.
 */
import { Aws } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Function as LambdaFunction, type LayerVersion } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { DeployConfig } from './deploy-config.ts';
import { buildModuleLayer, moduleLayer } from './module-layer.ts';

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
 * Grants {@link BEDROCK_INVOKE_ACTIONS} on the configured models to each grantee, and gives each
 * grantee that is a Lambda function the {@link bedrockClientLayer} (the functions keep
 * `@aws-sdk/client-bedrock-runtime` external and import it only on a Bedrock call). A no-op (no
 * statement, no layer) when the config has no Bedrock pool or the pools name no models.
 *
 * @returns the grants made (empty when none)
 */
export function grantBedrockInvoke(config: DeployConfig, grantees: readonly IGrantable[]): Grant[] {
  const resourceArns = bedrockModelArns(config);
  if (resourceArns.length === 0) return [];
  for (const grantee of grantees) {
    if (grantee instanceof LambdaFunction) grantee.addLayers(bedrockClientLayer(grantee));
  }
  return grantees.map((grantee) => Grant.addToPrincipal({ grantee, actions: [...BEDROCK_INVOKE_ACTIONS], resourceArns }));
}

/** The package the Bedrock backend imports (lambda/backends/bedrock-client.ts). */
export const BEDROCK_CLIENT_MODULE = '@aws-sdk/client-bedrock-runtime';

/** Construct id of the stack's one Bedrock client layer. */
const LAYER_ID = 'BedrockClientLayer';

/**
 * The content of the Bedrock client layer, built once per process from the installed
 * `@aws-sdk/client-bedrock-runtime` (the version the tests ran; lib/module-layer.ts).
 *
 * @returns the layer's root directory
 */
export function buildBedrockClientLayer(): string {
  return buildModuleLayer(BEDROCK_CLIENT_MODULE);
}

/**
 * The stack's Lambda layer with the Bedrock Runtime client at the version tested; created on
 * first use, one per stack. A newer client than the runtime's matters: Converse's `serviceTier`
 * is recent, and an older client drops it silently.
 *
 * @example
 * fn.addLayers(bedrockClientLayer(fn));
 */
export function bedrockClientLayer(scope: Construct): LayerVersion {
  return moduleLayer(scope, LAYER_ID, BEDROCK_CLIENT_MODULE);
}
