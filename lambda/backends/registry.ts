/**
 * Protocol name → implementation. Adding a protocol is one file plus one line here.
 */
import type { BackendProtocols } from '../core/backend-ports.ts';
import { bedrock } from './bedrock.ts';
import { openaiCompatible } from './openai.ts';
import { sglang } from './sglang.ts';
import { vllmNixl } from './vllm-nixl.ts';

/** The protocols built into this version; a protocol absent here is rejected at start-up. */
export const BACKEND_PROTOCOLS: BackendProtocols = {
  'vllm-nixl': vllmNixl,
  openai: openaiCompatible,
  bedrock,
  sglang,
};
