-- Hybrid recall speed (lib/memory/recall.ts, docs/memory.md "Recall"; measured by bench/recall.ts).

-- Full text: a GIN index with fastupdate (the default) appends new entries to a pending list that
-- every search scans linearly, until VACUUM — autovacuum on a server — merges it into the tree.
-- Embedded PGlite runs no autovacuum, so the list only empties when it reaches
-- gin_pending_list_limit (4 MB), and a text search over 10k memories spent ~8 ms scanning it instead
-- of ~0.2 ms in the tree. Memories are written one at a time, so inserting into the tree directly
-- costs little.
ALTER INDEX memories_tsv_idx SET (fastupdate = off);
SELECT gin_clean_pending_list('memories_tsv_idx'::regclass);

-- Recall's queries live in PL/pgSQL functions because PL/pgSQL keeps their plans for the session:
-- on PGlite, planning the recall statements cost more than running them (the graph query alone took
-- ~2 ms to plan), and every statement is a round trip through its single session.

-- The scope rule, for every recall and the memory context (also through visibleIn() in
-- lib/memory/visibility.ts): agent-wide memories, the user's (p_user) and the chat's (p_chat); a NULL
-- p_user / p_chat sees none of those. Inlined by the planner.
CREATE FUNCTION memory_visible(p_kind text, p_scope text, p_user text, p_chat text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_kind = 'agent' OR (p_kind = 'user' AND p_scope = p_user) OR (p_kind = 'chat' AND p_scope = p_chat);

-- Every edge the graph walk of a hybrid recall could follow: the edges touching the seeds and the
-- memories within p_hops - 1 steps of them (stepping onto visible memories only), with, for each
-- end, whether this recall may see it and its type (NULL when it is not this agent's). A superset of
-- what each hop of the walk reads, so the walk itself runs in memory (lib/memory/recall.ts).
--
-- The queries are shaped so that their plans cannot go wrong without statistics: PGlite runs no
-- autovacuum, so memory_edges (and memories) may never have been analyzed, and the planner then
-- guesses ~170 edges per memory. With a plain join it preferred reading every edge of the agent
-- through memory_edges_agent_idx, or hashing a sequential scan of memories (~15-30 ms at 10k
-- memories instead of ~0.5 ms). So edges are looked up per memory (LATERAL, by from_id through the
-- primary key and by to_id through memory_edges_to_idx), and memories by id = ANY (array).
-- Edges are not filtered by agent_id (which would offer memory_edges_agent_idx again): both ends of
-- an edge belong to its agent (lib/memory/store.ts), the seeds are this agent's, and an end that is
-- not this agent's memory would come back invisible, so the walk would not step on it.
CREATE FUNCTION memory_recall_edges(p_agent text, p_seeds uuid[], p_hops integer, p_user text, p_chat text)
RETURNS TABLE (from_id uuid, to_id uuid, type text, weight real, from_visible boolean, to_visible boolean, from_type text, to_type text)
LANGUAGE plpgsql STABLE
AS $body$
DECLARE
  nodes uuid[] := p_seeds;
  frontier uuid[] := p_seeds;
BEGIN
  FOR step IN 1 .. p_hops - 1 LOOP
    EXIT WHEN cardinality(frontier) = 0;
    frontier := ARRAY(
      SELECT m.id
        FROM memories m
       WHERE m.id = ANY (ARRAY(
               SELECT x.id
                 FROM unnest(frontier) AS f (id)
                 CROSS JOIN LATERAL (SELECT e.to_id AS id FROM memory_edges e WHERE e.from_id = f.id
                                     UNION ALL
                                     SELECT e.from_id FROM memory_edges e WHERE e.to_id = f.id) AS x))
         AND m.agent_id = p_agent AND memory_visible(m.scope_kind, m.scope_id, p_user, p_chat)
         AND m.id <> ALL (nodes));
    nodes := nodes || frontier;
  END LOOP;
  RETURN QUERY
    WITH walk_edges AS MATERIALIZED (
      SELECT DISTINCT x.from_id, x.to_id, x.type, x.weight
        FROM unnest(nodes) AS n (id)
        CROSS JOIN LATERAL (SELECT e.from_id, e.to_id, e.type, e.weight FROM memory_edges e WHERE e.from_id = n.id
                            UNION ALL
                            SELECT e.from_id, e.to_id, e.type, e.weight FROM memory_edges e WHERE e.to_id = n.id) AS x
    ),
    ends AS MATERIALIZED (
      SELECT m.id, m.type, memory_visible(m.scope_kind, m.scope_id, p_user, p_chat) IS TRUE AS visible
        FROM memories m
       WHERE m.id = ANY (ARRAY(SELECT w.from_id FROM walk_edges w UNION SELECT w.to_id FROM walk_edges w))
         AND m.agent_id = p_agent
    )
    SELECT w.from_id, w.to_id, w.type, w.weight, coalesce(f.visible, false), coalesce(t.visible, false), f.type, t.type
      FROM walk_edges w
      LEFT JOIN ends f ON f.id = w.from_id
      LEFT JOIN ends t ON t.id = w.to_id;
END
$body$;

-- The inputs of a hybrid recall's ranking, in one call (one round trip), as rows (signal, id, ...):
--   'vector': (id, value = cosine distance, ord) for the p_limit nearest memories to p_query
--             (skipped when NULL);
--   'text':   (id, value = ts_rank, ord) for the p_limit best full-text matches of p_tsquery
--             (websearch_to_tsquery syntax; skipped when NULL);
--   'seed':   (id, ord) the p_seeds best of the reciprocal rank fusion (constant p_k) of the two
--             lists, vector neighbours below p_min_similarity left out, ties in order of first
--             appearance (vector list, then text list) — what lib/memory/recall.ts computes too;
--   'edge':   one row of memory_recall_edges for those seeds (id = from_id), for the graph walk;
-- all within the agent, the visible scopes and p_types (NULL: any type). value is text so that each
-- arrives exactly as its own column type prints.
--
-- pgvector >= 0.8: an iterative scan (strict_order: results stay exactly ordered by distance) keeps
-- walking the HNSW graph until p_limit rows pass the agent/scope/type filter, instead of filtering
-- the first ef_search rows and returning what is left; ef_search = 50 then only sets the search
-- quality (it covers the default 50 candidates). Older pgvector has no iterative scans: ef_search =
-- 200 leaves room for the filter instead, as recall did before. The SET clauses hold while the
-- function runs.
DO $migration$
DECLARE
  iterative boolean := (
    SELECT string_to_array(split_part(extversion, '-', 1), '.')::int[] >= ARRAY[0, 8]
      FROM pg_extension WHERE extname = 'vector'
  );
BEGIN
  EXECUTE format($fn$
    CREATE FUNCTION memory_recall_candidates(
      p_agent text, p_query vector, p_tsquery text, p_limit integer, p_user text, p_chat text, p_types text[],
      p_min_similarity double precision, p_k integer, p_seeds integer, p_hops integer
    ) RETURNS TABLE (
      signal text, id uuid, value text, ord bigint,
      to_id uuid, edge_type text, weight real, from_visible boolean, to_visible boolean, from_type text, to_type text
    )
    LANGUAGE plpgsql STABLE
    %s
    AS $body$
    DECLARE
      vec_ids uuid[] := '{}';
      vec_distances double precision[] := '{}';
      text_ids uuid[] := '{}';
      text_ranks real[] := '{}';
      seeds uuid[];
    BEGIN
      IF p_query IS NOT NULL THEN
        SELECT coalesce(array_agg(v.id ORDER BY v.distance, v.id), '{}'), coalesce(array_agg(v.distance ORDER BY v.distance, v.id), '{}')
          INTO vec_ids, vec_distances
          FROM (SELECT m.id, m.embedding <=> p_query AS distance
                  FROM memories m
                 WHERE m.agent_id = p_agent AND m.embedding IS NOT NULL
                   AND memory_visible(m.scope_kind, m.scope_id, p_user, p_chat)
                   AND (p_types IS NULL OR m.type = ANY (p_types))
                 ORDER BY m.embedding <=> p_query
                 LIMIT p_limit) AS v;
      END IF;
      IF p_tsquery IS NOT NULL THEN
        SELECT coalesce(array_agg(t.id ORDER BY t.rank DESC, t.updated_at DESC, t.id), '{}'),
               coalesce(array_agg(t.rank ORDER BY t.rank DESC, t.updated_at DESC, t.id), '{}')
          INTO text_ids, text_ranks
          FROM (SELECT m.id, m.updated_at, ts_rank(m.tsv, q) AS rank
                  FROM memories m, websearch_to_tsquery('english', p_tsquery) AS q
                 WHERE m.agent_id = p_agent AND m.tsv @@ q
                   AND memory_visible(m.scope_kind, m.scope_id, p_user, p_chat)
                   AND (p_types IS NULL OR m.type = ANY (p_types))
                 ORDER BY rank DESC, m.updated_at DESC, m.id
                 LIMIT p_limit) AS t;
      END IF;
      RETURN QUERY
        SELECT 'vector', u.id, u.distance::text, u.ord, NULL::uuid, NULL::text, NULL::real, NULL::boolean, NULL::boolean, NULL::text, NULL::text
          FROM unnest(vec_ids, vec_distances) WITH ORDINALITY AS u (id, distance, ord)
        UNION ALL
        SELECT 'text', u.id, u.rank::text, u.ord, NULL, NULL, NULL, NULL, NULL, NULL, NULL
          FROM unnest(text_ids, text_ranks) WITH ORDINALITY AS u (id, rank, ord);
      IF p_hops < 1 OR p_seeds < 1 THEN
        RETURN;
      END IF;
      seeds := ARRAY(
        SELECT f.id
          FROM (SELECT u.id, 1::double precision / (p_k + u.ord) AS score, u.ord AS pos
                  FROM unnest(vec_ids, vec_distances) WITH ORDINALITY AS u (id, distance, ord)
                 WHERE 1 - u.distance >= p_min_similarity
                UNION ALL
                SELECT u.id, 1::double precision / (p_k + u.ord), cardinality(vec_ids) + u.ord
                  FROM unnest(text_ids) WITH ORDINALITY AS u (id, ord)) AS f
         GROUP BY f.id
         ORDER BY sum(f.score) DESC, min(f.pos)
         LIMIT p_seeds);
      IF cardinality(seeds) = 0 THEN
        RETURN;
      END IF;
      RETURN QUERY
        SELECT 'seed', s.id, NULL::text, s.ord, NULL::uuid, NULL::text, NULL::real, NULL::boolean, NULL::boolean, NULL::text, NULL::text
          FROM unnest(seeds) WITH ORDINALITY AS s (id, ord);
      RETURN QUERY
        SELECT 'edge', e.from_id, NULL::text, NULL::bigint, e.to_id, e.type, e.weight, e.from_visible, e.to_visible, e.from_type, e.to_type
          FROM memory_recall_edges(p_agent, seeds, p_hops, p_user, p_chat) AS e;
    END
    $body$
  $fn$,
  CASE WHEN iterative THEN 'SET hnsw.ef_search = 50 SET hnsw.iterative_scan = strict_order' ELSE 'SET hnsw.ef_search = 200' END);
END
$migration$;

-- The memories a recall returns, in one statement whose plans the session keeps (see above: loading
-- ten memories by id through a freshly planned SELECT or UPDATE cost about as much as the plain kNN
-- query). With p_touch their access stats are bumped, as the recall contract says. The embedding is
-- not returned, only whether there is one.
CREATE FUNCTION memory_load(p_agent text, p_ids uuid[], p_touch boolean)
RETURNS TABLE (
  id uuid, agent_id text, content text, type text, importance real, scope_kind text, scope_id text,
  source_channel text, source_message text, idempotency_key text, created_at timestamptz,
  updated_at timestamptz, last_accessed_at timestamptz, access_count integer, has_embedding boolean
)
LANGUAGE plpgsql VOLATILE
AS $body$
BEGIN
  IF p_touch THEN
    RETURN QUERY
      UPDATE memories m
         SET last_accessed_at = now(), access_count = m.access_count + 1
       WHERE m.id = ANY (p_ids) AND m.agent_id = p_agent
      RETURNING m.id, m.agent_id, m.content, m.type, m.importance, m.scope_kind, m.scope_id, m.source_channel,
                m.source_message, m.idempotency_key, m.created_at, m.updated_at, m.last_accessed_at, m.access_count,
                m.embedding IS NOT NULL;
  ELSE
    RETURN QUERY
      SELECT m.id, m.agent_id, m.content, m.type, m.importance, m.scope_kind, m.scope_id, m.source_channel,
             m.source_message, m.idempotency_key, m.created_at, m.updated_at, m.last_accessed_at, m.access_count,
             m.embedding IS NOT NULL
        FROM memories m
       WHERE m.id = ANY (p_ids) AND m.agent_id = p_agent;
  END IF;
END
$body$;
