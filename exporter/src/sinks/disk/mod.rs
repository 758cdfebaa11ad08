//! The disk queue of a network output (`--queue-dir`): every closed batch
//! is appended to a segment file before it is sent, and stays there until
//! the receiver acknowledged it, across outages and restarts.
//!
//! Layout of an output's folder: `lock` (held with `flock` while a sysotel
//! uses the folder; holds its pid), `acked` (where the acknowledged prefix
//! ends: segment id, offset, CRC-32), and `<id>.seg` segment files of
//! [`Frame`]s, oldest first. A segment is deleted once every frame in it is
//! acknowledged and a newer one exists.
//!
//! Durability: a frame is written (`write`) when its batch closes and the
//! files are synced (`fdatasync`) on the output's sync tick. A process that
//! dies (`kill -9`) loses nothing written; a power loss loses at most what
//! was written since the last sync. The acknowledged position is written
//! after every acknowledgement, so a restart resends only the frames that
//! were in flight (sent, not yet acknowledged) when the process died, plus,
//! after a power loss, those acknowledged since the last sync.

pub mod frame;

use std::{
    collections::VecDeque,
    fs::{File, OpenOptions},
    io::{self, Read, Write},
    os::unix::{fs::FileExt, io::AsRawFd},
    path::{Path, PathBuf},
};

pub use frame::Frame;
use frame::HEADER;

/// `--queue-dir`, `--queue-max-bytes`, `--queue-sync`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub sync: std::time::Duration,
}

impl QueueSettings {
    /// Opens the queue of output `name` (its folder in the queue dir).
    pub fn open(&self, name: &str) -> Result<(DiskQueue, Recovered), OpenError> {
        DiskQueue::open(&self.dir.join(name), self.max_bytes)
    }

    /// Opens output `name`'s queue for the sink it will belong to: what an
    /// earlier run left counts as handed to the output (in the sink's new
    /// counters), and the recovery is logged.
    pub fn open_sink(&self, name: &str) -> Result<Opened, OpenError> {
        use crate::sinks::SinkStats;
        let stats = std::sync::Arc::new(SinkStats::default());
        let (queue, rec) = self.open(name)?;
        SinkStats::add(&stats.produced, rec.records as usize);
        SinkStats::add(&stats.recovered, rec.records as usize);
        SinkStats::add(&stats.discarded_bytes, rec.discarded_bytes as usize);
        if rec.records > 0 || rec.discarded_bytes > 0 {
            crate::info!(
                "sysotel: {name} disk queue {}: {} records in {} batches left by an earlier run are sent first{}",
                queue.dir().display(),
                rec.records,
                rec.frames,
                if rec.discarded_bytes > 0 {
                    format!(
                        "; {} bytes of a torn or corrupt write were discarded",
                        rec.discarded_bytes
                    )
                } else {
                    String::new()
                }
            );
        }
        Ok(Opened {
            settings: self.clone(),
            stats,
            queue,
        })
    }

    /// How old a batch may grow before it closes and is written: well
    /// within the sync interval, so that a record is written and synced
    /// within it (the sync tick runs twice per interval).
    pub fn batch_age(&self, age: std::time::Duration) -> std::time::Duration {
        age.min(self.sync.mul_f64(0.4))
    }

    /// The sync tick.
    pub fn sync_tick(&self) -> tokio::time::Interval {
        let mut t = tokio::time::interval(self.sync / 2);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    }
}

/// An output's disk queue, opened before the output starts, and the
/// counters of the sink it belongs to.
#[derive(Debug)]
pub struct Opened {
    pub settings: QueueSettings,
    pub stats: std::sync::Arc<crate::sinks::SinkStats>,
    pub queue: DiskQueue,
}

/// The smallest and the largest segment file.
const SEGMENT_MIN: u64 = 256 << 10;
const SEGMENT_MAX: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{}: {what}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} is in use by another sysotel (pid {pid}); give each sysotel its own --queue-dir",
        dir.display()
    )]
    Locked { dir: PathBuf, pid: String },
}

/// Why a frame was not queued; each is a drop reason.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The queue holds its byte bound (`queue_full`).
    #[error("the disk queue holds its bound of {0} bytes")]
    Full(u64),
    /// The file system has no room (`disk_full`).
    #[error("the disk queue's file system is full")]
    DiskFull,
    #[error("writing the disk queue failed: {0}")]
    Io(io::Error),
}

/// A frame handed out by [`DiskQueue::next`], to acknowledge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameId {
    segment: u64,
    /// Where the frame ends in its segment.
    end: u64,
    records: u32,
}

/// What an earlier run left in the folder, found at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub frames: u64,
    pub records: u64,
    /// Bytes of torn or corrupt frames cut off (a crash mid-write).
    pub discarded_bytes: u64,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    len: u64,
}

#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    _lock: File,
    max_bytes: u64,
    segment_bytes: u64,
    /// Oldest first; the last is the one written to.
    segments: VecDeque<Segment>,
    writer: File,
    written: bool,
    cursor: File,
    cursor_moved: bool,
    /// The end of the acknowledged prefix: (segment, offset).
    acked: (u64, u64),
    /// The next frame to hand out.
    read: (u64, u64),
    reader: Option<(u64, File)>,
    /// Frames handed out, oldest first, and whether each is acknowledged.
    in_flight: VecDeque<(FrameId, bool)>,
    /// Bytes of every segment.
    total_len: u64,
    /// Records written and not acknowledged.
    records: u64,
    /// Bytes of corrupt frames skipped while reading (after start).
    pub skipped_bytes: u64,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Takes the folder's lock or says who holds it.
fn lock(dir: &Path) -> Result<File, OpenError> {
    let io = |what, source| OpenError::Io {
        dir: dir.to_path_buf(),
        what,
        source,
    };
    let path = dir.join("lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io("creating the lock file", e))?;
    // SAFETY: flock on a descriptor this function owns; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return Err(OpenError::Locked {
                dir: dir.to_path_buf(),
                pid: pid.trim().to_string(),
            });
        }
        return Err(io("locking", e));
    }
    file.set_len(0)
        .and_then(|_| file.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0))
        .map_err(|e| io("writing the lock file", e))?;
    Ok(file)
}

/// The acknowledged position the `acked` file holds, if it holds one.
fn read_cursor(file: &File) -> Option<(u64, u64)> {
    let mut b = [0u8; 20];
    file.read_exact_at(&mut b, 0).ok()?;
    let crc = u32::from_le_bytes(b[16..20].try_into().ok()?);
    (crc32fast::hash(&b[..16]) == crc).then(|| {
        (
            u64::from_le_bytes(b[..8].try_into().unwrap_or_default()),
            u64::from_le_bytes(b[8..16].try_into().unwrap_or_default()),
        )
    })
}

/// Reads the frames of `path` from `from` on; cuts the file at the first
/// frame that does not hold. Returns (frames, records, length kept,
/// bytes cut).
fn scan(path: &Path, from: u64) -> io::Result<(u64, u64, u64, u64)> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut at = from.min(len);
    let (mut frames, mut records) = (0, 0);
    let mut header = [0u8; HEADER];
    let mut body = Vec::new();
    while at < len {
        let whole = file.read_exact_at(&mut header, at).is_ok()
            && Frame::body_len(&header).is_some_and(|n| {
                body.resize(n, 0);
                at + (HEADER + n) as u64 <= len
                    && file.read_exact_at(&mut body, at + HEADER as u64).is_ok()
            });
        let Some(frame) = whole.then(|| Frame::decode(&header, &body)).flatten() else {
            file.set_len(at)?;
            file.sync_all()?;
            return Ok((frames, records, at, len - at));
        };
        frames += 1;
        records += u64::from(frame.records);
        at += (HEADER + body.len()) as u64;
    }
    Ok((frames, records, len, 0))
}

impl DiskQueue {
    /// Opens (creating it if need be) the queue in `dir`, bounded to
    /// `max_bytes`: takes the lock, recovers what an earlier run left.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(DiskQueue, Recovered), OpenError> {
        let io = |what, source| OpenError::Io {
            dir: dir.to_path_buf(),
            what,
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io("creating the folder", e))?;
        let lock = lock(dir)?;
        let cursor = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("acked"))
            .map_err(|e| io("opening the acknowledged position", e))?;
        let mut ids: Vec<u64> = std::fs::read_dir(dir)
            .map_err(|e| io("listing the folder", e))?
            .filter_map(|d| {
                let name = d.ok()?.file_name();
                name.to_str()?.strip_suffix(".seg")?.parse().ok()
            })
            .collect();
        ids.sort_unstable();
        let mut acked = read_cursor(&cursor).unwrap_or((0, 0));
        // Segments wholly before the acknowledged position were done.
        for id in ids.iter().filter(|&&id| id < acked.0) {
            let _ = std::fs::remove_file(segment_path(dir, *id));
        }
        ids.retain(|&id| id >= acked.0);
        if ids.first() != Some(&acked.0) {
            // Ids never go back: a new segment must not look done.
            acked = (ids.first().copied().unwrap_or(acked.0.max(1)), 0);
        }
        let mut recovered = Recovered::default();
        let mut segments = VecDeque::new();
        for &id in &ids {
            let from = if id == acked.0 { acked.1 } else { 0 };
            let (frames, records, len, cut) =
                scan(&segment_path(dir, id), from).map_err(|e| io("reading a segment", e))?;
            if id == acked.0 {
                acked.1 = acked.1.min(len);
            }
            recovered.frames += frames;
            recovered.records += records;
            recovered.discarded_bytes += cut;
            segments.push_back(Segment { id, len });
        }
        let avail = free_bytes(dir).unwrap_or(u64::MAX);
        let segment_bytes = (max_bytes.min(avail) / 16).clamp(SEGMENT_MIN, SEGMENT_MAX);
        if segments.is_empty() {
            segments.push_back(Segment {
                id: acked.0,
                len: 0,
            });
        }
        let last = segments.back().map_or(acked.0, |s| s.id);
        let writer = OpenOptions::new()
            .append(true)
            .create(true)
            .open(segment_path(dir, last))
            .map_err(|e| io("opening a segment", e))?;
        let total_len = segments.iter().map(|s| s.len).sum();
        let mut q = DiskQueue {
            dir: dir.to_path_buf(),
            _lock: lock,
            max_bytes,
            segment_bytes,
            segments,
            writer,
            written: false,
            cursor,
            cursor_moved: true,
            acked,
            read: acked,
            reader: None,
            in_flight: VecDeque::new(),
            total_len,
            records: recovered.records,
            skipped_bytes: 0,
        };
        q.write_cursor();
        Ok((q, recovered))
    }

    /// Bytes queued and not acknowledged.
    pub fn bytes(&self) -> u64 {
        self.total_len - self.acked.1
    }

    /// Records queued and not acknowledged (handed out or not).
    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends a frame.
    pub fn append(&mut self, frame: &Frame) -> Result<(), AppendError> {
        let bytes = frame.encode();
        let n = bytes.len() as u64;
        if self.bytes() + n > self.max_bytes {
            return Err(AppendError::Full(self.max_bytes));
        }
        let len = self.segments.back().map_or(0, |s| s.len);
        if len > 0 && len + n > self.segment_bytes {
            self.rotate().map_err(|e| {
                if is_no_space(&e) {
                    AppendError::DiskFull
                } else {
                    AppendError::Io(e)
                }
            })?;
        }
        if let Err(e) = self.writer.write_all(&bytes) {
            // Leave no partial frame behind.
            let len = self.segments.back().map_or(0, |s| s.len);
            let _ = self.writer.set_len(len);
            return Err(if is_no_space(&e) {
                AppendError::DiskFull
            } else {
                AppendError::Io(e)
            });
        }
        if let Some(s) = self.segments.back_mut() {
            s.len += n;
        }
        self.total_len += n;
        self.records += u64::from(frame.records);
        self.written = true;
        Ok(())
    }

    /// Appends a frame, or drops it: counted by reason in the output's
    /// `stats` (`queue_full`, `disk_full`, failed), its numbers remembered
    /// for the next loss report, the reason logged once per kind.
    pub fn append_or_drop(
        &mut self,
        frame: &Frame,
        stats: &crate::sinks::SinkStats,
        logged: &crate::sinks::batch::LogOnce,
        output: &str,
    ) {
        use crate::sinks::SinkStats;
        let Err(e) = self.append(frame) else {
            return;
        };
        let records = frame.records as usize;
        let (counter, kind) = match &e {
            AppendError::Full(_) => (&stats.dropped_full, "queue_full"),
            AppendError::DiskFull => (&stats.dropped_disk_full, "disk_full"),
            AppendError::Io(_) => {
                stats.count_error("disk queue write", records);
                (&stats.dropped_error, "io")
            }
        };
        logged.warn(&format!("disk/{kind}"), || {
            format!("sysotel: {output}: {e}; new batches are dropped while it lasts")
        });
        SinkStats::add(counter, records);
        let mut lost = frame.sequences.clone();
        lost.extend(&frame.carried);
        stats.lose(&lost);
    }

    /// Starts a new segment (the old one is synced first: it is not
    /// written again).
    fn rotate(&mut self) -> io::Result<()> {
        let id = self.segments.back().map_or(0, |s| s.id) + 1;
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(segment_path(&self.dir, id))?;
        self.writer.sync_data()?;
        self.writer = file;
        self.segments.push_back(Segment { id, len: 0 });
        File::open(&self.dir)?.sync_all()
    }

    /// The next frame not handed out yet, if any.
    pub fn read_next(&mut self) -> io::Result<Option<(FrameId, Frame)>> {
        loop {
            let Some(pos) = self.segments.iter().position(|s| s.id == self.read.0) else {
                return Ok(None);
            };
            let seg_len = self.segments[pos].len;
            if self.read.1 >= seg_len {
                match self.segments.get(pos + 1) {
                    Some(next) => {
                        self.read = (next.id, 0);
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            let (seg, at) = self.read;
            if self.reader.as_ref().is_none_or(|(id, _)| *id != seg) {
                self.reader = Some((seg, File::open(segment_path(&self.dir, seg))?));
            }
            let Some((_, file)) = &self.reader else {
                return Ok(None);
            };
            let mut header = [0u8; HEADER];
            let mut frame = None;
            if file.read_exact_at(&mut header, at).is_ok()
                && let Some(n) = Frame::body_len(&header)
                && at + (HEADER + n) as u64 <= seg_len
            {
                let mut body = vec![0; n];
                file.read_exact_at(&mut body, at + HEADER as u64)?;
                frame = Frame::decode(&header, &body).map(|f| (f, (HEADER + n) as u64));
            }
            match frame {
                Some((f, n)) => {
                    let id = FrameId {
                        segment: seg,
                        end: at + n,
                        records: f.records,
                    };
                    self.read.1 = at + n;
                    self.in_flight.push_back((id, false));
                    return Ok(Some((id, f)));
                }
                None => {
                    // Written whole by this run or checked at start: the
                    // disk changed it. The rest of the segment is skipped.
                    crate::warn!(
                        "sysotel: disk queue {}: a corrupt frame in segment {seg} at {at}; {} bytes skipped",
                        self.dir.display(),
                        seg_len - at
                    );
                    self.skipped_bytes += seg_len - at;
                    self.read.1 = seg_len;
                    let id = FrameId {
                        segment: seg,
                        end: seg_len,
                        records: 0,
                    };
                    self.in_flight.push_back((id, true));
                    self.advance();
                }
            }
        }
    }

    /// Whether every frame written has been handed out.
    pub fn caught_up(&self) -> bool {
        self.segments
            .back()
            .is_none_or(|s| self.read == (s.id, s.len))
    }

    /// The frame was delivered, or refused for good: it leaves the queue
    /// once every frame before it has too.
    pub fn ack(&mut self, id: FrameId) {
        if let Some(slot) = self.in_flight.iter_mut().find(|(f, _)| *f == id) {
            slot.1 = true;
        }
        self.advance();
    }

    /// Moves the acknowledged position over the acknowledged prefix and
    /// deletes the segments it left behind.
    fn advance(&mut self) {
        let mut moved = false;
        while let Some(&(id, true)) = self.in_flight.front() {
            self.in_flight.pop_front();
            self.records = self.records.saturating_sub(u64::from(id.records));
            self.acked = (id.segment, id.end);
            moved = true;
        }
        if !moved {
            return;
        }
        // A segment acknowledged to its end goes once a newer one exists.
        while self.segments.len() > 1 {
            let front = &self.segments[0];
            let done =
                front.id < self.acked.0 || (front.id == self.acked.0 && self.acked.1 >= front.len);
            if !done || self.read.0 == front.id && self.read.1 < front.len {
                break;
            }
            let (id, len) = (front.id, front.len);
            self.segments.pop_front();
            self.total_len -= len;
            if self.reader.as_ref().is_some_and(|(r, _)| *r == id) {
                self.reader = None;
            }
            let _ = std::fs::remove_file(segment_path(&self.dir, id));
            if let Some(next) = self.segments.front() {
                self.acked = (next.id, 0);
                if self.read.0 == id {
                    self.read = (next.id, 0);
                }
            }
        }
        self.write_cursor();
    }

    /// Writes the acknowledged position (synced with the next [`sync`]).
    ///
    /// [`sync`]: DiskQueue::sync
    fn write_cursor(&mut self) {
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&self.acked.0.to_le_bytes());
        b[8..16].copy_from_slice(&self.acked.1.to_le_bytes());
        let crc = crc32fast::hash(&b[..16]);
        b[16..].copy_from_slice(&crc.to_le_bytes());
        if let Err(e) = self.cursor.write_all_at(&b, 0) {
            crate::warn!(
                "sysotel: disk queue {}: writing the acknowledged position failed ({e}); a restart resends more",
                self.dir.display()
            );
        }
        self.cursor_moved = true;
    }

    /// Syncs what was written since the last sync to the disk.
    pub fn sync(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.written) {
            self.writer.sync_data()?;
        }
        if std::mem::take(&mut self.cursor_moved) {
            self.cursor.sync_data()?;
        }
        Ok(())
    }
}

/// Bytes free for an unprivileged writer on the file system of `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct it is given; the path
    // is a valid C string that outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statvfs(path.as_ptr(), &mut st) } == 0)
        .then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests;
