//! sysotel's account of itself: the reader's counters, the loss reports that
//! go into the stream, and the metrics served and exported.

pub mod loss;
pub mod metrics;
pub mod stats;
