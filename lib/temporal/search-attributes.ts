/**
 * Custom search attributes every Spacebot workflow carries, so runs can be found by agent,
 * platform, conversation, process type and parent in the Temporal UI and the list API.
 * The embedded dev server registers them at start; production registers them once with
 * `temporal operator search-attribute create` (see README).
 */
export { AGENT, PLATFORM, CONVERSATION, PROCESS, PARENT, ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';

/** `name=Type` pairs in the form the temporal CLI's `--search-attribute` flag takes. */
export function cliSearchAttributeFlags(): string[] {
  return ALL_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}
