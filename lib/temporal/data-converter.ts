import type { DataConverter } from '@temporalio/common';
import type { MasterKeys } from '../secrets/master-key.js';
import { AesGcmPayloadCodec } from './payload-codec.js';

/**
 * The data converter every Temporal client and Worker of this process uses. The codec is always
 * there (decode only unless `[temporal] encrypt_history`), so runs recorded while encryption was on
 * keep working after it is turned off. Codecs run outside the workflow sandbox: the bundle needs nothing.
 */
export function spacebotDataConverter(keys: MasterKeys, encryptHistory: boolean): DataConverter & { payloadCodecs: [AesGcmPayloadCodec] } {
  return { payloadCodecs: [new AesGcmPayloadCodec(keys, { encrypt: encryptHistory })] };
}
