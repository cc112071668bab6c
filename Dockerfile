# mqbench in a container: the CLI and the bundled broker, for sharded runs in Kubernetes (mqbench k8s, see
# docs/kubernetes.md) or any container runtime.
#
#   docker build -t mqbench:$(node -p "require('./package.json').version") .
#   docker run --rm -v "$PWD/reports:/app/reports" mqbench:0.1.0 run scenarios/qos2.yaml

# Build: the TypeScript sources compiled with the locked development dependencies.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The "prepare" script builds, and the sources are not copied yet: install only here, build below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY broker ./broker
COPY bench ./bench
RUN npm run build

# Runtime: production dependencies only, the compiled CLI and broker, an unprivileged user.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/broker ./dist/broker
COPY bin ./bin
COPY scenarios ./scenarios
# Where reports go by default (reports/<scenario>-<time>), writable by that user; mount a volume to keep them.
RUN mkdir reports && chown 1000:1000 reports
# The image's "node" user, by number, so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
ENTRYPOINT ["node", "/app/bin/mqbench.js"]
