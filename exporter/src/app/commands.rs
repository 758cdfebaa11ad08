//! The commands that trace nothing: `sysotel list` and `sysotel config check`.

use super::plan::Plan;
use crate::{event::catalog, kernel::loader::LsmMechanism};

/// `sysotel list`: every event, by category, then sysotel's own records,
/// which every output receives. A closed stdout (`sysotel list | head`) ends
/// the listing quietly. The LSM events' line says whether this kernel
/// attaches them (found by attaching them for a moment, as root).
pub fn list(out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut current = None;
    for e in catalog::all().chain(catalog::internal()) {
        if current != Some(e.category) {
            if e.category == exporter_common::events::Category::Lsm {
                // Whether this kernel runs them: found by attaching them.
                let how = match crate::kernel::loader::probe_lsm() {
                    LsmMechanism::BpfLsm => "available on this kernel, as BPF LSM programs".into(),
                    LsmMechanism::Fentry => "available on this kernel, as fentry programs".into(),
                    LsmMechanism::Off(why) => {
                        format!("unavailable on this kernel: {why}")
                    }
                    LsmMechanism::NotSelected => "unavailable: no LSM event is declared".into(),
                };
                writeln!(out, "{}: ({how})", e.category.name())?;
            } else {
                writeln!(out, "{}:", e.category.name())?;
            }
            current = Some(e.category);
        }
        writeln!(out, "  {:<24} {}", e.name, e.signature())?;
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
