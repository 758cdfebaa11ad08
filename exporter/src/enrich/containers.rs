//! The container a process runs in, from its cgroup's path.

use std::collections::HashMap;

/// How often the cgroup tree is walked again for cgroups not found before.
const RESCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Cgroups remembered; past this the cache starts over.
const CGROUPS_MAX: usize = 65_536;
/// How deep the cgroup tree is walked.
const CGROUP_DEPTH_MAX: usize = 12;

/// The container id in a cgroup path, as container runtimes name their
/// cgroups: `docker-<id>.scope`, `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `libpod-<id>.scope` (systemd driver) or a directory
/// named `<id>` (`/docker/<id>`, `/kubepods/.../<id>`). The innermost one wins.
pub fn container_id_from_path(path: &str) -> Option<&str> {
    path.rsplit('/').find_map(|part| {
        let part = part.strip_suffix(".scope").unwrap_or(part);
        let id = part.rsplit(['-', ':']).next().unwrap_or(part);
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
    })
}

/// `FILEID_KERNFS` (include/linux/exportfs.h): a kernfs file handle, whose
/// eight bytes are the node's id, the cgroup id the kernel reports.
const FILEID_KERNFS: i32 = 0xfe;

/// Maps the kernel's cgroup id (the cgroup v2 directory's id, its inode
/// number) to the container id in that cgroup's path.
///
/// A new id is opened by its file handle on the cgroup2 mount
/// (`open_by_handle_at`, which needs CAP_DAC_READ_SEARCH): the directory's
/// path, whenever the cgroup was created, in two system calls. Where the
/// kernel refuses that, the cgroup tree is walked instead, at most once per
/// [`RESCAN_EVERY`], and an id not found yet is looked for again at the next
/// walk: a container created just after a walk is attributed from the next
/// one on, at most a second later.
pub struct Containers {
    root: std::path::PathBuf,
    /// The cgroup2 mount, while opening by handle works.
    mount: Option<std::os::fd::OwnedFd>,
    /// Cgroups found: their container id, or None for a cgroup of no
    /// container (a definite answer). Ids not found are not kept.
    known: HashMap<u64, Option<std::sync::Arc<str>>>,
    last_scan: Option<std::time::Instant>,
    rescan_every: std::time::Duration,
    /// The last answer: a run of events comes from one cgroup. Forgotten at
    /// every scan, the only place an answer changes.
    last: Option<(u64, Option<std::sync::Arc<str>>)>,
}

/// What opening a cgroup by its id told.
enum ByHandle {
    /// The cgroup's path.
    Path(std::path::PathBuf),
    /// The cgroup no longer exists (ESTALE): ids are never reused. (A
    /// container that exited before its first records were read; the
    /// workload scope tells its cgroups beforehand, see [`Containers::learn`].)
    Gone,
    /// The kernel refuses handles here (no CAP_DAC_READ_SEARCH, an old
    /// kernel): walk the tree instead.
    Unsupported,
}

/// Opens the cgroup `id` on the cgroup2 mount `mount` and reads its path.
fn open_by_id(mount: &std::os::fd::OwnedFd, id: u64) -> ByHandle {
    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
    #[repr(C)]
    struct KernfsHandle {
        handle_bytes: u32,
        handle_type: i32,
        id: u64,
    }
    let mut h = KernfsHandle {
        handle_bytes: 8,
        handle_type: FILEID_KERNFS,
        id,
    };
    // SAFETY: `h` is a `struct file_handle` header followed by its 8 bytes
    // of handle, alive for the call; the kernel reads `handle_bytes` bytes.
    let fd = unsafe {
        libc::open_by_handle_at(
            mount.as_raw_fd(),
            (&raw mut h).cast::<libc::file_handle>(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::ESTALE | libc::ENOENT) => ByHandle::Gone,
            _ => ByHandle::Unsupported,
        };
    }
    // SAFETY: a descriptor the call above just opened, owned here alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    match std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
        Ok(path) => ByHandle::Path(path),
        Err(_) => ByHandle::Unsupported,
    }
}

impl Containers {
    pub fn new(root: impl Into<std::path::PathBuf>) -> Containers {
        let root = root.into();
        let mount = std::fs::File::open(&root)
            .ok()
            .map(std::os::fd::OwnedFd::from);
        Containers {
            root,
            mount,
            known: HashMap::new(),
            last_scan: None,
            rescan_every: RESCAN_EVERY,
            last: None,
        }
    }

    /// Resolves by walking the tree only (as where handles are refused).
    #[cfg(test)]
    fn walking_only(root: impl Into<std::path::PathBuf>, every: std::time::Duration) -> Containers {
        let mut c = Containers::new(root);
        c.mount = None;
        c.rescan_every = every;
        c
    }

    /// Cgroup `cgroup_id` is container `id`'s, as found by another walk
    /// while it existed: its records read after it is removed (a container
    /// that exits right after them) still name their container.
    pub fn learn(&mut self, cgroup_id: u64, id: std::sync::Arc<str>) {
        if self.known.len() >= CGROUPS_MAX {
            self.known.clear();
        }
        self.known.insert(cgroup_id, Some(id));
        self.last = None;
    }

    pub fn resolve(&mut self, cgroup_id: u64) -> Option<std::sync::Arc<str>> {
        if let Some((id, answer)) = &self.last
            && *id == cgroup_id
        {
            return answer.clone();
        }
        let answer = self.lookup(cgroup_id);
        // Only a definite answer: an id not found yet is looked for again.
        if self.known.contains_key(&cgroup_id) {
            self.last = Some((cgroup_id, answer.clone()));
        }
        answer
    }

    fn lookup(&mut self, cgroup_id: u64) -> Option<std::sync::Arc<str>> {
        if let Some(id) = self.known.get(&cgroup_id) {
            return id.clone();
        }
        if self.known.len() >= CGROUPS_MAX {
            self.known.clear();
        }
        if let Some(mount) = &self.mount {
            match open_by_id(mount, cgroup_id) {
                ByHandle::Path(path) => {
                    let id = path
                        .to_str()
                        .and_then(container_id_from_path)
                        .map(std::sync::Arc::<str>::from);
                    self.known.insert(cgroup_id, id.clone());
                    return id;
                }
                ByHandle::Gone => {
                    self.known.insert(cgroup_id, None);
                    return None;
                }
                ByHandle::Unsupported => self.mount = None,
            }
        }
        if self
            .last_scan
            .is_none_or(|t| t.elapsed() >= self.rescan_every)
        {
            self.scan();
        }
        // Not found: no container for now, looked for again at the next walk.
        self.known.get(&cgroup_id).cloned().flatten()
    }

    fn scan(&mut self) {
        self.last_scan = Some(std::time::Instant::now());
        self.last = None;
        walk_cgroups(&self.root, |cgroup, id| {
            self.known.insert(cgroup, id.cloned());
        });
    }
}

/// Visits every cgroup under `root` (to [`CGROUP_DEPTH_MAX`] levels): its id
/// (the directory's inode) and the container id of its path or of the
/// nearest directory above it that names one.
pub fn walk_cgroups(
    root: &std::path::Path,
    mut visit: impl FnMut(u64, Option<&std::sync::Arc<str>>),
) {
    use std::os::unix::fs::MetadataExt as _;
    let mut stack = vec![(root.to_path_buf(), 0usize, None::<std::sync::Arc<str>>)];
    while let Some((dir, depth, inherited)) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&dir) else {
            continue;
        };
        let here = dir
            .to_str()
            .and_then(container_id_from_path)
            .map(std::sync::Arc::<str>::from)
            .or(inherited);
        visit(meta.ino(), here.as_ref());
        if depth >= CGROUP_DEPTH_MAX {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((entry.path(), depth + 1, here.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c2b3a5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7a8";

    #[test]
    fn container_ids_from_cgroup_paths() {
        for path in [
            format!("/sys/fs/cgroup/system.slice/docker-{ID}.scope"),
            format!("/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/cri-containerd-{ID}.scope"),
            format!("/sys/fs/cgroup/machine.slice/libpod-{ID}.scope/container"),
            format!("/sys/fs/cgroup/docker/{ID}"),
            format!("/sys/fs/cgroup/kubepods/besteffort/pod1/{ID}"),
            format!("/sys/fs/cgroup/system.slice/crio-{ID}.scope"),
        ] {
            assert_eq!(container_id_from_path(&path), Some(ID), "{path}");
        }
        for path in [
            "/sys/fs/cgroup/user.slice/user-0.slice/session-1.scope",
            "/sys/fs/cgroup/system.slice/ssh.service",
            "/sys/fs/cgroup",
        ] {
            assert_eq!(container_id_from_path(path), None, "{path}");
        }
    }

    #[test]
    fn resolves_by_directory_inode() {
        use std::os::unix::fs::MetadataExt as _;
        let root = std::env::temp_dir().join(format!("sysotel-cgroups-{}", std::process::id()));
        let dir = root.join(format!("docker-{ID}.scope")).join("inner");
        std::fs::create_dir_all(&dir).expect("temp dirs");
        let ino = |p: &std::path::Path| std::fs::metadata(p).expect("exists").ino();
        let mut c = Containers::walking_only(&root, RESCAN_EVERY);
        assert_eq!(c.resolve(ino(&dir)).as_deref(), Some(ID));
        assert_eq!(c.resolve(ino(&root)), None);
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A cgroup told by the workload scope's walk is known without a walk
    /// of its own, even once it is gone (a handle to it is stale).
    #[test]
    fn a_learned_cgroup_is_known_after_it_is_gone() {
        let root =
            std::env::temp_dir().join(format!("sysotel-cgroups-gone-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("temp dir");
        let mut c = Containers::walking_only(&root, RESCAN_EVERY);
        c.learn(u64::MAX - 1, ID.into());
        assert_eq!(c.resolve(u64::MAX - 1).as_deref(), Some(ID));
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A cgroup created after a walk is found by a later one, however many
    /// times it was asked for in between: the miss is not remembered.
    #[test]
    fn a_cgroup_created_after_a_walk_is_found_by_the_next() {
        use std::os::unix::fs::MetadataExt as _;
        let root =
            std::env::temp_dir().join(format!("sysotel-cgroups-late-{}", std::process::id()));
        std::fs::create_dir_all(root.join("first")).expect("temp dirs");
        let every = std::time::Duration::from_millis(300);
        let mut c = Containers::walking_only(&root, every);
        let first = std::fs::metadata(root.join("first")).expect("exists").ino();
        assert_eq!(c.resolve(first), None, "a cgroup of no container");
        let late = root.join(format!("docker-{ID}.scope"));
        std::fs::create_dir(&late).expect("temp dir");
        let ino = std::fs::metadata(&late).expect("exists").ino();
        // Within the walk window: not found yet, asked for again and again.
        for _ in 0..3 {
            assert_eq!(c.resolve(ino), None);
        }
        std::thread::sleep(every * 2);
        assert_eq!(c.resolve(ino).as_deref(), Some(ID));
        let _ = std::fs::remove_dir_all(&root);
    }
}
