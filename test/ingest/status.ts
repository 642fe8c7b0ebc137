import { eventually, type Harness } from '../helpers/harness.js';

/** An ingestion as `GET /v1/agents/:agent/ingest/:id` shows it (the fields the tests read). */
export interface Ingestion {
  id: string;
  status: string;
  filename: string;
  chunksTotal: number | null;
  chunksDone: number;
  chunksSkipped: number;
  memoriesSaved: number;
  workflowId: string;
  error: string | null;
}

/** Polls the API until the ingestion `id` of agent main is done or failed. */
export function finishedIngestion(h: Harness, id: string, timeoutMs = 60_000): Promise<Ingestion> {
  return eventually(
    async () => {
      const res = await h.request('GET', `/v1/agents/main/ingest/${id}`);
      const ing = res.body.ingestion as Ingestion | undefined;
      return ing && (ing.status === 'done' || ing.status === 'failed') ? ing : undefined;
    },
    timeoutMs,
    `ingestion ${id} to finish`,
  );
}
