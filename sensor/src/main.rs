//! The `spanwatch` command: the only place that prints errors for humans.

mod cli;
mod live;
mod replay;

use clap::Parser;
use cli::{load_config, Cli, Cmd, RulesCmd, RunFlags};
use live::{check_interface, lookup_user, run_live, Reloader};
use replay::{run_replay, DEMO_PCAP};
use spanwatch::pipeline::{Sensor, Source};
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
        return match cmd {
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
            RulesCmd::List { rules } => match rules.as_ref().or(cli.common.rules.as_ref()) {
                Some(dir) => match spanwatch::rules::Catalogue::load_dir(dir) {
                    Ok(c) => {
                        print!("{}", spanwatch::rules::list_report(&c));
                        ExitCode::SUCCESS
                    }
                    Err(errs) => {
                        for e in errs {
                            eprintln!("{e}");
                        }
                        ExitCode::from(2)
                    }
                },
                None => {
                    print!(
                        "{}",
                        spanwatch::rules::list_report(&spanwatch::rules::Catalogue::builtin())
                    );
                    ExitCode::SUCCESS
                }
            },
        };
    }
    let common = match &cli.cmd {
        Cmd::Run { common, .. } | Cmd::Replay { common, .. } | Cmd::Demo { common } => {
            cli.common.clone().merged(common.clone())
        }
        Cmd::Rules { .. } => cli.common.clone(),
    };
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
        Cmd::Replay { files, .. } => {
            let sensor = Sensor::new(cfg, "replay", shared);
            let sources: Vec<Source> = files.into_iter().map(Source::File).collect();
            run_replay(&sensor, &sources, common.quiet)
        }
        Cmd::Demo { .. } => {
            let sensor = Sensor::new(cfg, "replay", shared);
            let banner = "spanwatch demo: replaying the built-in capture (an office network with remote access, tunnels and uploads)\n";
            if sensor.cfg.output.eve.as_deref() == Some("-") {
                eprintln!("{banner}");
            } else {
                println!("{banner}");
            }
            run_replay(&sensor, &[Source::Builtin("demo.pcap", DEMO_PCAP)], false)
        }
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
            let mut cfg = cfg;
            flags.apply(&mut cfg);
            let Some(iface) = cfg.capture.interface.clone() else {
                eprintln!("spanwatch: run needs --interface (or capture.interface in the config)");
                return ExitCode::from(2);
            };
            // Mistakes in the configuration end the start with status 2 before anything
            // is opened; a lack of privileges is found when the capture opens (status 1).
            if let Some(u) = &cfg.sensor.user {
                if let Err(e) = lookup_user(u) {
                    eprintln!("spanwatch: {e}");
                    return ExitCode::from(2);
                }
            }
            if let Err(e) = check_interface(&iface) {
                eprintln!("spanwatch: {e}");
                return ExitCode::from(2);
            }
            let reload = Reloader {
                common: common.clone(),
                flags,
            };
            run_live(cfg, shared, iface, common.quiet, reload)
        }
    }
}
