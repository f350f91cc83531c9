//! Runnable examples of csip (this library holds no code of its own):
//!
//! - `cargo run -p csip-examples --example edit_gard_metric`: load the CSIP
//!   workbook, edit one of Gard AS's metrics, print the change set and the new
//!   Health_Score;
//! - `cargo run -p csip-examples --example embed`: build a small workbook in
//!   code, the way another Rust service embeds the engine.
