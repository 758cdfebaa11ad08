//! `sysotel`: parse the command line, run, report. Decisions live in the library.

use std::process::ExitCode;

use sysotel::{
    app,
    config::{self, ConfigError, Loaded, cli::Command},
};

/// A usage error (exit 2) with sysotel's usage line.
fn usage_error(message: String) -> ! {
    config::command()
        .error(clap::error::ErrorKind::InvalidValue, message)
        .exit();
}

fn main() -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    // Flags, environment and the configuration file, merged; every setting is
    // checked before anything is loaded, and a bad one is a usage error
    // (exit 2) naming the flag or its place in the file.
    let loaded = match Loaded::load(std::env::args_os().collect(), &env) {
        Ok(l) => l,
        Err(ConfigError::Usage(e)) => e.exit(),
        Err(ConfigError::Invalid(m)) => usage_error(m),
    };
    sysotel::base::log::set(loaded.cli.log_level);
    let check = matches!(loaded.cli.command, Some(Command::Config { .. }));
    if let Some(Command::List) = loaded.cli.command {
        return match app::list(&mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sysotel: writing the list failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let rendered = check.then(|| loaded.render());
    let scope_source = loaded.source_text("scope");
    let file = loaded.file.clone();
    let from_file = loaded.from_file.clone();
    let plan = match app::Plan::new(loaded.cli, &env) {
        Ok(plan) => plan,
        Err(e) => usage_error(config::locate(&from_file, &e)),
    };
    if let Some(rendered) = rendered {
        match &file {
            Some(f) => println!("# {}: valid", f.display()),
            None => println!("# no configuration file: flags, environment and defaults are valid"),
        }
        print!("{rendered}");
        print!("\n[scope]  # {scope_source}\n{}", plan.scope.to_toml());
        print!("{}", app::describe_plan(&plan));
        return ExitCode::SUCCESS;
    }
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
            // The whole chain: what failed, then why.
            eprintln!("sysotel: {:#}", anyhow::Error::from(e));
            ExitCode::FAILURE
        }
    }
}
