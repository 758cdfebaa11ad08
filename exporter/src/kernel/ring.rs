//! The ring buffer as user space reads it: records in order, the space they
//! held handed back to the kernel once per batch, readiness to wait on, and
//! how full it is.
//!
//! The layout is the kernel's (kernel/bpf/ringbuf.c): the first page holds
//! the consumer position, which the reader writes; the next page the producer
//! position, then the data pages, mapped twice in a row so that a record
//! that wraps around the end reads as one slice. Each record starts with an
//! 8-byte header whose first word is its length with two flag bits, and
//! records are 8-byte aligned.
//!
//! The consumer position is written once per batch, not once per record:
//! every reservation in the kernel reads it (to check for space), so a
//! reader that wrote it after each record made the traced program's
//! syscalls miss that cache line again and again.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use aya::maps::MapData;
use tokio::io::unix::AsyncFd;

/// `BPF_RINGBUF_BUSY_BIT`: reserved, not yet committed.
const BUSY: u32 = 1 << 31;
/// `BPF_RINGBUF_DISCARD_BIT`: committed as discarded; skip it.
const DISCARD: u32 = 1 << 30;
/// `BPF_RINGBUF_HDR_SZ`.
const HEADER: u64 = 8;

/// The map, owned for its file descriptor (what epoll waits on).
struct RingFd(MapData);

impl AsRawFd for RingFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.fd().as_fd().as_raw_fd()
    }
}

/// A shared mapping of part of the ring map, unmapped on drop.
struct Mapping {
    base: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn new(fd: RawFd, len: usize, prot: libc::c_int, offset: usize) -> std::io::Result<Mapping> {
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: a new shared mapping of the map's pages chosen by the
        // kernel; nothing else refers to the range it returns.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd,
                offset,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { base, len })
    }

    /// The position word at the start of the mapping.
    fn position(&self) -> &AtomicU64 {
        // SAFETY: the mapping starts page-aligned with the kernel's u64
        // position, which both sides access atomically.
        unsafe { &*(self.base as *const AtomicU64) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The kernel's ring buffer, registered with the async runtime.
pub struct Ring {
    fd: AsyncFd<RingFd>,
    /// The consumer position's page, writable.
    consumer: Mapping,
    /// The producer position's page, then the data pages twice.
    producer: Mapping,
    page: usize,
    mask: u64,
    /// Where the next record starts.
    pos: u64,
    /// The consumer position last written for the kernel.
    released: u64,
    /// The producer position last read.
    written: u64,
}

// SAFETY: the mappings are only accessed through `&self`/`&mut self` of the
// one Ring that owns them.
unsafe impl Send for Ring {}

impl Ring {
    pub fn new(map: MapData) -> std::io::Result<Ring> {
        let fd = map.fd().as_fd().as_raw_fd();
        // The data size in bytes, a power of two (the kernel's rule).
        let size = map.info().map_err(std::io::Error::other)?.max_entries();
        // SAFETY: sysconf has no memory effects.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .map_err(|_| std::io::Error::other("no page size"))?;
        if !size.is_power_of_two() {
            return Err(std::io::Error::other(format!(
                "ring buffer size {size} is not a power of two"
            )));
        }
        let size = size as usize;
        let consumer = Mapping::new(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = Mapping::new(fd, page + 2 * size, libc::PROT_READ, page)?;
        let pos = consumer.position().load(Ordering::Acquire);
        Ok(Ring {
            // SAFETY: the map owns its fd and keeps it open, unchanged, for
            // as long as the AsyncFd that owns the map exists.
            fd: unsafe { AsyncFd::register(RingFd(map))? },
            consumer,
            producer,
            page,
            mask: size as u64 - 1,
            pos,
            released: pos,
            written: pos,
        })
    }

    /// Waits until the kernel says records wait (it wakes the reader only
    /// past a fill threshold; see the eBPF `emit` module).
    pub async fn readable(&mut self) -> std::io::Result<()> {
        let mut guard = self.fd.readable_mut().await?;
        guard.clear_ready();
        Ok(())
    }

    /// The next committed record, if one waits. Its space stays the reader's
    /// until [`Ring::release`].
    pub fn next_record(&mut self) -> Option<&[u8]> {
        loop {
            if self.pos == self.written {
                self.written = self.producer.position().load(Ordering::Acquire);
                if self.pos == self.written {
                    return None;
                }
            }
            let at = self.page + (self.pos & self.mask) as usize;
            // SAFETY: `at` is inside the first copy of the data pages and
            // 8-byte aligned (records are); the header word is written by the
            // kernel with an atomic exchange at commit.
            let header =
                unsafe { &*((self.producer.base as *const u8).add(at) as *const AtomicU32) }
                    .load(Ordering::Acquire);
            if header & BUSY != 0 {
                // Reserved but not committed yet: read on the next drain.
                return None;
            }
            let len = (header & !(BUSY | DISCARD)) as usize;
            self.pos += (len as u64 + HEADER + 7) & !7;
            if header & DISCARD != 0 {
                continue;
            }
            let start = at + HEADER as usize;
            // The data pages are mapped twice, so a record that wraps reads
            // whole; a length past them would be a kernel bug, not a record.
            if start + len > self.producer.len {
                self.pos = self.written;
                return None;
            }
            // SAFETY: committed bytes inside the mapping (checked above),
            // which the kernel does not reuse until the consumer position
            // passes them, that is until `release` (which needs `&mut self`,
            // so the slice is gone by then).
            return Some(unsafe {
                std::slice::from_raw_parts((self.producer.base as *const u8).add(start), len)
            });
        }
    }

    /// Hands the space of every record read so far back to the kernel.
    pub fn release(&mut self) {
        if self.released != self.pos {
            self.consumer.position().store(self.pos, Ordering::Release);
            self.released = self.pos;
        }
    }

    /// Bytes the kernel wrote and user space has not released yet.
    pub fn used(&self) -> u64 {
        let p = self.producer.position().load(Ordering::Acquire);
        p.saturating_sub(self.consumer.position().load(Ordering::Acquire))
    }
}
