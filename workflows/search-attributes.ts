import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes every Spacebot workflow carries, so runs can be found by agent,
 * platform, conversation, process type and parent in the Temporal UI and the list API. Defined here
 * so workflows (which start children) and the rest of the code share one definition.
 */
export const AGENT = defineSearchAttributeKey('SpacebotAgent', SearchAttributeType.KEYWORD);
export const PLATFORM = defineSearchAttributeKey('SpacebotPlatform', SearchAttributeType.KEYWORD);
export const CONVERSATION = defineSearchAttributeKey('SpacebotConversation', SearchAttributeType.KEYWORD);
export const PROCESS = defineSearchAttributeKey('SpacebotProcess', SearchAttributeType.KEYWORD);
export const PARENT = defineSearchAttributeKey('SpacebotParent', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [AGENT, PLATFORM, CONVERSATION, PROCESS, PARENT] as const;
