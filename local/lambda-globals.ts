/**
 * The `awslambda` global of the Lambda Node.js runtime, for local runs and tests:
 * `streamifyResponse` returns the handler as is (it is always called as a streaming handler here), and `HttpResponseStream.from` writes the same
 * wire format as the real runtime (a JSON prelude with status and headers, then eight NUL bytes,
 * then the body), which local/apigw-emulator.ts decodes as API Gateway does. Like the real
 * runtime, the prelude goes out with the first `write()` (the runtime's `_onBeforeFirstWrite`
 * hook), not from `end(chunk)`: a handler that ends with a chunk and never writes loses its status
 * and headers in AWS, and here too.
 */
import type { Writable } from 'node:stream';

/** Separator between the prelude and the body. */
export const PRELUDE_DELIMITER = Buffer.alloc(8, 0);

const implementation = {
  streamifyResponse<T extends object>(handler: T): T {
    return handler;
  },
  HttpResponseStream: {
    from(stream: Writable, metadata: Record<string, unknown>): Writable {
      const prelude = Buffer.concat([Buffer.from(JSON.stringify(metadata)), PRELUDE_DELIMITER]);
      const write = stream.write as (this: Writable, ...args: unknown[]) => boolean;
      stream.write = function firstWrite(this: Writable, ...args: unknown[]): boolean {
        stream.write = write as Writable['write'];
        write.call(this, prelude);
        return write.apply(this, args);
      } as Writable['write'];
      return stream;
    },
  },
};

/**
 * Installs `awslambda.streamifyResponse` and `awslambda.HttpResponseStream` unless present. Merges
 * into an existing object: other libraries (Lambda's invoke store, loaded by Powertools) create a
 * partial `awslambda` global of their own.
 */
export function installLambdaGlobals(): void {
  const scope = globalThis as { awslambda?: Record<string, unknown> };
  const target = (scope.awslambda ??= {});
  target.streamifyResponse ??= implementation.streamifyResponse;
  target.HttpResponseStream ??= implementation.HttpResponseStream;
}
