//! What the LSM hooks of numbers, addresses and paths share
//! (`probes/security_*`): both programs of a hook from one declaration, the
//! records they build ([`LsmHookBuf`], [`LsmPathsBuf`]) and what they read
//! from a socket.

use aya_ebpf::{
    helpers::generated::bpf_probe_read_kernel,
    programs::{FEntryContext, LsmContext},
};
use exporter_common::{
    events::EventKind,
    records::{
        LSM_INTS, LSM_PATH_INTS, LSM_STR_CUT, LSM_STR_MAX, LSM_STR_NONE, LSM_STRS, LsmHookBuf,
        LsmHookRecord, LsmPathsBuf, LsmPathsRecord, PATH_BLOCK, RecordHeader, RecordKind,
        SOCKADDR_MAX,
    },
};

use crate::{
    context,
    emit::{output, scratch},
    globals::off,
    kernel::{read_or_zero, read_ptr, read_str},
    maps::{LSM_HOOK_SCRATCH, LSM_PATHS_SCRATCH},
    path,
};

/// The arguments of the hook, from either kind of program.
pub trait HookArgs {
    fn ptr(&self, n: usize) -> *const u8;
    fn int(&self, n: usize) -> u64;
}

impl HookArgs for LsmContext {
    #[inline(always)]
    fn ptr(&self, n: usize) -> *const u8 {
        self.arg(n)
    }
    #[inline(always)]
    fn int(&self, n: usize) -> u64 {
        self.arg(n)
    }
}

impl HookArgs for FEntryContext {
    #[inline(always)]
    fn ptr(&self, n: usize) -> *const u8 {
        self.arg(n)
    }
    #[inline(always)]
    fn int(&self, n: usize) -> u64 {
        self.arg(n)
    }
}

/// The BPF LSM program `$lsm` on hook `$hook` and the fentry program
/// `$fentry` on the kernel function `$function` (same arguments), both
/// calling `$record(&ctx)` and always allowing. Inlined into the entry
/// points the macros make: as subprograms taking the context, 5.10 and 6.1
/// refuse them ("reg type unsupported for arg#0").
macro_rules! lsm_programs {
    ($lsm:ident, $fentry:ident, $hook:literal, $function:literal, $record:ident) => {
        #[aya_ebpf::macros::lsm(hook = $hook)]
        #[inline(always)]
        pub fn $lsm(ctx: aya_ebpf::programs::LsmContext) -> i32 {
            $record(&ctx);
            0
        }

        #[aya_ebpf::macros::fentry(function = $function)]
        #[inline(always)]
        pub fn $fentry(ctx: aya_ebpf::programs::FEntryContext) -> i32 {
            $record(&ctx);
            0
        }
    };
}
pub(crate) use lsm_programs;

/// This CPU's record for `e`, its context filled, when `e` is selected and
/// the current task in scope.
#[inline(always)]
pub fn begin(e: EventKind) -> Option<&'static mut LsmHookBuf> {
    let buf = scratch(e, &LSM_HOOK_SCRATCH)?;
    context::fill(&mut buf.rec.ctx);
    buf.rec.data.ints = [0; LSM_INTS];
    buf.rec.data.addr_len = 0;
    Some(buf)
}

/// Writes the record: its fixed part and the address bytes used.
#[inline(always)]
pub fn send(e: EventKind, buf: &mut LsmHookBuf) {
    // Read back from the record: a length the verifier follows exactly
    // through every path that set it would be verified once per path.
    // SAFETY: a field of this CPU's buffer, just written.
    let used = unsafe { core::ptr::read_volatile(&raw const buf.rec.data.addr_len) } as usize;
    let len = core::mem::size_of::<LsmHookRecord>() + used.min(SOCKADDR_MAX);
    buf.rec.header = RecordHeader::new(RecordKind::LsmHook, e.id(), len);
    output(e.id(), buf, len);
}

/// `AF_INET`, `AF_INET6` (include/linux/socket.h).
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// The family, type and protocol of `sock` (a `struct socket *`) into
/// `ints[0..3]`; its `struct sock *`.
#[inline(always)]
pub fn socket(sock: *const u8, ints: &mut [u64; LSM_INTS]) -> *const u8 {
    let sk = read_ptr(sock, off!(socket_sk));
    ints[0] = u64::from(read_or_zero::<u16>(sk, off!(sk_family)));
    ints[1] = read_or_zero::<i16>(sock, off!(socket_type)) as i64 as u64;
    ints[2] = u64::from(read_or_zero::<u16>(sk, off!(sk_protocol)));
    sk
}

/// The kernel's copy of a socket address (`addr`, `len` bytes, at most
/// [`SOCKADDR_MAX`]) into the record.
#[inline(always)]
pub fn copy_addr(addr: *const u8, len: u64, buf: &mut LsmHookBuf) {
    let n = (len as u32 as usize).min(SOCKADDR_MAX);
    if addr.is_null() || n == 0 {
        return;
    }
    // SAFETY: at most SOCKADDR_MAX bytes into the SOCKADDR_MAX-byte slot;
    // the helper checks the kernel address.
    let r = unsafe {
        bpf_probe_read_kernel(buf.addr.as_mut_ptr() as *mut _, n as u32, addr as *const _)
    };
    if r == 0 {
        buf.rec.data.addr_len = n as u16;
    }
}

/// The local address of `sk` (a `struct sock *`) as a `sockaddr_in` or
/// `sockaddr_in6`, for the IP families; nothing for the others.
#[inline(always)]
pub fn local_addr(sk: *const u8, buf: &mut LsmHookBuf) {
    let family = read_or_zero::<u16>(sk, off!(sk_family));
    let port = read_or_zero::<u16>(sk, off!(sk_num)).to_be_bytes();
    let a = &mut buf.addr;
    a[..2].copy_from_slice(&family.to_ne_bytes());
    a[2..4].copy_from_slice(&port);
    if family == AF_INET {
        let ip = read_or_zero::<u32>(sk, off!(sk_rcv_saddr));
        a[4..8].copy_from_slice(&ip.to_ne_bytes());
        a[8..16].copy_from_slice(&[0; 8]);
        buf.rec.data.addr_len = 16;
    } else if family == AF_INET6 {
        let ip = read_or_zero::<[u8; 16]>(sk, off!(sk_v6_rcv_saddr));
        a[4..8].copy_from_slice(&[0; 4]);
        a[8..24].copy_from_slice(&ip);
        a[24..28].copy_from_slice(&[0; 4]);
        buf.rec.data.addr_len = 28;
    }
}

/// This CPU's paths record for `e`, its context filled, when `e` is
/// selected and the current task in scope.
#[inline(always)]
pub fn begin_paths(e: EventKind) -> Option<&'static mut LsmPathsBuf> {
    let buf = scratch(e, &LSM_PATHS_SCRATCH)?;
    context::fill(&mut buf.rec.ctx);
    let d = &mut buf.rec.data;
    d.ints = [0; LSM_PATH_INTS];
    d.path_len = [0; 2];
    d.paths = 0;
    d.str_len = [0; LSM_STRS];
    d.str_flags = [LSM_STR_NONE; LSM_STRS];
    Some(buf)
}

/// Path `I` of the record: `dentry` on the mount `vfsmnt`, walked.
#[inline(always)]
pub fn path_at<const I: usize>(buf: &mut LsmPathsBuf, dentry: *const u8, vfsmnt: *const u8) {
    let (len, flags, count) = path::walk(dentry, vfsmnt, &mut buf.paths[I]);
    let d = &mut buf.rec.data;
    d.path_len[I] = len;
    d.path_flags[I] = flags;
    d.path_count[I] = count;
    d.paths = I as u8 + 1;
}

/// String `I` of the record: the kernel string at `src` (none if NULL).
#[inline(always)]
pub fn str_at<const I: usize>(buf: &mut LsmPathsBuf, src: *const u8) {
    if src.is_null() {
        return;
    }
    let (len, cut, fault) = read_str(src, &mut buf.strs[I]);
    let d = &mut buf.rec.data;
    d.str_len[I] = len;
    d.str_flags[I] = if fault {
        LSM_STR_NONE
    } else if cut {
        LSM_STR_CUT
    } else {
        0
    };
}

/// Writes the paths record: its fixed part, the string slots, the first
/// path block whole when there are two, and the used part of the last.
#[inline(always)]
pub fn send_paths(e: EventKind, buf: &mut LsmPathsBuf) {
    // Read back from the record (see `send`).
    // SAFETY: fields of this CPU's buffer, just written.
    let (paths, last) = unsafe {
        let paths = core::ptr::read_volatile(&raw const buf.rec.data.paths);
        let last = if paths > 1 {
            core::ptr::read_volatile(&raw const buf.rec.data.path_len[1])
        } else {
            core::ptr::read_volatile(&raw const buf.rec.data.path_len[0])
        };
        (paths, last as usize)
    };
    let whole = if paths > 1 { PATH_BLOCK } else { 0 };
    let len = core::mem::size_of::<LsmPathsRecord>()
        + LSM_STRS * LSM_STR_MAX
        + whole
        + last.min(PATH_BLOCK);
    buf.rec.header = RecordHeader::new(RecordKind::LsmPaths, e.id(), len);
    output(e.id(), buf, len);
}
