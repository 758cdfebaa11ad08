//! Rebuild the eBPF object when bpf-linker changes: cargo cannot see that the
//! linker is an input of this crate.
use which::which;

fn main() {
    match which("bpf-linker") {
        Ok(path) => println!("cargo:rerun-if-changed={}", path.display()),
        Err(e) => println!("cargo:warning=bpf-linker not found ({e}); run scripts/setup.sh"),
    }
}
