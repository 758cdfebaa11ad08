//! The commands that trace nothing: `sysotel list` and `sysotel config check`.

use super::plan::Plan;
use crate::{event::catalog, kernel::loader::LsmAttach};

/// `sysotel list`: every event, by category, then sysotel's own records,
/// which every output receives. A closed stdout (`sysotel list | head`) ends
/// the listing quietly. The LSM events' line says whether this kernel
/// attaches them (found by attaching them for a moment, as root).
pub fn list(out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut current = None;
    let mut lsm: Option<LsmAttach> = None;
    for e in catalog::all().chain(catalog::internal()) {
        let is_lsm = e.category == exporter_common::events::Category::Lsm;
        if current != Some(e.category) {
            if is_lsm {
                // Whether this kernel runs them: found by attaching them.
                let probe = crate::kernel::loader::probe_lsm();
                let how = match (probe.bpf_lsm.len(), probe.fentry.len()) {
                    (0, 0) => "unavailable on this kernel".to_string(),
                    (_, 0) => "available on this kernel, as BPF LSM programs".to_string(),
                    (0, _) => "available on this kernel, as fentry programs".to_string(),
                    _ => "available on this kernel, as BPF LSM and fentry programs".to_string(),
                };
                writeln!(out, "{}: ({how})", e.category.name())?;
                lsm = Some(probe);
            } else if e.category == exporter_common::events::Category::Syscall {
                // The build's architecture's table: its names and numbers.
                let table = exporter_common::syscalls::SYSCALLS;
                let arch = exporter_common::syscalls::ARCH;
                writeln!(
                    out,
                    "{}: ({arch}, {} calls)",
                    e.category.name(),
                    table.len()
                )?;
            } else {
                writeln!(out, "{}:", e.category.name())?;
            }
            current = Some(e.category);
        }
        let why = lsm
            .as_ref()
            .filter(|_| is_lsm)
            .and_then(|l| l.why_unavailable(e.name));
        match why {
            Some(why) => writeln!(
                out,
                "  {:<24} {} (unavailable on this kernel: {why})",
                e.name,
                e.signature()
            )?,
            None => writeln!(out, "  {:<24} {}", e.name, e.signature())?,
        }
    }
    out.flush()
}

/// What the plan resolved to, for `sysotel config check`: the scope, the
/// filters and each output's settings after every source was applied.
pub fn describe_plan(plan: &Plan) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::from("\n# resolved\n");
    out.push_str(&format!("# filters = [{}]\n", list(plan.filters.written())));
    out.push_str(&format!("# events selected: {}\n", plan.selection.len()));
    if let Some(o) = &plan.otlp {
        // Header names only: their values are secrets.
        let headers: Vec<&str> = o.headers.iter().map(|(k, _)| k.as_str()).collect();
        out.push_str(&format!(
            "# otlp: {} {}, gzip {}, timeout {:?}, headers [{}]\n",
            o.protocol.name(),
            o.endpoint,
            o.gzip,
            o.timeout,
            headers.join(", ")
        ));
    }
    if let Some(k) = &plan.kafka {
        let brokers = k
            .properties
            .iter()
            .rev()
            .find(|(p, _)| p == "bootstrap.servers")
            .map_or("", |(_, v)| v.as_str());
        out.push_str(&format!(
            "# kafka: brokers {brokers}, topic {}, encoding {}, key {}\n",
            k.topic,
            k.encoding.name(),
            k.key.name()
        ));
    }
    out
}
