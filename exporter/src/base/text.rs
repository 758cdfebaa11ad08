//! Writing numbers and JSON strings into buffers without `core::fmt`: the
//! encoders' hot path, where formatting machinery cost more than the bytes.

/// `v` in decimal.
pub fn push_int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `v` in decimal.
pub fn push_uint(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `v` in decimal, into a `String`.
pub fn push_int_str(out: &mut String, v: i64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// `v` in decimal, into a `String`.
pub fn push_uint_str(out: &mut String, v: u64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// `v` as exactly `width` decimal digits (zero-padded, the low digits kept).
pub fn push_digits(out: &mut String, mut v: u64, width: usize) {
    let mut d = [b'0'; 20];
    let width = width.min(d.len());
    for i in (0..width).rev() {
        d[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&d[..width]).unwrap_or_default());
}

/// What a byte becomes inside a JSON string: 0 as it is, `u` as `\u00XX`,
/// or the letter after a backslash.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// `s` as a JSON string, quotes included (the escapes serde_json writes).
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[b as usize];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', esc]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_at_their_bounds() {
        let mut out = Vec::new();
        for v in [0, -1, 7, i64::MIN, i64::MAX] {
            out.clear();
            push_int(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
        out.clear();
        push_uint(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
        let mut s = String::new();
        push_digits(&mut s, 7, 9);
        push_digits(&mut s, 2026, 4);
        push_digits(&mut s, 123, 2);
        assert_eq!(s, "000000007202623");
    }

    #[test]
    fn json_strings_escape_as_serde_json_does() {
        let mut all = String::new();
        for c in 0u8..0x80 {
            all.push(c as char);
        }
        for s in [
            "",
            "plain",
            "/etc/\"x\"",
            "a\\b",
            "tab\there\nnew\rline",
            &all,
            "é ü 日本 \u{7f}\u{85}",
        ] {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(
                out,
                serde_json::to_vec(s).expect("a string serialises"),
                "{s:?}"
            );
        }
    }
}
