/**
 * Reads a CDK cloud assembly (cdk.out): the manifest, the stack's template and the file assets,
 * so the local runtime can find each Lambda function's bundle the way a deploy publishes it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CfnTemplate, TemplateResource } from './template-resolver.ts';

/** A file asset of the assembly (a bundled Lambda directory, the template itself). */
export interface FileAsset {
  /** The asset hash (its id in the asset manifest). */
  readonly hash: string;
  /** Absolute path of the asset's source (a directory for `zip` packaging). */
  readonly path: string;
  readonly packaging: 'zip' | 'file';
  /** S3 object keys the deploy would publish it under. */
  readonly objectKeys: readonly string[];
}

/** One stack of a cloud assembly. */
export interface AssemblyStack {
  /** Absolute path of the assembly directory. */
  readonly directory: string;
  /** Artifact id (the stack name). */
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** File assets by hash. */
  readonly assets: ReadonlyMap<string, FileAsset>;
}

interface ManifestArtifact {
  readonly type: string;
  readonly properties?: { readonly templateFile?: string; readonly file?: string };
  readonly dependencies?: readonly string[];
}

interface AssetManifest {
  readonly files?: Record<string, {
    readonly source: { readonly path: string; readonly packaging?: string };
    readonly destinations?: Record<string, { readonly objectKey?: string }>;
  }>;
}

async function readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * Reads the one CloudFormation stack of the assembly in `directory` (or the one named
 * `stackName`), with its template and the file assets of its asset manifests.
 *
 * @example
 * const stack = await readCloudAssembly('.splitserve/cdk.out');
 * Object.keys(stack.template.Resources);
 */
export async function readCloudAssembly(directory: string, stackName?: string): Promise<AssemblyStack> {
  const manifest = await readJson<{ artifacts?: Record<string, ManifestArtifact> }>(join(directory, 'manifest.json'));
  const artifacts = manifest.artifacts ?? {};
  const stacks = Object.entries(artifacts).filter(([id, a]) => a.type === 'aws:cloudformation:stack' && (stackName === undefined || id === stackName));
  if (stacks.length !== 1) {
    throw new Error(`${directory}: expected one stack${stackName ? ` named ${stackName}` : ''}, found ${stacks.map(([id]) => id).join(', ') || 'none'}`);
  }
  const [id, artifact] = stacks[0]!;
  const templateFile = artifact.properties?.templateFile;
  if (!templateFile) throw new Error(`${directory}: stack ${id} has no templateFile`);
  const template = await readJson<CfnTemplate>(join(directory, templateFile));

  const assets = new Map<string, FileAsset>();
  const assetManifests = (artifact.dependencies ?? [])
    .map((dep) => artifacts[dep])
    .filter((a): a is ManifestArtifact => a?.type === 'cdk:asset-manifest' && a.properties?.file !== undefined);
  for (const a of assetManifests) {
    const files = (await readJson<AssetManifest>(join(directory, a.properties!.file!))).files ?? {};
    for (const [hash, entry] of Object.entries(files)) {
      assets.set(hash, {
        hash,
        path: join(directory, entry.source.path),
        packaging: entry.source.packaging === 'zip' ? 'zip' : 'file',
        objectKeys: Object.values(entry.destinations ?? {}).flatMap((d) => (d.objectKey ? [d.objectKey] : [])),
      });
    }
  }
  return { directory, stackName: id, template, assets };
}

/** Logical ids of the template's resources of one type, in template order. */
export function resourcesOfType(template: CfnTemplate, type: string): Array<[string, TemplateResource]> {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/**
 * The bundle directory of a Lambda function: its `Code.S3Key` matched against the asset
 * manifest's object keys (what the deploy uploads), else its `aws:asset:path` metadata.
 *
 * @throws Error when the function has inline code or no asset is found on disk
 */
export function functionAssetDir(stack: AssemblyStack, logicalId: string): string {
  const resource = stack.template.Resources[logicalId];
  const code = (resource?.Properties?.Code ?? {}) as { S3Key?: unknown; ZipFile?: unknown };
  if (code.ZipFile !== undefined) throw new Error(`${logicalId}: inline code (ZipFile) is not supported locally`);
  const key = typeof code.S3Key === 'string' ? code.S3Key : undefined;
  const byKey = key ? [...stack.assets.values()].find((a) => a.objectKeys.includes(key)) : undefined;
  const metaPath = resource?.Metadata?.['aws:asset:path'];
  const dir = byKey?.path ?? (typeof metaPath === 'string' ? join(stack.directory, metaPath) : undefined);
  if (!dir || !existsSync(dir)) throw new Error(`${logicalId}: no bundled asset found in ${stack.directory} (S3Key ${key ?? 'unset'})`);
  return dir;
}
