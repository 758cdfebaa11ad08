//! What the network outputs share: batches of encoded records closed by
//! count, bytes or age, and failures logged once per kind.

use std::{
    collections::HashSet,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Encoded records waiting to become one request or message.
#[derive(Debug)]
pub struct Batch {
    /// The records, each as its encoder wrote it.
    pub records: Vec<u8>,
    pub count: usize,
    /// When its first record arrived.
    pub since: Instant,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            records: Vec::new(),
            count: 0,
            since: Instant::now(),
        }
    }
}

/// When a batch closes: at `records` records, at `bytes` encoded bytes, or
/// when its first record is `age` old.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub records: usize,
    pub bytes: usize,
    pub age: Duration,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends one record that `write` encodes; returns its bytes.
    pub fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> usize {
        if self.count == 0 {
            self.since = Instant::now();
        }
        let before = self.records.len();
        write(&mut self.records);
        self.count += 1;
        self.records.len() - before
    }

    /// Appends one record that `write` encodes, unless it would take a batch
    /// that already holds records past `max_bytes`: then the record is left
    /// out and returned, to start the next batch (a message must stay under
    /// the broker's size limit).
    pub fn push_within(
        &mut self,
        max_bytes: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Option<Vec<u8>> {
        let before = self.records.len();
        self.push(write);
        if self.count > 1 && self.records.len() > max_bytes {
            self.count -= 1;
            return Some(self.records.split_off(before));
        }
        None
    }

    /// A batch that starts with `record` (what [`Batch::push_within`] left out).
    pub fn starting_with(record: Vec<u8>) -> Batch {
        Batch {
            records: record,
            count: 1,
            since: Instant::now(),
        }
    }

    /// Full by count or bytes.
    pub fn is_full(&self, limits: &Limits) -> bool {
        self.count >= limits.records || self.records.len() >= limits.bytes
    }

    /// Holds records, the first of them `age` old or older.
    pub fn is_due(&self, age: Duration) -> bool {
        self.count > 0 && self.since.elapsed() >= age
    }

    /// The batch, leaving an empty one in its place.
    pub fn take(&mut self) -> Batch {
        std::mem::take(self)
    }
}

/// Failure kinds already logged: each is logged once.
#[derive(Debug, Default)]
pub struct LogOnce(Mutex<HashSet<String>>);

impl LogOnce {
    /// Logs `message()` as a warning the first time `kind` is seen.
    pub fn warn(&self, kind: &str, message: impl FnOnce() -> String) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.insert(kind.to_string()) {
            crate::warn!("{} (logged once per kind)", message());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_close_by_count_bytes_and_overflow() {
        let limits = Limits {
            records: 3,
            bytes: 10,
            age: Duration::from_secs(60),
        };
        let mut b = Batch::default();
        assert!(b.is_empty() && !b.is_due(Duration::ZERO));
        assert_eq!(b.push(|o| o.extend_from_slice(b"abcd")), 4);
        assert!(!b.is_full(&limits));
        b.push(|o| o.extend_from_slice(b"efgh"));
        assert!(
            b.push_within(10, |o| o.extend_from_slice(b"ijkl"))
                .is_some()
        );
        assert_eq!((b.count, b.records.as_slice()), (2, &b"abcdefgh"[..]));
        b.push(|o| o.extend_from_slice(b"x"));
        assert!(b.is_full(&limits));
        let full = b.take();
        assert_eq!(full.count, 3);
        assert!(b.is_empty());
        // A single record larger than the bound still goes, alone.
        assert!(
            b.push_within(2, |o| o.extend_from_slice(b"toolarge"))
                .is_none()
        );
        assert!(b.is_due(Duration::ZERO));
    }
}
