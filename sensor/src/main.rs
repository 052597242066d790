//! The `spanwatch` command: the only place that prints errors for humans.
//!
//! [`cli`] is the command line and how it is laid over the configuration file; `replay` and
//! `demo` are in [`replay`], `run` (live capture and control plane) in [`live`], `rules` here.

mod cli;
mod live;
mod replay;

/// The target of this module's log lines, the same as before it was split into files (log
/// filters and JSON log consumers select by it).
const LOG_TARGET: &str = "spanwatch";

use clap::Parser;
use cli::{load_config, Cli, Cmd, RulesCmd, RunFlags};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPANWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        let _ = b.json().try_init();
    } else {
        let _ = b.try_init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Rules { cmd } = &cli.cmd {
        return rules(cmd, cli.common.rules.as_deref());
    }
    let common = cli.common();
    let cfg = match load_config(&common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("spanwatch: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(cfg.output.log_format == "json");
    let shared = match spanwatch::detect::Shared::load(cfg.rules.dir.as_deref()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("spanwatch: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.cmd {
        Cmd::Replay { files, .. } => replay::replay(cfg, shared, files, common.quiet),
        Cmd::Demo { .. } => replay::demo(cfg, shared),
        Cmd::Rules { .. } => unreachable!("handled above"),
        Cmd::Run {
            interface,
            bpf,
            listen,
            web_config_file,
            ..
        } => {
            let flags = RunFlags {
                interface,
                bpf,
                listen,
                web_config_file,
            };
            live::run(cfg, shared, common, flags)
        }
    }
}

/// `rules check DIR` and `rules list [--rules DIR]` (`default_dir`: `--rules` given before
/// the subcommand).
fn rules(cmd: &RulesCmd, default_dir: Option<&Path>) -> ExitCode {
    match cmd {
        RulesCmd::Check { dir } => {
            let (text, ok) = spanwatch::rules::check_report(dir);
            if ok {
                print!("{text}");
                ExitCode::SUCCESS
            } else {
                eprint!("{text}");
                ExitCode::from(2)
            }
        }
        RulesCmd::List { rules } => {
            match spanwatch::rules::Catalogue::load(rules.as_deref().or(default_dir)) {
                Ok(c) => {
                    print!("{}", spanwatch::rules::list_report(&c));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("spanwatch: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
