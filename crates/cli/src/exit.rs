//! Exit codes (DESIGN §9): 0 success, 1 error, 2 bad usage or bad input, 3 a daily run
//! that completed on stale data.

use systrade_data::DataError;

pub use systrade_core::BadInput;

/// A [`BadInput`] as an `anyhow` error (exit code 2).
pub fn bad(m: impl Into<String>) -> anyhow::Error {
    BadInput(m.into()).into()
}

/// A refusal of the ledger (`StoreError::Invalid`) is the user's input; anything else is a
/// real failure.
pub fn refused(e: systrade_store::StoreError) -> anyhow::Error {
    match e {
        systrade_store::StoreError::Invalid(m) => bad(m),
        other => other.into(),
    }
}

/// The ledger under `home`, which must exist; `first` says what creates one.
pub fn existing_ledger(
    home: &std::path::Path,
    first: &str,
) -> anyhow::Result<systrade_store::Ledger> {
    let path = home.join("ledger.sqlite");
    if !path.exists() {
        return Err(bad(format!(
            "no ledger at {} ({first} first, or pass --home)",
            path.display()
        )));
    }
    Ok(systrade_store::Ledger::open(&path)?)
}

/// 3 when a daily run completed on stale data; 2 when any cause in the chain is the user's
/// input; else 1.
pub fn code_for(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|c| c.downcast_ref::<systrade_core::StaleRun>().is_some())
    {
        return 3;
    }
    for cause in err.chain() {
        if cause.downcast_ref::<BadInput>().is_some() {
            return 2;
        }
        if let Some(d) = cause.downcast_ref::<DataError>()
            && d.is_bad_input()
        {
            return 2;
        }
        if let Some(f) = cause.downcast_ref::<systrade_fetch::FetchError>()
            && f.is_bad_input()
        {
            return 2;
        }
    }
    1
}
