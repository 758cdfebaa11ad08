//! The embedded eBPF object, adjusted for the running kernel before it is
//! loaded: settings the loader cannot override (a map's flags) are written
//! into a copy of the ELF bytes.

use object::{Object, ObjectSection, ObjectSymbol};
use thiserror::Error;

/// Where `map_flags` lies in a `maps`-section map definition (`bpf_map_def`:
/// type, key_size, value_size, max_entries, map_flags, id, pinning, each u32).
const MAP_FLAGS_OFFSET: u64 = 16;

#[derive(Debug, Error)]
pub enum ObjectError {
    #[error("the eBPF object does not parse: {0}")]
    Parse(#[from] object::Error),
    #[error("the eBPF object has no map {0} in its `maps` section")]
    NoMap(String),
}

/// The file offset of map `name`'s definition in `elf`.
fn map_definition(elf: &[u8], name: &str) -> Result<usize, ObjectError> {
    let file = object::File::parse(elf)?;
    let missing = || ObjectError::NoMap(name.to_string());
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(name))
        .ok_or_else(missing)?;
    let section = sym
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
        .filter(|s| s.name() == Ok("maps"))
        .ok_or_else(missing)?;
    let (start, size) = section.file_range().ok_or_else(missing)?;
    let at = sym
        .address()
        .checked_sub(section.address())
        .ok_or_else(missing)?;
    if at + MAP_FLAGS_OFFSET + 4 > size {
        return Err(missing());
    }
    Ok((start + at) as usize)
}

/// A copy of `elf` with map `name` created with `flags`.
pub fn with_map_flags(elf: &[u8], name: &str, flags: u32) -> Result<Vec<u8>, ObjectError> {
    let at = map_definition(elf, name)? + MAP_FLAGS_OFFSET as usize;
    let mut out = elf.to_vec();
    out[at..at + 4].copy_from_slice(&flags.to_le_bytes());
    Ok(out)
}

/// The flags map `name` is created with in `elf`.
pub fn map_flags(elf: &[u8], name: &str) -> Result<u32, ObjectError> {
    let at = map_definition(elf, name)? + MAP_FLAGS_OFFSET as usize;
    Ok(u32::from_le_bytes(
        elf[at..at + 4].try_into().expect("four bytes"),
    ))
}
