//! `sysotel`: parse the command line, run, report. Decisions live in the library.

use std::process::ExitCode;

use sysotel::{
    app,
    base::secret::scrub,
    config::{self, ConfigError, Loaded, cli::Command},
};

/// A usage error (exit 2) with sysotel's usage line.
fn usage_error(message: String) -> ! {
    let message = scrub(&message).into_owned();
    exit_clap(config::command().error(clap::error::ErrorKind::InvalidValue, message));
}

/// Prints clap's error (or help) and exits with its code; an error that
/// quotes a secret is printed scrubbed.
fn exit_clap(e: clap::Error) -> ! {
    let text = e.to_string();
    match scrub(&text) {
        std::borrow::Cow::Borrowed(_) => e.exit(),
        std::borrow::Cow::Owned(clean) => {
            eprint!("{clean}");
            std::process::exit(e.exit_code());
        }
    }
}

fn main() -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    // Flags, environment and the configuration file, merged; every setting is
    // checked before anything is loaded, and a bad one is a usage error
    // (exit 2) naming the flag or its place in the file.
    let loaded = match Loaded::load(std::env::args_os().collect(), &env) {
        Ok(l) => l,
        Err(ConfigError::Usage(e)) => exit_clap(e),
        Err(ConfigError::Invalid(m)) => usage_error(m),
    };
    sysotel::base::log::set(loaded.cli.log_level);
    for w in &loaded.warnings {
        sysotel::warn!("{w}");
    }
    let check = matches!(loaded.cli.command, Some(Command::Config { .. }));
    if let Some(Command::List) = loaded.cli.command {
        return match app::list(&mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                sysotel::error!("sysotel: writing the list failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let show_secrets = loaded.show_secrets();
    let rendered = check.then(|| loaded.render(show_secrets));
    let scope_source = loaded.source_text("scope");
    let file = loaded.file.clone();
    let from_file = loaded.from_file.clone();
    let plan = match app::Plan::new(loaded.cli, &env) {
        Ok(plan) => plan,
        Err(e) => usage_error(config::locate(&from_file, &e)),
    };
    if let Some(rendered) = rendered {
        let mut out = match &file {
            Some(f) => format!("# {}: valid\n", f.display()),
            None => "# no configuration file: flags, environment and defaults are valid\n".into(),
        };
        out.push_str(&rendered);
        out.push_str(&format!(
            "\n[scope]  # {scope_source}\n{}",
            plan.scope.to_toml()
        ));
        out.push_str(&app::describe_plan(&plan));
        if !show_secrets {
            out = scrub(&out).into_owned();
        }
        print!("{out}");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            sysotel::error!("sysotel: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(plan)) {
        Ok(summary) => {
            summary.print();
            ExitCode::SUCCESS
        }
        Err(e) => {
            let usage = e.is_usage();
            // The whole chain: what failed, then why.
            sysotel::error!("sysotel: {:#}", anyhow::Error::from(e));
            if usage {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
