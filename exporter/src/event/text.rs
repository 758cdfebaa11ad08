//! Bytes from the kernel as text.

/// Valid UTF-8 is kept, every other byte is escaped as `\xNN` so nothing is
/// lost or silently replaced.
pub fn text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A NUL-terminated buffer as text (up to the first NUL).
pub fn c_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    text(&buf[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_invalid_utf8_only() {
        assert_eq!(text(b"caf\xc3\xa9"), "café");
        assert_eq!(text(b"a\xffb"), "a\\xffb");
        assert_eq!(c_text(b"bash\0\0junk"), "bash");
    }
}
