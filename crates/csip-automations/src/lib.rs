//! The CSIP automations (DESIGN §5 "Automations"; `docs/automations.md`).

pub mod backup;
pub mod schedule;
