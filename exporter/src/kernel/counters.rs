//! The kernel side's own counters: records written and lost per event, and
//! what it could not do.

use exporter_common::{EventId, config::KernelError};

/// What the kernel side counted, summed over CPUs.
#[derive(Clone, Debug, Default)]
pub struct KernelCounts {
    /// (event id, records lost because the ring buffer was full), non-zero only.
    pub lost: Vec<(EventId, u64)>,
    /// (event id, records written to the ring buffer), non-zero only.
    pub submitted: Vec<(EventId, u64)>,
    /// (error, count), non-zero only.
    pub errors: Vec<(KernelError, u64)>,
}

impl KernelCounts {
    pub fn lost_total(&self) -> u64 {
        self.lost.iter().map(|(_, n)| n).sum()
    }

    pub fn submitted_total(&self) -> u64 {
        self.submitted.iter().map(|(_, n)| n).sum()
    }
}
