/** Platform names the workflows branch on; kept here so workflow code imports no adapter module. */
export const WEBHOOK_PLATFORM = 'webhook';
