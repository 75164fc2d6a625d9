# hubgate: build the TypeScript, then run on a slim Node 22 image with git and git-lfs.
# The `test` stage installs exactly what .ci/run installs (git, git-lfs, chromium, openssh-client, nginx, postgresql) and runs the
# suite: `docker build --target test .`. The runtime needs only git and git-lfs.

FROM node:22-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY lfs ./lfs
COPY xet ./xet
COPY hooks ./hooks
COPY bin ./bin
# npm ci compiles better-sqlite3 and runs `prepare` (tsc) into dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM build AS test
# PostgreSQL's binaries only: the tests start their own cluster (no default cluster is created).
RUN mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold git git-lfs chromium openssh-client nginx postgresql \
 && rm -rf /var/lib/apt/lists/*
COPY vitest.config.ts ./
COPY test ./test
COPY fixtures ./fixtures
COPY .ci ./.ci
RUN bash .ci/run

FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git git-lfs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/hooks ./hooks
RUN ln -s /app/bin/hubgate.js /usr/local/bin/hubgate \
 && useradd --system --create-home --home-dir /home/hubgate hubgate \
 && mkdir -p /data && chown hubgate:hubgate /data
USER hubgate
ENV HUBGATE_DATA_DIR=/data \
    HUBGATE_HOST=0.0.0.0 \
    HUBGATE_PORT=8080
VOLUME ["/data"]
EXPOSE 8080 2222
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.HUBGATE_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["hubgate", "serve"]
