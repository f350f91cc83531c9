//! Every example runs to the end without an error (`cargo test` only builds
//! examples; these run their `main`). `durable_service` is left out: it
//! serves on a port and is run by hand.

#[path = "../edit_gard_metric.rs"]
mod edit_gard_metric;
#[path = "../embed.rs"]
mod embed;
#[path = "../inventory.rs"]
mod inventory;

#[test]
fn inventory_runs() {
    inventory::main().expect("the inventory example runs");
}

#[test]
fn embed_runs() {
    embed::main().expect("the embed example runs");
}

#[test]
fn edit_gard_metric_runs() {
    edit_gard_metric::main().expect("the edit_gard_metric example runs");
}
