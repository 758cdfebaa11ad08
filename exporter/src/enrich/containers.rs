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

/// Maps the kernel's cgroup id (the cgroup v2 directory's inode number) to
/// the container id in that cgroup's path, walking `/sys/fs/cgroup` when an id
/// is new, at most once per [`RESCAN_EVERY`].
pub struct Containers {
    root: std::path::PathBuf,
    known: HashMap<u64, Option<std::sync::Arc<str>>>,
    last_scan: Option<std::time::Instant>,
    /// The last answer: a run of events comes from one cgroup. Forgotten at
    /// every scan, the only place an answer changes.
    last: Option<(u64, Option<std::sync::Arc<str>>)>,
}

impl Containers {
    pub fn new(root: impl Into<std::path::PathBuf>) -> Containers {
        Containers {
            root: root.into(),
            known: HashMap::new(),
            last_scan: None,
            last: None,
        }
    }

    pub fn resolve(&mut self, cgroup_id: u64) -> Option<std::sync::Arc<str>> {
        if let Some((id, answer)) = &self.last
            && *id == cgroup_id
        {
            return answer.clone();
        }
        let answer = self.lookup(cgroup_id);
        self.last = Some((cgroup_id, answer.clone()));
        answer
    }

    fn lookup(&mut self, cgroup_id: u64) -> Option<std::sync::Arc<str>> {
        if let Some(id) = self.known.get(&cgroup_id) {
            return id.clone();
        }
        if self.last_scan.is_none_or(|t| t.elapsed() >= RESCAN_EVERY) {
            self.scan();
        }
        // Not found: no container (until a later scan finds the cgroup).
        self.known.entry(cgroup_id).or_insert(None).clone()
    }

    fn scan(&mut self) {
        use std::os::unix::fs::MetadataExt as _;
        self.last_scan = Some(std::time::Instant::now());
        self.last = None;
        if self.known.len() >= CGROUPS_MAX {
            self.known.clear();
        }
        // Ids not found before are looked up again.
        self.known.retain(|_, id| id.is_some());
        let mut stack = vec![(self.root.clone(), 0usize, None::<std::sync::Arc<str>>)];
        while let Some((dir, depth, inherited)) = stack.pop() {
            let Ok(meta) = std::fs::metadata(&dir) else {
                continue;
            };
            let here = dir
                .to_str()
                .and_then(container_id_from_path)
                .map(std::sync::Arc::<str>::from)
                .or(inherited);
            self.known.insert(meta.ino(), here.clone());
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
        let mut c = Containers::new(&root);
        assert_eq!(c.resolve(ino(&dir)).as_deref(), Some(ID));
        assert_eq!(c.resolve(ino(&root)), None);
        let _ = std::fs::remove_dir_all(&root);
    }
}
