/**
 * The floor benchmark's only activity. It does nothing, so a floor round trip measures Temporal and
 * transport alone: scheduling, dispatching and completing one activity task, and nothing of ours.
 */
export async function floorNoop(messageId: string): Promise<string> {
  return messageId;
}
