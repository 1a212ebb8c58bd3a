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
    fn test_tie_is_a_tie() {
        // 0.1 + 0.2 != 0.3 in floats; as written decimals the means are equal.
        let a: Vec<ExactPrice> = [0.1, 0.2].iter().map(|x| exact(*x).unwrap()).collect();
        let b: Vec<ExactPrice> = [0.15, 0.15].iter().map(|x| exact(*x).unwrap()).collect();
        assert_eq!(compare_means(&a, &b), Some(Ordering::Equal));
        let c: Vec<ExactPrice> = [0.3].iter().map(|x| exact(*x).unwrap()).collect();
        assert_eq!(compare_means(&c, &b), Some(Ordering::Greater));
    }
}
