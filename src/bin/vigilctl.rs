//! `vigilctl`: the control client. It arrives with the control plane (XML-RPC server and
//! client); until then it only says so.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("vigilctl: the control client arrives with vigild's control plane (XML-RPC API); not available yet");
    ExitCode::from(2)
}
