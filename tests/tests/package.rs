//! The Debian packages (`make deb`, scripts/deb.sh; the suite builds them
//! before these tests): each holds every file for its architecture, lintian
//! finds no errors, the man pages render and name every flag `--help` names,
//! the completions load and complete in bash, zsh and fish, and installing,
//! upgrading, removing and purging the amd64 package on this machine leaves
//! nothing behind but the conffile (until the purge).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use sysotel_tests::{require_root, run_ok, unique_path};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Every file each package must hold (data, not control files).
const FILES: &[&str] = &[
    "./usr/bin/sysotel",
    "./etc/sysotel/sysotel.toml",
    "./lib/systemd/system/sysotel.service",
    "./usr/share/man/man1/sysotel.1.gz",
    "./usr/share/man/man1/sysotel-list.1.gz",
    "./usr/share/man/man1/sysotel-config.1.gz",
    "./usr/share/man/man1/sysotel-config-check.1.gz",
    "./usr/share/bash-completion/completions/sysotel",
    "./usr/share/zsh/vendor-completions/_sysotel",
    "./usr/share/fish/vendor_completions.d/sysotel.fish",
    "./usr/share/doc/sysotel/copyright",
    "./usr/share/doc/sysotel/changelog.gz",
];

/// The package of `arch`; the test fails if it was not built.
fn deb(arch: &str) -> PathBuf {
    let p = Path::new(ROOT).join(format!("target/deb/sysotel_{VERSION}_{arch}.deb"));
    assert!(
        p.exists(),
        "{} not found: build it with `make deb` (scripts/test.sh does)",
        p.display()
    );
    p
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `program` with `args`; fails with its output unless it succeeded.
fn ok(program: &str, args: &[&str]) -> String {
    text(&run_ok(program, args))
}

/// A package's data unpacked into a fresh directory.
fn unpack(deb: &Path) -> PathBuf {
    let dir = PathBuf::from(unique_path("deb-unpacked"));
    ok(
        "dpkg-deb",
        &["-x", deb.to_str().unwrap(), dir.to_str().unwrap()],
    );
    dir
}

#[test]
fn each_package_holds_every_file_for_its_architecture() {
    // ELF e_machine of each architecture's binary.
    for (arch, machine) in [("amd64", 62u16), ("arm64", 183u16)] {
        let deb = deb(arch);
        let d = deb.to_str().unwrap();
        let contents = ok("dpkg-deb", &["--contents", d]);
        let listed: BTreeSet<&str> = contents
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .collect();
        for f in FILES {
            assert!(listed.contains(f), "{arch}: no {f} in:\n{contents}");
        }
        // Owned by root, the binary executable, everything else not.
        for l in contents.lines() {
            let cols: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cols[1], "root/root", "{arch}: {l}");
            let want = if cols[0].starts_with('d') || cols[5] == "./usr/bin/sysotel" {
                "rwxr-xr-x"
            } else {
                "rw-r--r--"
            };
            assert_eq!(&cols[0][1..], want, "{arch}: {l}");
        }
        assert_eq!(ok("dpkg-deb", &["-f", d, "Package"]).trim(), "sysotel");
        assert_eq!(ok("dpkg-deb", &["-f", d, "Version"]).trim(), VERSION);
        assert_eq!(ok("dpkg-deb", &["-f", d, "Architecture"]).trim(), arch);
        let depends = ok("dpkg-deb", &["-f", d, "Depends"]);
        assert!(depends.contains("libc6 (>="), "{arch}: Depends: {depends}");

        let dir = unpack(&deb);
        let member = |path: &str| {
            std::fs::read(dir.join(path))
                .unwrap_or_else(|e| panic!("{path} in {}: {e}", deb.display()))
        };
        let bin = member("usr/bin/sysotel");
        assert_eq!(&bin[..4], b"\x7fELF", "{arch}: the binary is not ELF");
        let e_machine = u16::from_le_bytes([bin[18], bin[19]]);
        assert_eq!(e_machine, machine, "{arch}: ELF machine {e_machine}");

        // The conffile is the documented defaults; the unit is the unit.
        let conffiles = ok("dpkg-deb", &["-I", d, "conffiles"]);
        assert_eq!(conffiles.trim(), "/etc/sysotel/sysotel.toml");
        let config = std::fs::read(Path::new(ROOT).join("config/sysotel.toml")).unwrap();
        assert_eq!(member("etc/sysotel/sysotel.toml"), config, "{arch}");
        let unit = std::fs::read(Path::new(ROOT).join("package/sysotel.service")).unwrap();
        assert_eq!(member("lib/systemd/system/sysotel.service"), unit, "{arch}");
        let copyright = String::from_utf8(member("usr/share/doc/sysotel/copyright")).unwrap();
        for license in ["MIT", "Apache-2.0", "BSD-2-clause"] {
            assert!(copyright.contains(license), "{arch}: no {license}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn lintian_finds_no_errors() {
    for arch in ["amd64", "arm64"] {
        let deb = deb(arch);
        let out = Command::new("lintian")
            .args(["--allow-root", "--no-tag-display-limit"])
            .arg(&deb)
            .output()
            .expect("lintian (scripts/peers.sh installs it)");
        let report = text(&out);
        let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
        eprintln!("lintian {arch}:\n{report}");
        assert!(errors.is_empty(), "lintian errors on {arch}:\n{report}");
        // Exit 0 or 2 (warnings only); anything else is lintian failing.
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "lintian failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every `--long` flag a help text names.
fn flags(help: &str) -> BTreeSet<String> {
    help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches('-').to_string())
        .collect()
}

/// `man -l` of a page, as plain text, wide enough that no flag is broken
/// across lines.
fn man(page: &Path) -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "400")
        .env("MANPAGER", "cat")
        .env("LC_ALL", "C")
        .output()
        .expect("man (man-db; scripts/peers.sh installs it)");
    assert!(
        out.status.success(),
        "man -l {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim().is_empty(), "man -l {}: {err}", page.display());
    // Not a terminal: man-db renders plain text (no overstrikes).
    text(&out)
}

#[test]
fn the_man_pages_render_and_name_every_flag_of_help() {
    let dir = unpack(&deb("amd64"));
    let sysotel = dir.join("usr/bin/sysotel");
    let pages = dir.join("usr/share/man/man1");
    let mut top = String::new();
    for (page, command) in [
        ("sysotel.1.gz", vec![]),
        ("sysotel-list.1.gz", vec!["list"]),
        ("sysotel-config.1.gz", vec!["config"]),
        ("sysotel-config-check.1.gz", vec!["config", "check"]),
    ] {
        let mut args = command.clone();
        args.push("--help");
        let help = text(&run_ok(sysotel.to_str().unwrap(), &args));
        let rendered = man(&pages.join(page));
        let want = flags(&help);
        assert!(
            !want.is_empty() && want.contains("--help"),
            "no flags found in {command:?} --help:\n{help}"
        );
        let missing: Vec<&String> = want.iter().filter(|f| !rendered.contains(*f)).collect();
        assert!(
            missing.is_empty(),
            "{page} does not name {missing:?}:\n{rendered}"
        );
        eprintln!(
            "{page}: names all {} flags of {command:?} --help",
            want.len()
        );
        if command.is_empty() {
            top = rendered;
        }
    }
    for sub in ["sysotel-list(1)", "sysotel-config(1)"] {
        assert!(top.contains(sub), "sysotel(1) names {sub}:\n{top}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `program -c script` (bash, zsh, fish; scripts/peers.sh installs them).
fn shell(program: &str, script: &str) -> String {
    ok(program, &["-c", script])
}

#[test]
fn the_completions_load_and_complete_in_bash_zsh_and_fish() {
    let dir = unpack(&deb("amd64"));
    let share = dir.join("usr/share");
    let bash = share.join("bash-completion/completions/sysotel");
    let zsh = share.join("zsh/vendor-completions");
    let fish = share.join("fish/vendor_completions.d/sysotel.fish");

    // bash: the completion is registered, and completes a flag, a value of
    // an enumerated flag and a subcommand.
    let registered = shell(
        "bash",
        &format!("source {} && complete -p sysotel", bash.display()),
    );
    assert!(registered.contains("sysotel"), "{registered}");
    let complete = |words: &str| {
        shell(
            "bash",
            &format!(
                "source {} && COMP_WORDS=({words}) && COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )) && \
                 COMP_LINE=\"${{COMP_WORDS[*]}}\" && COMP_POINT=${{#COMP_LINE}} && \
                 func=$(complete -p sysotel | sed -E 's/.* -F ([^ ]+) .*/\\1/') && \
                 \"$func\" sysotel \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\" && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                bash.display()
            ),
        )
    };
    let flags = complete("sysotel --otlp-prot");
    assert!(flags.lines().any(|l| l == "--otlp-protocol"), "{flags}");
    let outputs = complete("sysotel --output ''");
    for o in ["table", "json", "otlp", "kafka"] {
        assert!(outputs.lines().any(|l| l == o), "{o} in {outputs}");
    }
    let subs = complete("sysotel con");
    assert!(subs.lines().any(|l| l == "config"), "{subs}");

    // zsh: the completion function loads through compinit from the vendor
    // directory.
    let loaded = shell(
        "zsh",
        &format!(
            "fpath=({} $fpath); autoload -Uz compinit && compinit -u -D && autoload -Uz +X _sysotel && whence -w _sysotel",
            zsh.display()
        ),
    );
    assert!(loaded.contains("_sysotel: function"), "{loaded}");

    // fish: completes a flag and a subcommand.
    let completed = shell(
        "fish",
        &format!(
            "source {} && complete -C 'sysotel --otlp-prot' && complete -C 'sysotel con'",
            fish.display()
        ),
    );
    assert!(
        completed.lines().any(|l| l.starts_with("--otlp-protocol")),
        "{completed}"
    );
    assert!(
        completed.lines().any(|l| l.starts_with("config")),
        "{completed}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every path under the directories a package can write to, a file's with
/// its size (a file changed in place shows too).
fn snapshot() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for top in [
        "/etc",
        "/usr/bin",
        "/usr/lib/systemd",
        "/lib/systemd",
        "/usr/share/man/man1",
        "/usr/share/doc",
        "/usr/share/bash-completion",
        "/usr/share/zsh",
        "/usr/share/fish",
        "/var/lib/sysotel",
    ] {
        walk(Path::new(top), &mut all);
    }
    all
}

fn walk(dir: &Path, all: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            all.insert(path.display().to_string());
            walk(&path, all);
        } else {
            all.insert(format!("{} {}", path.display(), meta.len()));
        }
    }
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "sysotel"])
        .output()
        .map(|o| {
            let status = text(&o);
            status.contains("installed") && !status.contains("not-installed")
        })
        .unwrap_or(false)
}

/// Purges the package when the test ends, passed or failed: the machine is
/// left as it was.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-P", "sysotel"]).output();
    }
}

/// The same package as a later version (only the version changed): an
/// upgrade.
fn later_version(deb: &Path) -> PathBuf {
    let dir = unique_path("deb-upgrade");
    ok("dpkg-deb", &["-R", deb.to_str().unwrap(), &dir]);
    let control = Path::new(&dir).join("DEBIAN/control");
    let text = std::fs::read_to_string(&control).unwrap();
    std::fs::write(
        &control,
        text.replace(
            &format!("Version: {VERSION}\n"),
            &format!("Version: {VERSION}+1\n"),
        ),
    )
    .unwrap();
    let out = PathBuf::from(format!("{dir}.deb"));
    ok(
        "dpkg-deb",
        &["--root-owner-group", "--build", &dir, out.to_str().unwrap()],
    );
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn diff(before: &BTreeSet<String>, after: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    (
        after.difference(before).cloned().collect(),
        before.difference(after).cloned().collect(),
    )
}

fn paths(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.rsplit_once(' ').map_or(e.clone(), |(p, _)| p.to_string()))
        .collect()
}

#[test]
fn install_upgrade_remove_and_purge_leave_only_the_conffile_between() {
    require_root();
    if installed() {
        eprintln!("sysotel was installed before this test (an earlier run?): purging it first");
        ok("dpkg", &["-P", "sysotel"]);
    }
    let deb = deb("amd64");
    let before = snapshot();
    let _purge = Purge;

    ok("dpkg", &["-i", deb.to_str().unwrap()]);
    assert!(installed());
    let version = ok("/usr/bin/sysotel", &["--version"]);
    assert!(version.contains(VERSION), "{version}");
    // The unit as systemd reads it (systemd need not be PID 1 for this).
    let verify = Command::new("systemd-analyze")
        .args(["verify", "/lib/systemd/system/sysotel.service"])
        .output()
        .expect("systemd-analyze (scripts/peers.sh installs systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(verify.status.success(), "systemd-analyze verify: {said}");
    assert!(
        !said.contains("sysotel.service"),
        "systemd-analyze verify has something to say about the unit:\n{said}"
    );
    let page = ok("man", &["-w", "sysotel"]);
    assert_eq!(page.trim(), "/usr/share/man/man1/sysotel.1.gz");
    let rendered = man(Path::new(page.trim()));
    assert!(rendered.contains("--config"), "{rendered}");
    // (/lib/systemd is walked as itself: its paths are listed as /lib/...)
    let (added, _) = diff(&before, &snapshot());
    let added_paths = paths(&added);
    for f in FILES {
        let p = f.trim_start_matches('.');
        assert!(
            added_paths.iter().any(|a| a == p),
            "{p} not installed; added: {added:#?}"
        );
    }

    // The operator's edit survives an upgrade (a conffile).
    let conf = "/etc/sysotel/sysotel.toml";
    let edited = format!(
        "{}\noutput = [\"json\"]\n",
        std::fs::read_to_string(conf).unwrap()
    );
    std::fs::write(conf, &edited).unwrap();
    let later = later_version(&deb);
    let upgraded = Command::new("dpkg")
        .args(["-i", later.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&later);
    assert!(
        upgraded.status.success(),
        "upgrade: {}",
        String::from_utf8_lossy(&upgraded.stderr)
    );
    let status = ok("dpkg-query", &["-W", "-f=${Version}", "sysotel"]);
    assert_eq!(status, format!("{VERSION}+1"));
    assert_eq!(std::fs::read_to_string(conf).unwrap(), edited);

    // Removed: only the (edited) conffile and its directory remain.
    ok("dpkg", &["-r", "sysotel"]);
    let (added, removed) = diff(&before, &snapshot());
    assert_eq!(
        paths(&added),
        vec!["/etc/sysotel".to_string(), conf.to_string()],
        "after dpkg -r, left behind: {added:#?}"
    );
    assert!(removed.is_empty(), "dpkg -r removed {removed:#?}");
    assert_eq!(std::fs::read_to_string(conf).unwrap(), edited);

    // Purged: nothing.
    ok("dpkg", &["-P", "sysotel"]);
    assert!(!installed());
    let (added, removed) = diff(&before, &snapshot());
    assert!(
        added.is_empty() && removed.is_empty(),
        "after dpkg -P: added {added:#?}, removed {removed:#?}"
    );
}
