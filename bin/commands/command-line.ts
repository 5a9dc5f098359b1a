/**
 * What the long-running commands (`start`, `sim`, `store`) share: port checks and running until
 * Ctrl-C or a termination signal.
 */

/** Whether `port` is a TCP port number (0 picks a free one). */
export function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

/** Resolves on the first SIGINT or SIGTERM, then stops listening for both. */
export function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
