# Multi-stage build: compile in the Rust image, run in a slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin titanbridge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 titanbridge
WORKDIR /app
COPY --from=build /src/target/release/titanbridge /usr/local/bin/titanbridge
# Templates and the stylesheet are compiled into the binary; the catalogues stay editable.
COPY mappings ./mappings
USER titanbridge
ENV TITANBRIDGE_BIND=0.0.0.0:8080 TITANBRIDGE_MAPPINGS_DIR=/app/mappings TITANBRIDGE_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["titanbridge"]
CMD ["serve"]
