//! Every formula of the CSIP blueprint parses.

#![allow(clippy::unwrap_used)] // tests may panic on a broken fixture

use csip_formula::parse;

#[test]
fn every_blueprint_formula_parses() {
    let formulas: Vec<&str> = include_str!("../../../fixtures/blueprint-formulas.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(formulas.len(), 27);
    for f in formulas {
        if let Err(e) = parse(f) {
            panic!("{}", e.diagnostic().render(f, 0, Some("blueprint")));
        }
    }
}

#[test]
fn the_blueprint_thousands_separator_gets_a_hint() {
    let err = parse("[Business_Value_USD] / 1,000,000").unwrap_err();
    assert!(err.diagnostic().hints[0].contains("`1000000`"));
}
