//! An event's arguments and call as text: `dfd: AT_FDCWD, filename:
//! "/etc/passwd", flags: O_RDONLY` (the table's ARGS column) and
//! `openat(dfd: AT_FDCWD, ...) = 3` (the OTLP body, the ECS message).

use std::fmt::Write as _;

use super::flags;
use crate::{
    base::text::{push_int_str, push_uint_str},
    event::{Category, Event, Value, errno},
};

/// A string as it appears in ARGS: quoted, with quotes and control characters
/// escaped. Backslashes are left alone: bytes that are not UTF-8 already arrive
/// as `\xNN` (see `event::text`).
fn quote(out: &mut String, s: &str) {
    out.push('"');
    // Printable ASCII other than `"` is copied as it is, in one piece.
    let plain = s
        .bytes()
        .position(|b| !(0x20..0x7f).contains(&b) || b == b'"')
        .unwrap_or(s.len());
    out.push_str(&s[..plain]);
    for c in s[plain..].chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One value as ARGS shows it.
pub fn value_text(out: &mut String, v: &Value) {
    match v {
        Value::Int(i) => push_int_str(out, *i),
        Value::UInt(u) => push_uint_str(out, *u),
        Value::Hex(h) => {
            let _ = write!(out, "{h:#x}");
        }
        Value::Octal(o) => {
            let _ = write!(out, "0{o:o}");
        }
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Fd(fd) => match flags::fd(*fd) {
            Some(name) => out.push_str(name),
            None => push_int_str(out, *fd),
        },
        Value::Sym { text, .. } => out.push_str(text),
        Value::SockAddr(a) => out.push_str(&super::sockaddr::text(a)),
        Value::Str { value, truncated } => {
            quote(out, value);
            if *truncated {
                out.push_str("...");
            }
        }
        Value::Unreadable(p) => {
            let _ = write!(out, "{p:#x} (unreadable)");
        }
        Value::StrList {
            values,
            truncated,
            count,
        } => {
            out.push('[');
            for (i, s) in values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                quote(out, s);
            }
            if *truncated {
                if !values.is_empty() {
                    out.push_str(", ");
                }
                out.push_str("...");
            }
            out.push(']');
            if *truncated {
                let _ = write!(out, " ({count})");
            }
        }
    }
}

/// ARGS: `name: value` pairs joined by `, `, appended to `out`.
pub fn args_text_into(out: &mut String, e: &Event) {
    for (i, a) in e.args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(a.name);
        out.push_str(": ");
        value_text(out, &a.value);
    }
}

/// [`args_text_into`] as a new string.
pub fn args_text(e: &Event) -> String {
    let mut out = String::new();
    args_text_into(&mut out, e);
    out
}

/// The call line into `out`: `openat(dfd: AT_FDCWD, filename: "/etc/passwd",
/// flags: O_RDONLY) = 3`, and the errno name after a failure.
pub fn call_text_into(out: &mut String, e: &Event) {
    out.push_str(e.name);
    out.push('(');
    args_text_into(out, e);
    out.push(')');
    if e.category == Category::Syscall && !e.no_return {
        out.push_str(" = ");
        push_int_str(out, e.ret);
        if let Some(n) = e.errno() {
            out.push(' ');
            out.push_str(errno::name(n).unwrap_or("E?"));
        }
    }
}

/// [`call_text_into`] as a new string.
pub fn call_text(e: &Event) -> String {
    let mut s = String::new();
    call_text_into(&mut s, e);
    s
}
