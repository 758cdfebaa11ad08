# sysotel container image.
#
#   docker build -t sysotel .
#   docker run --rm --privileged --pid=host \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/fs/bpf:/sys/fs/bpf \
#     -v /sys/fs/cgroup:/sys/fs/cgroup:ro sysotel
#
# The build stage installs the toolchain the project's own setup installs
# (Debian's llvm-22-dev, the pinned nightly with rust-src, bpf-linker 0.13
# built against LLVM 22, cmake for librdkafka); the runtime stage holds only
# the binary and the libraries it links (OpenSSL, zlib) plus CA certificates.

FROM rust:1.95.0-bookworm AS build
WORKDIR /src
# setup.sh (and the apt helper it sources) first, on its own layer: the
# toolchain is cached across source changes.
COPY scripts/setup.sh scripts/apt.sh scripts/
RUN bash scripts/setup.sh --no-fuzz
COPY . .
RUN cargo build --locked --release --bin sysotel \
    && cp target/release/sysotel /usr/local/bin/sysotel

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
