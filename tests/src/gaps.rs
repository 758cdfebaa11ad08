//! The receiver's side of `sysotel.sequence`: given what an output
//! delivered (records and its `sysotel.loss` reports), which numbers of each
//! run (`service.instance.id`) are neither delivered nor named by a report.

use std::collections::BTreeMap;

/// One delivered record, as the accounting needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub instance: String,
    pub sequence: u64,
    /// For a `sysotel.loss` report: its stage and the numbers it names.
    pub loss: Option<(String, Vec<(u64, u64)>)>,
}

/// One run's numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    /// Distinct numbers delivered.
    pub delivered: u64,
    /// Numbers delivered more than once (extra copies).
    pub duplicates: u64,
    /// Distinct numbers the reports name.
    pub reported_lost: u64,
    /// Numbers both delivered and named lost (a partial rejection can do that).
    pub delivered_and_reported: u64,
    /// The highest number seen (delivered or named).
    pub last: u64,
    /// Numbers from 0 to `last` neither delivered nor named, as ranges.
    pub unaccounted: Vec<(u64, u64)>,
}

/// Parses the `sequences` text of a loss report (`a-b` or `n`).
pub fn parse_ranges(values: &[String]) -> Vec<(u64, u64)> {
    values
        .iter()
        .map(|t| {
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            let n = |s: &str| {
                s.parse::<u64>()
                    .unwrap_or_else(|_| panic!("`{t}` is not a sequence range"))
            };
            (n(a), n(b))
        })
        .collect()
}

/// A run's delivered numbers (with repeats) and the ranges its reports name.
type RunNumbers = (Vec<u64>, Vec<(u64, u64)>);

/// Accounts every run's numbers in `seen`, taking the loss reports of
/// `stage` (`output:otlp`, `output:kafka`).
pub fn account(seen: &[Seen], stage: &str) -> BTreeMap<String, Accounting> {
    let mut runs: BTreeMap<String, RunNumbers> = BTreeMap::new();
    for s in seen {
        let run = runs.entry(s.instance.clone()).or_default();
        run.0.push(s.sequence);
        if let Some((st, ranges)) = &s.loss
            && st == stage
        {
            run.1.extend(ranges.iter().copied());
        }
    }
    runs.into_iter()
        .map(|(instance, (mut got, mut lost))| {
            got.sort_unstable();
            let all = got.len() as u64;
            got.dedup();
            lost.sort_unstable();
            // Merge the named ranges.
            let mut merged: Vec<(u64, u64)> = Vec::new();
            for (a, b) in lost {
                match merged.last_mut() {
                    Some(m) if a <= m.1.saturating_add(1) => m.1 = m.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            let last = got
                .last()
                .copied()
                .max(merged.last().map(|m| m.1))
                .unwrap_or(0);
            let mut acc = Accounting {
                delivered: got.len() as u64,
                duplicates: all - got.len() as u64,
                reported_lost: merged.iter().map(|(a, b)| b - a + 1).sum(),
                last,
                ..Default::default()
            };
            let covered = |n: u64| {
                let i = merged.partition_point(|m| m.1 < n);
                merged.get(i).is_some_and(|m| m.0 <= n)
            };
            acc.delivered_and_reported = got.iter().filter(|&&n| covered(n)).count() as u64;
            // Walk 0..=last: the gaps between delivered numbers that no
            // range covers.
            let mut next = 0u64;
            let gap = |from: u64, to: u64, acc: &mut Accounting| {
                // [from, to] holds no delivered number: subtract the ranges.
                let mut at = from;
                for &(a, b) in &merged {
                    if b < at || a > to {
                        continue;
                    }
                    if a > at {
                        acc.unaccounted.push((at, a - 1));
                    }
                    at = b.saturating_add(1);
                    if at > to {
                        return;
                    }
                }
                if at <= to {
                    acc.unaccounted.push((at, to));
                }
            };
            for &n in &got {
                if n > next {
                    gap(next, n - 1, &mut acc);
                }
                next = n + 1;
            }
            if next <= last {
                gap(next, last, &mut acc);
            }
            (instance, acc)
        })
        .collect()
}

/// The accounting of OTLP records as rotel printed them.
pub fn from_rotel(records: &[crate::rotel::Record]) -> Vec<Seen> {
    records
        .iter()
        .map(|r| {
            let instance = r
                .resource
                .get("service.instance.id")
                .map(|v| unwrap_rotel(v).to_string())
                .unwrap_or_else(|| panic!("a record without service.instance.id: {r:?}"));
            let sequence = r
                .attr("sysotel.sequence")
                .map(unwrap_rotel)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("a record without sysotel.sequence: {r:?}"));
            let loss = (r.event_name == "sysotel.loss").then(|| {
                let stage = r.attr("sysotel.arg.stage").map(unwrap_rotel).unwrap_or("");
                let seqs = r
                    .attr("sysotel.arg.sequences")
                    .map(rotel_list)
                    .unwrap_or_default();
                (stage.to_string(), parse_ranges(&seqs))
            });
            Seen {
                instance,
                sequence,
                loss,
            }
        })
        .collect()
}

/// The accounting of flat JSON documents (the Kafka `json` encoding: the
/// OTLP attribute names as keys, the resource's among them).
pub fn from_json_docs(docs: &[serde_json::Value]) -> Vec<Seen> {
    docs.iter()
        .map(|d| {
            let instance = d["service.instance.id"]
                .as_str()
                .unwrap_or_else(|| panic!("a document without service.instance.id: {d}"))
                .to_string();
            let sequence = d["sysotel.sequence"]
                .as_u64()
                .unwrap_or_else(|| panic!("a document without sysotel.sequence: {d}"));
            let loss = (d["event.name"] == "sysotel.loss").then(|| {
                let stage = d["sysotel.arg.stage"].as_str().unwrap_or("").to_string();
                let seqs: Vec<String> = d["sysotel.arg.sequences"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                (stage, parse_ranges(&seqs))
            });
            Seen {
                instance,
                sequence,
                loss,
            }
        })
        .collect()
}

/// `Int(42)` -> `42`, `Str(x)` -> `x`.
fn unwrap_rotel(v: &str) -> &str {
    v.split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or(v)
}

/// rotel's array form -> its strings.
fn rotel_list(v: &str) -> Vec<String> {
    // `Array([Str(1-5), Str(9)])`, or an empty array.
    v.split("Str(")
        .skip(1)
        .filter_map(|s| s.split_once(')').map(|(x, _)| x.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> Seen {
        Seen {
            instance: "a".into(),
            sequence: seq,
            loss: None,
        }
    }

    #[test]
    fn gaps_not_named_by_a_report_are_unaccounted() {
        let mut seen: Vec<Seen> = [0, 1, 2, 6, 7, 7, 12].into_iter().map(rec).collect();
        seen.push(Seen {
            instance: "a".into(),
            sequence: 13,
            loss: Some(("output:otlp".into(), vec![(3, 4), (8, 9)])),
        });
        // Another output's report names nothing for this one.
        seen.push(Seen {
            instance: "a".into(),
            sequence: 14,
            loss: Some(("output:kafka".into(), vec![(10, 11)])),
        });
        let acc = &account(&seen, "output:otlp")["a"];
        assert_eq!(acc.delivered, 8);
        assert_eq!(acc.duplicates, 1);
        assert_eq!(acc.reported_lost, 4);
        assert_eq!(acc.unaccounted, vec![(5, 5), (10, 11)]);
        assert_eq!(acc.last, 14);
        assert_eq!(
            parse_ranges(&["1-5".into(), "9".into()]),
            vec![(1, 5), (9, 9)]
        );
        assert_eq!(rotel_list("Array([Str(1-5), Str(9)])"), vec!["1-5", "9"]);
    }
}
