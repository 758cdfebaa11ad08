//! OTLP/JSON and request splitting, both on the protobuf request the batch
//! encoder wrote (the slower paths: protobuf is the default everywhere).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message as _;

/// The request as OTLP/JSON (the protobuf message's JSON mapping).
pub fn otlp_json(request: &[u8]) -> Result<Vec<u8>, String> {
    let msg = ExportLogsServiceRequest::decode(request).map_err(|e| e.to_string())?;
    serde_json::to_vec(&msg).map_err(|e| e.to_string())
}

/// How many log records a request holds.
pub fn record_count(msg: &ExportLogsServiceRequest) -> usize {
    msg.resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum()
}

/// Splits a protobuf request of more than one record into two with the same
/// resource and scope, halving its records: `(request, records)` each.
/// `None` when it holds one record or cannot be decoded.
pub fn split(request: &[u8]) -> Option<[(Vec<u8>, usize); 2]> {
    let msg = ExportLogsServiceRequest::decode(request).ok()?;
    let total = record_count(&msg);
    if total < 2 {
        return None;
    }
    // Keep the first half of the records (in order) in `a`, the rest in `b`.
    let mut a = msg.clone();
    let mut b = msg;
    let mut left = total / 2;
    for (ra, rb) in a.resource_logs.iter_mut().zip(b.resource_logs.iter_mut()) {
        for (sa, sb) in ra.scope_logs.iter_mut().zip(rb.scope_logs.iter_mut()) {
            let keep = left.min(sa.log_records.len());
            sa.log_records.truncate(keep);
            sb.log_records.drain(..keep);
            left -= keep;
        }
    }
    for m in [&mut a, &mut b] {
        for r in m.resource_logs.iter_mut() {
            r.scope_logs.retain(|s| !s.log_records.is_empty());
        }
        m.resource_logs.retain(|r| !r.scope_logs.is_empty());
    }
    let (na, nb) = (record_count(&a), record_count(&b));
    Some([(a.encode_to_vec(), na), (b.encode_to_vec(), nb)])
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::logs::v1::LogRecord;

    use super::*;
    use crate::otel::{Resource, record::request};

    #[test]
    fn split_halves_in_order_and_keeps_the_resource() {
        let resource = Resource {
            attributes: vec![("host.name".into(), "h".into())],
        };
        let records: Vec<LogRecord> = (0..5)
            .map(|i| LogRecord {
                time_unix_nano: i,
                ..Default::default()
            })
            .collect();
        let bytes = request(&resource, records).encode_to_vec();
        let [(a, na), (b, nb)] = split(&bytes).expect("five records split");
        assert_eq!((na, nb), (2, 3));
        let times = |bytes: &[u8]| {
            let m = ExportLogsServiceRequest::decode(bytes).expect("valid");
            assert_eq!(m.resource_logs[0].resource, Some(resource.proto()));
            m.resource_logs[0].scope_logs[0]
                .log_records
                .iter()
                .map(|r| r.time_unix_nano)
                .collect::<Vec<_>>()
        };
        assert_eq!(times(&a), vec![0, 1]);
        assert_eq!(times(&b), vec![2, 3, 4]);
        let one = request(&resource, vec![LogRecord::default()]).encode_to_vec();
        assert!(split(&one).is_none());
        assert!(split(b"\xff\xff").is_none());
        let json = String::from_utf8(otlp_json(&a).expect("encodes")).expect("utf-8");
        assert!(json.contains("\"resourceLogs\""), "{json}");
    }
}
