//! The encoders over any event the decoder accepts (and a loss report built
//! from it): a batch as one OTLP request (the direct protobuf writer) is what
//! prost encodes from the same records and decodes back to the same number
//! of records; its OTLP/JSON rendering, each Kafka `json` document and each
//! ECS document parse as JSON; a request split in two keeps every record.
#![no_main]

use exporter_common::events::EventKind;
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message as _;
use sysotel::{
    base::clock::BootClock,
    decode::decode,
    event::{Arg, Event, Value},
    format::args::args_text,
    otel::{LogMapper, Resource, json, request, wire::Encoder},
    sinks::kafka::encode::DocEncoder,
};

fn parses(what: &str, bytes: &[u8]) {
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(bytes) {
        panic!(
            "{what} does not parse ({e}): {}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// The clock and resource every run uses (detecting a resource reads files:
/// once, not per input).
fn fixed() -> &'static (BootClock, Resource) {
    static FIXED: std::sync::OnceLock<(BootClock, Resource)> = std::sync::OnceLock::new();
    FIXED.get_or_init(|| {
        (
            BootClock::with_offset(1_700_000_000_000_000_000),
            Resource::detect(Some("fuzz=1"), None).expect("a resource"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = decode(data) else { return };
    // A second event of sysotel's own kind, carrying the first one's text.
    let loss_def = EventKind::Loss.def();
    let mut loss = event.clone();
    loss.id = loss_def.id;
    loss.name = loss_def.name;
    loss.category = loss_def.category;
    loss.args = vec![Arg {
        name: "by",
        value: Value::StrList {
            values: vec![args_text(&event)],
            truncated: false,
            count: 1,
        },
    }];
    let events: Vec<Event> = vec![event.clone(), loss, event];

    let (clock, resource) = fixed();
    let clock = *clock;
    let mut wire = Encoder::new(clock, resource);
    let mut records = Vec::new();
    for e in &events {
        wire.append(e, &mut records);
    }
    let ours = wire.request(&records);
    let mapper = LogMapper::new(clock);
    let theirs = request(resource, events.iter().map(|e| mapper.record(e)).collect());
    assert!(
        ours == theirs.encode_to_vec(),
        "the direct protobuf encoding differs from prost's"
    );
    let decoded = ExportLogsServiceRequest::decode(ours.as_slice()).expect("the request decodes");
    assert_eq!(json::record_count(&decoded), events.len());
    parses(
        "the OTLP/JSON request",
        &json::otlp_json(&ours).expect("OTLP/JSON"),
    );
    let halves = json::split(&ours).expect("three records split");
    assert_eq!(
        halves[0].1 + halves[1].1,
        events.len(),
        "a split keeps every record"
    );

    let mut docs = DocEncoder::new(clock, resource);
    let mut doc = Vec::new();
    for e in &events {
        doc.clear();
        docs.json(e, &mut doc);
        parses("the Kafka json document", &doc);
        doc.clear();
        docs.ecs(e, &mut doc);
        parses("the ECS document", &doc);
    }
});
