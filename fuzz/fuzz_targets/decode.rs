//! Any bytes from the ring buffer: decoding returns an error or an event, and
//! every event prints as a table row and as a JSON line that parses, without
//! panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysotel::{base::clock::BootClock, decode::decode, sinks::console::encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = decode(data) {
        let mut row = String::new();
        encode::table_row(&mut row, &event);
        let mut line = Vec::new();
        encode::json_line(&mut line, &event, &BootClock::new());
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        assert!(!line.contains(&b'\n'), "one line per event");
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(line) {
            panic!(
                "the JSON line does not parse ({e}): {}",
                String::from_utf8_lossy(line)
            );
        }
    }
});
