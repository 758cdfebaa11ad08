//! `--metrics-listen ADDR`: `/metrics` in the Prometheus text format and
//! `/healthz` (200 `ok`, or 503 with the reason), on a minimal HTTP/1.1 server.

use std::{fmt::Write as _, net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::{Shared, Snapshot, read};

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The snapshot in the Prometheus text exposition format (version 0.0.4).
pub fn render(s: &Snapshot) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "sysotel_up",
        "gauge",
        "1 while sysotel is healthy (see /healthz).",
    );
    let _ = writeln!(out, "sysotel_up {}", u8::from(s.healthy()));
    family(
        &mut out,
        "sysotel_programs_attached",
        "gauge",
        "eBPF programs attached.",
    );
    let _ = writeln!(out, "sysotel_programs_attached {}", s.programs_attached);
    family(
        &mut out,
        "sysotel_events_received_total",
        "counter",
        "Events read from the kernel and passed to the outputs, by event.",
    );
    for (name, n) in &s.received {
        let _ = writeln!(
            out,
            "sysotel_events_received_total{{event=\"{}\"}} {n}",
            escape(name)
        );
    }
    family(
        &mut out,
        "sysotel_events_lost_total",
        "counter",
        "Records lost in the kernel because the ring buffer was full, by event.",
    );
    for (name, n) in &s.lost {
        let _ = writeln!(
            out,
            "sysotel_events_lost_total{{event=\"{}\"}} {n}",
            escape(name)
        );
    }
    family(
        &mut out,
        "sysotel_ring_buffer_used_bytes",
        "gauge",
        "Bytes in the kernel ring buffer not read yet.",
    );
    let _ = writeln!(out, "sysotel_ring_buffer_used_bytes {}", s.ring_used_bytes);
    family(
        &mut out,
        "sysotel_ring_buffer_size_bytes",
        "gauge",
        "Size of the kernel ring buffer.",
    );
    let _ = writeln!(out, "sysotel_ring_buffer_size_bytes {}", s.ring_size_bytes);
    family(
        &mut out,
        "sysotel_decode_errors_total",
        "counter",
        "Records that failed to decode.",
    );
    let _ = writeln!(out, "sysotel_decode_errors_total {}", s.decode_errors);
    family(
        &mut out,
        "sysotel_events_filtered_total",
        "counter",
        "Events left out in user space (exe scope terms and --filter).",
    );
    let _ = writeln!(out, "sysotel_events_filtered_total {}", s.filtered);
    type Get = fn(&crate::sinks::SinkCounts) -> u64;
    let per_output: [(&str, &str, &str, Get); 5] = [
        (
            "sysotel_output_produced_total",
            "counter",
            "Records handed to the output.",
            |o| o.produced,
        ),
        (
            "sysotel_output_exported_total",
            "counter",
            "Records the output wrote or delivered.",
            |o| o.exported,
        ),
        (
            "sysotel_output_rejected_total",
            "counter",
            "Records the receiver refused for good.",
            |o| o.rejected,
        ),
        (
            "sysotel_output_retries_total",
            "counter",
            "Requests retried.",
            |o| o.retries,
        ),
        (
            "sysotel_output_queued",
            "gauge",
            "Records handed to the output and not yet finished.",
            |o| o.queued,
        ),
    ];
    for (name, kind, help, get) in per_output {
        family(&mut out, name, kind, help);
        for o in &s.outputs {
            let _ = writeln!(
                out,
                "{name}{{output=\"{}\"}} {}",
                escape(&o.name),
                get(&o.counts)
            );
        }
    }
    family(
        &mut out,
        "sysotel_output_batch_latency_seconds",
        "summary",
        "Batches finished by a batching output (otlp: first record to response; kafka: hand-off to delivery report).",
    );
    for o in s.outputs.iter().filter(|o| o.counts.batches > 0) {
        let name = escape(&o.name);
        let _ = writeln!(
            out,
            "sysotel_output_batch_latency_seconds_sum{{output=\"{name}\"}} {}",
            o.counts.batch_latency_ns as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "sysotel_output_batch_latency_seconds_count{{output=\"{name}\"}} {}",
            o.counts.batches
        );
    }
    family(
        &mut out,
        "sysotel_output_dropped_total",
        "counter",
        "Records dropped by an output, by reason.",
    );
    for o in &s.outputs {
        for (reason, n) in o.counts.dropped_by_reason() {
            let _ = writeln!(
                out,
                "sysotel_output_dropped_total{{output=\"{}\",reason=\"{reason}\"}} {n}",
                escape(&o.name)
            );
        }
    }
    family(
        &mut out,
        "process_cpu_seconds_total",
        "counter",
        "CPU time of sysotel (user + system).",
    );
    let _ = writeln!(out, "process_cpu_seconds_total {}", s.cpu_seconds);
    family(
        &mut out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory of sysotel.",
    );
    let _ = writeln!(out, "process_resident_memory_bytes {}", s.rss_bytes);
    out
}

/// Binds the listener (an error here is a start-up error).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `/metrics` and `/healthz` until the task is dropped.
pub async fn serve(listener: TcpListener, shared: Shared) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, &shared)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    // The request line and headers; a body is never expected.
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let request = String::from_utf8_lossy(&buf[..len]);
    let mut parts = request.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    // The answer is built, and the snapshot's lock released, before any await.
    let (status, content_type, body) = {
        let snapshot = read(shared);
        match (method, path) {
            ("GET" | "HEAD", "/metrics") => (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                render(&snapshot),
            ),
            ("GET" | "HEAD", "/healthz") => match &snapshot.unhealthy_reason {
                None => ("200 OK", "text/plain; charset=utf-8", "ok\n".to_string()),
                Some(why) => (
                    "503 Service Unavailable",
                    "text/plain; charset=utf-8",
                    format!("unhealthy: {why}\n"),
                ),
            },
            ("GET" | "HEAD", _) => (
                "404 Not Found",
                "text/plain; charset=utf-8",
                "not found: try /metrics or /healthz\n".to_string(),
            ),
            _ => (
                "405 Method Not Allowed",
                "text/plain; charset=utf-8",
                "only GET\n".to_string(),
            ),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::metrics::OutputSnapshot;

    #[test]
    fn text_format() {
        let s = Snapshot {
            received: vec![("openat", 3), ("getppid", 2)],
            lost: vec![("getppid", 7)],
            decode_errors: 1,
            filtered: 4,
            outputs: vec![OutputSnapshot {
                name: "otlp".into(),
                counts: crate::sinks::SinkCounts {
                    produced: 5,
                    exported: 4,
                    dropped_full: 1,
                    ..Default::default()
                },
                ..Default::default()
            }],
            programs_attached: 5,
            ring_used_bytes: 0,
            ring_size_bytes: 4096,
            cpu_seconds: 0.5,
            rss_bytes: 1024,
            unhealthy_reason: None,
        };
        let text = render(&s);
        for line in [
            "sysotel_up 1",
            "sysotel_events_received_total{event=\"openat\"} 3",
            "sysotel_events_lost_total{event=\"getppid\"} 7",
            "sysotel_decode_errors_total 1",
            "sysotel_events_filtered_total 4",
            "sysotel_output_exported_total{output=\"otlp\"} 4",
            "sysotel_output_dropped_total{output=\"otlp\",reason=\"queue_full\"} 1",
            "process_resident_memory_bytes 1024",
            "sysotel_ring_buffer_size_bytes 4096",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        // Every sample line is `name{labels} value` or `name value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = l.rsplit_once(' ').expect("name and value");
            assert!(v.parse::<f64>().is_ok(), "{l}");
        }
    }
}
