/**
 * Captures what a command writes to stderr while it runs (tests of exit codes and messages).
 */
import { vi } from 'vitest';

/** Runs `run` with `process.stderr.write` captured; returns its result and everything written. */
export async function withStderr<T>(run: () => Promise<T>): Promise<{ readonly result: T; readonly written: string }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    const result = await run();
    return { result, written: chunks.join('') };
  } finally {
    spy.mockRestore();
  }
}
