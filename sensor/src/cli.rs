//! The command line (clap): the subcommands, the options they share, and how those options
//! and `run`'s flags are laid over the configuration file.

use clap::{Args, Parser, Subcommand};
use spanwatch::config::{Config, HomeNet};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "spanwatch",
    version,
    about = "Passive network sensor: remote control, tunnels and data leaving, as EVE JSON and Prometheus metrics"
)]
pub struct Cli {
    // The options shared by run, replay and demo are accepted before the subcommand and
    // after it (`spanwatch --config F run` and `spanwatch run --config F`), but are not
    // global: `rules --help` shows only what applies to rules.
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: Cmd,
}

impl Cli {
    /// The shared options: those given before the subcommand, overridden by those given
    /// after it.
    pub fn common(&self) -> Common {
        match &self.cmd {
            Cmd::Run { common, .. } | Cmd::Replay { common, .. } | Cmd::Demo { common } => {
                self.common.clone().merged(common.clone())
            }
            Cmd::Rules { .. } => self.common.clone(),
        }
    }
}

#[derive(Args, Clone)]
pub struct Common {
    /// TOML configuration file (flags override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write EVE JSON lines to FILE, or "-" for standard output.
    #[arg(long, value_name = "FILE|-")]
    pub eve: Option<String>,
    /// Write the final metrics in Prometheus text format (node_exporter textfile convention).
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Internal networks, comma-separated CIDRs (default: RFC 1918 and fc00::/7).
    #[arg(long, value_name = "CIDR[,CIDR...]")]
    pub home_net: Option<String>,
    /// Worker threads; packets are sharded to them by a symmetric flow hash.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// The sensor's name (sensor.name): the "sensor" field of every EVE record and the
    /// "sensor" label of alerts (e.g. a Kubernetes node name, for a fleet).
    #[arg(long, value_name = "NAME")]
    pub sensor_name: Option<String>,
    /// Folder of rule files (default: the catalogue built into the binary).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Print no summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

impl Common {
    /// The options given before the subcommand, overridden by those given after it.
    fn merged(self, sub: Common) -> Common {
        Common {
            config: sub.config.or(self.config),
            eve: sub.eve.or(self.eve),
            metrics_file: sub.metrics_file.or(self.metrics_file),
            home_net: sub.home_net.or(self.home_net),
            workers: sub.workers.or(self.workers),
            sensor_name: sub.sensor_name.or(self.sensor_name),
            rules: sub.rules.or(self.rules),
            quiet: sub.quiet || self.quiet,
        }
    }
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Capture live from an interface, serving /metrics and /healthz until SIGINT/SIGTERM.
    Run {
        #[arg(long, short)]
        interface: Option<String>,
        /// BPF capture filter.
        #[arg(long)]
        bpf: Option<String>,
        /// Address for /metrics and /healthz (default 127.0.0.1:9617).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
        /// TLS and basic auth for /metrics: a web configuration file in the format of
        /// Prometheus's exporter-toolkit (node_exporter's flag of the same name).
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config_file: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Read pcap or pcapng files; packet time is the clock. Ends with a summary.
    Replay {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Replay the small capture built into the binary and print what was found.
    Demo {
        #[command(flatten)]
        common: Common,
    },
    /// Check or list the detection rules catalogue.
    Rules {
        #[command(subcommand)]
        cmd: RulesCmd,
    },
}

#[derive(Subcommand)]
pub enum RulesCmd {
    /// Validate every rule file in DIR; each error as file:line:col: message.
    Check { dir: PathBuf },
    /// Print the catalogue (the built-in one, or --rules DIR).
    List {
        /// Folder of rule files to list instead of the built-in catalogue.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
}

pub fn load_config(c: &Common) -> Result<Config, String> {
    let mut cfg = match &c.config {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(e) = &c.eve {
        cfg.output.eve = Some(e.clone());
    }
    if let Some(m) = &c.metrics_file {
        cfg.output.metrics_file = Some(m.clone());
    }
    if let Some(h) = &c.home_net {
        let nets: Vec<String> = h
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        HomeNet::parse(&nets).map_err(|e| format!("--home-net: {e}"))?;
        cfg.sensor.home_net = nets;
    }
    if let Some(w) = c.workers {
        cfg.sensor.workers = w;
    }
    if let Some(n) = &c.sensor_name {
        cfg.sensor.name = Some(n.clone());
    }
    if let Some(r) = &c.rules {
        cfg.rules.dir = Some(r.clone());
    }
    cfg.validate().map_err(|e| format!("configuration: {e}"))?;
    Ok(cfg)
}

/// The command-line flags of `run` that override the configuration file (applied again
/// to the file read at a reload, so the comparison is like for like).
pub struct RunFlags {
    pub interface: Option<String>,
    pub bpf: Option<String>,
    pub listen: Option<String>,
    pub web_config_file: Option<PathBuf>,
}

impl RunFlags {
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(i) = &self.interface {
            cfg.capture.interface = Some(i.clone());
        }
        if let Some(b) = &self.bpf {
            cfg.capture.bpf = Some(b.clone());
        }
        if let Some(l) = &self.listen {
            cfg.http.listen = l.clone();
        }
        if let Some(w) = &self.web_config_file {
            cfg.http.web_config_file = Some(w.clone());
        }
    }
}
