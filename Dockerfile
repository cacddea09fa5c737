# faqbot chat service: multi-stage build, small non-root runtime, data on a volume.
#
#   docker build -t faqbot .
#   docker run -p 8080:8080 -v faqbot-data:/data faqbot
#   docker run --rm -v faqbot-data:/data faqbot advisor add Alice --data /data   # prints the token
#   docker run --rm -v faqbot-data:/data faqbot leads --data /data > leads.csv
#
# On PostgreSQL (several nodes, see docker-compose.yml) give the database's URL instead of a
# volume; every command takes it the same way, from the flag or the variable:
#   docker run -p 8080:8080 -e FAQBOT_STORAGE__DATABASE_URL=postgres://faqbot:SECRET@db:5432/faqbot faqbot
#   docker run --rm faqbot advisor add Alice --database postgres://faqbot:SECRET@db:5432/faqbot
#
# `docker stop` sends SIGTERM: the service stops accepting, closes every WebSocket with 1001 and
# checkpoints the database before exiting (give it `--stop-timeout 15` if sessions are many).

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so editing the code does not rebuild them.
COPY Cargo.toml Cargo.lock ./
# The C build settings (mimalloc's lazy commit), before anything is compiled.
COPY .cargo ./.cargo
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/matching.rs \
    && cargo build --release --locked \
    && rm -rf src benches
COPY src ./src
COPY benches ./benches
# Touch so cargo sees the real sources as newer than the placeholder build.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin faqbot

FROM debian:bookworm-slim
# ca-certificates: the webhook is called over HTTPS. tini: signals reach faqbot as PID 1's child.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 faqbot \
    && useradd --system --uid 10001 --gid faqbot --home-dir /app --shell /usr/sbin/nologin faqbot \
    && mkdir -p /data \
    && chown faqbot:faqbot /data
WORKDIR /app
COPY --from=build /src/target/release/faqbot /usr/local/bin/faqbot
# The knowledge page saves entries into faq/ (a temporary file, then a rename in the same
# folder), so the service's user must own the folders, not only read them. web/ stays root's:
# nothing writes there. Edits live in the container: mount faq/ and intents/ as volumes (or
# commit them to git) to keep them across image updates.
COPY --chown=faqbot:faqbot faq ./faq
COPY --chown=faqbot:faqbot intents ./intents
COPY web ./web
USER faqbot
VOLUME ["/data"]
EXPOSE 8080
ENV FAQBOT_SERVER__ADDR=0.0.0.0:8080 \
    FAQBOT_STORAGE__DATA_DIR=/data \
    RUST_LOG=info
# Health: GET /healthz (process up) and GET /readyz (knowledge loaded, database answering);
# point the orchestrator's probes at them (the slim image has no curl for a HEALTHCHECK).
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/faqbot"]
CMD ["serve"]
