//! The order vocabulary the ledger, the engine and the desk share: what an order is, why it was placed and where it stands on the
//! way to approval — enums stored as their snake_case words, so a row that holds anything
//! else is a corrupt ledger (an error naming table, row and column), never a guess.

use serde::{Deserialize, Serialize};

/// Words ↔ variants, `Display` and `FromStr` for a ledger enum.
macro_rules! words {
    ($t:ident, $what:literal, { $($v:ident => $s:literal),+ $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($t::$v => $s),+
                }
            }

            /// The variant named `s` (`None` for any other word).
            pub fn parse(s: &str) -> Option<$t> {
                match s {
                    $($s => Some($t::$v),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<$t, String> {
                $t::parse(s).ok_or_else(|| {
                    format!(
                        "{s:?} is not {} ({})",
                        $what,
                        $t::ALL.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")
                    )
                })
            }
        }
    };
}

/// How an order executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Market,
    Limit,
    Stop,
    StopLimit,
}

words!(OrderKind, "an order kind", {
    Market => "market", Limit => "limit", Stop => "stop", StopLimit => "stop_limit",
});

impl OrderKind {
    /// A protective stop of either kind.
    pub fn is_stop(self) -> bool {
        matches!(self, OrderKind::Stop | OrderKind::StopLimit)
    }
}

/// Why an order was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A new position.
    Entry,
    /// More of a held position.
    Add,
    /// Less of a held position.
    Reduce,
    /// The position closed.
    Exit,
    /// A residual below the dust threshold cleared.
    Dust,
    /// The protective stop of a held position.
    Stop,
    /// A line of a staged trade sheet.
    Sheet,
    /// An order of the book the broker had and the ledger did not (a run killed in between).
    Adopted,
}

words!(Purpose, "an order purpose", {
    Entry => "entry", Add => "add", Reduce => "reduce", Exit => "exit", Dust => "dust",
    Stop => "stop", Sheet => "sheet", Adopted => "adopted",
});

impl Purpose {
    /// True when the order adds risk (a gate may block it); exits, stops and dust never do.
    pub fn adds_risk(self) -> bool {
        matches!(self, Purpose::Entry | Purpose::Add)
    }
}

/// Where an order stands on the way to approval (spec/execution-and-buckets.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Staged until `systrade approve`.
    Pending,
    /// Approved and sent.
    Approved,
    /// The manual execution level: traded by hand, never sent.
    Manual,
}

words!(Approval, "an approval", {
    Pending => "pending", Approved => "approved", Manual => "manual",
});

/// One symbol's reconciliation: the broker's truth against the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconStatus {
    /// Same quantity, and the stops the strategy needs.
    Match,
    /// Both hold it, in different quantities.
    QtyMismatch,
    /// The ledger holds it; the broker does not.
    MissingInBroker,
    /// The broker holds it; the ledger does not.
    MissingInLedger,
    /// Same quantity, but no protective stop at the broker.
    StopMissing,
}

words!(ReconStatus, "a reconciliation status", {
    Match => "match", QtyMismatch => "qty_mismatch", MissingInBroker => "missing_in_broker",
    MissingInLedger => "missing_in_ledger", StopMissing => "stop_missing",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_word_parses_back_and_serializes_as_itself() {
        for k in OrderKind::ALL {
            assert_eq!(OrderKind::parse(k.as_str()), Some(*k));
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{k}\""));
        }
        for p in Purpose::ALL {
            assert_eq!(p.as_str().parse::<Purpose>(), Ok(*p));
            assert_eq!(serde_json::to_string(p).unwrap(), format!("\"{p}\""));
        }
        for a in Approval::ALL {
            assert_eq!(Approval::parse(a.as_str()), Some(*a));
            assert_eq!(serde_json::to_string(a).unwrap(), format!("\"{a}\""));
        }
        for r in ReconStatus::ALL {
            assert_eq!(ReconStatus::parse(r.as_str()), Some(*r));
            assert_eq!(serde_json::to_string(r).unwrap(), format!("\"{r}\""));
        }
        let e = "flip".parse::<Purpose>().unwrap_err();
        assert!(e.contains("\"flip\" is not an order purpose"), "{e}");
    }
}
