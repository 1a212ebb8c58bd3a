//! The `systrade` binary: argument parsing and wiring only.

mod args;
mod commands;
mod exit;

use clap::Parser;

/// mimalloc instead of glibc's malloc: it takes its memory from the system in large committed
/// blocks (huge pages where the kernel offers them) where glibc grows its heap a 4 KiB page
/// fault at a time. W3 (`configs/momentum_top10_sp500.toml`) made 4,059 page faults and spent
/// a fifth of its CPU time in them: 19.8 → 16.4 ms whole process, a 500-name trend backtest
/// 2.56 → 2.19 s. The price is resident memory rounded up to those blocks: +25 to +65 MB peak
/// on small runs (W3 26 → 53 MB, W1 27 → 70 MB). BENCHMARKS.md, W3.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    // Out without the exit handlers: what they would do for us (flush stdout) is done here, and
    // the allocator's handler would hand every heap back page by page (0.7 ms of W3's main
    // thread) to a kernel that takes the whole address space back at once anyway.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let _ = std::io::Write::flush(&mut std::io::stderr());
    // SAFETY: `_exit` ends the process; every file this program writes is complete (written
    // and renamed, or synced) before `main` gets here, and no destructor is pending.
    unsafe { libc::_exit(code) }
}
