//! Decimal arithmetic on the hot path. `rust_decimal`'s general algorithms
//! (scales aligned and results rounded through a 192-bit buffer) are several
//! times slower than 128-bit integer arithmetic, and almost every operation of
//! a workbook fits in 128 bits: counts, scores, thresholds, money to the cent,
//! and the 28-digit quotients averages leave, times or plus those. These
//! functions compute exactly in `i128` and round the way `rust_decimal` rounds
//! (fewest digits dropped, half to even), and defer to it where `i128` does
//! not reach; a property test holds them to the same value and scale.

use rust_decimal::Decimal;
use std::cmp::Ordering;

/// 10^0 ..= 10^38, every power of ten an `i128` holds.
const POW10: [u128; 39] = {
    let mut p = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// The largest mantissa a `Decimal` holds: 2^96 - 1.
const MAX_MANTISSA: u128 = (1 << 96) - 1;

/// `m · 10^-scale` as a `Decimal`, rounded as `rust_decimal` rounds a result
/// that does not fit: the fewest digits dropped that bring the mantissa within
/// 96 bits and the scale within 28, half to even.
fn fit(m: i128, scale: u32) -> Option<Decimal> {
    if scale <= Decimal::MAX_SCALE && m.unsigned_abs() <= MAX_MANTISSA {
        return Decimal::try_from_i128_with_scale(m, scale).ok();
    }
    let negative = m < 0;
    let mut a = m.unsigned_abs();
    let mut scale = scale;
    let mut drop = scale.saturating_sub(Decimal::MAX_SCALE);
    while drop <= scale && a / POW10[drop as usize] > MAX_MANTISSA {
        drop += 1;
    }
    if drop > scale {
        return None;
    }
    if drop > 0 {
        let p = POW10[drop as usize];
        let (q, r) = (a / p, a % p);
        let half = p / 2;
        a = q + u128::from(r > half || (r == half && q & 1 == 1));
        scale -= drop;
        if a > MAX_MANTISSA {
            // Rounding carried past 96 bits: one digit more, rounded on its own.
            if scale == 0 {
                return None;
            }
            let (q, r) = (a / 10, a % 10);
            a = q + u128::from(r > 5 || (r == 5 && q & 1 == 1));
            scale -= 1;
        }
    }
    let m = i128::try_from(a).ok()?;
    Decimal::try_from_i128_with_scale(if negative { -m } else { m }, scale).ok()
}

/// Both mantissas at the larger scale, if that fits an `i128`.
#[inline]
fn aligned(x: &Decimal, y: &Decimal) -> Option<(i128, i128, u32)> {
    let (sx, sy) = (x.scale(), y.scale());
    if sx == sy {
        return Some((x.mantissa(), y.mantissa(), sx));
    }
    let up = |m: i128, by: u32| m.checked_mul(i128::try_from(POW10[by as usize]).ok()?);
    if sx > sy {
        Some((x.mantissa(), up(y.mantissa(), sx - sy)?, sx))
    } else {
        Some((up(x.mantissa(), sy - sx)?, y.mantissa(), sy))
    }
}

/// `x + y`, as `Decimal::checked_add` gives it.
#[inline]
pub(crate) fn add(x: Decimal, y: Decimal) -> Option<Decimal> {
    // (A zero operand keeps rust_decimal's own choice of scale.)
    if !x.is_zero() && !y.is_zero() {
        if let Some((a, b, scale)) = aligned(&x, &y) {
            if let Some(d) = a.checked_add(b).and_then(|m| fit(m, scale)) {
                return Some(d);
            }
        }
    }
    x.checked_add(y)
}

/// `x` shown with `scale` decimals, when that keeps its value (else `x`
/// as it is).
pub(crate) fn with_scale(x: Decimal, scale: u32) -> Decimal {
    if x.scale() == scale {
        return x;
    }
    let mut scaled = x;
    scaled.rescale(scale);
    if scaled == x { scaled } else { x }
}

/// `x - y`, as `Decimal::checked_sub` gives it.
#[inline]
pub(crate) fn sub(x: Decimal, y: Decimal) -> Option<Decimal> {
    if !x.is_zero() && !y.is_zero() {
        if let Some((a, b, scale)) = aligned(&x, &y) {
            if let Some(d) = a.checked_sub(b).and_then(|m| fit(m, scale)) {
                return Some(d);
            }
        }
    }
    x.checked_sub(y)
}

/// `x * y`, as `Decimal::checked_mul` gives it.
#[inline]
pub(crate) fn mul(x: Decimal, y: Decimal) -> Option<Decimal> {
    if !x.is_zero() && !y.is_zero() {
        if let Some(d) = x
            .mantissa()
            .checked_mul(y.mantissa())
            .and_then(|m| fit(m, x.scale() + y.scale()))
        {
            return Some(d);
        }
    }
    x.checked_mul(y)
}

/// The order of two numbers, as `Decimal::cmp` gives it.
#[inline]
pub(crate) fn cmp(x: &Decimal, y: &Decimal) -> Ordering {
    match aligned(x, y) {
        Some((a, b, _)) => a.cmp(&b),
        None => x.cmp(y),
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
            // Quotients, as averages and ratios leave them: 28 significant digits.
            (1i64..1_000_000, 1i64..1000).prop_map(|(a, b)| Decimal::from(a) / Decimal::from(b)),
            (-100i64..100, 1i64..7).prop_map(|(a, b)| Decimal::new(a, 2) / Decimal::from(b)),
            // Mantissas near 2^96, where rounding carries.
            (0u32..=28, 0u64..1000, any::<bool>()).prop_map(|(s, d, neg)| {
                let m = i128::try_from(MAX_MANTISSA).unwrap_or(0) - i128::from(d);
                Decimal::try_from_i128_with_scale(if neg { -m } else { m }, s)
                    .unwrap_or(Decimal::MAX)
            }),
            Just(Decimal::MAX),
            Just(Decimal::MIN),
            Just(Decimal::ZERO),
            Just(Decimal::new(0, 5)),
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
        #![proptest_config(ProptestConfig::with_cases(50_000))]
        #[test]
        fn agrees_with_rust_decimal(x in decimal(), y in decimal()) {
            prop_assert!(same(add(x, y), x.checked_add(y)), "{x} + {y}");
            prop_assert!(same(sub(x, y), x.checked_sub(y)), "{x} - {y}");
            prop_assert!(same(mul(x, y), x.checked_mul(y)), "{x} * {y}");
            prop_assert_eq!(cmp(&x, &y), x.cmp(&y), "{} <=> {}", x, y);
        }
    }
}
