//! A small reader of the kernel's BTF (`/sys/kernel/btf/vmlinux`): enough to find
//! a struct member's byte offset by path, through anonymous structs and unions,
//! and a function prototype's parameter count.
//!
//! Format: Documentation/bpf/btf.rst. Every read is bounds-checked; a malformed
//! blob is an error, never a panic.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BtfError {
    #[error("BTF blob is malformed: {0}")]
    Malformed(&'static str),
    #[error("BTF has no struct named `{0}`")]
    NoStruct(String),
    #[error("BTF struct `{strukt}` has no member `{member}`")]
    NoMember { strukt: String, member: String },
    #[error("BTF member `{0}` is a bitfield or not byte aligned")]
    Unaligned(String),
    #[error("BTF has no type named `{0}`")]
    NoType(String),
}

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Clone, Copy, Debug)]
struct Type {
    name_off: u32,
    kind: u32,
    vlen: u32,
    kind_flag: bool,
    /// `size` for sized kinds, `type` for referencing kinds.
    size_or_type: u32,
    /// Offset of the kind-specific trailing data in the type section.
    extra: usize,
}

/// A member found by [`Btf::member`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Byte offset from the start of the outermost struct.
    pub offset: u32,
    /// The member's type id, with typedefs and qualifiers resolved.
    pub type_id: u32,
}

pub struct Btf {
    types_data: Vec<u8>,
    strings: Vec<u8>,
    /// Index `i` holds type id `i + 1`.
    types: Vec<Type>,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

impl Btf {
    /// Parses a little-endian BTF blob (the only byte order sysotel runs on).
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let m = |what| BtfError::Malformed(what);
        if u16_at(data, 0).ok_or(m("short header"))? != MAGIC {
            return Err(m("bad magic (big-endian or not BTF)"));
        }
        let hdr_len = u32_at(data, 4).ok_or(m("short header"))? as usize;
        let type_off = u32_at(data, 8).ok_or(m("short header"))? as usize;
        let type_len = u32_at(data, 12).ok_or(m("short header"))? as usize;
        let str_off = u32_at(data, 16).ok_or(m("short header"))? as usize;
        let str_len = u32_at(data, 20).ok_or(m("short header"))? as usize;
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            data.get(start..start.checked_add(len)?)
        };
        let types_data = section(type_off, type_len)
            .ok_or(m("type section out of bounds"))?
            .to_vec();
        let strings = section(str_off, str_len)
            .ok_or(m("string section out of bounds"))?
            .to_vec();

        let mut types = Vec::new();
        let mut pos = 0usize;
        while pos < types_data.len() {
            let name_off = u32_at(&types_data, pos).ok_or(m("truncated type"))?;
            let info = u32_at(&types_data, pos + 4).ok_or(m("truncated type"))?;
            let size_or_type = u32_at(&types_data, pos + 8).ok_or(m("truncated type"))?;
            let kind = (info >> 24) & 0x1f;
            let vlen = info & 0xffff;
            let extra = pos + 12;
            let extra_len = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen as usize,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen as usize,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                _ => return Err(m("unknown type kind")),
            };
            if extra + extra_len > types_data.len() {
                return Err(m("truncated type data"));
            }
            types.push(Type {
                name_off,
                kind,
                vlen,
                kind_flag: info >> 31 == 1,
                size_or_type,
                extra,
            });
            pos = extra + extra_len;
        }
        Ok(Btf {
            types_data,
            strings,
            types,
        })
    }

    fn name(&self, off: u32) -> &str {
        let start = off as usize;
        let Some(rest) = self.strings.get(start..) else {
            return "";
        };
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    fn ty(&self, id: u32) -> Option<&Type> {
        self.types.get((id as usize).checked_sub(1)?)
    }

    /// Follows typedefs and qualifiers to the underlying type.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..32 {
            match self.ty(id) {
                Some(t)
                    if matches!(
                        t.kind,
                        KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
                    ) =>
                {
                    id = t.size_or_type
                }
                _ => break,
            }
        }
        id
    }

    /// The id of the first type of `kind` named `name`.
    fn find(&self, name: &str, kind: u32) -> Option<u32> {
        self.types
            .iter()
            .position(|t| t.kind == kind && self.name(t.name_off) == name)
            .map(|i| i as u32 + 1)
    }

    /// Members of a struct or union: (name, type id, bit offset, is bitfield).
    fn members(&self, id: u32) -> Vec<(&str, u32, u32, bool)> {
        let Some(t) = self.ty(id) else {
            return Vec::new();
        };
        if t.kind != KIND_STRUCT && t.kind != KIND_UNION {
            return Vec::new();
        }
        (0..t.vlen as usize)
            .filter_map(|i| {
                let at = t.extra + i * 12;
                let name_off = u32_at(&self.types_data, at)?;
                let type_id = u32_at(&self.types_data, at + 4)?;
                let raw = u32_at(&self.types_data, at + 8)?;
                let (bit_off, bitfield) = if t.kind_flag {
                    (raw & 0xff_ffff, raw >> 24 != 0)
                } else {
                    (raw, false)
                };
                Some((self.name(name_off), type_id, bit_off, bitfield))
            })
            .collect()
    }

    /// Finds `name` in struct/union `id`, descending into anonymous members.
    fn find_member(&self, id: u32, name: &str) -> Option<(u32, u32, bool)> {
        for (mname, type_id, bit_off, bitfield) in self.members(id) {
            if mname == name {
                return Some((bit_off, type_id, bitfield));
            }
            if mname.is_empty() {
                let inner = self.resolve(type_id);
                if let Some((b, t, bf)) = self.find_member(inner, name) {
                    return Some((bit_off + b, t, bf));
                }
            }
        }
        None
    }

    /// The byte offset of `path` (`"name.nodename"`, dot-separated members)
    /// inside `struct strukt`.
    pub fn member(&self, strukt: &str, path: &str) -> Result<Member, BtfError> {
        let mut id = self
            .find(strukt, KIND_STRUCT)
            .ok_or_else(|| BtfError::NoStruct(strukt.to_string()))?;
        let mut bits = 0u32;
        for part in path.split('.') {
            let (b, type_id, bitfield) =
                self.find_member(id, part)
                    .ok_or_else(|| BtfError::NoMember {
                        strukt: strukt.to_string(),
                        member: path.to_string(),
                    })?;
            if bitfield || !(bits + b).is_multiple_of(8) {
                return Err(BtfError::Unaligned(format!("{strukt}.{path}")));
            }
            bits += b;
            id = self.resolve(type_id);
        }
        Ok(Member {
            offset: bits / 8,
            type_id: id,
        })
    }

    /// Size in bytes of a resolved type (ints, structs, unions, enums; 8 for pointers).
    pub fn size_of(&self, id: u32) -> Option<u32> {
        let id = self.resolve(id);
        let t = self.ty(id)?;
        match t.kind {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT => {
                Some(t.size_or_type)
            }
            KIND_PTR => Some(8),
            KIND_ARRAY => {
                let elem = u32_at(&self.types_data, t.extra)?;
                let n = u32_at(&self.types_data, t.extra + 8)?;
                self.size_of(elem)?.checked_mul(n)
            }
            _ => None,
        }
    }

    /// Whether a resolved type is a pointer.
    pub fn is_ptr(&self, id: u32) -> bool {
        self.ty(self.resolve(id))
            .is_some_and(|t| t.kind == KIND_PTR)
    }

    /// The element type of an array type.
    pub fn array_elem(&self, id: u32) -> Option<u32> {
        let t = self.ty(self.resolve(id))?;
        (t.kind == KIND_ARRAY)
            .then(|| u32_at(&self.types_data, t.extra).map(|e| self.resolve(e)))?
    }

    /// Parameter count of the function prototype behind typedef `name` (a
    /// pointer to a FUNC_PROTO, like the `btf_trace_<tracepoint>` typedefs).
    pub fn typedef_proto_params(&self, name: &str) -> Result<u32, BtfError> {
        let id = self
            .find(name, KIND_TYPEDEF)
            .ok_or_else(|| BtfError::NoType(name.to_string()))?;
        let mut id = self.resolve(id);
        if let Some(t) = self.ty(id)
            && t.kind == KIND_PTR
        {
            id = self.resolve(t.size_or_type);
        }
        match self.ty(id) {
            Some(t) if t.kind == KIND_FUNC_PROTO => Ok(t.vlen),
            _ => Err(BtfError::NoType(format!(
                "{name} (not a function prototype)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Btf::parse(&[]).is_err());
        assert!(Btf::parse(&[0x9f, 0xeb, 1, 0]).is_err());
        let mut hdr = vec![0x9f, 0xeb, 1, 0, 24, 0, 0, 0];
        hdr.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(
            Btf::parse(&hdr).is_err(),
            "type section past the end must fail"
        );
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let _ = Btf::parse(&junk);
        }
    }

    #[test]
    fn running_kernel_has_the_fields_sysotel_reads() {
        // sysotel runs only on kernels with BTF, and so do its tests.
        let data = std::fs::read("/sys/kernel/btf/vmlinux").expect("/sys/kernel/btf/vmlinux");
        let btf = Btf::parse(&data).expect("vmlinux BTF parses");
        let tgid = btf.member("task_struct", "tgid").expect("task_struct.tgid");
        assert_eq!(btf.size_of(tgid.type_id), Some(4));
        let node = btf
            .member("uts_namespace", "name.nodename")
            .expect("uts_namespace.name.nodename");
        assert_eq!(btf.size_of(node.type_id), Some(65));
        assert!(btf.member("task_struct", "no_such_field").is_err());
        assert!(btf.member("no_such_struct", "x").is_err());
    }
}
