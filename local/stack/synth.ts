/**
 * Synthesizes the stack with the pinned CDK CLI (devDependency `aws-cdk` 2.x), offline, into a
 * cloud assembly the local runtime executes; skips the synth when nothing that shapes the
 * assembly has changed since the last one.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where cdk.json and node_modules live). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where `npm start` keeps its cloud assembly (gitignored through `.splitserve/`). */
export const DEFAULT_ASSEMBLY_DIR = join(REPO_ROOT, '.splitserve', 'cdk.out');

/** The CDK app command, as cdk.json runs it. */
export const CDK_APP_COMMAND = 'npx tsx bin/app.ts';

/** Folders and files whose content shapes the assembly (besides the config file). */
export const SYNTH_INPUTS = ['bin', 'lib', 'lambda', 'package-lock.json', 'cdk.json'] as const;

/** How often a running synth reports that it is still going. */
export const SYNTH_PROGRESS_MS = 5000;

/** Options of {@link synthesize}. */
export interface SynthOptions {
  /** The config file passed to the app as `-c config=<absolute path>`. */
  readonly configPath: string;
  /**
   * Output directory of the cloud assembly; the cache key is stored beside it (`<outDir>.hash`).
   * @default DEFAULT_ASSEMBLY_DIR
   */
  readonly outDir?: string;
  /**
   * Repository root (cdk.json, bin/, lib/, lambda/, node_modules).
   * @default REPO_ROOT
   */
  readonly repoRoot?: string;
  /**
   * Run aws-cdk-lib's built-in CloudFormation validation plugin (about 20 s of a 45 s synth on two
   * busy cores). A local run only executes the template, so it is skipped by default
   * (`CDK_VALIDATION=false` in the app's environment); a deploy still validates.
   * @default false
   */
  readonly validate?: boolean;
  /**
   * Synthesize even when the cache key matches.
   * @default false
   */
  readonly force?: boolean;
  /**
   * Progress lines: what the synth does, "still synthesizing (10.0 s)…" every
   * {@link SYNTH_PROGRESS_MS}, "synthesized the stack in 12.3 s …", or "using cached synth …".
   */
  readonly onProgress?: (message: string) => void;
}

/** What {@link synthesize} did. */
export interface SynthResult {
  /** The cloud assembly directory. */
  readonly outDir: string;
  /** Whether the previous assembly was reused. */
  readonly cached: boolean;
  /** The cache key (sha256 of the inputs and options). */
  readonly hash: string;
  /** Wall-clock milliseconds spent (hashing included). */
  readonly ms: number;
}

async function listFiles(root: string, path: string): Promise<string[]> {
  const full = join(root, path);
  if (!existsSync(full)) return [];
  const entries = await readdir(full, { withFileTypes: true, recursive: true }).catch(() => null);
  if (entries === null) return [path];
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .filter((p) => !p.split(/[\\/]/).includes('node_modules'));
}

/**
 * The cache key of a synth: sha256 over the config file's content, every file under bin/, lib/,
 * lambda/ (path and content), package-lock.json, cdk.json and the synth options.
 *
 * @example
 * const key = await synthCacheKey({ configPath: 'splitserve.config.json' });
 */
export async function synthCacheKey(options: Pick<SynthOptions, 'configPath' | 'repoRoot' | 'validate'>): Promise<string> {
  const root = options.repoRoot ?? REPO_ROOT;
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ app: CDK_APP_COMMAND, validate: options.validate ?? false, stripTenants: true, local: true }));
  hash.update('\0config\0');
  hash.update(await readFile(resolve(options.configPath)));
  const files = (await Promise.all(SYNTH_INPUTS.map((p) => listFiles(root, p)))).flat().sort();
  for (const file of files) {
    hash.update(`\0${file}\0`);
    hash.update(await readFile(join(root, file)));
  }
  return hash.digest('hex');
}

function runCdk(args: readonly string[], cwd: string, validate: boolean): Promise<void> {
  const cli = join(cwd, 'node_modules', 'aws-cdk', 'bin', 'cdk');
  if (!existsSync(cli)) return Promise.reject(new Error(`the pinned CDK CLI is missing (${cli}): run npm install`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The app command (`npx tsx …`) must run on the pinned Node 22, whatever node the system has.
    PATH: [join(cwd, 'node_modules', '.bin'), dirname(process.execPath), process.env.PATH ?? ''].join(':'),
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    // No credentials lookup on the instance metadata service (seconds of timeouts off EC2).
    AWS_EC2_METADATA_DISABLED: 'true',
    ...(validate ? {} : { CDK_VALIDATION: 'false' }),
  };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-16_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`cdk synth failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });
}

/**
 * Synthesizes the stack unless the assembly in `outDir` was made from the same inputs. Runs
 * `cdk synth --no-notices -q --no-lookups --app "npx tsx bin/app.ts" -c config=<abs> -c
 * stripTenants=true -c local=true -o <dir>` (local: no VPC, loopback pools allowed) with `CDK_DISABLE_CLI_TELEMETRY=true` and
 * `AWS_EC2_METADATA_DISABLED=true`: no network. The new assembly
 * is written to a temporary sibling and moved in place only when the synth succeeded.
 *
 * @example
 * const { outDir, cached } = await synthesize({ configPath: 'splitserve.config.json', onProgress: console.log });
 */
export async function synthesize(options: SynthOptions): Promise<SynthResult> {
  const outDir = resolve(options.outDir ?? DEFAULT_ASSEMBLY_DIR);
  await mkdir(dirname(outDir), { recursive: true });
  return withDirectoryLock(`${outDir}.lock`, () => synthesizeLocked(options, outDir));
}

/** How long a lock may be held before it is taken as left behind by a dead process. */
const STALE_LOCK_MS = 10 * 60_000;

/**
 * Runs `work` while holding a lock directory (mkdir is atomic), so two processes synthesizing
 * into the same folder take turns: the second then finds the first one's synth in the cache.
 */
async function withDirectoryLock<T>(lock: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const since = await stat(lock).then((st) => Date.now() - st.mtimeMs).catch(() => 0);
      if (since > STALE_LOCK_MS || Date.now() > deadline) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function synthesizeLocked(options: SynthOptions, outDir: string): Promise<SynthResult> {
  const started = performance.now();
  const root = options.repoRoot ?? REPO_ROOT;
  const hashFile = `${outDir}.hash`;
  const hash = await synthCacheKey({ ...options, repoRoot: root });
  const previous = await readFile(hashFile, 'utf8').catch(() => '');
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  if (!options.force && previous.trim() === hash && existsSync(join(outDir, 'manifest.json'))) {
    options.onProgress?.(`using cached synth (${relative(root, outDir) || outDir})`);
    return { outDir, cached: true, hash, ms: performance.now() - started };
  }
  options.onProgress?.('synthesizing stack… (first start, or a source or the config changed): the CDK app builds the template, esbuild bundles the functions');
  await mkdir(dirname(outDir), { recursive: true });
  const staging = `${outDir}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const args = [
    'synth',
    '--no-notices',
    '-q',
    '--no-lookups',
    '--app',
    CDK_APP_COMMAND,
    '-c',
    `config=${resolve(options.configPath)}`,
    '-c',
    'stripTenants=true',
    '-c',
    'local=true',
    '-o',
    staging,
  ];
  // A synth is silent for a while: say it is still going, with the time so far.
  const ticker = options.onProgress ? setInterval(() => options.onProgress!(`still synthesizing (${seconds()} s)…`), SYNTH_PROGRESS_MS) : undefined;
  try {
    await runCdk(args, root, options.validate ?? false);
    await rm(hashFile, { force: true });
    await rm(outDir, { recursive: true, force: true });
    await rename(staging, outDir);
    await writeFile(hashFile, `${hash}\n`);
  } finally {
    clearInterval(ticker);
    await rm(staging, { recursive: true, force: true });
  }
  options.onProgress?.(`synthesized the stack in ${seconds()} s (cached in ${relative(root, outDir) || outDir} for the next start)`);
  return { outDir, cached: false, hash, ms: performance.now() - started };
}
