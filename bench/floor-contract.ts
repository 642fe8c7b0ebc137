/**
 * The floor workflow's contract, in a module of its own (like workflows/channel-contract.ts) so the
 * bench driver imports the update definition without loading the workflow's body.
 */
import { defineUpdate } from '@temporalio/workflow';

export const FLOOR_WORKFLOW_TYPE = 'floorWorkflow';

export interface FloorMessageInput {
  messageId: string;
}

export interface FloorMessageResult {
  messageId: string;
  /** How many messages this run has answered, this one included. */
  handled: number;
}

export const floorMessageUpdate = defineUpdate<FloorMessageResult, [FloorMessageInput]>('floorMessage');

export function floorWorkflowId(conversationId: string): string {
  return `floor:${conversationId}`;
}
