//! Facts of the host the kernel side needs from user space: the kernel's
//! version, where cgroup v2 is mounted, and which pid namespace is the host's.

use std::path::{Path, PathBuf};

/// The running kernel's release (`uname -r`, e.g. `5.10.0-32-cloud-amd64`).
pub fn kernel_release() -> String {
    // SAFETY: an all-zero utsname is valid; uname fills the struct it is given.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return String::new();
    }
    crate::event::text::c_text(&uts.release.map(|c| c as u8))
}

/// `(major, minor)` of a kernel release; `None` when it does not start with
/// `N.N`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Where cgroup v2 is mounted: `/sys/fs/cgroup`, or on a hybrid hierarchy
/// `/sys/fs/cgroup/unified` (the first `cgroup2` mount in /proc/self/mounts).
pub fn cgroup2_root() -> PathBuf {
    std::fs::read_to_string("/proc/self/mounts")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                let (_, dir, kind) = (f.next()?, f.next()?, f.next()?);
                (kind == "cgroup2").then(|| PathBuf::from(dir))
            })
        })
        .unwrap_or_else(|| "/sys/fs/cgroup".into())
}

/// The nsfs device and the inode of sysotel's own pid namespace, which is
/// the host's: sysotel runs in it (the compose file gives it `pid: host`),
/// and pid 1's link may not be readable.
pub fn host_pidns() -> Result<(u64, u32), String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/proc/self/ns/pid")
        .map_err(|e| format!("cannot read /proc/self/ns/pid: {e}"))?;
    let inum = u32::try_from(m.ino())
        .map_err(|_| format!("pid namespace inode {} is not 32-bit", m.ino()))?;
    Ok((m.dev(), inum))
}

/// A cgroup directory's id (its inode) and level, from its path (relative to
/// the cgroup2 mount, or under it).
pub fn cgroup(path: &str) -> Result<(u64, u32), String> {
    use std::os::unix::fs::MetadataExt;
    let root = cgroup2_root();
    let rel = Path::new(path)
        .strip_prefix(&root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string());
    let rel = rel.trim_matches('/');
    let full = root.join(rel);
    let meta =
        std::fs::metadata(&full).map_err(|e| format!("no cgroup at {}: {e}", full.display()))?;
    if !meta.is_dir() || !full.join("cgroup.procs").exists() {
        return Err(format!("{} is not a cgroup v2 directory", full.display()));
    }
    let level = rel.split('/').filter(|c| !c.is_empty()).count() as u32;
    Ok((meta.ino(), level))
}
