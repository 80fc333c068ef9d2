# The `datafold` command-line tool in a small image that runs as a non-root
# user: `docker build -t datafold .`, then
# `docker run --rm -e DATAFOLD_API_KEY datafold audit-logs list --since 1h`.
#
# Stage 1 builds the release binary from the locked dependencies; stage 2 is
# distroless (glibc and CA certificates, no shell, no package manager), user
# 65532. The binary links glibc dynamically and everything else (rustls,
# zstd) statically, which is what the `cc` distroless image is for.

# The newest stable Rust on Debian 12, the same glibc as the runtime image.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# The manifests and the spec first, so that a change to the code alone does
# not fetch the dependencies again.
COPY Cargo.toml Cargo.lock build.rs ./
COPY openapi ./openapi
COPY xtask/Cargo.toml ./xtask/Cargo.toml
COPY src ./src
COPY xtask/src ./xtask/src
COPY examples ./examples
# A workspace member (the consumer test crate): cargo needs its manifest.
COPY tests/consumer ./tests/consumer
RUN cargo build --release --locked --features cli --bin datafold \
    && strip target/release/datafold

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/datafold /usr/local/bin/datafold
# follow's state and files go here (mount a volume).
WORKDIR /data
USER 65532:65532
# follow --metrics-addr 0.0.0.0:9464 serves /metrics and /healthz.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/datafold"]
CMD ["--help"]
