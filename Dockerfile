# Spacebot image: one image for every role.
#   API (default):  node dist/workers/api.js
#   worker:         node dist/workers/worker.js
#   tools service:  node dist/workers/tools.js   (needs only TEMPORAL_ADDRESS; see docs/security.md)
# Needs TEMPORAL_ADDRESS and DATABASE_URL (see docker-compose.yml / deploy/env.example): without
# them the app would try to start an embedded Temporal dev server and database, which this image
# does not carry.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript to dist/ -------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    SPACEBOT_HOST=0.0.0.0 \
    SPACEBOT_PORT=3000 \
    SPACEBOT_DATA_DIR=/data
WORKDIR /app

# bubblewrap: the sandbox every worker shell command runs in (docs/security.md#sandbox). Without it
# (or without user namespaces: see the Docker security options there) the worker is not offered a shell.
# util-linux: /usr/bin/prlimit sets each sandboxed command's rlimits (lib/sandbox/limits.ts).
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap util-linux \
 && rm -rf /var/lib/apt/lists/*

# Production dependencies only. `tsx` stays among them because `npm start` runs the TypeScript
# sources with it in development; the image never uses it (it runs the compiled dist/).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY prompts ./prompts
# The compiled code finds migrations/ and prompts/ beside package.json (lib/paths.ts); fail the build
# if either cannot be read from there.
RUN node --input-type=module -e " \
      import { readdirSync } from 'node:fs'; \
      import { MIGRATIONS_DIR, SHIPPED_PROMPTS_DIR } from './dist/lib/paths.js'; \
      for (const dir of [MIGRATIONS_DIR, SHIPPED_PROMPTS_DIR]) { \
        if (readdirSync(dir).length === 0) throw new Error('empty: ' + dir); \
        console.log('found', dir); \
      }" \
 && mkdir -p /data/agents && chown -R node:node /data

# /data/agents exists in the image so the spacebot-agents volume mounted there (docker-compose.yml)
# starts owned by node. The node user (uid 1000) comes with the base image; the app files stay
# root-owned and read-only.
USER node
EXPOSE 3000
CMD ["node", "dist/workers/api.js"]
