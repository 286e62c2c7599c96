# rinse: the RTMP relay. Build: docker build -t rinse .
# Stage 1 builds the package (TypeScript -> dist) and packs it exactly as `npm pack` does;
# stage 2 installs that tarball with production dependencies only, on Node LTS slim with
# Debian's ffmpeg (found on PATH before the npm-packaged one).
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY web ./web
RUN npx tsc -p tsconfig.build.json && npm pack --ignore-scripts && mv rinse-*.tgz /rinse.tgz

FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /rinse.tgz /tmp/rinse.tgz
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts -g /tmp/rinse.tgz && rm /tmp/rinse.tgz \
 && mkdir -p /app/recordings && chown node:node /app/recordings
USER node
ENV NODE_ENV=production RINSE_RTMP_PORT=1935 RINSE_API_PORT=9997
EXPOSE 1935 1936 9997
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9997/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# tini forwards SIGTERM so the drain runs; the pod's grace period covers --drain-timeout-ms.
ENTRYPOINT ["/usr/bin/tini", "--", "rinse"]
CMD ["serve"]
