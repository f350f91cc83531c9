//! The CSIP report buttons (DESIGN §5 "Reports"; `docs/reports.md`).

pub mod doc;
pub mod pdf;
pub mod pptx;

mod chart;
