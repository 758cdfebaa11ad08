//! The top: the plan (every setting validated before anything is loaded),
//! the run (load, attach, the pipeline from the ring buffer to the outputs,
//! the periodic checks, the ordered stop), the summary, and the commands
//! that load nothing (`list`, `config check`).

pub mod commands;
pub mod pipeline;
pub mod plan;
pub mod run;
pub mod summary;

pub use commands::{describe_plan, list};
pub use plan::Plan;
pub use run::{RunError, run};
pub use summary::Summary;
