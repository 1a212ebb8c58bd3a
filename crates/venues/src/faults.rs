//! Failures a test queues at a venue: each is used once, by the next call of its operation.

use std::str::FromStr;

/// One queued failure: `<op>:<what>`, e.g. `submit:503`, `submit:lost`, `replace:quirk`,
/// `any:429`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The operation (`account`, `clock`, `positions`, `orders`, `order`, `submit`,
    /// `replace`, `cancel`, `cancel_all`, `activities`) or `any`.
    pub op: String,
    pub what: FaultKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer this HTTP status with the venue's body for it; nothing is done.
    Status(u16),
    /// Do the call, then answer 504: the answer is lost on the way.
    Lost,
    /// A replace is done, yet answered 422 "order isn't sent to exchange yet" (users
    /// report Alpaca doing this).
    Quirk,
    /// A data vendor's throttle: Alpha Vantage's note inside a 200 (a 429 elsewhere).
    Throttle,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("fault {0:?}: expected <op>:<status|lost|quirk|throttle>, e.g. submit:503")]
pub struct FaultError(pub String);

impl FromStr for Fault {
    type Err = FaultError;
    fn from_str(s: &str) -> Result<Fault, FaultError> {
        let (op, what) = s.split_once(':').ok_or_else(|| FaultError(s.into()))?;
        let what = match what {
            "lost" => FaultKind::Lost,
            "quirk" => FaultKind::Quirk,
            "throttle" => FaultKind::Throttle,
            n => FaultKind::Status(
                n.parse::<u16>()
                    .ok()
                    .filter(|c| (400..600).contains(c))
                    .ok_or_else(|| FaultError(s.into()))?,
            ),
        };
        if op.is_empty() {
            return Err(FaultError(s.into()));
        }
        Ok(Fault {
            op: op.to_string(),
            what,
        })
    }
}

/// The queue: the first fault for an operation (or `any`) is taken by its next call.
#[derive(Debug, Default)]
pub struct Faults(Vec<Fault>);

impl Faults {
    pub fn push(&mut self, f: Fault) {
        self.0.push(f);
    }

    pub fn take(&mut self, op: &str) -> Option<FaultKind> {
        let i = self.0.iter().position(|f| f.op == op || f.op == "any")?;
        Some(self.0.remove(i).what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_faults_parse_and_are_taken_once_in_order() {
        assert_eq!(
            "submit:503".parse(),
            Ok(Fault {
                op: "submit".into(),
                what: FaultKind::Status(503)
            })
        );
        assert!("submit".parse::<Fault>().is_err());
        assert!("submit:200".parse::<Fault>().is_err());
        assert!(":lost".parse::<Fault>().is_err());
        let mut q = Faults::default();
        q.push("submit:lost".parse().unwrap());
        q.push("any:429".parse().unwrap());
        assert_eq!(q.take("cancel"), Some(FaultKind::Status(429)));
        assert_eq!(q.take("cancel"), None);
        assert_eq!(q.take("submit"), Some(FaultKind::Lost));
        assert_eq!(q.take("submit"), None);
    }
}
