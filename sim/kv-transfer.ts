/**
 * vLLM NIXL `kv_transfer_params` (docs/configuration.md, pool protocols) and SGLang bootstrap fields, as the
 * simulator reads and writes them. Pure: no I/O.
 */
import type { RequestKind } from './model.ts';
import type { SimRole } from './profiles.ts';

/** `kv_transfer_params` as vLLM's NIXL connector sends and answers it. */
export interface KvTransferParams {
  readonly do_remote_decode?: boolean;
  readonly do_remote_prefill?: boolean;
  readonly remote_block_ids?: readonly number[] | null;
  readonly remote_engine_id?: string | null;
  readonly remote_request_id?: string | null;
  readonly remote_host?: string | null;
  readonly remote_port?: number | null;
  readonly tp_size?: number;
}

/** True when the body carries SGLang PD bootstrap fields. */
export function hasBootstrapRoom(body: Record<string, unknown>): boolean {
  return body['bootstrap_room'] !== undefined && body['bootstrap_room'] !== null;
}

function kvParams(body: Record<string, unknown>): KvTransferParams | undefined {
  const kv = body['kv_transfer_params'];
  return kv && typeof kv === 'object' && !Array.isArray(kv) ? (kv as KvTransferParams) : undefined;
}

/** True when the body asks for a vLLM NIXL prefill (`do_remote_decode: true`). */
export function isNixlPrefill(body: Record<string, unknown>): boolean {
  return kvParams(body)?.do_remote_decode === true;
}

/**
 * What a call does on a server of `role`:
 * - `kv_transfer_params.do_remote_decode: true` → `prefill` (answer with KV params);
 * - `kv_transfer_params.do_remote_prefill: true` → `decode-remote` (pull or push mode);
 * - SGLang `bootstrap_room` → `prefill` on a prefill server, `decode-remote` on a decode server;
 * - otherwise `decode-recompute` on a decode server, `aggregated` elsewhere.
 *
 * @example
 * classifyRequest({ kv_transfer_params: { do_remote_decode: true } }, 'prefill'); // 'prefill'
 */
export function classifyRequest(body: Record<string, unknown>, role: SimRole): RequestKind {
  const kv = kvParams(body);
  if (kv?.do_remote_decode === true) return 'prefill';
  if (kv?.do_remote_prefill === true) return 'decode-remote';
  if (hasBootstrapRoom(body) && role !== 'both') return role === 'prefill' ? 'prefill' : 'decode-remote';
  return role === 'decode' ? 'decode-recompute' : 'aggregated';
}

/** What a prefill server knows when it builds its answer's `kv_transfer_params`. */
export interface KvAnswerInput {
  readonly engineId: string;
  readonly requestId: string;
  readonly host: string;
  readonly port: number;
  readonly firstBlockId: number;
  readonly blockCount: number;
  /** @default 1 */
  readonly tpSize?: number;
}

/** The top-level `kv_transfer_params` a vLLM prefill server adds to its answer. */
export function buildKvAnswer(input: KvAnswerInput): Required<KvTransferParams> {
  const ids: number[] = [];
  for (let i = 0; i < input.blockCount; i++) ids.push(input.firstBlockId + i);
  return {
    do_remote_prefill: true,
    do_remote_decode: false,
    remote_block_ids: ids,
    remote_engine_id: input.engineId,
    remote_request_id: input.requestId,
    remote_host: input.host,
    remote_port: input.port,
    tp_size: input.tpSize ?? 1,
  };
}
