//! Stable event ids, grouped by category.
//!
//! The id is what the kernel counts drops under and what a record carries. Syscall
//! events use the x86_64 syscall number itself; the other categories live in their
//! own ranges so a new syscall can never collide with them. Ids never change once
//! released: dashboards and SIEM rules key on the names derived from them.

/// Syscall numbers occupy `0..SYSCALL_ID_LIMIT`.
pub const SYSCALL_ID_LIMIT: u32 = 512;
/// First id of the process life-cycle (scheduler) events.
pub const SCHED_ID_BASE: u32 = 1000;
/// First id of the LSM hook events.
pub const LSM_ID_BASE: u32 = 1100;
/// sysotel's own records (loss reports), never written by the kernel.
pub const INTERNAL_ID_BASE: u32 = 1190;
/// `sysotel.loss`: events lost or dropped somewhere, with the numbers.
pub const LOSS_EVENT_ID: u32 = INTERNAL_ID_BASE;
/// Size of every per-event-id counter array in the kernel.
pub const EVENT_ID_LIMIT: u32 = 1200;

/// An event id as it crosses the ring buffer.
pub type EventId = u32;

/// Process life-cycle events, in the scheduler range.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedEvent {
    ProcessFork = SCHED_ID_BASE,
    ProcessExec = SCHED_ID_BASE + 1,
    ProcessExit = SCHED_ID_BASE + 2,
}

impl SchedEvent {
    pub const ALL: [SchedEvent; 3] = [
        SchedEvent::ProcessFork,
        SchedEvent::ProcessExec,
        SchedEvent::ProcessExit,
    ];

    pub const fn id(self) -> EventId {
        self as u32
    }

    pub const fn from_id(id: EventId) -> Option<SchedEvent> {
        match id {
            x if x == SchedEvent::ProcessFork as u32 => Some(SchedEvent::ProcessFork),
            x if x == SchedEvent::ProcessExec as u32 => Some(SchedEvent::ProcessExec),
            x if x == SchedEvent::ProcessExit as u32 => Some(SchedEvent::ProcessExit),
            _ => None,
        }
    }

    /// The short name the table shows (`sysotel.event.name`).
    pub const fn name(self) -> &'static str {
        match self {
            SchedEvent::ProcessFork => "sched_process_fork",
            SchedEvent::ProcessExec => "sched_process_exec",
            SchedEvent::ProcessExit => "sched_process_exit",
        }
    }
}
