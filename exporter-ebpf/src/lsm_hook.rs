//! What the LSM hooks of numbers and addresses share (`probes/security_*`):
//! both programs of a hook from one declaration, the record they build
//! ([`LsmHookBuf`]) and what they read from a socket.

use aya_ebpf::{
    helpers::generated::bpf_probe_read_kernel,
    programs::{FEntryContext, LsmContext},
};
use exporter_common::{
    events::EventKind,
    records::{LSM_INTS, LsmHookBuf, LsmHookRecord, RecordHeader, RecordKind, SOCKADDR_MAX},
};

use crate::{
    context,
    emit::{output, scratch},
    globals::off,
    kernel::{read_or_zero, read_ptr},
    maps::LSM_HOOK_SCRATCH,
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
