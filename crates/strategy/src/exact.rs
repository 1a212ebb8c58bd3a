//! Exact arithmetic on prices as written: a double parsed from a vendor's decimal text is read
//! back as its shortest decimal (which is that text for any file written by a program), then
//! scaled to an integer. Sums and comparisons of such integers are exact, so a tie between two
//! averages is a tie, not a coin flip of float rounding.

/// A price as an integer number of `10^-scale` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactPrice {
    pub units: i128,
    pub scale: u32,
}

/// Reads a finite double back as its shortest decimal; `None` beyond 18 decimals or for a
/// non-finite value.
pub fn exact(x: f64) -> Option<ExactPrice> {
    if !x.is_finite() {
        return None;
    }
    // Fast path: the fewest decimals k whose integer reads back to exactly x. Below 1e15 that
    // integer is unique (consecutive candidates are more than an ulp apart), so it is the
    // shortest decimal's digits; anything else falls back to printing.
    let mut pow = 1.0f64;
    for k in 0..=9u32 {
        let n = (x * pow).round();
        if n.abs() < 1e15 && n / pow == x {
            return Some(ExactPrice {
                units: n as i128,
                scale: k,
            });
        }
        pow *= 10.0;
    }
    // Rust prints the shortest decimal that reads back to the same double, without exponent.
    let text = format!("{x}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let scale = u32::try_from(frac.len()).ok().filter(|s| *s <= 18)?;
    let digits: String = format!("{int}{frac}");
    Some(ExactPrice {
        units: digits.parse::<i128>().ok()?,
        scale,
    })
}

impl ExactPrice {
    /// The same value at a larger scale.
    pub fn at_scale(self, scale: u32) -> Option<i128> {
        let up = scale.checked_sub(self.scale)?;
        self.units.checked_mul(10i128.checked_pow(up)?)
    }
}

/// Prefix sums of exact prices at one common scale (`out[i]` = Σ of the first `i`); `None`
/// when a price cannot be represented or a sum would overflow.
pub fn exact_prefix(prices: &[f64]) -> Option<Vec<i128>> {
    let exacts: Vec<ExactPrice> = prices.iter().map(|x| exact(*x)).collect::<Option<_>>()?;
    let scale = exacts.iter().map(|e| e.scale).max().unwrap_or(0);
    let mut out = Vec::with_capacity(prices.len() + 1);
    out.push(0i128);
    let mut acc = 0i128;
    for e in exacts {
        acc = acc.checked_add(e.at_scale(scale)?)?;
        out.push(acc);
    }
    Some(out)
}

/// Sign of `mean(a) − mean(b)` computed exactly: `sign(Σa·|b| − Σb·|a|)`.
pub fn compare_means(a: &[ExactPrice], b: &[ExactPrice]) -> Option<std::cmp::Ordering> {
    let scale = a.iter().chain(b).map(|p| p.scale).max()?;
    let sum = |xs: &[ExactPrice]| {
        xs.iter()
            .try_fold(0i128, |acc, p| acc.checked_add(p.at_scale(scale)?))
    };
    let (sa, sb) = (sum(a)?, sum(b)?);
    let lhs = sa.checked_mul(b.len() as i128)?;
    let rhs = sb.checked_mul(a.len() as i128)?;
    Some(lhs.cmp(&rhs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn test_exact_reads_the_written_decimal() {
        assert_eq!(
            exact(43.96875),
            Some(ExactPrice {
                units: 4396875,
                scale: 5
            })
        );
        assert_eq!(
            exact(80.0),
            Some(ExactPrice {
                units: 80,
                scale: 0
            })
        );
        assert_eq!(
            exact(0.00032),
            Some(ExactPrice {
                units: 32,
                scale: 5
            })
        );
        assert_eq!(exact(f64::NAN), None);
    }

    #[test]
    fn test_fast_path_agrees_with_printing() {
        let slow = |x: f64| {
            let text = format!("{x}");
            let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
            ExactPrice {
                units: format!("{int}{frac}").parse().unwrap(),
                scale: frac.len() as u32,
            }
        };
        for x in [
            0.1,
            0.2,
            0.3,
            43.96875,
            80.25,
            1.0000001,
            12345.678901,
            0.00032,
            8.444845199584961,
            29864.03,
            1e-9,
            123456789.5,
        ] {
            assert_eq!(exact(x), Some(slow(x)), "{x}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn prop_exact_reads_back_the_written_decimal(int in 0u64..1_000_000, frac in 0u64..1_000_000_000, decimals in 0u32..=9) {
            // At most 15 significant digits: more than a double can carry are not recoverable.
            let frac = frac % 10u64.pow(decimals);
            let text = if decimals == 0 { int.to_string() } else { format!("{int}.{frac:0width$}", width = decimals as usize) };
            let x: f64 = text.parse().unwrap();
            let e = exact(x).unwrap();
            // The same decimal value, whatever trailing zeros the text had.
            let want = (int as i128) * 10i128.pow(decimals) + frac as i128;
            let scale = e.scale.max(decimals);
            proptest::prop_assert_eq!(e.at_scale(scale), Some(want * 10i128.pow(scale - decimals)), "{}", text);
        }
    }

    #[test]
    fn test_tie_is_a_tie() {
        // 0.1 + 0.2 != 0.3 in floats; as written decimals the means are equal.
        let a: Vec<ExactPrice> = [0.1, 0.2].iter().map(|x| exact(*x).unwrap()).collect();
        let b: Vec<ExactPrice> = [0.15, 0.15].iter().map(|x| exact(*x).unwrap()).collect();
        assert_eq!(compare_means(&a, &b), Some(Ordering::Equal));
        let c: Vec<ExactPrice> = [0.3].iter().map(|x| exact(*x).unwrap()).collect();
        assert_eq!(compare_means(&c, &b), Some(Ordering::Greater));
    }
}
