import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { ConfigError } from '../../lambda/core/errors.ts';
import { assertLocalCredentials } from '../../local/local-credentials.ts';

const config = (auth: Record<string, unknown>) =>
  parseConfig({
    pools: {
      a: { protocol: 'openai', endpoints: ['http://127.0.0.1:1'], auth: { env: 'SS_LOCAL_A' } },
      b: { protocol: 'openai', endpoints: ['http://127.0.0.1:2'], auth },
      c: { protocol: 'openai', endpoints: ['http://127.0.0.1:3'] },
    },
    models: { m: { pools: ['a', 'b', 'c'] } },
    tiers: { default: { route: { mode: 'aggregated', pool: 'a' } } },
  });

describe('assertLocalCredentials', () => {
  it('accepts env credentials whose variables are set, and pools without auth', () => {
    expect(() => assertLocalCredentials(config({ env: 'SS_LOCAL_B' }), { SS_LOCAL_A: 'x', SS_LOCAL_B: 'y' })).not.toThrow();
  });

  it('refuses Secrets Manager and SSM credentials at start, saying to use env locally', () => {
    const secret = () => assertLocalCredentials(config({ secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf' }), { SS_LOCAL_A: 'x' });
    expect(secret).toThrow(ConfigError);
    expect(secret).toThrow(/pools\.b\.auth\.secretArn: Secrets Manager needs AWS, which local runs do not call; locally use "auth": \{ "env": "NAME" \}/);
    expect(() => assertLocalCredentials(config({ parameter: '/prod/k' }), { SS_LOCAL_A: 'x' })).toThrow(/pools\.b\.auth\.parameter: SSM Parameter Store needs AWS/);
  });

  it('names every variable that is not set', () => {
    expect(() => assertLocalCredentials(config({ env: 'SS_LOCAL_B' }), { SS_LOCAL_B: '' })).toThrow(
      'pool credentials that a local run cannot read:\n  pools.a.auth.env: the environment variable SS_LOCAL_A is not set\n  pools.b.auth.env: the environment variable SS_LOCAL_B is not set',
    );
  });
});
