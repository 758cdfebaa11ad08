//! The console sink's runtime: a thread that writes batches to stdout.
//!
//! Writing to a terminal or pipe blocks; doing it on its own thread keeps the
//! async ring reader free. Policy when full: [`FullPolicy::Block`].

use std::io::{self, Write};

use crate::{
    base::clock::BootClock,
    sinks::{FullPolicy, SinkHandle, SinkStats, queue},
};

use super::{
    config::{ConsoleConfig, ConsoleFormat},
    encode,
};

/// Starts the console sink on `out` (stdout in production).
pub fn spawn<W: Write + Send + 'static>(
    config: ConsoleConfig,
    clock: BootClock,
    out: W,
) -> io::Result<SinkHandle> {
    let name = match config.format {
        ConsoleFormat::Table => "table",
        ConsoleFormat::Json => "json",
    };
    let (handle, mut input) = queue(name, FullPolicy::Block, config.queue_batches);
    std::thread::Builder::new()
        .name(format!("sink-{name}"))
        .spawn(move || {
            let mut out = io::BufWriter::with_capacity(1 << 16, out);
            let mut line = String::new();
            let mut bytes = Vec::new();
            let mut failed: Option<io::Error> = None;
            if config.format == ConsoleFormat::Table {
                let header = encode::table_header();
                if let Err(e) = writeln!(out, "{header}").and_then(|_| out.flush()) {
                    failed = Some(e);
                }
            }
            while let Some(batch) = input.rx.blocking_recv() {
                if failed.is_some() {
                    SinkStats::add(&input.stats.dropped_error, batch.len());
                    input.processed(batch.len());
                    continue;
                }
                let result = (|| -> io::Result<()> {
                    for e in batch.iter() {
                        match config.format {
                            ConsoleFormat::Table => {
                                line.clear();
                                encode::table_row(&mut line, e);
                                line.push('\n');
                                out.write_all(line.as_bytes())?;
                            }
                            ConsoleFormat::Json => {
                                bytes.clear();
                                encode::json_line(&mut bytes, e, &clock);
                                bytes.push(b'\n');
                                out.write_all(&bytes)?;
                            }
                        }
                    }
                    out.flush()
                })();
                match result {
                    Ok(()) => SinkStats::add(&input.stats.exported, batch.len()),
                    Err(e) => {
                        // Part of the batch may have reached the output; it is
                        // counted as dropped since it may not have.
                        SinkStats::add(&input.stats.dropped_error, batch.len());
                        input
                            .stats
                            .failed
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        failed = Some(e);
                    }
                }
                input.processed(batch.len());
            }
            if let Some(e) = failed {
                crate::warn!(
                    "sysotel: {name} output failed: {e}; later records were dropped and counted"
                );
            }
            input.finish();
        })?;
    Ok(handle)
}
