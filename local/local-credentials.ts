/**
 * Pool credentials in local runs (`npm start`, both runtimes): only `auth: { env: "NAME" }`, read
 * from this process's environment. A pool naming a Secrets Manager secret or an SSM parameter is
 * refused at start, before anything runs: a local run has no AWS account (the stack runtime even
 * gives its functions placeholder AWS credentials), so such a pool could only fail on every call.
 * A variable that is not set is refused at start too, rather than at the first request.
 */
import type { SplitserveConfig } from '../lambda/core/config.ts';
import { ConfigError } from '../lambda/core/errors.ts';

/**
 * Checks that every pool credential, and the workers' shared secret, can be read locally.
 *
 * @throws ConfigError naming each pool whose `auth` needs AWS, or whose variable is not set
 * @example
 * assertLocalCredentials(config); // before starting the gateway
 */
export function assertLocalCredentials(config: SplitserveConfig, env: NodeJS.ProcessEnv = process.env): void {
  const problems: string[] = [];
  for (const [name, pool] of Object.entries(config.pools)) {
    const auth = pool.auth;
    if (!auth) continue;
    if (auth.secretArn !== undefined || auth.parameter !== undefined) {
      const field = auth.secretArn !== undefined ? 'secretArn' : 'parameter';
      problems.push(
        `  pools.${name}.auth.${field}: ${field === 'secretArn' ? 'Secrets Manager' : 'SSM Parameter Store'} needs AWS, which local runs do not call; ` +
          `locally use "auth": { "env": "NAME" } with the value in the environment variable NAME`,
      );
    } else if (auth.env !== undefined && !env[auth.env]) {
      problems.push(`  pools.${name}.auth.env: the environment variable ${auth.env} is not set`);
    }
  }
  const secret = config.workers?.secret;
  if (secret?.secretArn !== undefined || secret?.parameter !== undefined) {
    problems.push('  workers.secret: Secrets Manager and SSM need AWS, which local runs do not call; locally use "secret": { "env": "NAME" }');
  } else if (secret?.env !== undefined && !env[secret.env]) {
    problems.push(`  workers.secret.env: the environment variable ${secret.env} is not set`);
  }
  if (problems.length > 0) throw new ConfigError(`pool credentials that a local run cannot read:\n${problems.join('\n')}`);
}
