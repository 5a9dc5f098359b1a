/**
 * Bedrock Runtime clients: one per (region, endpoint, timeout), created on first use
 * and reused by every later request. The SDK module is loaded with a dynamic `import()` on the
 * first Bedrock call, so a deployment or a route without Bedrock never loads it (the Lambda
 * bundles keep `@aws-sdk/client-bedrock-runtime` external; lib/bedrock-access.ts ships the tested
 * version in a layer).
 *
 * Credentials come from the SDK's default chain (Lambda's role, the environment, a profile), also
 * when the pool names an `endpoints` entry: that entry may be a VPC endpoint or LocalStack, which
 * need (or accept) real credentials. Tests set dummy `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';

/** What identifies a client. */
export interface BedrockClientKey {
  /** AWS region; undefined: the SDK's (`AWS_REGION`, as Lambda sets it). */
  readonly region?: string | undefined;
  /** Endpoint override (VPC endpoint, LocalStack, a test server); '' or undefined: the regional endpoint. */
  readonly endpoint?: string | undefined;
  /** Longest silence allowed on a request, in milliseconds. */
  readonly timeoutMs: number;
}

type BedrockSdk = typeof import('@aws-sdk/client-bedrock-runtime');

let sdk: Promise<BedrockSdk> | undefined;

/** The SDK module, imported once on first use. */
export function bedrockSdk(): Promise<BedrockSdk> {
  sdk ??= import('@aws-sdk/client-bedrock-runtime');
  return sdk;
}

/**
 * Caches Bedrock Runtime clients by {@link BedrockClientKey}. The SDK's own retries are off
 * (`maxAttempts: 1`): the plan's retry policy (lambda/core/plan-policy.ts) retries transient
 * failures and falls back, and two retry layers would multiply. The transport is the client's
 * default, HTTP/2 (`NodeHttp2Handler`; h2c for an `http://` endpoint), with concurrent streams
 * on one session (the SDK's fallback opens a session per request, a TLS handshake each time).
 */
export class BedrockClients {
  private readonly clients = new Map<string, Promise<BedrockRuntimeClient>>();

  /** The client for a key, created on first use. */
  get(key: BedrockClientKey): Promise<BedrockRuntimeClient> {
    const id = JSON.stringify([key.region ?? '', key.endpoint ?? '', key.timeoutMs]);
    let client = this.clients.get(id);
    if (!client) {
      client = bedrockSdk().then(
        ({ BedrockRuntimeClient: Client }) =>
          new Client({
            ...(key.region ? { region: key.region } : {}),
            ...(key.endpoint ? { endpoint: key.endpoint } : {}),
            maxAttempts: 1,
            requestHandler: { requestTimeout: key.timeoutMs, disableConcurrentStreams: false },
          }),
      );
      client.catch(() => this.clients.delete(id));
      this.clients.set(id, client);
    }
    return client;
  }

  /** Closes every client's connections. */
  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    for (const client of await Promise.allSettled(clients)) if (client.status === 'fulfilled') client.value.destroy();
  }
}
