# Builds any one service: docker build --build-arg SERVICE=chart-service -t chartwright/chart-service .
# SERVICE is one of gateway, chart-service, analysis-service, storage-service, quota-service,
# notification-service, outcome-service.
FROM node:22-bookworm-slim AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "--build-arg SERVICE=<service> is required" && exit 1)
RUN npm install -g pnpm@12.4.2
WORKDIR /repo
COPY . .
RUN pnpm install --frozen-lockfile
RUN pnpm turbo run build --filter="@chartwright/${SERVICE}..."
# A self-contained folder with the service, its built workspace packages and production deps.
RUN pnpm --filter "@chartwright/${SERVICE}" deploy --prod --legacy /out

FROM node:22-bookworm-slim
ARG SERVICE
ENV NODE_ENV=production
# DejaVu fonts: the built-in renderer draws text with them.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /out .
USER node
EXPOSE 3000
CMD ["node", "dist/main.js"]
