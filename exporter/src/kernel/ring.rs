//! The ring buffer as user space reads it: records one at a time, readiness
//! to wait on, and how full it is.

use aya::maps::{MapData, RingBuf, ring_buf::RingBufItem};
use tokio::io::unix::AsyncFd;

/// The kernel's ring buffer, registered with the async runtime.
pub struct Ring {
    ring: AsyncFd<RingBuf<MapData>>,
    fill: Option<RingFill>,
}

impl Ring {
    pub fn new(ring: RingBuf<MapData>) -> std::io::Result<Ring> {
        let fill = RingFill::new(std::os::fd::AsRawFd::as_raw_fd(&ring));
        // SAFETY: the RingBuf owns its map fd and keeps it open, unchanged, for
        // as long as the AsyncFd that owns the RingBuf exists.
        Ok(Ring {
            fill,
            ring: unsafe { AsyncFd::register(ring)? },
        })
    }

    /// Waits until the kernel says records wait (it wakes the reader only
    /// past a fill threshold; see the eBPF `emit` module).
    pub async fn readable(&mut self) -> std::io::Result<()> {
        let mut guard = self.ring.readable_mut().await?;
        guard.clear_ready();
        Ok(())
    }

    /// The next record, if one waits.
    pub fn next_record(&mut self) -> Option<RingBufItem<'_>> {
        self.ring.get_mut().next()
    }

    /// Bytes the kernel wrote and user space has not read yet.
    pub fn used(&self) -> Option<u64> {
        self.fill.as_ref().map(RingFill::used)
    }
}

/// A read-only view of the ring buffer's consumer and producer positions
/// (the first two pages of the map), to see how full it is.
struct RingFill {
    base: *mut libc::c_void,
    len: usize,
    page: usize,
}

impl RingFill {
    fn new(fd: std::os::fd::RawFd) -> Option<RingFill> {
        // SAFETY: sysconf has no memory effects.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        let len = 2 * page;
        // SAFETY: a shared read-only mapping of the ring map's position pages;
        // the kernel allows mapping them read-only, and the map outlives it
        // (the Ring owns both).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        (base != libc::MAP_FAILED).then_some(RingFill { base, len, page })
    }

    /// Bytes written by the kernel and not yet consumed.
    fn used(&self) -> u64 {
        // SAFETY: both positions are naturally aligned u64s at the start of
        // the two mapped pages, updated atomically by the kernel and the reader.
        unsafe {
            let consumer = &*(self.base as *const std::sync::atomic::AtomicU64);
            let producer =
                &*((self.base as *const u8).add(self.page) as *const std::sync::atomic::AtomicU64);
            let p = producer.load(std::sync::atomic::Ordering::Acquire);
            let c = consumer.load(std::sync::atomic::Ordering::Acquire);
            p.saturating_sub(c)
        }
    }
}

impl Drop for RingFill {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped.
        unsafe { libc::munmap(self.base, self.len) };
    }
}
