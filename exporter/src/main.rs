//! `sysotel`: parse the command line, run, report. Decisions live in the library.

use std::process::ExitCode;

use clap::Parser;
use sysotel::{
    app,
    cli::{Cli, Command},
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::List) = cli.command {
        return match app::list(&mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sysotel: writing the list failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // Every setting is checked before anything is loaded: a bad one is a usage
    // error (exit 2) naming the setting.
    let plan = match app::Plan::new(cli, &|k| std::env::var(k).ok()) {
        Ok(plan) => plan,
        Err(e) => {
            use clap::CommandFactory;
            Cli::command()
                .error(clap::error::ErrorKind::InvalidValue, e)
                .exit();
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sysotel: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(plan)) {
        Ok(summary) => {
            summary.print();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sysotel: {e:#}");
            ExitCode::FAILURE
        }
    }
}
