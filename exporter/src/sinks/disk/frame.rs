//! One frame of the disk queue: a closed batch as the output will send it,
//! with what the accounting needs to know of it after a restart.
//!
//! On disk: `magic u32 | body length u32 | CRC-32 of the body u32 | body`,
//! little-endian; the body is `records u32 | sequences | carried | payload`
//! (ranges as [`Ranges::write`] writes them). A frame whose header or
//! checksum does not hold is a torn or corrupt write: nothing after it in
//! its segment is trusted.

use crate::sinks::ranges::Ranges;

pub const MAGIC: u32 = 0x5153_5953; // "SYSQ" in little-endian order
pub const HEADER: usize = 12;
/// No frame is larger: a length above it is corruption, not a frame.
pub const MAX_BODY: usize = 256 << 20;

/// A batch as the disk queue holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// Records in the payload.
    pub records: u32,
    /// Their sequence numbers.
    pub sequences: Ranges,
    /// What loss reports of this output in the payload name: given back to
    /// the next report if the frame is dropped.
    pub carried: Ranges,
    /// The output's own encoding of the batch (an OTLP request, Kafka
    /// messages).
    pub payload: Vec<u8>,
}

impl Frame {
    /// The frame as written to a segment.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + 64 + self.payload.len());
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.records.to_le_bytes());
        self.sequences.write(&mut out);
        self.carried.write(&mut out);
        out.extend_from_slice(&self.payload);
        let body_len = (out.len() - HEADER) as u32;
        let crc = crc32fast::hash(&out[HEADER..]);
        out[4..8].copy_from_slice(&body_len.to_le_bytes());
        out[8..12].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// The body length a header announces, if the header is one.
    pub fn body_len(header: &[u8; HEADER]) -> Option<usize> {
        let word =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let len = word(4) as usize;
        (word(0) == MAGIC && len <= MAX_BODY).then_some(len)
    }

    /// Decodes a body whose header said `header`; `None` when the checksum
    /// or the layout does not hold.
    pub fn decode(header: &[u8; HEADER], body: &[u8]) -> Option<Frame> {
        let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if crc32fast::hash(body) != crc {
            return None;
        }
        let records = u32::from_le_bytes(body.get(..4)?.try_into().ok()?);
        let (sequences, rest) = Ranges::read(&body[4..])?;
        let (carried, payload) = Ranges::read(rest)?;
        Some(Frame {
            records,
            sequences,
            carried,
            payload: payload.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_catch_any_flipped_bit() {
        let mut sequences = Ranges::default();
        sequences.add(100, 199);
        let f = Frame {
            records: 100,
            sequences,
            carried: Ranges::default(),
            payload: b"request bytes".to_vec(),
        };
        let bytes = f.encode();
        let header: [u8; HEADER] = bytes[..HEADER].try_into().unwrap();
        assert_eq!(Frame::body_len(&header), Some(bytes.len() - HEADER));
        assert_eq!(Frame::decode(&header, &bytes[HEADER..]), Some(f.clone()));
        for i in HEADER..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert_eq!(Frame::decode(&header, &bad[HEADER..]), None, "byte {i}");
        }
        let mut bad = header;
        bad[0] ^= 1;
        assert_eq!(Frame::body_len(&bad), None, "not a frame's magic");
    }
}
