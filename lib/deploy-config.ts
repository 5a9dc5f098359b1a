/**
 * The configuration as it is deployed: the validated file without `tenants` (tenants and API keys
 * never go into a template; keys are created with the admin CLI), serialised into one environment
 * variable that every function reads once at cold start.
 */
import type { SplitserveConfig } from '../lambda/core/config.ts';
import { parseDeployOptions, type DeployOptions } from './deploy-options.ts';
import { FUNCTION_ENV } from '../lambda/handlers/function-env-names.ts';
import { ConfigError } from '../lambda/core/errors.ts';

/** A validated configuration that may be deployed: no tenants, its `vpc` and `alarms` validated. */
export type DeployConfig = Omit<SplitserveConfig, 'tenants' | 'vpc' | 'alarms'> & DeployOptions;

/** Environment variable names the functions read (the store's table names are in TABLE_ENV). */
export { FUNCTION_ENV };

/** Lambda's limit on the total size of a function's environment variables (keys + values). */
export const LAMBDA_ENV_LIMIT_BYTES = 4096;

/**
 * Bytes kept for the other variables (table names, state machine ARN, Powertools settings) when
 * the config is measured on its own; their values are CloudFormation tokens at synth time.
 */
export const ENV_RESERVED_BYTES = 1024;

/**
 * Returns the deployable part of a validated config, its deploy-only blocks (`vpc`, `alarms`)
 * validated (lib/deploy-options.ts). A deploy rejects a config that lists tenants: they would end
 * up in the template in clear, API keys included.
 *
 * @throws ConfigError when `tenants` is not empty, or `vpc` or `alarms` is invalid
 * @example
 * const deploy = toDeployConfig(parseConfig(JSON.parse(text)));
 */
export function toDeployConfig(config: SplitserveConfig, source = 'config'): DeployConfig {
  if (config.tenants.length > 0) {
    throw new ConfigError(
      `${source} lists ${config.tenants.length} tenant(s): "tenants" is for local runs only and a deploy rejects it, ` +
        'because tenants and their API keys would be written into the CloudFormation template and the Lambda environment. ' +
        'Remove "tenants" from the file you deploy and create tenants and keys with the admin CLI (`splitserve admin`).',
    );
  }
  const { tenants: _tenants, vpc, alarms, ...rest } = config;
  const options = parseDeployOptions({ ...(vpc !== undefined ? { vpc } : {}), ...(alarms !== undefined ? { alarms } : {}) }, source);
  return { ...rest, ...options };
}

/**
 * Serialises a deploy config for the `SPLITSERVE_CONFIG` environment variable (compact JSON,
 * without `vpc` and `alarms`, which only the stack reads), failing when it would not fit Lambda's 4 KB environment
 * beside the other variables.
 *
 * @param maxBytes - the budget for this one variable's key and value
 * @throws ConfigError when the serialised config is larger than the budget
 */
export function serializeDeployConfig(config: DeployConfig, maxBytes = LAMBDA_ENV_LIMIT_BYTES - ENV_RESERVED_BYTES): string {
  const { vpc: _vpc, alarms: _alarms, ...forFunctions } = config;
  const json = JSON.stringify(forFunctions);
  const size = Buffer.byteLength(FUNCTION_ENV.config, 'utf8') + Buffer.byteLength(json, 'utf8');
  if (size > maxBytes) {
    throw new ConfigError(
      `the config is ${size} bytes as ${FUNCTION_ENV.config}, over the ${maxBytes}-byte budget ` +
        `(Lambda allows ${LAMBDA_ENV_LIMIT_BYTES} bytes of environment in total, ${LAMBDA_ENV_LIMIT_BYTES - maxBytes} are kept for the other variables). ` +
        'Shorten pool names or endpoint lists, or drop unused pools and models.',
    );
  }
  return json;
}

/**
 * Names of the pools that run on the built-in simulator, which only
 * exists in local runs (`npm start`): once deployed such a pool has no backend.
 */
export function simulatedPools(config: DeployConfig): string[] {
  return Object.entries(config.pools)
    .filter(([, pool]) => pool.simulate !== undefined)
    .map(([name]) => name);
}
