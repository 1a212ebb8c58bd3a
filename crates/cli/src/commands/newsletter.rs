//! `systrade newsletter`: the day's email (content from `systrade_desk::newsletter`)
//! previewed to files and/or sent over SMTP.

use std::path::{Path, PathBuf};

use anyhow::Context;

use systrade_desk::newsletter::build;
use systrade_report::email::{self, SmtpSettings};
use systrade_report::newsletter::Rendered;

use crate::args::NewsletterArgs;
use crate::exit::{bad, existing_ledger};

/// Writes the preview: `FILE.eml` gets the whole MIME message; any other name gets the HTML,
/// with the plain-text part beside it (`FILE` with the extension `.txt`).
fn preview(path: &Path, r: &Rendered, now: std::time::SystemTime) -> anyhow::Result<Vec<PathBuf>> {
    use systrade_core::fsio::write_atomic;
    if path.extension().is_some_and(|e| e == "eml") {
        let settings = smtp_env()?.unwrap_or_else(|| SmtpSettings {
            host: "localhost".into(),
            port: 25,
            user: None,
            password: None,
            from: "systrade@localhost".into(),
            to: vec!["you@localhost".into()],
            timeout: std::time::Duration::from_secs(30),
        });
        write_atomic(path, &email::formatted(&settings, r, now)?)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let txt = path.with_extension("txt");
    if txt == path {
        return Err(bad(format!(
            "--preview {}: give the HTML file a name that does not end in .txt (the text part goes beside it)",
            path.display()
        )));
    }
    write_atomic(path, r.html.as_bytes())?;
    write_atomic(&txt, r.text.as_bytes())?;
    Ok(vec![path.to_path_buf(), txt])
}

/// The SMTP settings of the environment; a malformed one is the user's input (exit 2).
fn smtp_env() -> anyhow::Result<Option<SmtpSettings>> {
    SmtpSettings::from_env().map_err(|e| bad(e.to_string()))
}

/// The last closes of what manual trades and sheet books hold, from `--data` (none without
/// it).
fn marks(
    ledger: &systrade_store::Ledger,
    a: &NewsletterArgs,
    day: chrono::NaiveDate,
) -> anyhow::Result<systrade_desk::newsletter::Marks> {
    if a.data.is_empty() {
        return Ok(Default::default());
    }
    let held = systrade_desk::newsletter::held_by_hand(ledger)?;
    systrade_desk::portfolio::last_closes(&a.data, &a.read.options().parse, &held, day)
}

/// "What to buy tomorrow": the config's plan for the next session after the day, and the
/// home's manual trades when it has a ledger.
fn planned(
    home: &Path,
    config: &Path,
    a: &NewsletterArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<systrade_report::newsletter::Newsletter> {
    use systrade_systems::bucket_plan::{Session, plan};
    let day = a.date.unwrap_or_else(|| now.date_naive());
    let p = plan(config, Session::After(day), &a.read.options())?;
    let mut n = systrade_desk::newsletter_plan::build(&p);
    if home.join("ledger.sqlite").exists() {
        let ledger = existing_ledger(home, "systrade trades add")?;
        let marks = marks(&ledger, a, day)?;
        n.sections.extend(systrade_desk::newsletter::manual_section(
            &ledger, day, &marks,
        )?);
    }
    Ok(n)
}

/// `systrade newsletter`.
pub fn run(home: &Path, a: &NewsletterArgs) -> anyhow::Result<()> {
    if a.preview.is_none() && !a.send {
        return Err(bad("say what to do: --preview FILE, --send, or both"));
    }
    let now_utc = systrade_live::env_now()?;
    let n = match &a.config {
        Some(config) => planned(home, config, a, now_utc)?,
        None => {
            let ledger = existing_ledger(home, "run `systrade run` or `systrade demo`")?;
            let day = a.date.unwrap_or_else(|| now_utc.date_naive());
            let marks = marks(&ledger, a, day)?;
            build(home, &ledger, a.date, &a.book, &marks)?
        }
    };
    let r = n.render()?;
    let now: std::time::SystemTime = now_utc.into();
    if let Some(p) = &a.preview {
        for w in preview(p, &r, now)? {
            println!("wrote {}", w.display());
        }
    }
    if a.send {
        let settings = smtp_env()?.ok_or_else(|| {
            bad("--send needs SYSTRADE_SMTP_HOST, SYSTRADE_SMTP_FROM and SYSTRADE_SMTP_TO in the environment (and SYSTRADE_SMTP_PORT/USER/PASSWORD as your server needs)")
        })?;
        email::send(&settings, &r, now).context("sending the newsletter")?;
        println!("sent: {}", r.subject);
    } else {
        println!("{}", r.subject);
    }
    Ok(())
}
