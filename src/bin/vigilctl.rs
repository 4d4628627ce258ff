//! `vigilctl`: supervisorctl's commands against vigild (or supervisord) over XML-RPC.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, CommandFactory, Parser};
use vigil::ctl::{self, CtlOptions};

/// Control a running vigild (or supervisord) like supervisorctl.
#[derive(Parser, Debug)]
#[command(
    name = "vigilctl",
    version,
    disable_version_flag = true,
    after_help = ctl::commands_help()
)]
struct Args {
    /// Print the version and exit (supervisorctl's -v).
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,
    /// Configuration file path (its [supervisorctl] section).
    #[arg(short = 'c', long = "configuration", value_name = "FILE")]
    configuration: Option<PathBuf>,
    /// Server URL: unix:///path, http://host:port or https://host:port, or a name from
    /// [vigilctl] servers=. Given more than once, status, start, stop, restart and crashes
    /// act on every server named.
    #[arg(short = 's', long)]
    serverurl: Vec<String>,
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
    /// Seconds to wait for the server to accept the connection and for each answer (0:
    /// forever). Starts and stops that wait for programs are not cut short.
    #[arg(short = 't', long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    timeout: Duration,
    /// The CA certificates to check https:// servers against (else the system's).
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// This client's certificate, for servers that ask for one (tls_client_ca=).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// The key of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// The command and its arguments, as with supervisorctl.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

fn main() -> ExitCode {
    // Output into a pipe whose reader has gone (`vigilctl status | head`) ends vigilctl
    // quietly, as it ends any Unix filter, instead of a panic on the failed write.
    // SAFETY: setting a signal's disposition to its default, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = Args::parse();
    // Generated from these definitions, no server needed.
    match args.command.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["completions", shell] => return completions(shell),
        ["manpage"] => return manpage(),
        _ => {}
    }
    // Options go before the command: a `-x` where the command should be is an unknown
    // option, not a command.
    if let Some(first) = args.command.first().filter(|word| word.starts_with('-')) {
        Args::command()
            .error(
                clap::error::ErrorKind::UnknownArgument,
                format!("unexpected argument '{first}' found"),
            )
            .exit();
    }
    let options = CtlOptions {
        configuration: args.configuration,
        serverurl: args.serverurl,
        username: args.username,
        password: args.password,
        interactive: args.interactive,
        history_file: args.history_file,
        timeout: Some(args.timeout).filter(|timeout| !timeout.is_zero()),
        cacert: args.cacert,
        client_identity: args.client_cert.zip(args.client_key),
        command: args.command,
    };
    ExitCode::from(u8::try_from(ctl::run(&options)).unwrap_or(1))
}

/// The definitions with vigilctl's commands as subcommands, which completions and the man
/// page list.
fn documented() -> clap::Command {
    ctl::commands().into_iter().fold(
        Args::command()
            .args_conflicts_with_subcommands(true)
            .disable_help_subcommand(true),
        |command, (name, summary)| command.subcommand(clap::Command::new(name).about(summary)),
    )
}

/// `vigilctl completions bash|zsh|fish`.
fn completions(shell: &str) -> ExitCode {
    let shell = match shell {
        "bash" => clap_complete::Shell::Bash,
        "zsh" => clap_complete::Shell::Zsh,
        "fish" => clap_complete::Shell::Fish,
        other => {
            eprintln!("Error: no completions for '{other}' (bash, zsh or fish)");
            return ExitCode::from(2);
        }
    };
    clap_complete::generate(shell, &mut documented(), "vigilctl", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// `vigilctl manpage`: vigilctl(1) in roff.
fn manpage() -> ExitCode {
    match clap_mangen::Man::new(documented()).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::from(1)
        }
    }
}

/// A number of seconds (fractions allowed, not negative).
fn seconds(text: &str) -> Result<Duration, Box<dyn std::error::Error + Send + Sync>> {
    Ok(Duration::try_from_secs_f64(text.parse::<f64>()?)?)
}
