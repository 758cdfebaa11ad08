//! Events for tests and benchmarks, built the way the decoder builds them:
//! id, name, category and return kind from the catalog.

use exporter_common::{events::EventKind, syscalls};

use super::{Arg, Category, Context, Event, Value};

/// Syscall `name` (from the syscall table) of `ctx`, returning `ret`.
pub fn syscall(name: &str, ctx: Context, ret: i64, args: Vec<(&'static str, Value)>) -> Event {
    let def = syscalls::by_name(name).unwrap_or_else(|| panic!("no syscall {name}"));
    Event {
        id: def.nr,
        name: def.name,
        category: Category::Syscall,
        ctx,
        ret,
        ret_kind: def.ret,
        no_return: def.no_return,
        args: args_of(args),
        observed_unix_ns: 0,
        sequence: 0,
    }
}

/// Declared event `kind` of `ctx`, with `args` whatever their names.
pub fn declared(kind: EventKind, ctx: Context, args: Vec<(&'static str, Value)>) -> Event {
    let mut e = Event::declared(kind, ctx, Vec::new());
    e.args = args_of(args);
    e
}

/// A string argument as read whole.
pub fn string(v: &str) -> Value {
    Value::Str {
        value: v.into(),
        truncated: false,
    }
}

fn args_of(args: Vec<(&'static str, Value)>) -> Vec<Arg> {
    args.into_iter()
        .map(|(name, value)| Arg { name, value })
        .collect()
}
