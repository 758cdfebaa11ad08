//! Map + encode cost per record on one core: events -> OTLP log records ->
//! one `ExportLogsServiceRequest` per batch -> protobuf bytes, as the OTLP
//! sink does it; and the Kafka `json` and `ecs` documents.
//! `cargo bench -p exporter --bench encode`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use sysotel::{
    base::clock::BootClock,
    event::{Context, Event, Value, testing},
    otel::{LogMapper, Resource, request, wire::Encoder},
    sinks::kafka::encode::DocEncoder,
};

const BATCH: usize = 1024;

fn events() -> Vec<Event> {
    (0..BATCH)
        .map(|i| {
            let ctx = Context {
                ts_boot_ns: 1_000_000_000 + i as u64,
                cgroup_id: 7,
                pid: 4242,
                tid: 4242,
                ppid: 1,
                vpid: 4242,
                uid: 1000,
                gid: 1000,
                mnt_ns: 4026531841,
                pid_ns: 4026531836,
                comm: "nginx".into(),
                uts_name: "web-1".into(),
                container_id: None,
                container: None,
                ..Default::default()
            };
            let flags = Value::Sym {
                raw: 0o2000000,
                text: "O_RDONLY|O_CLOEXEC".into(),
            };
            let path = testing::string(&format!("/var/www/html/index-{i}.html"));
            let mut e = testing::syscall(
                "openat",
                ctx,
                3,
                vec![
                    ("dfd", Value::Fd(-100)),
                    ("filename", path),
                    ("flags", flags),
                    ("mode", Value::Octal(0)),
                ],
            );
            e.observed_unix_ns = 1_700_000_000_000_000_000;
            e
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = events();
    let mapper = LogMapper::new(BootClock::with_offset(1_700_000_000_000_000_000));
    let resource = Resource::detect(None, None).expect("resource");
    let mut g = c.benchmark_group("otlp");
    g.throughput(Throughput::Elements(BATCH as u64));
    // Building prost messages first, then encoding them (the OTLP/JSON path).
    g.bench_function("prost map+encode batch of 1024", |b| {
        b.iter(|| {
            let records = events.iter().map(|e| mapper.record(e)).collect();
            request(&resource, records).encode_to_vec()
        })
    });
    // What the OTLP sink does: straight to protobuf bytes.
    let mut encoder = Encoder::new(BootClock::with_offset(1_700_000_000_000_000_000), &resource);
    let mut records = Vec::with_capacity(1 << 20);
    g.bench_function("direct encode batch of 1024", |b| {
        b.iter(|| {
            records.clear();
            for e in &events {
                encoder.append(e, &mut records);
            }
            encoder.request(&records)
        })
    });
    // The same with every event from another task than the one before: the
    // task's attributes are written each time (no reuse).
    let mut switching = events.clone();
    for (i, e) in switching.iter_mut().enumerate() {
        e.ctx.tid += (i % 2) as u32;
    }
    g.bench_function(
        "direct encode batch of 1024, task switching every event",
        |b| {
            b.iter(|| {
                records.clear();
                for e in &switching {
                    encoder.append(e, &mut records);
                }
                encoder.request(&records)
            })
        },
    );
    g.finish();

    // The Kafka per-event encodings: one document per event.
    let mut g = c.benchmark_group("kafka");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut docs = DocEncoder::new(BootClock::with_offset(1_700_000_000_000_000_000), &resource);
    let mut out = Vec::with_capacity(4096);
    g.bench_function("json documents, 1024 events", |b| {
        b.iter(|| {
            for e in &events {
                out.clear();
                docs.json(e, &mut out);
            }
            out.len()
        })
    });
    g.bench_function(
        "json documents, 1024 events, task switching every event",
        |b| {
            b.iter(|| {
                for e in &switching {
                    out.clear();
                    docs.json(e, &mut out);
                }
                out.len()
            })
        },
    );
    g.bench_function("ecs documents, 1024 events", |b| {
        b.iter(|| {
            for e in &events {
                out.clear();
                docs.ecs(e, &mut out);
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
