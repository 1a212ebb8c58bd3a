//! What the page may do with `--allow-actions`, with the same rules as the command line:
//! approve a staged order (`systrade approve`: it must wait for approval, be its book's and
//! of one session; it goes to the book's broker once, by its client order id) and cancel one
//! (`systrade orders cancel`). A book is acted on only when its config was given to `serve`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use systrade_live::approvals::{self, ApprovalBook};
use systrade_store::Ledger;

use crate::DashboardError;

/// The books `serve --config …` named, by name.
pub fn books_of(configs: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>, DashboardError> {
    let mut out = BTreeMap::new();
    for c in configs {
        let (_, name) = systrade_live::reconcile::book_of(c)
            .map_err(|e| DashboardError::Refused(format!("--config {}: {e:#}", c.display())))?;
        if let Some(other) = out.insert(name.clone(), c.clone()) {
            return Err(DashboardError::Refused(format!(
                "--config {} and {} are both book {name}",
                other.display(),
                c.display()
            )));
        }
    }
    Ok(out)
}

/// An action that did not happen: the user's doing (400) or not (500), in words with any
/// secret a server echoed taken out.
#[derive(Debug)]
pub enum Refusal {
    Input(String),
    Failed(String),
}

impl Refusal {
    fn of(e: anyhow::Error) -> Refusal {
        let words = systrade_core::redact::redact(&format!("{e:#}"));
        if e.downcast_ref::<systrade_core::BadInput>().is_some() {
            Refusal::Input(words)
        } else {
            Refusal::Failed(words)
        }
    }
}

fn stamp() -> anyhow::Result<String> {
    Ok(systrade_live::env_now()?
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string())
}

/// The book an order belongs to, and its config.
fn book_for(
    ledger: &Ledger,
    books: &BTreeMap<String, PathBuf>,
    id: &str,
) -> Result<(String, PathBuf), Refusal> {
    let found = ledger
        .books()
        .map_err(|e| Refusal::Failed(e.to_string()))?
        .into_iter()
        .find_map(|b| {
            ledger
                .orders(&b.strategy)
                .ok()?
                .iter()
                .any(|o| o.client_order_id.to_string() == id)
                .then_some(b.strategy)
        });
    let Some(name) = found else {
        return Err(Refusal::Input(format!("no order {id} in this home")));
    };
    match books.get(&name) {
        Some(c) => Ok((name, c.clone())),
        None => Err(Refusal::Input(format!(
            "order {id} is book {name}'s: start the dashboard with --config <{name}'s config> to act on it"
        ))),
    }
}

fn open(home: &Path) -> Result<Ledger, Refusal> {
    let p = home.join("ledger.sqlite");
    if !p.exists() {
        return Err(Refusal::Input("this home has no ledger yet".into()));
    }
    Ledger::open(&p).map_err(|e| Refusal::Failed(e.to_string()))
}

/// Approves the staged order `id`; says what was sent.
pub fn approve(
    home: &Path,
    books: &BTreeMap<String, PathBuf>,
    id: &str,
) -> Result<String, Refusal> {
    let mut ledger = open(home)?;
    let (name, config) = book_for(&ledger, books, id)?;
    let mut go = || -> anyhow::Result<String> {
        let book = ApprovalBook::load(
            &config,
            None,
            &systrade_config::ReadOptions::default(),
            systrade_live::env_now()?,
        )?;
        let chosen = approvals::choose(&ledger, &book, &[id.to_string()], false)?;
        if chosen.is_empty() {
            return Err(systrade_core::BadInput(format!(
                "{name}: order {id} does not wait for approval"
            ))
            .into());
        }
        let r = approvals::release(home, &book, &mut ledger, &chosen, &stamp()?)?;
        Ok(format!(
            "{name}: approved {id}; {} orders at the broker",
            r.orders.len()
        ))
    };
    go().map_err(Refusal::of)
}

/// Cancels the staged or working order `id`.
pub fn cancel(home: &Path, books: &BTreeMap<String, PathBuf>, id: &str) -> Result<String, Refusal> {
    let mut ledger = open(home)?;
    let (name, config) = book_for(&ledger, books, id)?;
    let mut go = || -> anyhow::Result<String> {
        let load = || {
            ApprovalBook::load(
                &config,
                None,
                &systrade_config::ReadOptions::default(),
                systrade_live::env_now()?,
            )
            .map(Some)
        };
        let done = approvals::cancel_ids(
            home,
            &mut ledger,
            &[id.to_string()],
            Some(name.as_str()),
            load,
            &stamp()?,
        )?;
        Ok(format!("{name}: {} orders canceled", done.orders.len()))
    };
    go().map_err(Refusal::of)
}
