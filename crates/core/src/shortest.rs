//! The shortest decimal text of a float, as Rust's `{}` writes it, fast.
//!
//! Text files write floats as the shortest decimal that parses back to the same double, in
//! Rust's `Display` layout (no exponent, no trailing `.0`). `zmij` finds those digits about
//! three times faster than `core::fmt`; both pick the candidate nearest the double, and they
//! differ only on an exact tie between two shortest candidates (zmij rounds half to even,
//! `core::fmt` half up). A tie needs a double whose exact decimal expansion is at most one
//! digit longer than its shortest form — at most 20 significant digits — which [`may_tie`]
//! detects exactly from the bits; those doubles, and everything zmij would write with an
//! exponent (below 1e-5 or from 1e16), go through `core::fmt`. The text is byte for byte the
//! `{}` text either way.

use std::fmt::Write as _;

/// A float as text files write it: the shortest text that reads back to the same double, and
/// `0` for both zeros (an empty float sum is −0.0; a file should not say "-0").
pub fn shortest(x: f64) -> String {
    let mut s = String::new();
    push_shortest(&mut s, x);
    s
}

/// [`shortest`] appended to `out`, without a string of its own (large CSV files).
pub fn push_shortest(out: &mut String, x: f64) {
    if x == 0.0 {
        out.push('0');
        return;
    }
    if x.is_finite() && !may_tie(x) {
        let mut buf = zmij::Buffer::new();
        let text = buf.format_finite(x);
        // An exponent is at most `e-324`: only the last five bytes can hold the `e`.
        if !text.as_bytes()[text.len().saturating_sub(5)..].contains(&b'e') {
            out.push_str(text.strip_suffix(".0").unwrap_or(text));
            return;
        }
    }
    let _ = write!(out, "{x}");
}

/// `5^k` for `k` in `0..=27` (the largest power below 2^63).
const POW5: [u64; 28] = {
    let mut t = [1u64; 28];
    let mut k = 1;
    while k < 28 {
        t[k] = t[k - 1] * 5;
        k += 1;
    }
    t
};

/// Whether two shortest decimal candidates could be equally near `x` (finite, non-zero):
/// `x = m·2^q` with `m` odd has an exact decimal expansion of `m·5^(−q)`'s digits when
/// `q < 0`; a tie needs that expansion to be at most 20 digits. An integer from 2^53 on can
/// tie too (its neighbours are more than one apart); below, every integer is its own text.
fn may_tie(x: f64) -> bool {
    let bits = x.abs().to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (mut m, mut q) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1 << 52), exp - 1075)
    };
    let tz = m.trailing_zeros();
    m >>= tz;
    q += tz as i32;
    if q >= 0 {
        return x.abs() >= 9_007_199_254_740_992.0;
    }
    match POW5.get(q.unsigned_abs() as usize) {
        Some(p) => u128::from(m) * u128::from(*p) < 100_000_000_000_000_000_000,
        // 5^28 alone has 20 digits; with an odd m ≥ 1 and more fives, more.
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn std_text(x: f64) -> String {
        if x == 0.0 { "0".into() } else { format!("{x}") }
    }

    #[test]
    fn test_layout_and_specials() {
        for (x, t) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (1e15, "1000000000000000"),
            (1e16, "10000000000000000"),
            (1e21, "1000000000000000000000"),
            (0.00001, "0.00001"),
            (1.5e-7, "0.00000015"),
            (1_123_453.733_183_002_3, "1123453.7331830023"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(shortest(x), t, "{x:e}");
        }
    }

    /// Exact ties between two shortest candidates, where zmij alone would write the other
    /// one (found by comparing the two): `{}`'s text.
    #[test]
    // The literals are the exact doubles (each lies halfway between two shortest texts).
    #[allow(clippy::excessive_precision)]
    fn test_ties_are_written_as_display_writes_them() {
        for x in [
            10_397_014_062_336.312_5,
            2_163_088_251_733_657.25,
            957_669_823_311_113.25,
            1_214_537_696_468_270.25,
        ] {
            assert!(may_tie(x), "{x}");
            assert_eq!(shortest(x), format!("{x}"));
            let mut buf = zmij::Buffer::new();
            assert_ne!(
                buf.format_finite(x).trim_end_matches(".0"),
                format!("{x}"),
                "a tie zmij alone writes differently (else this test proves nothing)"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn prop_equals_display_for_any_bits(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assert_eq!(shortest(x), std_text(x));
        }

        /// Few significant bits at any scale: where ties live.
        #[test]
        fn prop_equals_display_for_few_bit_values(m in 1u64..(1 << 24), e in -80i32..80) {
            let x = m as f64 * 2f64.powi(e);
            prop_assert_eq!(shortest(x), std_text(x));
            prop_assert_eq!(shortest(-x), std_text(-x));
        }

        /// Prices, quantities and money as files carry them.
        #[test]
        fn prop_equals_display_for_cents_and_ratios(c in 0u64..10_000_000_000, d in 1u64..100_000) {
            for x in [c as f64 / 100.0, c as f64 / d as f64, (c as f64 / 100.0) * (d as f64 / 7.0)] {
                prop_assert_eq!(shortest(x), std_text(x));
            }
        }
    }
}
