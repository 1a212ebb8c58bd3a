//! The `systrade` binary: argument parsing and wiring only.

mod args;
mod commands;
mod exit;

use clap::Parser;

fn main() {
    // `systrade … | head` should end quietly like any Unix tool, not panic on a closed pipe:
    // restore the default SIGPIPE action that the Rust runtime turns off.
    #[cfg(unix)]
    // SAFETY: called first thing, before any other thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Secrets from the environment are masked in everything printed or stored.
    systrade_core::redact::register_from_env();
    let cli = args::Cli::parse();
    let code = match commands::run(cli) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!(
                "error: {}",
                systrade_core::redact::redact(&format!("{err:#}"))
            );
            exit::code_for(&err)
        }
    };
    std::process::exit(code);
}
