/**
 * CDK app entry: reads the config file named by `-c config=<path>` (default
 * `splitserve.config.json` at the repository root), validates it and synthesizes the stack.
 *
 * Context keys:
 * - `config`: path of the config file. Without it, the bundled local config is synthesized with its
 *   (local-only) tenants left out, so `npx cdk synth` works on a fresh clone; a config named
 *   explicitly must not list tenants.
 * - `stackName`: stack name (default `Splitserve`).
 * - `stripTenants`: `true` drops `tenants` instead of rejecting them. For the local runtime only,
 *   which seeds tenants into its own tables and reads the synthesized template; a real deploy
 *   must never need it.
 * - `local`: `true` synthesizes for the local runtime (`npm start` passes it): the config's `vpc` is
 *   left out, pools at private (loopback) addresses are allowed, and so are pool credentials read
 *   from an environment variable (`auth: { env }`), which only the local runtime can read. A
 *   deploy must never set it.
 * - `nag`: `true` runs cdk-nag's AwsSolutions pack during synthesis; any unacknowledged finding
 *   stops the synth (the infrastructure test runs the same pack on every test run).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseConfig } from '../lambda/core/config.ts';
import { SplitserveStack } from '../lib/splitserve-stack.ts';

const app = new App();
const explicitConfig = app.node.tryGetContext('config') as string | undefined;
const configPath = resolve(String(explicitConfig ?? 'splitserve.config.json'));
if (!existsSync(configPath)) {
  throw new Error(`splitserve: config file ${configPath} not found; pass one with \`cdk synth -c config=path/to/config.json\``);
}
let raw: unknown;
try {
  raw = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (err) {
  throw new Error(`splitserve: ${configPath} is not valid JSON: ${(err as Error).message}`);
}
const parsed = parseConfig(raw, configPath);
const flag = (key: string): boolean => String(app.node.tryGetContext(key) ?? 'false') === 'true';
const stripTenants = flag('stripTenants') || explicitConfig === undefined;
if (explicitConfig === undefined && parsed.tenants.length > 0) {
  process.stderr.write(`splitserve: synthesizing the bundled local config ${configPath} without its tenants (local runs only); deploy with -c config=<file>\n`);
}
if (parsed.tenants.length > 0 && !stripTenants) {
  throw new Error(
    `splitserve: ${configPath} lists tenants, which a deploy rejects (their API keys would land in the template). ` +
      'Deploy a config without "tenants" (`-c config=path/to/deploy.json`) and create keys with `splitserve admin`; ' +
      'to synthesize a local-run config for the embedded runtime only, pass `-c stripTenants=true`.',
  );
}

new SplitserveStack(app, String(app.node.tryGetContext('stackName') ?? 'Splitserve'), {
  config: stripTenants ? { ...parsed, tenants: [] } : parsed,
  configSource: configPath,
  local: flag('local'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'splitserve: premium-tier inference gateway (API Gateway, Lambda, Step Functions Express, DynamoDB)',
});

if (flag('nag')) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
