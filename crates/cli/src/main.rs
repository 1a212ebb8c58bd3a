//! The `systrade` binary: argument parsing and wiring only.

mod args;
mod commands;
mod exit;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    let code = match commands::run(cli) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::code_for(&err)
        }
    };
    std::process::exit(code);
}
