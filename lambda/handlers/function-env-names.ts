/**
 * Names of the environment variables of splitserve's Lambda functions: set by the CDK constructs
 * (lib/), read by lambda/handlers/function-env.ts. No imports, so synth loads no SDK for them.
 */

/** Names of the functions' own environment variables (table names: `TABLE_ENV` in the store). */
export const FUNCTION_ENV = {
  /** The deploy config (pools, models, tiers; never tenants or keys) as compact JSON. */
  config: 'SPLITSERVE_CONFIG',
  /** ARN of the orchestration state machine (gateway only). */
  stateMachineArn: 'SPLITSERVE_STATE_MACHINE_ARN',
} as const;
