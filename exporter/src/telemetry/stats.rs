//! What the ring reader counted: events received, decode errors, events
//! left out in user space, and the ring's fill.

use exporter_common::events::EVENT_ID_LIMIT;

#[derive(Clone, Debug)]
pub struct ReaderStats {
    /// Records decoded into events.
    pub received: u64,
    /// Records that failed to decode (each one is also printed, up to a few).
    pub decode_errors: u64,
    /// Decoded events by event id (those passed on to the outputs).
    pub by_event: Vec<u64>,
    /// Events left out in user space: outside an `exe` scope term, or not
    /// matching `--filter`.
    pub filtered: u64,
    /// Bytes in the ring buffer not read yet, as of the last periodic check.
    pub ring_used: Option<u64>,
}

impl Default for ReaderStats {
    fn default() -> Self {
        ReaderStats {
            received: 0,
            decode_errors: 0,
            by_event: vec![0; EVENT_ID_LIMIT as usize],
            filtered: 0,
            ring_used: None,
        }
    }
}

impl ReaderStats {
    /// The `n` most frequent events: (id, count), most frequent first.
    pub fn top_events(&self, n: usize) -> Vec<(u32, u64)> {
        let mut v: Vec<(u32, u64)> = self
            .by_event
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(id, c)| (id as u32, *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}
