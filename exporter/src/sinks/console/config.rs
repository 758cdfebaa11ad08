//! Console sink settings.

/// How each event is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleFormat {
    /// `TIME(s) UTS_NAME MNT_NS PID_NS UID EVENT COMM PID TID PPID RET ARGS`,
    /// with the original tracer's column widths.
    Table,
    /// One JSON object per line, every field under a stable key.
    Json,
}

#[derive(Clone, Copy, Debug)]
pub struct ConsoleConfig {
    pub format: ConsoleFormat,
    /// Batches the queue in front of the console holds (default 64). The
    /// console blocks when full: a console that cannot keep up slows the ring
    /// reader, and the kernel counts what it then cannot write.
    pub queue_batches: usize,
}

impl ConsoleConfig {
    pub fn new(format: ConsoleFormat) -> ConsoleConfig {
        ConsoleConfig {
            format,
            queue_batches: 64,
        }
    }
}
