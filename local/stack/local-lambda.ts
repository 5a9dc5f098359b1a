/**
 * The template's Lambda functions, loaded in this process from their bundled assets (the
 * `index.mjs` esbuild wrote into the cloud assembly: what a deploy uploads), each in its own
 * module instance (its own "execution environment": module state such as cached clients is not
 * shared between functions, as in Lambda).
 *
 * Environment: all functions share `process.env`. Variables whose value is the same in every
 * function (the config, table names, Powertools settings…) are set once; the few that differ or
 * exist in some functions only (`POWERTOOLS_SERVICE_NAME`; `SPLITSERVE_STATE_MACHINE_ARN`, the
 * gateway's only) are set to the function's own values synchronously before its module is
 * evaluated and before each invocation, which is when the handlers read their environment (at
 * cold start, synchronously, before their first await).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { lambdaContext } from '../lambda-context.ts';
import type { AssemblyStack } from './cloud-assembly.ts';
import { functionAssetDir, resourcesOfType } from './cloud-assembly.ts';
import { LambdaTaskError } from './lambda-error.ts';
import type { TemplateResolver } from './template-resolver.ts';

/** Any exported handler. */
export type AnyHandler = (...args: never[]) => unknown;

/** A function of the template, loaded locally. */
export interface LocalFunction {
  readonly logicalId: string;
  /** Physical name (`Ref`). */
  readonly name: string;
  /** `arn:aws:lambda:local:000000000000:function:<name>`. */
  readonly arn: string;
  /** `Handler` property, e.g. `index.prefill`. */
  readonly handlerName: string;
  /** The bundle file loaded. */
  readonly file: string;
  /** Its environment (template values, resolved, plus the local overrides). */
  readonly environment: Readonly<Record<string, string>>;
  /** The exported handler, wrapped so each call runs with this function's environment. */
  readonly handler: AnyHandler;
  /**
   * Invokes a request/response handler as the Lambda service does: the event and the result pass
   * through JSON, `undefined` becomes `null`, and a throw becomes a {@link LambdaTaskError}.
   */
  invoke(event: unknown): Promise<unknown>;
}

/** Options of {@link loadLocalFunctions}. */
export interface LoadFunctionsOptions {
  readonly stack: AssemblyStack;
  readonly resolver: TemplateResolver;
  /**
   * Variables set in every function's environment on top of the template's (endpoints, region,
   * credentials, and the local config substitution).
   */
  readonly overrides: Readonly<Record<string, string>>;
  /**
   * A metrics sink handed to each function module that exports `observeLocally`
   * (lambda/handlers/local-metrics.ts), before its first invocation. @default none
   */
  readonly observe?: unknown;
}

/** Loaded functions and how to undo the environment changes. */
export interface LocalFunctions {
  readonly functions: readonly LocalFunction[];
  /** The function with this ARN or name (a version or alias qualifier is ignored). */
  find(arnOrName: string): LocalFunction | undefined;
  /** Restores `process.env` as it was before loading. */
  restoreEnvironment(): void;
  /**
   * Resolves when no invocation is running (or after `timeoutMs`): lets a streaming handler finish
   * what it does after its response ended (flushing usage records) before the store stops.
   */
  drain(timeoutMs: number): Promise<void>;
  /**
   * Calls each function module's `shutdown(drainMs)` export, where it has one (the gateway
   * function: refuse new requests, let the in-flight ones finish, end the rest with an error).
   */
  shutdown(drainMs: number): Promise<void>;
}

/**
 * The variables every locally loaded function gets on top of the template's: the local region,
 * placeholder credentials, and the endpoints of the local store and Step Functions.
 */
export function localFunctionOverrides(region: string, endpoints: { readonly dynamodb: string; readonly sfn: string }): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SFN: endpoints.sfn,
  };
}

function bundleFile(dir: string, handlerName: string): { file: string; exportName: string } {
  const dot = handlerName.lastIndexOf('.');
  const moduleName = handlerName.slice(0, dot);
  const exportName = handlerName.slice(dot + 1);
  for (const ext of ['.mjs', '.js', '.cjs']) {
    const file = join(dir, `${moduleName}${ext}`);
    if (existsSync(file)) return { file, exportName };
  }
  throw new Error(`handler ${handlerName}: no ${moduleName}.mjs/.js/.cjs in ${dir}`);
}

/** Splits per-function environments into the shared part and each function's own part. */
export function splitEnvironments(envs: ReadonlyArray<Readonly<Record<string, string>>>): {
  shared: Record<string, string>;
  differing: string[];
} {
  const keys = new Set(envs.flatMap((e) => Object.keys(e)));
  const shared: Record<string, string> = {};
  const differing: string[] = [];
  for (const key of keys) {
    const values = new Set(envs.map((e) => e[key]));
    const only = [...values][0];
    if (values.size === 1 && only !== undefined) shared[key] = only;
    else differing.push(key);
  }
  return { shared, differing };
}

/**
 * Loads every `AWS::Lambda::Function` of the stack from its bundle, after setting the
 * environment (see the module comment). Install the `awslambda` global first if a function is a
 * streaming handler.
 *
 * @example
 * const fns = await loadLocalFunctions({ stack, resolver, overrides: { AWS_REGION: 'local' } });
 * await fns.find('arn:aws:lambda:local:000000000000:function:Meter')?.invoke(state);
 */
export async function loadLocalFunctions(options: LoadFunctionsOptions): Promise<LocalFunctions> {
  const { stack, resolver } = options;
  const specs = resourcesOfType(stack.template, 'AWS::Lambda::Function').map(([logicalId, resource]) => {
    const props = resolver.resolve(resource.Properties ?? {}) as {
      Handler?: string;
      Environment?: { Variables?: Record<string, unknown> };
      Timeout?: number;
      MemorySize?: number;
    };
    const environment: Record<string, string> = {};
    for (const [k, v] of Object.entries(props.Environment?.Variables ?? {})) environment[k] = String(v);
    Object.assign(environment, options.overrides);
    return {
      logicalId,
      name: String(resolver.ref(logicalId)),
      arn: resolver.arnOf(logicalId),
      handlerName: props.Handler ?? 'index.handler',
      dir: functionAssetDir(stack, logicalId),
      environment,
      timeout: props.Timeout ?? 3,
      memory: props.MemorySize ?? 128,
    };
  });

  const { shared, differing } = splitEnvironments(specs.map((s) => s.environment));
  const saved = new Map<string, string | undefined>();
  for (const key of [...Object.keys(shared), ...differing]) saved.set(key, process.env[key]);
  const restoreEnvironment = () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  Object.assign(process.env, shared);
  const useEnvironmentOf = (env: Readonly<Record<string, string>>) => {
    for (const key of differing) {
      const value = env[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };

  const functions: LocalFunction[] = [];
  const shutdowns: Array<(drainMs: number) => unknown> = [];
  const load = randomUUID();
  const running = new Set<Promise<unknown>>();
  const track = <T>(value: T): T => {
    if (value instanceof Promise) {
      const settled = value.then(
        () => undefined,
        () => undefined,
      );
      running.add(settled);
      void settled.then(() => running.delete(settled));
    }
    return value;
  };
  try {
    for (const spec of specs) {
      const { file, exportName } = bundleFile(spec.dir, spec.handlerName);
      useEnvironmentOf(spec.environment);
      // One module instance per function and per load: the query makes the URL (the ESM cache
      // key) unique, so a second stack in the same process gets fresh cold starts.
      const url = `${pathToFileURL(file).href}?function=${encodeURIComponent(spec.logicalId)}&load=${load}`;
      const mod = (await import(url)) as Record<string, unknown>;
      const exported = mod[exportName];
      if (typeof exported !== 'function') throw new Error(`${spec.logicalId}: ${file} does not export a function "${exportName}"`);
      const original = exported as (...args: unknown[]) => unknown;
      if (typeof mod.shutdown === 'function') shutdowns.push(mod.shutdown as (drainMs: number) => unknown);
      if (options.observe !== undefined && typeof mod.observeLocally === 'function') (mod.observeLocally as (sink: unknown) => void)(options.observe);
      const handler = ((...args: unknown[]) => {
        useEnvironmentOf(spec.environment);
        return track(original(...args));
      }) as AnyHandler;
      functions.push({
        logicalId: spec.logicalId,
        name: spec.name,
        arn: spec.arn,
        handlerName: spec.handlerName,
        file,
        environment: spec.environment,
        handler,
        invoke: async (event) => {
          const payload = JSON.parse(JSON.stringify(event ?? null)) as unknown;
          let result: unknown;
          try {
            useEnvironmentOf(spec.environment);
            result = await track(original(payload, lambdaContext(spec, spec.timeout, spec.memory)));
          } catch (err) {
            throw LambdaTaskError.from(err);
          }
          return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
        },
      });
    }
  } catch (err) {
    restoreEnvironment();
    throw err;
  }

  const unqualified = (arnOrName: string) => {
    const parts = arnOrName.split(':');
    // arn:aws:lambda:region:account:function:name[:qualifier]
    if (parts[0] === 'arn') return parts.slice(0, 7).join(':');
    return parts[0] ?? arnOrName;
  };
  return {
    functions,
    find: (arnOrName) => {
      const key = unqualified(arnOrName);
      return functions.find((f) => f.arn === key || f.name === key);
    },
    restoreEnvironment,
    shutdown: async (drainMs) => {
      await Promise.all(shutdowns.map((shutdown) => Promise.resolve().then(() => shutdown(drainMs)).catch(() => undefined)));
    },
    drain: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (running.size > 0 && Date.now() < deadline) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(running), new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
        clearTimeout(timer);
      }
    },
  };
}
