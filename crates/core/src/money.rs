//! Exact decimal amounts for everything that reaches a broker or the ledger.
//!
//! Serialised as strings (`"101.25"`) so no JSON reader turns them into binary floats.

use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

macro_rules! decimal_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: $name = $name(Decimal::ZERO);

            /// Converts an analytics float, rounding to `dp` decimal places (half away from
            /// zero, as brokers quote, not banker's rounding). `None` for NaN/infinite.
            pub fn from_f64_rounded(v: f64, dp: u32) -> Option<Self> {
                use rust_decimal::prelude::FromPrimitive;
                let d = Decimal::from_f64(v)?;
                Some($name(d.round_dp_with_strategy(
                    dp,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                )))
            }

            /// The value as an analytics float.
            pub fn to_f64(self) -> f64 {
                use rust_decimal::prelude::ToPrimitive;
                self.0.to_f64().unwrap_or(0.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.normalize(), f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = rust_decimal::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<Decimal>().map($name)
            }
        }

        impl Add for $name {
            type Output = $name;
            fn add(self, o: $name) -> $name {
                $name(self.0 + o.0)
            }
        }

        impl Sub for $name {
            type Output = $name;
            fn sub(self, o: $name) -> $name {
                $name(self.0 - o.0)
            }
        }

        impl Neg for $name {
            type Output = $name;
            fn neg(self) -> $name {
                $name(-self.0)
            }
        }
    };
}

decimal_newtype!(
    /// A price per unit in the instrument's quote currency.
    Price
);
decimal_newtype!(
    /// A quantity of units (shares, coins); fractional where the venue allows it.
    Quantity
);
decimal_newtype!(
    /// An amount of cash in the account currency.
    Money
);

impl Mul<Price> for Quantity {
    type Output = Money;
    fn mul(self, p: Price) -> Money {
        Money(self.0 * p.0)
    }
}

/// A decimal as the ledger, logs and reports write it: its shortest exact text
/// (`10.50` → `"10.5"`, `3.000` → `"3"`).
pub fn decimal_text(d: Decimal) -> String {
    d.normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn test_notional_is_exact() {
        let q = Quantity(dec!(3));
        let p = Price(dec!(0.1));
        assert_eq!(q * p, Money(dec!(0.3)));
    }

    #[test]
    fn test_serialises_as_string() {
        let s = serde_json::to_string(&Price(dec!(101.25))).unwrap();
        assert_eq!(s, "\"101.25\"");
        let back: Price = serde_json::from_str(&s).unwrap();
        assert_eq!(back, Price(dec!(101.25)));
    }

    #[test]
    fn test_from_f64_rounds_half_away() {
        assert_eq!(Price::from_f64_rounded(2.5, 0).unwrap(), Price(dec!(3)));
        assert!(Price::from_f64_rounded(f64::NAN, 2).is_none());
    }
}
