//! sysotel's own records and their fields.

use super::FieldDef;

/// The fields of `sysotel.loss`, in the order the loss monitor writes them.
pub const LOSS: &[FieldDef] = &[
    FieldDef {
        name: "stage",
        description: "where records were lost: `kernel` (ring buffer full) or `output:<name>`",
    },
    FieldDef {
        name: "interval_start_unix_ns",
        description: "start of the interval this report covers",
    },
    FieldDef {
        name: "interval_end_unix_ns",
        description: "end of the interval this report covers",
    },
    FieldDef {
        name: "lost",
        description: "records lost at this stage during the interval",
    },
    FieldDef {
        name: "lost_total",
        description: "records lost at this stage since sysotel started",
    },
    FieldDef {
        name: "by",
        description: "the interval's count by event name (kernel) or by reason (outputs), `name=count`",
    },
];
