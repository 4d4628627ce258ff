//! Running a call: the method's name is parsed once into a [`Method`], the read-only rule
//! and the shutdown check are applied, and one exhaustive `match` sends it to its handler,
//! grouped by what it acts on: the daemon itself ([`daemon`]), processes ([`process`]),
//! logs ([`logs`]), vigil's stats and crash records ([`stats`]), several processes at once
//! ([`fleet`]) and introspection ([`system`]). Reads come from the supervisor's snapshot;
//! changes go to it as requests. Nothing here owns state.

mod daemon;
mod fleet;
mod logs;
mod process;
mod reexec;
mod reload;
mod scale;
mod stats;
mod system;

use super::args::Args;
use super::codec::Value;
use super::faults::{Fault, FaultCode};
use super::table::{Effect, Method};
use super::wait::Goal;
use super::Api;
use crate::auth::Access;
use crate::supervisor::{Control, SupervisorState};

/// A method's answer: a value, or a fault.
type Outcome = Result<Value, Fault>;

/// Runs the call of `method` (a wire name) for a caller with `access`.
pub async fn call(api: &Api, access: Access, method: &str, params: &[Value]) -> Outcome {
    let method = method.parse::<Method>();
    // An unknown name waits too, as every call about processes does.
    if !method.as_ref().is_ok_and(|m| m.answered_during_startup()) {
        api.handle.ready().await;
    }
    match method? {
        Method::Multicall => multicall(api, access, params).await,
        method => dispatch(api, access, method, params).await,
    }
}

/// `system.multicall`: each call in order; a success is returned bare (not in a 1-element
/// array, unlike the XML-RPC spec), a failure as `{faultCode, faultString}`. Each sub-call
/// goes through [`dispatch`], so the read-only rule holds for it as for a plain call.
async fn multicall(api: &Api, access: Access, params: &[Value]) -> Outcome {
    let [Value::Array(calls)] = params else {
        return Err(Fault::bare(FaultCode::IncorrectParameters));
    };
    let mut results = Vec::with_capacity(calls.len());
    for call in calls {
        let outcome = match (call.member("methodName"), call.member("params")) {
            (Some(Value::String(name)), Some(Value::Array(args))) => {
                dispatch_named(api, access, name, args).await
            }
            (Some(Value::String(name)), None) => dispatch_named(api, access, name, &[]).await,
            _ => Err(Fault::bare(FaultCode::IncorrectParameters)),
        };
        results.push(match outcome {
            Ok(value) => value,
            Err(fault) => Value::record([
                ("faultCode", Value::Int(fault.code.code())),
                ("faultString", Value::from(fault.to_string())),
            ]),
        });
    }
    Ok(Value::Array(results))
}

/// A multicall's sub-call, by wire name.
async fn dispatch_named(api: &Api, access: Access, name: &str, params: &[Value]) -> Outcome {
    dispatch(api, access, name.parse::<Method>()?, params).await
}

/// Runs one method; the read-only account's calls of a method that changes something are
/// refused before anything is looked at, and while the supervisor is stopping only
/// `system.*` answers.
async fn dispatch(api: &Api, access: Access, method: Method, params: &[Value]) -> Outcome {
    if access == Access::ReadOnly && method.effect() == Effect::Changes {
        return Err(Fault::with(
            FaultCode::Unauthorized,
            format!(
                "{} changes the supervisor and this account is read-only",
                method.name()
            ),
        ));
    }
    if method.needs_running_supervisor() && api.handle.snapshot().state != SupervisorState::Running
    {
        return Err(Fault::bare(FaultCode::ShutdownState));
    }
    let args = Args(params);
    match method {
        Method::ListMethods => system::list_methods(args),
        Method::MethodHelp => system::method_help(args),
        Method::MethodSignature => system::method_signature(args),
        // A multicall inside a multicall.
        Method::Multicall => Err(Fault::bare(FaultCode::IncorrectParameters)),

        Method::GetApiVersion | Method::GetVersion => daemon::api_version(args),
        Method::GetSupervisorVersion => daemon::supervisor_version(args),
        Method::GetIdentification => daemon::identification(api, args),
        Method::GetState => daemon::state(api, args),
        Method::GetPid => daemon::pid(args),
        Method::Shutdown => daemon::shutdown(api, args),
        Method::Restart => daemon::restart(args),
        Method::ReloadConfig => daemon::reload_config(api, args).await,
        Method::AddProcessGroup => daemon::change_group(api, args, Control::AddGroup).await,
        Method::RemoveProcessGroup => daemon::change_group(api, args, Control::RemoveGroup).await,
        Method::GetAllConfigInfo => daemon::all_config_info(api, args).await,
        Method::SendRemoteCommEvent => daemon::send_remote_comm_event(api, args),
        Method::UpdateProcessGroup => daemon::update_process_group(api, args).await,
        Method::ScaleGroup => scale::scale_group(api, args).await,

        Method::GetProcessInfo => process::info(api, args),
        Method::GetAllProcessInfo => process::all_info(api, args),
        Method::StartProcess => process::one(api, args, Goal::Start).await,
        Method::StartProcessGroup => process::group(api, args, Goal::Start).await,
        Method::StartAllProcesses => process::all(api, args, Goal::Start).await,
        Method::StopProcess => process::one(api, args, Goal::Stop).await,
        Method::StopProcessGroup => process::group(api, args, Goal::Stop).await,
        Method::StopAllProcesses => process::all(api, args, Goal::Stop).await,
        Method::SignalProcess => process::signal(api, args).await,
        Method::SignalProcessGroup => process::signal_group(api, args).await,
        Method::SignalAllProcesses => process::signal_all(api, args).await,
        Method::ReloadProcess => reload::reload(api, args).await,
        Method::Reexec => reexec::reexec(api, args).await,
        Method::SendProcessStdin => process::send_stdin(api, args).await,

        Method::ReadLog | Method::ReadMainLog => logs::read_main(api, args).await,
        Method::ClearLog => logs::clear_main(api, args).await,
        Method::ReadProcessLog | Method::ReadProcessStdoutLog => {
            logs::read(api, args, logs::Channel::Stdout).await
        }
        Method::ReadProcessStderrLog => logs::read(api, args, logs::Channel::Stderr).await,
        Method::TailProcessLog | Method::TailProcessStdoutLog => {
            logs::tail(api, args, logs::Channel::Stdout).await
        }
        Method::TailProcessStderrLog => logs::tail(api, args, logs::Channel::Stderr).await,
        Method::ClearProcessLog | Method::ClearProcessLogs => logs::clear(api, args).await,
        Method::ClearAllProcessLogs => logs::clear_all(api, args).await,
        Method::RotateLogs => logs::rotate(api, args).await,
        Method::ReadPreviousLog => logs::read_previous(api, args),
        Method::RotateMainLog => logs::rotate_main(api, args).await,

        Method::GetProcessStats => stats::process_stats(api, args),
        Method::GetAllProcessStats => stats::all_process_stats(api, args),
        Method::GetCrashes => stats::crashes(api, args).await,
        Method::GetCrashLoopState => stats::crash_loop_state(api, args),
        Method::GetSchedules => stats::schedules(api, args),
        Method::GetProcessConfig => stats::process_config(api, args),
        Method::GetDaemonInfo => daemon::daemon_info(api, args),

        Method::StartProcesses => fleet::act_on_list(api, args, Goal::Start).await,
        Method::StopProcesses => fleet::act_on_list(api, args, Goal::Stop).await,
        Method::RollingRestart => fleet::rolling_restart(api, args).await,
    }
}
