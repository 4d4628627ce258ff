//! `vigilctl`: supervisorctl's commands against vigild (or supervisord) over XML-RPC.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vigil::ctl::{self, CtlOptions};

/// Control a running vigild (or supervisord) like supervisorctl.
#[derive(Parser, Debug)]
#[command(name = "vigilctl", version)]
struct Args {
    /// Configuration file path (its [supervisorctl] section).
    #[arg(short = 'c', long = "configuration", value_name = "FILE")]
    configuration: Option<PathBuf>,
    /// Server URL: unix:///path or http://host:port.
    #[arg(short = 's', long)]
    serverurl: Option<String>,
    /// Basic-auth user name.
    #[arg(short = 'u', long)]
    username: Option<String>,
    /// Basic-auth password.
    #[arg(short = 'p', long)]
    password: Option<String>,
    /// Start the interactive shell after running the command.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Keep the shell's history in this file.
    #[arg(short = 'r', long = "history_file", value_name = "FILE")]
    history_file: Option<PathBuf>,
    /// The command and its arguments, as with supervisorctl.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = CtlOptions {
        configuration: args.configuration,
        serverurl: args.serverurl,
        username: args.username,
        password: args.password,
        interactive: args.interactive,
        history_file: args.history_file,
        command: args.command,
    };
    ExitCode::from(u8::try_from(ctl::run(&options)).unwrap_or(1))
}
