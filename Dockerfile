# sysotel container image.
#
#   docker build -t sysotel .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/sysotel --push .
#   docker run --rm --privileged --pid=host \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/fs/bpf:/sys/fs/bpf \
#     -v /sys/fs/cgroup:/sys/fs/cgroup:ro sysotel
#
# The build stage installs the toolchain the project's own setup installs
# (Debian's llvm-22-dev, the pinned nightly with rust-src, bpf-linker 0.13
# built against LLVM 22, cmake for librdkafka); the runtime stage holds only
# the binary and the libraries it links (OpenSSL, zlib) plus CA certificates.
#
# Both architectures build on an amd64 machine: the build stage runs there
# (BUILDPLATFORM) and cross-compiles for arm64 (TARGETARCH) with Debian's
# aarch64 cross compiler and arm64 libraries (`scripts/setup.sh --arm64`);
# only the runtime stage is of the target's architecture.

FROM --platform=$BUILDPLATFORM rust:1.95.0-bookworm AS build
ARG TARGETARCH
WORKDIR /src
# setup.sh (and the apt helper it sources) first, on its own layer: the
# toolchain is cached across source changes.
COPY scripts/setup.sh scripts/apt.sh scripts/
RUN if [ "$TARGETARCH" = arm64 ]; then bash scripts/setup.sh --no-fuzz --arm64; \
    else bash scripts/setup.sh --no-fuzz; fi
COPY . .
RUN case "${TARGETARCH:-$(dpkg --print-architecture)}" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "sysotel builds for amd64 and arm64, not $TARGETARCH" >&2; exit 1 ;; \
    esac \
    && cargo build --locked --release --bin sysotel --target "$target" \
    && cp "target/$target/release/sysotel" /usr/local/bin/sysotel

FROM debian:12.12-slim
# Security updates of these libraries must reach the image, so their versions
# follow bookworm rather than being pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/sysotel /usr/local/bin/sysotel
# Loading eBPF programs needs root (or CAP_BPF + CAP_PERFMON) in a privileged
# container that shares the host's pid namespace.
ENTRYPOINT ["/usr/local/bin/sysotel"]
CMD ["-o", "table"]
