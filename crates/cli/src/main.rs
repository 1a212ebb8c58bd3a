//! The `systrade` binary: argument parsing and wiring only.

mod args;
mod commands;
#[allow(dead_code)] // the trend pipeline that reads it lands with issue #5
mod config;
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
