//! Decimal arithmetic on the hot path. Most numbers in a workbook have the
//! same scale and small mantissas (counts, scores, thresholds, money to the
//! cent), where `rust_decimal`'s general algorithms (which align scales
//! through a 192-bit buffer) are several times slower than plain 128-bit
//! integer arithmetic. These functions take the integer path where it gives
//! exactly the result `rust_decimal` gives, and defer to it everywhere else.

use rust_decimal::Decimal;
use std::cmp::Ordering;

/// `x + y`, as `Decimal::checked_add` gives it.
#[inline]
pub(crate) fn add(x: Decimal, y: Decimal) -> Option<Decimal> {
    if x.scale() == y.scale() {
        // Two 96-bit mantissas: the sum fits an i128.
        if let Ok(d) = Decimal::try_from_i128_with_scale(x.mantissa() + y.mantissa(), x.scale()) {
            return Some(d);
        }
    }
    x.checked_add(y)
}

/// `x - y`, as `Decimal::checked_sub` gives it.
#[inline]
pub(crate) fn sub(x: Decimal, y: Decimal) -> Option<Decimal> {
    if x.scale() == y.scale() {
        if let Ok(d) = Decimal::try_from_i128_with_scale(x.mantissa() - y.mantissa(), x.scale()) {
            return Some(d);
        }
    }
    x.checked_sub(y)
}

/// `x * y`, as `Decimal::checked_mul` gives it.
#[inline]
pub(crate) fn mul(x: Decimal, y: Decimal) -> Option<Decimal> {
    let scale = x.scale() + y.scale();
    // (A zero product has rust_decimal's own scale.)
    if scale <= Decimal::MAX_SCALE && !x.is_zero() && !y.is_zero() {
        if let Some(m) = x.mantissa().checked_mul(y.mantissa()) {
            if let Ok(d) = Decimal::try_from_i128_with_scale(m, scale) {
                return Some(d);
            }
        }
    }
    x.checked_mul(y)
}

/// The order of two numbers, as `Decimal::cmp` gives it.
#[inline]
pub(crate) fn cmp(x: &Decimal, y: &Decimal) -> Ordering {
    if x.scale() == y.scale() {
        x.mantissa().cmp(&y.mantissa())
    } else {
        x.cmp(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decimal() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
            (-1000i64..1000, 0u32..=3).prop_map(|(m, s)| Decimal::new(m, s)),
            (any::<i128>(), 0u32..=28).prop_map(|(m, s)| {
                Decimal::try_from_i128_with_scale(m >> 32, s).unwrap_or(Decimal::MAX)
            }),
            Just(Decimal::MAX),
            Just(Decimal::MIN),
        ]
    }

    /// Same value and same scale (so the same text) as `rust_decimal`.
    fn same(a: Option<Decimal>, b: Option<Decimal>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => a == b && a.scale() == b.scale(),
            (None, None) => true,
            _ => false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn agrees_with_rust_decimal(x in decimal(), y in decimal()) {
            prop_assert!(same(add(x, y), x.checked_add(y)), "{x} + {y}");
            prop_assert!(same(sub(x, y), x.checked_sub(y)), "{x} - {y}");
            prop_assert!(same(mul(x, y), x.checked_mul(y)), "{x} * {y}");
            prop_assert_eq!(cmp(&x, &y), x.cmp(&y), "{} <=> {}", x, y);
        }
    }
}
