# syntax=docker/dockerfile:1
#
# One image for the five optex services (risk-assessor, approval, scheduler, executor, validator)
# and the optex CLI. OPTEX_SERVICE picks the service at run time; the build argument only sets its
# default. See deploy/README.md.
#
#   docker build -t optex:local .
#   docker run --rm -e OPTEX_SERVICE=executor -e OPTEX_STORE=esdb://… -e OPTEX_BUS=kafka://… optex:local
#   docker run --rm optex:local optex --help          # the CLI

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# build: install everything, compile with SWC into dist/, then drop the dev dependencies.
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles its native binding with node-gyp when no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY scripts ./scripts
COPY libs ./libs
COPY apps ./apps
RUN OPTEX_BUILD_QUIET=1 npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && test -f dist/apps/risk-assessor/src/main.js \
 && test -f dist/apps/optex/src/main.js

# ---------------------------------------------------------------------------------------------
# runtime: production node_modules, compiled code, examples (policy/fleet files), non-root.
FROM ${NODE_IMAGE} AS runtime
ARG OPTEX_SERVICE=risk-assessor
ENV NODE_ENV=production \
    OPTEX_SERVICE=${OPTEX_SERVICE} \
    OPTEX_HTTP_HOST=0.0.0.0 \
    OPTEX_HTTP_PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples ./examples
COPY deploy/docker/entrypoint.sh deploy/docker/healthcheck.cjs ./deploy/docker/
# The code stays owned by root (read-only for the service); only .optex/ (the SQLite store, when
# one is used instead of EventStoreDB) is writable by the `node` user (uid 1000) the image runs as.
RUN chmod 0755 deploy/docker/entrypoint.sh \
 && mkdir -p /app/.optex \
 && chown node:node /app/.optex
# Numeric (the `node` user of the base image) so that Kubernetes runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.cjs"]
# No arguments: exec node dist/apps/$OPTEX_SERVICE/src/main.js; `optex ARGS…`: the CLI. Setting an
# ENTRYPOINT clears the base image's CMD ["node"], so no CMD is needed.
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
