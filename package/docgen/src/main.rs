//! `sysotel-docgen DIR`: writes sysotel's man pages (`DIR/man/sysotel.1` and
//! one page per subcommand) and its bash, zsh and fish completions
//! (`DIR/completions/`) from the same clap definition `--help` prints, so
//! neither can drift from the binary. `scripts/deb.sh` packages them.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap_complete::Shell;

fn generate(out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let cmd = sysotel::config::command();
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    clap_mangen::generate_to(cmd.clone(), &man)?;
    let mut written: Vec<PathBuf> = std::fs::read_dir(&man)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(
            shell,
            &mut cmd.clone(),
            "sysotel",
            &completions,
        )?);
    }
    written.sort();
    Ok(written)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: sysotel-docgen DIR (writes DIR/man/*.1 and DIR/completions/*)");
        return ExitCode::from(2);
    };
    match generate(Path::new(out)) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sysotel-docgen: writing into {out} failed: {e}");
            ExitCode::FAILURE
        }
    }
}
