//! Batch indicator output: one value per bar, warm-up bars empty.

/// Indicator values, one per input bar. Warm-up bars hold no value. Stored as 8-byte doubles
/// with NaN for "no value" (as TA-Lib and numpy do, half the memory of `Option<f64>`), and read
/// through [`Series::get`] / [`Series::iter`], which give `None` for those bars. Inputs are
/// finite (the data layer guarantees it) and every indicator guards its divisions, so NaN
/// never stands for anything but warm-up.
#[derive(Debug, Clone, Default)]
pub struct Series {
    values: Vec<f64>,
}

impl Series {
    /// Wraps raw values where NaN marks warm-up.
    pub fn from_nan_values(values: Vec<f64>) -> Self {
        Series { values }
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value at bar `i`; `None` during warm-up or past the end.
    pub fn get(&self, i: usize) -> Option<f64> {
        self.values.get(i).copied().filter(|v| !v.is_nan())
    }

    /// The value at the last bar.
    pub fn last(&self) -> Option<f64> {
        self.values.last().copied().filter(|v| !v.is_nan())
    }

    /// Values bar by bar.
    pub fn iter(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.values.iter().map(|v| (!v.is_nan()).then_some(*v))
    }

    /// Values bar by bar, collected.
    pub fn to_vec(&self) -> Vec<Option<f64>> {
        self.iter().collect()
    }

    /// The raw doubles, NaN during warm-up (for numpy/TA-Lib-style consumers).
    pub fn as_nan_slice(&self) -> &[f64] {
        &self.values
    }
}

impl PartialEq for Series {
    /// Same length and, bar by bar, both empty or the identical double.
    fn eq(&self, other: &Self) -> bool {
        self.values.len() == other.values.len()
            && self
                .values
                .iter()
                .zip(&other.values)
                .all(|(a, b)| (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits())
    }
}

impl FromIterator<Option<f64>> for Series {
    fn from_iter<I: IntoIterator<Item = Option<f64>>>(iter: I) -> Self {
        Series {
            values: iter.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
        }
    }
}

impl IntoIterator for Series {
    type Item = Option<f64>;
    type IntoIter = std::iter::Map<std::vec::IntoIter<f64>, fn(f64) -> Option<f64>>;

    fn into_iter(self) -> Self::IntoIter {
        fn read(v: f64) -> Option<f64> {
            (!v.is_nan()).then_some(v)
        }
        self.values.into_iter().map(read as fn(f64) -> Option<f64>)
    }
}

impl<'a> IntoIterator for &'a Series {
    type Item = Option<f64>;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, f64>, fn(&f64) -> Option<f64>>;

    fn into_iter(self) -> Self::IntoIter {
        fn read(v: &f64) -> Option<f64> {
            (!v.is_nan()).then_some(*v)
        }
        self.values.iter().map(read as fn(&f64) -> Option<f64>)
    }
}

impl From<Vec<Option<f64>>> for Series {
    fn from(v: Vec<Option<f64>>) -> Self {
        v.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_series_reads_warmup_as_none() {
        let s: Series = vec![None, Some(1.5), Some(-0.0)].into();
        assert_eq!(s.to_vec(), vec![None, Some(1.5), Some(-0.0)]);
        assert_eq!(
            (s.get(0), s.get(1), s.get(9), s.last()),
            (None, Some(1.5), None, Some(-0.0))
        );
        assert_eq!(s, Series::from_nan_values(vec![f64::NAN, 1.5, -0.0]));
        assert_ne!(
            s,
            Series::from_nan_values(vec![f64::NAN, 1.5, 0.0]),
            "bitwise: -0 is not +0"
        );
    }
}
