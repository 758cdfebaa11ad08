//! User names from the host's passwd file, for the ids the kernel reports.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

/// How often the file is checked for a change.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The host's `/etc/passwd`, read again when it changed (checked at most once
/// per [`CHECK_EVERY`]): a user added while sysotel runs is named from then
/// on.
pub struct Users {
    path: PathBuf,
    names: HashMap<u32, Arc<str>>,
    /// What identified the file when it was read: (device, inode, size,
    /// modification time in ns).
    stamp: Option<(u64, u64, u64, i128)>,
    checked: Option<Instant>,
    every: Duration,
    /// The last answer of [`Users::names`]: a run of records comes from one
    /// user. Forgotten when the file is read again.
    last: Option<(u32, u32, Names)>,
}

/// The names of an effective and a real user id.
type Names = (Option<Arc<str>>, Option<Arc<str>>);

/// The names in passwd text: `name:password:uid:...`, the first entry of a
/// uid wins (as getpwuid answers).
pub fn parse_passwd(text: &str) -> HashMap<u32, Arc<str>> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if let Ok(uid) = uid.parse::<u32>() {
            names.entry(uid).or_insert_with(|| Arc::from(name));
        }
    }
    names
}

impl Users {
    pub fn new(path: impl Into<PathBuf>) -> Users {
        Users {
            path: path.into(),
            names: HashMap::new(),
            stamp: None,
            checked: None,
            every: CHECK_EVERY,
            last: None,
        }
    }

    /// The names of `euid` and `uid`.
    pub fn names(&mut self, euid: u32, uid: u32) -> Names {
        if let Some((e, u, names)) = &self.last
            && (*e, *u) == (euid, uid)
        {
            return names.clone();
        }
        let effective = self.name(euid);
        let real = if uid == euid {
            effective.clone()
        } else {
            self.name(uid)
        };
        self.last = Some((euid, uid, (effective.clone(), real.clone())));
        (effective, real)
    }

    /// The name of `uid`, if the passwd file had one when last read.
    pub fn name(&self, uid: u32) -> Option<Arc<str>> {
        self.names.get(&uid).cloned()
    }

    /// Reads the file again if it changed since it was read, looking at
    /// most once per [`CHECK_EVERY`]: called once per batch of records.
    pub fn refresh(&mut self) {
        if self.checked.is_some_and(|t| t.elapsed() < self.every) {
            return;
        }
        use std::os::unix::fs::MetadataExt as _;
        self.checked = Some(Instant::now());
        let stamp = std::fs::metadata(&self.path).ok().map(|m| {
            let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
            (m.dev(), m.ino(), m.size(), mtime)
        });
        if stamp == self.stamp {
            return;
        }
        self.stamp = stamp;
        self.last = None;
        // A file that is gone or unreadable names no one.
        self.names = std::fs::read_to_string(&self.path)
            .map(|t| parse_passwd(&t))
            .unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_uid_first_entry_wins() {
        let n = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\ntoor:x:0:0::/:/bin/sh\nnouid:x:abc:0::/:\n",
        );
        assert_eq!(n.get(&0).map(|s| &**s), Some("root"));
        assert_eq!(n.get(&1000).map(|s| &**s), Some("alice"));
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn a_changed_file_is_read_again() {
        let path = std::env::temp_dir().join(format!("sysotel-passwd-{}", std::process::id()));
        std::fs::write(&path, "root:x:0:0::/:/bin/sh\n").expect("write");
        let mut u = Users::new(&path);
        u.every = Duration::ZERO;
        u.refresh();
        assert_eq!(u.name(0).as_deref(), Some("root"));
        assert_eq!(u.name(4242), None);
        std::fs::write(&path, "root:x:0:0::/:/bin/sh\nbob:x:4242:4242::/:/bin/sh\n")
            .expect("write");
        u.refresh();
        assert_eq!(u.name(4242).as_deref(), Some("bob"));
        assert_eq!(u.names(0, 4242), (Some("root".into()), Some("bob".into())));
        assert_eq!(u.names(0, 4242), (Some("root".into()), Some("bob".into())));
        std::fs::remove_file(&path).expect("remove");
        u.refresh();
        assert_eq!(u.name(0), None, "a passwd that is gone names no one");
    }
}
