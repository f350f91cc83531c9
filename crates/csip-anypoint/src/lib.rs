//! The Anypoint Platform sync (DESIGN §5 "Anypoint"; `docs/anypoint.md`).

pub mod client;
