/**
 * The `platform` part of a channel workflow id for an adapter instance: the kind alone for the
 * instance named "default" (channel:<agent>:discord:<conversation>), else `<kind>-<instance>`, so
 * two accounts on one platform never share a conversation key.
 */
export function platformKey(kind: string, instance: string): string {
  return instance === 'default' ? kind : `${kind}-${instance}`;
}
