//! Sequence numbers (`sysotel.sequence`) as sorted, disjoint, inclusive
//! ranges: what a batch holds, what an output dropped. Each output receives
//! every record in the reader's order, so a batch is one range unless
//! records were dropped inside it, and a drop of many records costs one
//! entry.

use crate::event::{Event, Value};
use exporter_common::events::EventKind;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ranges(Vec<(u64, u64)>);

impl Ranges {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many numbers the ranges hold.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|(a, b)| b - a + 1).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().copied()
    }

    /// Adds one number.
    pub fn push(&mut self, n: u64) {
        self.add(n, n)
    }

    /// Adds `first..=last`, merging with what it touches. Numbers mostly
    /// arrive in order: appending is the fast path.
    pub fn add(&mut self, first: u64, last: u64) {
        let (first, last) = (first.min(last), first.max(last));
        if let Some(end) = self.0.last_mut() {
            if first > end.1.saturating_add(1) {
                self.0.push((first, last));
                return;
            }
            if first >= end.0 {
                end.1 = end.1.max(last);
                return;
            }
        } else {
            self.0.push((first, last));
            return;
        }
        // Out of order: insert, then merge the neighbours it touches.
        let at = self.0.partition_point(|r| r.1.saturating_add(1) < first);
        let mut end = at;
        let (mut lo, mut hi) = (first, last);
        while end < self.0.len() && self.0[end].0 <= hi.saturating_add(1) {
            lo = lo.min(self.0[end].0);
            hi = hi.max(self.0[end].1);
            end += 1;
        }
        self.0.splice(at..end, [(lo, hi)]);
    }

    pub fn extend(&mut self, other: &Ranges) {
        for (a, b) in other.iter() {
            self.add(a, b);
        }
    }

    /// The first `n` numbers, and the rest: the records of a batch split in
    /// two halves in order.
    pub fn split_at(&self, n: u64) -> (Ranges, Ranges) {
        let (mut head, mut tail) = (Ranges::default(), Ranges::default());
        let mut left = n;
        for (a, b) in self.iter() {
            let len = b - a + 1;
            if left >= len {
                head.0.push((a, b));
                left -= len;
            } else if left > 0 {
                head.0.push((a, a + left - 1));
                tail.0.push((a + left, b));
                left = 0;
            } else {
                tail.0.push((a, b));
            }
        }
        (head, tail)
    }

    /// Up to `max` ranges, taken from the front; the rest stay.
    pub fn take_front(&mut self, max: usize) -> Ranges {
        let n = max.min(self.0.len());
        Ranges(self.0.drain(..n).collect())
    }

    /// The ranges as text, `first-last` (or `n` for one number): the
    /// `sequences` field of a loss report.
    pub fn text(&self) -> Vec<String> {
        self.iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect()
    }

    /// Reads what [`Ranges::text`] wrote; `None` on anything else.
    pub fn parse<S: AsRef<str>>(text: &[S]) -> Option<Ranges> {
        let mut r = Ranges::default();
        for t in text {
            let t = t.as_ref();
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            r.add(a.parse().ok()?, b.parse().ok()?);
        }
        Some(r)
    }

    /// The sequence numbers of `events`.
    pub fn of(events: &[Event]) -> Ranges {
        let mut r = Ranges::default();
        for e in events {
            r.push(e.sequence);
        }
        r
    }

    /// Appends the ranges as little-endian pairs, after their count.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.0.len() as u32).to_le_bytes());
        for (a, b) in self.iter() {
            out.extend_from_slice(&a.to_le_bytes());
            out.extend_from_slice(&b.to_le_bytes());
        }
    }

    /// Reads what [`Ranges::write`] wrote from the front of `bytes`; returns
    /// the ranges and the rest.
    pub fn read(bytes: &[u8]) -> Option<(Ranges, &[u8])> {
        let n = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let body = bytes.get(4..4 + n.checked_mul(16)?)?;
        let mut r = Ranges(Vec::with_capacity(n));
        for pair in body.chunks_exact(16) {
            let a = u64::from_le_bytes(pair[..8].try_into().ok()?);
            let b = u64::from_le_bytes(pair[8..].try_into().ok()?);
            r.add(a, b);
        }
        Some((r, &bytes[4 + n * 16..]))
    }
}

/// The loss report's field that names the dropped sequence numbers.
pub const SEQUENCES_FIELD: &str = "sequences";

/// The sequence numbers that loss reports in `events` name for the output
/// `stage` (`output:<name>`): when such a report is dropped by that very
/// output, what it named is given back, to be named again.
pub fn carried(events: &[Event], stage: &str) -> Ranges {
    let mut r = Ranges::default();
    for e in events {
        if let Some(named) = carried_by(e, stage) {
            r.extend(&named);
        }
    }
    r
}

/// What one loss report names for `stage`, if `e` is one.
pub fn carried_by(e: &Event, stage: &str) -> Option<Ranges> {
    if e.id != EventKind::Loss.id() {
        return None;
    }
    match (e.arg("stage"), e.arg(SEQUENCES_FIELD)) {
        (Some(Value::Str { value, .. }), Some(Value::StrList { values, .. })) if value == stage => {
            Ranges::parse(values)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_in_any_order() {
        let mut r = Ranges::default();
        for n in [5, 6, 7, 10, 2, 3, 9, 8, 1] {
            r.push(n);
        }
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(1, 3), (5, 10)]);
        r.add(4, 4);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(1, 10)]);
        r.add(20, 30);
        r.add(12, 14);
        r.add(13, 25);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(1, 10), (12, 30)]);
        assert_eq!(r.count(), 10 + 19);
        r.add(0, u64::MAX);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![(0, u64::MAX)]);
    }

    #[test]
    fn split_at_keeps_the_order_of_the_numbers() {
        let mut r = Ranges::default();
        r.add(1, 3);
        r.add(10, 12);
        let (a, b) = r.split_at(4);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![(1, 3), (10, 10)]);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![(11, 12)]);
        let (a, b) = r.split_at(3);
        assert_eq!((a.count(), b.count()), (3, 3));
        assert_eq!(r.split_at(0).1, r);
        assert_eq!(r.split_at(9).0, r);
    }

    #[test]
    fn ranges_round_trip_as_text_and_bytes() {
        let mut r = Ranges::default();
        r.add(3, 3);
        r.add(10, 2000);
        assert_eq!(r.text(), vec!["3", "10-2000"]);
        assert_eq!(Ranges::parse(&r.text()), Some(r.clone()));
        assert_eq!(Ranges::parse(&["1-x"]), None);
        let mut bytes = Vec::new();
        r.write(&mut bytes);
        bytes.extend_from_slice(b"rest");
        let (back, rest) = Ranges::read(&bytes).expect("reads back");
        assert_eq!((back, rest), (r.clone(), &b"rest"[..]));
        assert!(Ranges::read(&bytes[..10]).is_none(), "short input");
        let front = r.take_front(1);
        assert_eq!(front.text(), vec!["3"]);
        assert_eq!(r.text(), vec!["10-2000"]);
    }
}
