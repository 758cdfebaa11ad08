//! Builds the eBPF programs (exporter-ebpf) with the pinned nightly and
//! bpf-linker, and leaves the object in OUT_DIR for `include_bytes!`.
use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

/// The nightly whose LLVM major matches bpf-linker's (22); see scripts/setup.sh.
const EBPF_TOOLCHAIN: &str = "nightly-2026-05-20";

fn main() -> anyhow::Result<()> {
    println!("cargo:rerun-if-env-changed=SYSOTEL_NIGHTLY");
    let toolchain = std::env::var("SYSOTEL_NIGHTLY").unwrap_or_else(|_| EBPF_TOOLCHAIN.to_string());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| anyhow!("exporter has no parent directory"))?
        .join("exporter-ebpf");
    let root = root
        .to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", root.display()))?;
    aya_build::build_ebpf(
        [Package {
            name: "exporter-ebpf",
            root_dir: root,
            ..Default::default()
        }],
        Toolchain::Custom(&toolchain),
    )
    .context("building the eBPF programs failed: run scripts/setup.sh to install the pinned nightly and bpf-linker")
}
